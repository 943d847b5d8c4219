package daemon_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"

	dto "github.com/prometheus/client_model/go"

	"github.com/seed8104ecd5/gizmo/daemon"
	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/mem"
	"github.com/seed8104ecd5/gizmo/server"
)

// Example runs a queue consumer as a daemon: the server has no services of
// its own and is the admin listener with /healthz, /readyz and /metrics.
// A real daemon runs until SIGTERM (server.SignalContext); this one stops
// once it has handled what was published.
func Example() {
	b := mem.NewBroker()
	defer b.Close()
	_ = b.CreateTopic("orders")
	_ = b.CreateSubscription("billing", "orders", mem.SubscriptionConfig{})
	sub, _ := b.NewSubscriber("billing")

	ln, err := net.Listen("tcp", "127.0.0.1:0") // a real daemon sets Config.HTTPPort
	if err != nil {
		fmt.Println(err)
		return
	}
	srv, err := server.NewSimpleServer(server.Config{}, server.WithListener(ln))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	var handled atomic.Int32
	err = daemon.AddConsumer(srv, daemon.Consumer{
		Name:       "billing",
		Subscriber: sub,
		Handler: func(context.Context, pubsub.SubscriberMessage) error {
			if handled.Add(1) == 3 {
				cancel()
			}
			return nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	raw, _ := b.NewPublisher("orders")
	pub, _ := daemon.Publisher(srv, raw, "orders")
	for _, o := range []string{"apple", "pear", "plum"} {
		_ = pub.PublishRaw(ctx, "customer-7", []byte(o))
	}
	fmt.Println("Run:", srv.Run(ctx))

	// What GET /metrics served: the server's registry, with the consumer's
	// and the publisher's metrics beside the HTTP ones.
	mfs, _ := srv.Registry().Gather()
	for _, mf := range mfs {
		if mf.GetName() == "pubsub_consumer_handled_total" {
			for _, m := range mf.GetMetric() {
				if m.GetCounter().GetValue() > 0 {
					fmt.Println(mf.GetName(), labels(m.GetLabel()), m.GetCounter().GetValue())
				}
			}
		}
	}
	// Output:
	// Run: <nil>
	// pubsub_consumer_handled_total consumer=billing,outcome=done 3
}

func labels(ls []*dto.LabelPair) string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.GetName() + "=" + l.GetValue()
	}
	return strings.Join(out, ",")
}
