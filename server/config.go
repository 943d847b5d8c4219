package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Default values used by [Config.WithDefaults] and the envconfig default tags.
const (
	DefaultHTTPPort          = 8080
	DefaultRPCPort           = 8081
	DefaultReadTimeout       = 30 * time.Second
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 1 << 20 // 1 MiB
	DefaultMaxBodyBytes      = 4 << 20 // 4 MiB
	DefaultShutdownTimeout   = 30 * time.Second
	DefaultHealthPath        = "/healthz"
	DefaultReadyPath         = "/readyz"
	DefaultMetricsPath       = "/metrics"
	DefaultLogLevel          = "info"
	DefaultLogFormat         = "json"
)

// Config holds the settings shared by [SimpleServer] and RPCServer.
//
// It is filled by envconfig (envconfig.Process("", &cfg)), by JSON
// (the json tags), or by hand. Zero values mean "use the default"; call
// [Config.WithDefaults] to make them explicit. The constructors apply the
// defaults and call [Config.Validate] themselves.
//
// Durations use time.ParseDuration syntax ("5s") in the environment and in
// JSON read by package config's loaders, which also accept integer
// nanoseconds; plain encoding/json accepts only the integers.
type Config struct {
	// HTTPAddr is the host or IP the HTTP listener binds to. Empty means all
	// interfaces.
	HTTPAddr string `envconfig:"HTTP_ADDR" json:"http_addr"`
	// HTTPPort is the TCP port of the HTTP listener.
	HTTPPort int `envconfig:"HTTP_PORT" json:"http_port" default:"8080"`
	// RPCPort is the TCP port of the gRPC listener (RPCServer only). It binds
	// to HTTPAddr.
	RPCPort int `envconfig:"RPC_PORT" json:"rpc_port" default:"8081"`

	// HTTPReadTimeout bounds reading a whole request, body included.
	HTTPReadTimeout time.Duration `envconfig:"HTTP_READ_TIMEOUT" json:"http_read_timeout" default:"30s"`
	// HTTPReadHeaderTimeout bounds reading the request headers.
	HTTPReadHeaderTimeout time.Duration `envconfig:"HTTP_READ_HEADER_TIMEOUT" json:"http_read_header_timeout" default:"5s"`
	// HTTPWriteTimeout bounds the time from the end of the request headers to
	// the end of the response.
	HTTPWriteTimeout time.Duration `envconfig:"HTTP_WRITE_TIMEOUT" json:"http_write_timeout" default:"30s"`
	// HTTPIdleTimeout bounds how long a keep-alive connection waits for the
	// next request.
	HTTPIdleTimeout time.Duration `envconfig:"HTTP_IDLE_TIMEOUT" json:"http_idle_timeout" default:"120s"`
	// MaxHeaderBytes caps the size of the request line plus headers.
	MaxHeaderBytes int `envconfig:"MAX_HEADER_BYTES" json:"max_header_bytes" default:"1048576"`
	// MaxBodyBytes caps the size of a request body. Larger bodies get
	// 413 Request Entity Too Large.
	MaxBodyBytes int64 `envconfig:"MAX_BODY_BYTES" json:"max_body_bytes" default:"4194304"`

	// TLSCertFile and TLSKeyFile are PEM files. Set both to serve HTTPS (and
	// TLS on the gRPC port); leave both empty for plain text.
	TLSCertFile string `envconfig:"TLS_CERT_FILE" json:"tls_cert_file"`
	// TLSKeyFile is the PEM private key matching TLSCertFile.
	TLSKeyFile string `envconfig:"TLS_KEY_FILE" json:"tls_key_file"`

	// EnablePprof mounts the pprof endpoints under /debug/pprof/, as
	// net/http/pprof serves them (without its registration on
	// http.DefaultServeMux; delta profiles are refused). Off by default.
	EnablePprof bool `envconfig:"ENABLE_PPROF" json:"enable_pprof"`
	// HealthPath serves liveness (always 200 while the process serves).
	HealthPath string `envconfig:"HEALTH_PATH" json:"health_path" default:"/healthz"`
	// ReadyPath serves readiness (503 once shutdown starts or a check fails).
	ReadyPath string `envconfig:"READY_PATH" json:"ready_path" default:"/readyz"`
	// MetricsPath serves the Prometheus registry.
	MetricsPath string `envconfig:"METRICS_PATH" json:"metrics_path" default:"/metrics"`

	// ShutdownTimeout bounds graceful shutdown after the drain delay; when it
	// runs out, remaining connections are closed hard.
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" json:"shutdown_timeout" default:"30s"`
	// DrainDelay is how long the server keeps accepting requests after
	// readiness starts failing, so load balancers can take it out of
	// rotation. Zero (the default) means no delay; behind Kubernetes a few
	// seconds is typical.
	DrainDelay time.Duration `envconfig:"DRAIN_DELAY" json:"drain_delay" default:"0s"`

	// LogLevel is one of debug, info, warn, error (see [Config.Logger]).
	LogLevel string `envconfig:"LOG_LEVEL" json:"log_level" default:"info"`
	// LogFormat is json or text (see [Config.Logger]).
	LogFormat string `envconfig:"LOG_FORMAT" json:"log_format" default:"json"`
}

// WithDefaults returns a copy of c with every zero field set to its default.
// HTTPAddr, the TLS files, EnablePprof and DrainDelay default to their zero
// values and are left alone.
func (c Config) WithDefaults() Config {
	setDefault(&c.HTTPPort, DefaultHTTPPort)
	setDefault(&c.RPCPort, DefaultRPCPort)
	setDefault(&c.HTTPReadTimeout, DefaultReadTimeout)
	setDefault(&c.HTTPReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDefault(&c.HTTPWriteTimeout, DefaultWriteTimeout)
	setDefault(&c.HTTPIdleTimeout, DefaultIdleTimeout)
	setDefault(&c.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setDefault(&c.MaxBodyBytes, DefaultMaxBodyBytes)
	setDefault(&c.ShutdownTimeout, DefaultShutdownTimeout)
	setDefault(&c.HealthPath, DefaultHealthPath)
	setDefault(&c.ReadyPath, DefaultReadyPath)
	setDefault(&c.MetricsPath, DefaultMetricsPath)
	setDefault(&c.LogLevel, DefaultLogLevel)
	setDefault(&c.LogFormat, DefaultLogFormat)
	return c
}

// setDefault sets *v to d when *v is the zero value.
func setDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// Validate reports every invalid field of c, joined with [errors.Join]. Each
// message names the field by its environment variable and shows the bad
// value, for example "server: HTTP_PORT: 70000 is not a valid port". Zero
// values are valid (they mean "default").
func (c Config) Validate() error { return c.ValidateAs("") }

// ValidateAs is Validate for a Config that a program loads under prefix,
// as part of its own configuration: the messages name the whole variable,
// for example "EVENTS_SERVER_HTTP_PORT: 70000 is not a valid port" for
// prefix "EVENTS_SERVER". Call it from the program's own Validate.
func (c Config) ValidateAs(prefix string) error {
	var errs []error
	bad := func(field, format string, args ...any) {
		if prefix == "" {
			errs = append(errs, fmt.Errorf("server: %s: %s", field, fmt.Sprintf(format, args...)))
		} else {
			errs = append(errs, fmt.Errorf("%s_%s: %s", prefix, field, fmt.Sprintf(format, args...)))
		}
	}
	port := func(field string, p int) {
		if p < 0 || p > 65535 {
			bad(field, "%d is not a valid port", p)
		}
	}
	port("HTTP_PORT", c.HTTPPort)
	port("RPC_PORT", c.RPCPort)
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"HTTP_READ_TIMEOUT", c.HTTPReadTimeout},
		{"HTTP_READ_HEADER_TIMEOUT", c.HTTPReadHeaderTimeout},
		{"HTTP_WRITE_TIMEOUT", c.HTTPWriteTimeout},
		{"HTTP_IDLE_TIMEOUT", c.HTTPIdleTimeout},
		{"SHUTDOWN_TIMEOUT", c.ShutdownTimeout},
		{"DRAIN_DELAY", c.DrainDelay},
	} {
		if d.v < 0 {
			bad(d.field, "%s is negative", d.v)
		}
	}
	if c.MaxHeaderBytes < 0 {
		bad("MAX_HEADER_BYTES", "%d is negative", c.MaxHeaderBytes)
	}
	if c.MaxBodyBytes < 0 {
		bad("MAX_BODY_BYTES", "%d is negative", c.MaxBodyBytes)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		if c.TLSCertFile == "" {
			bad("TLS_CERT_FILE", "empty while TLS_KEY_FILE is %q; set both or neither", c.TLSKeyFile)
		} else {
			bad("TLS_KEY_FILE", "empty while TLS_CERT_FILE is %q; set both or neither", c.TLSCertFile)
		}
	}
	paths := map[string]string{}
	for _, p := range []struct{ field, v string }{
		{"HEALTH_PATH", c.HealthPath},
		{"READY_PATH", c.ReadyPath},
		{"METRICS_PATH", c.MetricsPath},
	} {
		if p.v == "" {
			continue
		}
		if !strings.HasPrefix(p.v, "/") {
			bad(p.field, "%q does not start with /", p.v)
			continue
		}
		if other, dup := paths[p.v]; dup {
			bad(p.field, "%q is already used by %s", p.v, other)
			continue
		}
		paths[p.v] = p.field
	}
	if c.LogLevel != "" {
		if _, err := parseLevel(c.LogLevel); err != nil {
			bad("LOG_LEVEL", "%v", err)
		}
	}
	if c.LogFormat != "" && !validFormat(c.LogFormat) {
		bad("LOG_FORMAT", "%q is not one of json, text", c.LogFormat)
	}
	return errors.Join(errs...)
}

// Logger builds a *slog.Logger writing to w, using c.LogLevel (debug, info,
// warn, error; case-insensitive) and c.LogFormat (json or text). Empty values
// mean info and json. A bad value is an error naming the field.
func (c Config) Logger(w io.Writer) (*slog.Logger, error) {
	return NewLogger(w, c.LogLevel, c.LogFormat)
}

// NewLogger builds a *slog.Logger writing to w at the given level (debug,
// info, warn, error; case-insensitive; empty means info) in the given format
// (json or text; empty means json).
func NewLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	lvl := slog.LevelInfo
	if level != "" {
		var err error
		if lvl, err = parseLevel(level); err != nil {
			return nil, fmt.Errorf("server: LOG_LEVEL: %w", err)
		}
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(format) {
	case "", "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("server: LOG_FORMAT: %q is not one of json, text", format)
	}
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q is not one of debug, info, warn, error", s)
}

func validFormat(s string) bool {
	switch strings.ToLower(s) {
	case "json", "text":
		return true
	}
	return false
}
