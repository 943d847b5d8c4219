package config_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/seed8104ecd5/gizmo/config"
	"github.com/seed8104ecd5/gizmo/server"
)

// HTTPConfig and StoreConfig stand for the Config structs that packages such
// as server or a pubsub adapter declare.
type HTTPConfig struct {
	Port    int           `json:"port" default:"8080"`
	Timeout time.Duration `json:"timeout" default:"5s"`
}

type StoreConfig struct {
	URL      string `json:"url" default:"postgres://localhost/app"`
	Password string `json:"password" secret:"true"`
}

// ServiceConfig composes them. Each nested struct has a json name for
// documents and an envconfig name for variables.
type ServiceConfig struct {
	HTTP  HTTPConfig  `json:"http" envconfig:"HTTP"`
	Store StoreConfig `json:"store" envconfig:"STORE"`
}

// A service composes the configurations of the packages it uses into one
// struct and loads it in one call. Here the file sets the port, the
// environment the store password, and defaults fill the rest.
func Example() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "svc.json")
	if err := os.WriteFile(path, []byte(`{"http": {"port": 9090}}`), 0o600); err != nil {
		log.Fatal(err)
	}
	os.Setenv("EXSVC_STORE_PASSWORD", "s3cret")
	defer os.Unsetenv("EXSVC_STORE_PASSWORD")

	var cfg ServiceConfig
	err = config.Load(context.Background(), &cfg,
		config.Defaults(),
		config.Optional(config.File(path)),
		// config.Consul(client, "svc/config") would go here.
		config.Env("EXSVC"),
	)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.HTTP.Port, cfg.HTTP.Timeout, cfg.Store.URL, cfg.Store.Password)
	fmt.Printf("%+v\n", config.Redact(cfg))
	// Output:
	// 9090 5s postgres://localhost/app s3cret
	// {HTTP:{Port:9090 Timeout:5s} Store:{URL:postgres://localhost/app Password:[REDACTED]}}
}

// Errors name the source, the position and the field.
func ExampleLoadJSON() {
	var cfg ServiceConfig
	err := config.LoadJSON(stringsReader("{\n  \"http\": {\"port\": \"80\"}\n}"), &cfg, config.SourceName("svc.json"))
	fmt.Println(err)
	// Output:
	// config: svc.json: line 2, column 20: http.port: cannot unmarshal string into int
}

// LogValue logs a configuration without its secrets.
func ExampleLogValue() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the output stable
			}
			return a
		},
	}))
	cfg := ServiceConfig{Store: StoreConfig{URL: "postgres://db/app", Password: "s3cret"}}
	logger.Info("loaded", "cfg", config.LogValue(cfg))
	// Output:
	// level=INFO msg=loaded cfg.HTTP.Port=0 cfg.HTTP.Timeout=0s cfg.Store.URL=postgres://db/app cfg.Store.Password=[REDACTED]
}

// WatchConsul follows a key and applies each valid new configuration; bad
// updates are reported and the running configuration stays. (Not run: it
// needs a Consul agent.)
func ExampleWatchConsul() {
	client, err := api.NewClient(api.DefaultConfig()) // CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN...
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	layers := []config.Source{config.Defaults(), config.Consul(client, "svc/config"), config.Env("SVC")}

	var current atomic.Pointer[ServiceConfig]
	err = config.WatchConsul(ctx, client, "svc/config", func(cfg ServiceConfig) error {
		current.Store(&cfg)
		return nil
	},
		config.WatchLayers(layers...),
		config.WatchErrors(func(err error) { slog.Warn("config update ignored", "err", err) }),
	)
	if err != nil {
		log.Fatal(err)
	}
}

// AppConfig is a real service's configuration: package server's Config
// (kit.Config is the same type) next to the service's own settings.
type AppConfig struct {
	Server server.Config `json:"server" envconfig:"SERVER"`
	Store  StoreConfig   `json:"store" envconfig:"STORE"`
}

// Package server's Config composes like any other struct: its json tags
// name the keys below "server" and its envconfig tags the variables below
// SVC_SERVER_. Durations are written "10s" in JSON as in the environment.
func Example_serverConfig() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.json")
	doc := `{"server": {"http_port": 9090, "shutdown_timeout": "10s"}, "store": {"url": "postgres://db/app"}}`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		log.Fatal(err)
	}
	os.Setenv("APPSVC_SERVER_LOG_LEVEL", "debug")
	defer os.Unsetenv("APPSVC_SERVER_LOG_LEVEL")

	var cfg AppConfig
	err = config.Load(context.Background(), &cfg,
		config.Defaults(), config.File(path), config.Env("APPSVC"))
	if err != nil {
		log.Fatal(err)
	}
	s := cfg.Server
	fmt.Println(s.HTTPPort, s.RPCPort, s.ShutdownTimeout, s.HTTPReadTimeout, s.LogLevel, cfg.Store.URL)

	// The loaded Config goes straight to the constructor.
	if _, err := server.NewSimpleServer(cfg.Server); err != nil {
		log.Fatal(err)
	}

	// A bad value names the source, the position and the field.
	bad := strings.NewReader(`{"server": {"drain_delay": "2 sec"}}`)
	fmt.Println(config.LoadJSON(bad, &cfg, config.SourceName("app.json")))
	// Output:
	// 9090 8081 10s 30s debug postgres://db/app
	// config: app.json: line 1, column 28: server.drain_delay: invalid duration "2 sec": want a number with a unit, such as "300ms" or "1m30s"
}
