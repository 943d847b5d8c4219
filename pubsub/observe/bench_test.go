package observe_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/mem"
	"github.com/seed8104ecd5/gizmo/pubsub/observe"
)

// cpuTime returns the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// discard is a span exporter that drops what it is given: the cost
// measured is making and ending spans, not shipping them.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkConsumeObserved consumes b.N messages of 16 bytes from the
// in-memory broker with 8 workers and a trivial handler, with metrics,
// tracing, both or neither. The messages are published one by one before
// the timer starts, through an observed publisher, so that each carries the
// trace context of its own producer span when tracing is on. Tracing
// samples every trace ("sampled=100%") or a share of them, decided at the
// producer (ParentBased(TraceIDRatioBased)), as a production service
// would. One op is one message.
func BenchmarkConsumeObserved(b *testing.B) {
	for _, c := range []struct {
		name    string
		metrics bool
		ratio   float64 // of traces sampled; 0: no tracing
	}{
		{"off", false, 0},
		{"metrics", true, 0},
		{"tracing/sampled=100%", false, 1},
		{"both/sampled=100%", true, 1},
		{"both/sampled=10%", true, 0.1},
		{"both/sampled=1%", true, 0.01},
	} {
		b.Run(c.name, func(b *testing.B) {
			var opts []observe.Option
			if c.metrics {
				m, err := observe.NewMetrics(prometheus.NewRegistry())
				if err != nil {
					b.Fatal(err)
				}
				opts = append(opts, observe.WithMetrics(m))
			}
			if c.ratio > 0 {
				tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}),
					sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.ratio))))
				defer func() { _ = tp.Shutdown(context.Background()) }()
				opts = append(opts, observe.WithTracing(tp, nil))
			}
			benchConsume(b, opts, nil)
		})
	}
}

// BenchmarkConsumeSpanFloor is the floor under the tracing rows of
// BenchmarkConsumeObserved: the same consume, with hooks that do nothing
// but start a span from the OpenTelemetry SDK for each attempt and end it,
// on messages that carry no attributes. No trace context is extracted and
// no metric is kept, so this is the least any consumer span per message
// costs with the SDK. "sampled=1%" samples 1% of the (root) spans.
func BenchmarkConsumeSpanFloor(b *testing.B) {
	for _, ratio := range []float64{1, 0.01} {
		b.Run(fmt.Sprintf("sampled=%g%%", ratio*100), func(b *testing.B) {
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}),
				sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))))
			defer func() { _ = tp.Shutdown(context.Background()) }()
			tracer := tp.Tracer("floor")
			benchConsume(b, nil, &pubsub.ConsumeHooks{
				AttemptStart: func(ctx context.Context, _ pubsub.SubscriberMessage, _ int) context.Context {
					ctx, _ = tracer.Start(ctx, "process s", trace.WithSpanKind(trace.SpanKindConsumer))
					return ctx
				},
				Outcome: func(ctx context.Context, _ pubsub.SubscriberMessage, _ pubsub.Outcome) {
					trace.SpanFromContext(ctx).End()
				},
			})
		})
	}
}

// benchConsume consumes b.N messages published through an observed
// publisher with opts, with the hooks of an observed consumer with opts, or
// with hooks instead when they are given.
func benchConsume(b *testing.B, opts []observe.Option, hooks *pubsub.ConsumeHooks) {
	br := mem.NewBroker()
	defer br.Close()
	_ = br.CreateTopic("t")
	_ = br.CreateSubscription("s", "t", mem.SubscriptionConfig{AckDeadline: time.Minute})
	raw, _ := br.NewPublisher("t")
	pub := observe.Publisher(raw, "t", opts...)
	payload := make([]byte, 16)
	for i := range b.N {
		if err := pub.PublishRaw(context.Background(), fmt.Sprint("k", i%64), payload); err != nil {
			b.Fatal(err)
		}
	}
	sub, _ := br.NewSubscriber("s", mem.WithPrefetch(64))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n atomic.Int64
	total := int64(b.N)
	if hooks == nil {
		hooks = observe.Consumer("s", sub, opts...)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	err := pubsub.Consume(ctx, sub, func(context.Context, pubsub.SubscriberMessage) error {
		if n.Add(1) == total {
			cancel()
		}
		return nil
	}, pubsub.WithConcurrency(8), pubsub.WithHooks(hooks))
	b.StopTimer()
	// The process's CPU time per message: steadier than wall time on a
	// shared machine, and it counts the work of every goroutine (span
	// export, GC) that the message caused.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	if err != nil {
		b.Fatal(err)
	}
}
