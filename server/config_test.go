package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"port too big", Config{HTTPPort: 70000}, "server: HTTP_PORT: 70000 is not a valid port"},
		{"negative rpc port", Config{RPCPort: -1}, "server: RPC_PORT: -1 is not a valid port"},
		{"negative timeout", Config{HTTPReadTimeout: -time.Second}, "server: HTTP_READ_TIMEOUT: -1s is negative"},
		{"negative drain", Config{DrainDelay: -time.Millisecond}, "server: DRAIN_DELAY: -1ms is negative"},
		{"negative body", Config{MaxBodyBytes: -5}, "server: MAX_BODY_BYTES: -5 is negative"},
		{"negative header", Config{MaxHeaderBytes: -5}, "server: MAX_HEADER_BYTES: -5 is negative"},
		{"key without cert", Config{TLSKeyFile: "k.pem"}, `server: TLS_CERT_FILE: empty while TLS_KEY_FILE is "k.pem"; set both or neither`},
		{"cert without key", Config{TLSCertFile: "c.pem"}, `server: TLS_KEY_FILE: empty while TLS_CERT_FILE is "c.pem"; set both or neither`},
		{"relative path", Config{HealthPath: "healthz"}, `server: HEALTH_PATH: "healthz" does not start with /`},
		{"path clash", Config{HealthPath: "/h", ReadyPath: "/h"}, `server: READY_PATH: "/h" is already used by HEALTH_PATH`},
		{"log level", Config{LogLevel: "verbose"}, `server: LOG_LEVEL: "verbose" is not one of debug, info, warn, error`},
		{"log format", Config{LogFormat: "xml"}, `server: LOG_FORMAT: "xml" is not one of json, text`},
	} {
		err := tc.cfg.Validate()
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: Validate() = %v, want %q", tc.name, err, tc.want)
		}
		if _, err := NewSimpleServer(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewSimpleServer error = %v", tc.name, err)
		}
	}
	// Every problem is reported, not just the first.
	err := Config{HTTPPort: -2, LogFormat: "xml"}.Validate()
	if err == nil || !strings.Contains(err.Error(), "HTTP_PORT") || !strings.Contains(err.Error(), "LOG_FORMAT") {
		t.Errorf("two bad fields: %v", err)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
	if err := (Config{}).WithDefaults().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

func TestConfigDefaultsMatchEnvconfig(t *testing.T) {
	var fromEnv Config
	if err := envconfig.Process("", &fromEnv); err != nil {
		t.Fatal(err)
	}
	if got, want := fromEnv, (Config{}).WithDefaults(); got != want {
		t.Errorf("envconfig defaults %+v\n   WithDefaults %+v", got, want)
	}
	t.Setenv("HTTP_PORT", "9090")
	t.Setenv("DRAIN_DELAY", "5s")
	t.Setenv("ENABLE_PPROF", "true")
	t.Setenv("MAX_BODY_BYTES", "1024")
	var cfg Config
	if err := envconfig.Process("", &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPPort != 9090 || cfg.DrainDelay != 5*time.Second || !cfg.EnablePprof || cfg.MaxBodyBytes != 1024 || cfg.ReadyPath != "/readyz" {
		t.Errorf("from environment: %+v", cfg)
	}
	// Explicit values survive WithDefaults.
	if got := cfg.WithDefaults(); got != cfg {
		t.Errorf("WithDefaults changed set fields: %+v", got)
	}
}

func TestConfigJSON(t *testing.T) {
	var cfg Config
	if err := json.Unmarshal([]byte(`{"http_port": 8000, "log_level": "debug", "shutdown_timeout": 1000000000}`), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPPort != 8000 || cfg.LogLevel != "debug" || cfg.ShutdownTimeout != time.Second {
		t.Errorf("from JSON: %+v", cfg)
	}
}

func TestConfigLogger(t *testing.T) {
	var buf bytes.Buffer
	l, err := Config{LogLevel: "WARN", LogFormat: "text"}.Logger(&buf)
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown", slog.Int("n", 1))
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, "level=WARN msg=shown n=1") {
		t.Errorf("text logger output %q", out)
	}
	buf.Reset()
	l, _ = Config{}.Logger(&buf)
	l.Debug("hidden")
	l.Info("shown")
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.HasPrefix(out, "{") {
		t.Errorf("default logger output %q", out)
	}
	if _, err := NewLogger(&buf, "loud", "json"); err == nil || !strings.Contains(err.Error(), `LOG_LEVEL: "loud"`) {
		t.Errorf("bad level: %v", err)
	}
	if _, err := NewLogger(&buf, "info", "yaml"); err == nil || !strings.Contains(err.Error(), `LOG_FORMAT: "yaml"`) {
		t.Errorf("bad format: %v", err)
	}
}

// TestConfigFromEnvBadValues loads Config from the environment the way
// services do (envconfig, which package config also uses) with values
// that cannot be parsed: loading returns an error naming the variable and
// the value, and never exits the process.
func TestConfigFromEnvBadValues(t *testing.T) {
	for name, tc := range map[string]struct{ env, value string }{
		"port":     {"APP_HTTP_PORT", "eighty"},
		"duration": {"APP_SHUTDOWN_TIMEOUT", "5 sec"},
		"bool":     {"APP_ENABLE_PPROF", "maybe"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(tc.env, tc.value)
			var cfg Config
			err := envconfig.Process("app", &cfg)
			if err == nil || !strings.Contains(err.Error(), tc.env) || !strings.Contains(err.Error(), tc.value) {
				t.Fatalf("envconfig.Process: %v; want an error naming %s and %q", err, tc.env, tc.value)
			}
		})
	}
	// A value that parses but is out of range is Validate's to name.
	t.Setenv("APP_HTTP_PORT", "70000")
	var cfg Config
	if err := envconfig.Process("app", &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "HTTP_PORT: 70000") {
		t.Fatalf("Validate: %v", err)
	}
}
