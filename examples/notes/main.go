// Command notes is a small JSON/HTTP service on server.SimpleServer: an
// in-memory note store with create, get, list and delete.
//
// It shows the pieces a real service puts together:
//
//   - one configuration struct holding package server's Config and the
//     service's own settings, loaded in one call from defaults, an optional
//     JSON file and the environment (prefix NOTES_);
//   - endpoints registered in order, JSON handlers that return
//     (status, body, error), request helpers from package web, and errors
//     rendered as application/problem+json;
//   - the built-ins: request IDs, access log, Prometheus metrics at
//     /metrics, /healthz, /readyz with a readiness check of its own;
//   - graceful shutdown on SIGINT or SIGTERM: Ctrl-C in the terminal
//     works under go run; a SIGTERM sent to `go run` stops only the go
//     command and leaves the service running, so to see it, build first
//     (go build -o notes ./examples/notes) and signal the binary.
//
// Run it and try it (it listens on 127.0.0.1 unless
// NOTES_SERVER_HTTP_ADDR says otherwise):
//
//	go run ./examples/notes [-config notes.json]
//	curl -s 127.0.0.1:8080/v1/notes -H 'Content-Type: application/json' -d '{"title":"milk"}'
//	curl -s 127.0.0.1:8080/v1/notes/1
//	curl -s '127.0.0.1:8080/v1/notes?since=2026-01-01&limit=10'
//	curl -s 127.0.0.1:8080/v1/notes -H 'Content-Type: application/json' -d '{"titel":"typo"}'   # 400 naming the field
//
// (Without the Content-Type header curl sends a form type, which the
// service refuses with 415.)
//
// Settings: NOTES_SERVER_HTTP_PORT (or HTTP_PORT), NOTES_SERVER_LOG_LEVEL,
// NOTES_SERVER_SHUTDOWN_TIMEOUT=10s, NOTES_MAX_NOTES, or the same in the
// file: {"server": {"http_port": 8080, "shutdown_timeout": "10s"},
// "max_notes": 1000}.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/seed8104ecd5/gizmo/config"
	"github.com/seed8104ecd5/gizmo/server"
)

// Config is the whole configuration of the service.
type Config struct {
	Server   server.Config `json:"server" envconfig:"SERVER"`
	MaxNotes int           `json:"max_notes" envconfig:"MAX_NOTES" default:"1000"`
}

// Validate implements config.Validator; config.Load calls it last.
func (c Config) Validate() error {
	if c.MaxNotes < 1 {
		return fmt.Errorf("max_notes must be at least 1, got %d", c.MaxNotes)
	}
	return c.Server.ValidateAs("NOTES_SERVER")
}

func main() {
	path := flag.String("config", "", "optional JSON configuration file")
	flag.Parse()
	ctx, stop := server.SignalContext(context.Background())
	defer stop()
	if err := run(ctx, *path); err != nil {
		fmt.Fprintln(os.Stderr, "notes:", err)
		os.Exit(1)
	}
}

// run loads the configuration and serves until ctx is cancelled. opts are
// passed to the server (tests give it a listener).
func run(ctx context.Context, path string, opts ...server.Option) error {
	cfg, err := loadConfig(ctx, path)
	if err != nil {
		return err
	}
	logger, err := cfg.Server.Logger(os.Stderr)
	if err != nil {
		return err
	}
	srv, err := newServer(cfg, logger, opts...)
	if err != nil {
		return err
	}
	logger.Info("notes: serving", "http_addr", cfg.Server.HTTPAddr, "http_port", cfg.Server.WithDefaults().HTTPPort)
	return srv.Run(ctx)
}

func loadConfig(ctx context.Context, path string) (Config, error) {
	// Loopback unless configured otherwise: an example should not listen on
	// every interface of the machine it runs on.
	cfg := Config{Server: server.Config{HTTPAddr: "127.0.0.1"}}
	sources := []config.Source{config.Defaults()}
	if path != "" {
		sources = append(sources, config.File(path))
	}
	sources = append(sources, config.Env("NOTES"))
	err := config.Load(ctx, &cfg, sources...)
	return cfg, err
}

// newServer builds the server with the notes service registered.
func newServer(cfg Config, logger *slog.Logger, opts ...server.Option) (*server.SimpleServer, error) {
	srv, err := server.NewSimpleServer(cfg.Server, append([]server.Option{server.WithLogger(logger)}, opts...)...)
	if err != nil {
		return nil, err
	}
	store := newNotes(cfg.MaxNotes, time.Now)
	if err := srv.Register(store); err != nil {
		return nil, err
	}
	// Not ready while the store is full: a load balancer sends writes
	// elsewhere. (Reads would still work; a real service would split them.)
	srv.AddReadinessCheck("store", store.hasRoom)
	return srv, nil
}
