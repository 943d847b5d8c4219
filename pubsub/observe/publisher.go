package observe

import (
	"context"
	"errors"
	"maps"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/internal/wire"
)

// Publisher wraps p so that publishing is observed: metrics labelled name
// (use the topic's name), a producer span per call ("send NAME") whose
// trace context travels in the message's attributes, and the publishing
// request's ID in [pubsub.AttrRequestID] (see [WithRequestID]).
//
// The trace context takes the attributes its propagator writes: with W3C
// Trace Context, "traceparent" and, when the trace has state,
// "tracestate". They count against the backend's attribute limits (SQS
// allows ten per message, including gizmo's own); a message that already
// has as many as the backend allows fails with [pubsub.ErrTooLarge] once
// they are added. Without tracing (or without a span in the context)
// nothing is added. Attributes the caller set under those names are
// replaced.
//
// The wrapper is a [pubsub.MultiPublisher]; when p is not one, PublishBatch
// publishes one message at a time, keeping the key-order rule.
func Publisher(p pubsub.Publisher, name string, opts ...Option) *ObservedPublisher {
	o := newOptions(opts)
	op := &ObservedPublisher{p: p, name: name, o: o}
	if o.metrics != nil {
		op.pm = o.metrics.publisher(name)
	}
	if o.tp != nil {
		op.tracer = o.tp.Tracer(instrumentation)
	}
	return op
}

// ObservedPublisher is the publisher [Publisher] returns.
type ObservedPublisher struct {
	p      pubsub.Publisher
	name   string
	o      options
	pm     *publisherMetrics
	tracer trace.Tracer
}

var _ pubsub.MultiPublisher = (*ObservedPublisher)(nil)

// Unwrap returns the wrapped publisher.
func (op *ObservedPublisher) Unwrap() pubsub.Publisher { return op.p }

// Publish marshals msg and publishes it like PublishRaw.
func (op *ObservedPublisher) Publish(ctx context.Context, key string, msg proto.Message, opts ...pubsub.PublishOption) error {
	return pubsub.PublishProto(ctx, op.PublishRaw, key, msg, opts...)
}

// PublishRaw publishes payload under key through the wrapped publisher,
// adding the trace context and request ID.
func (op *ObservedPublisher) PublishRaw(ctx context.Context, key string, payload []byte, opts ...pubsub.PublishOption) error {
	start := time.Now()
	ctx, span := op.startSpan(ctx, 1)
	if extra := op.attributes(ctx); len(extra) > 0 {
		opts = append(opts[:len(opts):len(opts)], pubsub.WithAttributes(extra))
	}
	err := op.p.PublishRaw(ctx, key, payload, opts...)
	op.endSpan(span, err)
	if op.pm != nil {
		op.pm.duration.Observe(time.Since(start).Seconds())
		if err != nil {
			op.pm.failed.Inc()
		} else {
			op.pm.ok.Inc()
		}
	}
	return err
}

// PublishBatch publishes msgs through the wrapped publisher, adding the
// trace context of one producer span and the request ID to each message.
func (op *ObservedPublisher) PublishBatch(ctx context.Context, msgs []pubsub.Message) error {
	start := time.Now()
	ctx, span := op.startSpan(ctx, len(msgs))
	if extra := op.attributes(ctx); len(extra) > 0 {
		out := make([]pubsub.Message, len(msgs))
		for i, m := range msgs {
			m.Attributes = maps.Clone(m.Attributes)
			if m.Attributes == nil {
				m.Attributes = make(map[string]string, len(extra))
			}
			maps.Copy(m.Attributes, extra)
			out[i] = m
		}
		msgs = out
	}
	var err error
	if mp, ok := op.p.(pubsub.MultiPublisher); ok {
		err = mp.PublishBatch(ctx, msgs)
	} else {
		err = publishEach(ctx, op.p, msgs)
	}
	op.endSpan(span, err)
	if op.pm != nil {
		op.pm.duration.Observe(time.Since(start).Seconds())
		op.countBatch(len(msgs), err)
	}
	return err
}

// countBatch records a batch's messages and the batch itself.
func (op *ObservedPublisher) countBatch(n int, err error) {
	failed := 0
	var be *pubsub.BatchError
	switch {
	case err == nil:
	case errors.As(err, &be):
		failed = be.Failed()
	default:
		failed = n
	}
	op.pm.ok.Add(float64(n - failed))
	op.pm.failed.Add(float64(failed))
	switch {
	case failed == 0:
		op.pm.batchOK.Inc()
	case failed == n:
		op.pm.batchX.Inc()
	default:
		op.pm.batchSome.Inc()
	}
}

// Close closes the wrapped publisher.
func (op *ObservedPublisher) Close() error { return op.p.Close() }

func (op *ObservedPublisher) startSpan(ctx context.Context, n int) (context.Context, trace.Span) {
	if op.tracer == nil {
		return ctx, nil
	}
	return op.tracer.Start(ctx, "send "+op.name, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			semconv.MessagingSystemKey.String(op.o.system),
			semconv.MessagingOperationTypeSend,
			semconv.MessagingOperationName("send"),
			semconv.MessagingDestinationName(op.name),
			semconv.MessagingBatchMessageCount(n),
		))
}

func (op *ObservedPublisher) endSpan(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// attributes returns what the wrapper adds to each message: the trace
// context of ctx's span and the request ID. It is nil when there is
// neither.
func (op *ObservedPublisher) attributes(ctx context.Context) map[string]string {
	var extra map[string]string
	if op.tracer != nil && trace.SpanContextFromContext(ctx).IsValid() {
		extra = make(map[string]string, 3)
		op.o.prop.Inject(ctx, propagation.MapCarrier(extra))
	}
	if op.o.requestID != nil {
		if id := op.o.requestID(ctx); id != "" {
			if extra == nil {
				extra = make(map[string]string, 1)
			}
			extra[pubsub.AttrRequestID] = id
		}
	}
	return extra
}

// publishEach publishes msgs one at a time, keeping the key-order rule.
func publishEach(ctx context.Context, p pubsub.Publisher, msgs []pubsub.Message) error {
	errs := make([]error, len(msgs))
	failed := false
	var gate wire.KeyGate
	for i, m := range msgs {
		if errs[i] = gate.Check(m.Key); errs[i] == nil {
			opts := []pubsub.PublishOption{pubsub.WithAttributes(m.Attributes)}
			if m.DeduplicationID != "" {
				opts = append(opts, pubsub.WithDeduplicationID(m.DeduplicationID))
			}
			errs[i] = p.PublishRaw(ctx, m.Key, m.Payload, opts...)
		}
		if errs[i] != nil {
			failed = true
			gate.Fail(m.Key)
		}
	}
	if failed {
		return &pubsub.BatchError{Errs: errs}
	}
	return nil
}
