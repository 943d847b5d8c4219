package server

import (
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// An Option configures a [SimpleServer] (and RPCServer, which accepts the
// same options).
type Option func(*options)

// options is shared by SimpleServer and RPCServer: build it with
// newOptions(opts) and read the fields; every field is non-nil afterwards
// except listener, middleware and the tracing pair (see tracing()).
type options struct {
	logger         *slog.Logger
	registry       *prometheus.Registry
	tracerProvider trace.TracerProvider
	propagator     propagation.TextMapPropagator
	listener       net.Listener
	middleware     []func(http.Handler) http.Handler
}

func newOptions(opts []Option) *options {
	o := &options{}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.registry == nil {
		o.registry = prometheus.NewRegistry()
	}
	return o
}

// tracing reports whether the user asked for tracing, and returns a tracer
// provider and propagator that are never nil: a no-op provider and the W3C
// propagator where not given.
func (o *options) tracing() (bool, trace.TracerProvider, propagation.TextMapPropagator) {
	on := o.tracerProvider != nil || o.propagator != nil
	tp, prop := o.tracerProvider, o.propagator
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	return on, tp, prop
}

// WithLogger sets the logger for access logs, panics and lifecycle events.
// The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithRegistry sets the Prometheus registry that receives the server's
// metrics and is served on Config.MetricsPath. The default is a fresh
// registry per server; the global default registry is never used unless
// passed here.
func WithRegistry(r *prometheus.Registry) Option {
	return func(o *options) { o.registry = r }
}

// WithTracerProvider sets the OpenTelemetry tracer provider used to start
// one server span per request. The default is a no-op provider; the otel
// globals are used only if passed here (otel.GetTracerProvider()).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracerProvider = tp }
}

// WithPropagator sets the propagator that extracts the incoming trace
// context. The default, once tracing is on (this option or
// [WithTracerProvider] is given), is propagation.TraceContext{}: W3C
// traceparent and tracestate. Pass a composite propagator to read baggage
// or other formats as well. Given without a tracer provider, it still
// carries the caller's trace ID into the handler's context and the access
// log, through the no-op provider's non-recording span.
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(o *options) { o.propagator = p }
}

// WithListener makes Run serve HTTP on ln instead of binding
// Config.HTTPAddr:Config.HTTPPort. Run closes ln when it returns. Useful for
// tests (127.0.0.1:0) and socket activation.
func WithListener(ln net.Listener) Option {
	return func(o *options) { o.listener = ln }
}

// WithMiddleware adds server-wide middleware such as [CORS], [NoCache] or
// [Gzip]. It runs inside the default stack (recovery, request ID, access log,
// metrics, tracing) and before routing, in the order given (first is
// outermost). Middleware here must finish with the request: one that lets
// the rest of the chain run on after it returns (http.TimeoutHandler) races
// with the access log and metrics; add such middleware per service.
func WithMiddleware(mw ...func(http.Handler) http.Handler) Option {
	return func(o *options) { o.middleware = append(o.middleware, mw...) }
}
