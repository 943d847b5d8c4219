package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/pubsubtest"
)

// Consume runs a handler over a subscriber until its context is cancelled.
// Here the subscriber is a pubsubtest fake; in a service it would come from
// an adapter package (aws, gcp, kafka, http), and ctx would be cancelled on
// SIGTERM.
func ExampleConsume() {
	msgs := []*pubsubtest.TestMessage{
		pubsubtest.NewTestMessage("user-1", []byte("signup"), nil),
		pubsubtest.NewTestMessage("user-1", []byte("verify-email"), nil),
		pubsubtest.NewTestMessage("user-2", []byte("signup"), nil),
	}
	sub := pubsubtest.NewTestSubscriber(msgs...)
	deadLetters := pubsubtest.NewTestPublisher()

	failures := 0
	handle := func(ctx context.Context, m pubsub.SubscriberMessage) error {
		// Fail the first attempt of one message to show the in-process retry.
		if m.Key() == "user-2" && failures == 0 {
			failures++
			return errors.New("mail server busy")
		}
		return nil
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_ = sub.WaitSettled(ctx)
		cancel()
	}()
	err := pubsub.Consume(ctx, sub, handle,
		pubsub.WithConcurrency(1), // one goroutine keeps the unsynchronised counter safe
		pubsub.WithOrderedKeys(),
		pubsub.WithRetry(pubsub.RetryPolicy{MaxAttempts: 3, InitialBackoff: 10 * time.Millisecond}),
		pubsub.WithDeadLetter(deadLetters),
		pubsub.WithDrainTimeout(5*time.Second),
		pubsub.WithLogger(slog.New(slog.DiscardHandler)),
	)
	fmt.Println("Consume returned:", err)
	for _, m := range msgs {
		fmt.Printf("%s %s: acked=%v\n", m.Key(), m.Message(), m.Acked())
	}
	fmt.Println("dead letters:", deadLetters.Len())
	// Output:
	// Consume returned: <nil>
	// user-1 signup: acked=true
	// user-1 verify-email: acked=true
	// user-2 signup: acked=true
	// dead letters: 0
}
