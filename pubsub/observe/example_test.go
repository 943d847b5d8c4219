package observe_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/mem"
	"github.com/seed8104ecd5/gizmo/pubsub/observe"
)

// Example observes a consumer and its publisher with Prometheus metrics:
// one message succeeds, one fails once and succeeds on its retry.
func Example() {
	b := mem.NewBroker()
	defer b.Close()
	_ = b.CreateTopic("orders")
	_ = b.CreateSubscription("billing", "orders", mem.SubscriptionConfig{})

	reg := prometheus.NewRegistry()
	metrics, err := observe.NewMetrics(reg)
	if err != nil {
		fmt.Println(err)
		return
	}
	raw, _ := b.NewPublisher("orders")
	pub := observe.Publisher(raw, "orders", observe.WithMetrics(metrics))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_ = pub.PublishRaw(ctx, "customer-1", []byte("ok"))
	_ = pub.PublishRaw(ctx, "customer-2", []byte("flaky"))

	sub, _ := b.NewSubscriber("billing")
	failed, handled := false, 0
	err = pubsub.Consume(ctx, sub, func(_ context.Context, m pubsub.SubscriberMessage) error {
		if string(m.Message()) == "flaky" && !failed {
			failed = true
			return errors.New("payment service busy")
		}
		if handled++; handled == 2 {
			cancel()
		}
		return nil
	}, pubsub.WithConcurrency(1),
		pubsub.WithRetry(pubsub.RetryPolicy{InitialBackoff: time.Millisecond}),
		pubsub.WithHooks(observe.Consumer("billing", sub, observe.WithMetrics(metrics))))
	fmt.Println("Consume:", err)

	fmt.Println("published:", testutil.ToFloat64(counter(reg, observe.MetricPublished, "ok")))
	fmt.Println("done:", testutil.ToFloat64(counter(reg, observe.MetricHandled, "done")))
	fmt.Println("retried:", testutil.ToFloat64(counter(reg, observe.MetricHandled, "retried")))
	// Output:
	// Consume: <nil>
	// published: 2
	// done: 2
	// retried: 1
}

// counter copies the value of the series of family name whose outcome
// label is outcome into a counter testutil can read.
func counter(reg *prometheus.Registry, name, outcome string) prometheus.Collector {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "copy", Help: "copy"})
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					c.Add(m.GetCounter().GetValue())
				}
			}
		}
	}
	return c
}
