package mem_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/mem"
)

// Example runs a queue consumer against the in-memory broker: a topic
// with one subscription, three messages published before the consumer
// starts, and pubsub.Consume handling them until the context is cancelled.
func Example() {
	b := mem.NewBroker()
	defer b.Close()
	if err := b.CreateTopic("orders"); err != nil {
		fmt.Println(err)
		return
	}
	cfg := mem.SubscriptionConfig{AckDeadline: 10 * time.Second, OrderedKeys: true}
	if err := b.CreateSubscription("billing", "orders", cfg); err != nil {
		fmt.Println(err)
		return
	}

	pub, err := b.NewPublisher("orders")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i, item := range []string{"apple", "pear", "plum"} {
		err := pub.PublishRaw(ctx, "customer-7", []byte(item), pubsub.WithAttribute("line", strconv.Itoa(i+1)))
		if err != nil {
			fmt.Println(err)
			return
		}
	}

	sub, err := b.NewSubscriber("billing")
	if err != nil {
		fmt.Println(err)
		return
	}
	handled := 0
	err = pubsub.Consume(ctx, sub, func(ctx context.Context, m pubsub.SubscriberMessage) error {
		fmt.Printf("%s line %s: %s\n", m.Key(), m.Attributes()["line"], m.Message())
		if handled++; handled == 3 {
			cancel() // a real daemon cancels on SIGTERM instead
		}
		return nil
	}, pubsub.WithConcurrency(1))
	fmt.Println("Consume returned:", err)

	// Output:
	// customer-7 line 1: apple
	// customer-7 line 2: pear
	// customer-7 line 3: plum
	// Consume returned: <nil>
}

// ExampleSubscriptionConfig_maxBacklog bounds a subscription's backlog, so
// that a consumer that falls behind pushes back on its publishers instead
// of filling memory.
func ExampleSubscriptionConfig_maxBacklog() {
	b := mem.NewBroker()
	defer b.Close()
	_ = b.CreateTopic("events")
	_ = b.CreateSubscription("slow-consumer", "events", mem.SubscriptionConfig{MaxBacklog: 2})
	pub, _ := b.NewPublisher("events")
	ctx := context.Background()
	for i := range 3 {
		err := pub.PublishRaw(ctx, "", []byte(strconv.Itoa(i)))
		fmt.Printf("publish %d: backlog full: %v\n", i, errors.Is(err, mem.ErrBacklogFull))
	}

	// Output:
	// publish 0: backlog full: false
	// publish 1: backlog full: false
	// publish 2: backlog full: true
}
