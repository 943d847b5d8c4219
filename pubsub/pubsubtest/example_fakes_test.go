package pubsubtest_test

import (
	"context"
	"fmt"
	"strconv"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/pubsubtest"
)

// This example unit-tests a handler: it runs pubsub.Consume over a
// TestSubscriber and checks which messages were acknowledged and which were
// dead-lettered to a TestPublisher.
func Example_consumeWithFakes() {
	// The handler under test: it accepts quantities and rejects anything else
	// for good, since retrying cannot fix a malformed payload.
	handle := func(_ context.Context, m pubsub.SubscriberMessage) error {
		if _, err := strconv.Atoi(string(m.Message())); err != nil {
			return pubsub.Permanent(fmt.Errorf("bad quantity: %w", err))
		}
		return nil
	}

	good := pubsubtest.NewTestMessage("order-1", []byte("3"), nil)
	bad := pubsubtest.NewTestMessage("order-2", []byte("three"), nil).WithID("m-2")
	sub := pubsubtest.NewTestSubscriber(good, bad)
	dlq := pubsubtest.NewTestPublisher()

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_ = sub.WaitSettled(ctx) // every message handled: shut down
		cancel()
	}()
	err := pubsub.Consume(ctx, sub, handle, pubsub.WithDeadLetter(dlq))

	fmt.Println("consume error:", err)
	fmt.Println("good acked:", good.Acked())
	fmt.Println("bad acked after dead-lettering:", bad.Acked())
	for _, m := range dlq.Messages() {
		info, _, _ := pubsub.ParseDeadLetter(m.Attributes)
		fmt.Printf("dead letter %s key=%s attempts=%d error=%q\n", info.MessageID, m.Key, info.Attempts, info.Error)
	}
	// Output:
	// consume error: <nil>
	// good acked: true
	// bad acked after dead-lettering: true
	// dead letter m-2 key=order-2 attempts=1 error="bad quantity: strconv.Atoi: parsing \"three\": invalid syntax"
}
