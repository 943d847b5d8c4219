package observe

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// instrumentation is the name tracers get.
const instrumentation = "github.com/seed8104ecd5/gizmo/pubsub/observe"

// Consumer returns the hooks that observe one [pubsub.Consume] run, to pass
// with [pubsub.WithHooks]. name labels its metrics and spans (use the
// subscription's name). If sub reports its backlog
// ([pubsub.BacklogReporter]) and metrics are on, the backlog gauge reads it
// at every scrape.
//
// With tracing on, every handler attempt runs in a consumer span named
// "process NAME", a child of the producer's span when the message carries
// a trace context (so that the trace runs on from the request that
// published), with OpenTelemetry's messaging attributes
// (messaging.system, messaging.operation.type "process",
// messaging.destination.subscription.name, messaging.message.id), the
// attempt number (gizmo.attempt), the error recorded on failure, and,
// unless the attempt simply succeeded, its outcome (gizmo.outcome:
// retried, dead_lettered, given_up or abandoned).
func Consumer(name string, sub pubsub.Subscriber, opts ...Option) *pubsub.ConsumeHooks {
	o := newOptions(opts)
	h := &pubsub.ConsumeHooks{}
	var cm *consumerMetrics
	if o.metrics != nil {
		cm = o.metrics.consumer(name)
		if br, ok := sub.(pubsub.BacklogReporter); ok {
			o.metrics.WatchBacklog(name, br, o.backlogWait)
		}
	}
	var tracer trace.Tracer
	if o.tp != nil {
		tracer = o.tp.Tracer(instrumentation)
	}
	if cm == nil && tracer == nil && o.withRequestID == nil {
		return h
	}
	if cm != nil {
		h.Received = func(pubsub.SubscriberMessage) { cm.received.Inc() }
		h.Backoff = func(_ pubsub.SubscriberMessage, d time.Duration) { cm.backoff.Observe(d.Seconds()) }
		h.LeaseExtended = func(pubsub.SubscriberMessage) { cm.extensions.Inc() }
		h.LeaseLost = func(pubsub.SubscriberMessage) { cm.lost.Inc() }
	}
	spanName := "process " + name
	system := semconv.MessagingSystemKey.String(o.system)
	subscription := semconv.MessagingDestinationSubscriptionName(name)
	consumerKind := trace.WithSpanKind(trace.SpanKindConsumer)
	h.AttemptStart = func(ctx context.Context, m pubsub.SubscriberMessage, attempt int) context.Context {
		if cm != nil {
			cm.inFlight.Inc()
		}
		if o.withRequestID != nil {
			if id := m.Attributes()[pubsub.AttrRequestID]; id != "" {
				ctx = o.withRequestID(ctx, id)
			}
		}
		if tracer != nil {
			parent := ctx
			if attrs := m.Attributes(); len(attrs) > 0 {
				parent = o.prop.Extract(ctx, propagation.MapCarrier(attrs))
			}
			var span trace.Span
			ctx, span = tracer.Start(parent, spanName, consumerKind)
			if span.IsRecording() { // most spans are not, under a sampler: skip the attributes
				span.SetAttributes(system, semconv.MessagingOperationTypeProcess, subscription,
					semconv.MessagingMessageID(m.ID()), attribute.Int("gizmo.attempt", attempt))
			}
		}
		return ctx
	}
	h.AttemptEnd = func(ctx context.Context, _ pubsub.SubscriberMessage, err error, d time.Duration) {
		if cm != nil {
			cm.inFlight.Dec()
			cm.duration.Observe(d.Seconds())
			var pe *pubsub.PanicError
			if errors.As(err, &pe) {
				cm.panics.Inc()
			}
		}
		if tracer != nil && err != nil {
			span := trace.SpanFromContext(ctx)
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
	}
	h.Outcome = func(ctx context.Context, _ pubsub.SubscriberMessage, out pubsub.Outcome) {
		if cm != nil {
			cm.handled[out].Inc()
		}
		if tracer != nil {
			span := trace.SpanFromContext(ctx)
			if out != pubsub.OutcomeDone && span.IsRecording() {
				// Only the unusual outcomes: an attribute added after
				// the start costs a copy of the span's attributes.
				span.SetAttributes(attribute.String("gizmo.outcome", out.String()))
			}
			span.End()
		}
	}
	return h
}
