package observe

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Option configures [Consumer] and [Publisher].
type Option func(*options)

type options struct {
	metrics       *Metrics
	tp            trace.TracerProvider
	prop          propagation.TextMapPropagator
	system        string
	requestID     func(context.Context) string
	withRequestID func(context.Context, string) context.Context
	backlogWait   time.Duration
}

func newOptions(opts []Option) options {
	o := options{system: "gizmo", backlogWait: 5 * time.Second}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.tp != nil && o.prop == nil {
		o.prop = propagation.TraceContext{}
	}
	return o
}

// WithMetrics records Prometheus metrics in m.
func WithMetrics(m *Metrics) Option {
	return func(o *options) { o.metrics = m }
}

// WithTracing turns tracing on: spans come from tp, and trace context
// crosses messages in the format of prop (W3C Trace Context if nil). The
// OpenTelemetry globals are never read.
func WithTracing(tp trace.TracerProvider, prop propagation.TextMapPropagator) Option {
	return func(o *options) { o.tp, o.prop = tp, prop }
}

// WithSystem names the messaging system in spans (the messaging.system
// attribute: "kafka", "aws_sqs", "gcp_pubsub", ...). The default is
// "gizmo".
func WithSystem(system string) Option {
	return func(o *options) {
		if system != "" {
			o.system = system
		}
	}
}

// WithRequestID makes a [Publisher] put the ID of the request that
// publishes, as fn finds it in the publishing context (for example
// server.RequestID), into the attribute [pubsub.AttrRequestID]. An empty
// ID adds nothing.
func WithRequestID(fn func(context.Context) string) Option {
	return func(o *options) { o.requestID = fn }
}

// WithRequestIDContext makes the hooks of a [Consumer] give a handler a
// context that carries the request ID of the message, through fn (for
// example server.ContextWithRequestID), so that the handler's own logs and
// calls carry it on.
func WithRequestIDContext(fn func(context.Context, string) context.Context) Option {
	return func(o *options) { o.withRequestID = fn }
}

// WithBacklogTimeout bounds how long a scrape waits for a subscriber's
// backlog ([pubsub.BacklogReporter]). The default is 5 seconds.
func WithBacklogTimeout(d time.Duration) Option {
	return func(o *options) { o.backlogWait = d }
}
