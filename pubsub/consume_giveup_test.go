package pubsub_test

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/internal/testlog"
	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/mem"
	"github.com/seed8104ecd5/gizmo/pubsub/pubsubtest"
)

// A message that always fails, with no dead-letter publisher, is attempted
// at most once per MaxBackoff across its redeliveries, and keeps coming
// back: it is never dropped. (Before, it was Nacked at once and ran 130,111
// times in 2s.)
func TestConsumeFailingMessageAttemptedOncePerMaxBackoff(t *testing.T) {
	const maxBackoff = 200 * time.Millisecond
	_, p, sub := memSetup(t, mem.SubscriptionConfig{AckDeadline: 10 * time.Second})
	if err := p.PublishRaw(t.Context(), "", []byte("poison")); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	var logs testlog.Buffer
	start := time.Now()
	stop := consumeFor(t, sub, func(context.Context, pubsub.SubscriberMessage) error {
		calls.Add(1)
		return errors.New("always")
	}, pubsub.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		pubsub.WithRetry(pubsub.RetryPolicy{MaxAttempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: maxBackoff, Jitter: -1}))
	for calls.Load() < 5 && time.Since(start) < 10*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	got := calls.Load()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// Two attempts on the first delivery, then one per hold of at least
	// maxBackoff: timers never fire early, so this bound cannot flake.
	if limit := 2 + int32(elapsed/maxBackoff); got > limit {
		t.Errorf("%d attempts in %v, want at most %d with MaxBackoff %v", got, elapsed, limit, maxBackoff)
	}
	if got < 5 {
		t.Errorf("only %d attempts in %v: the message was not redelivered", got, elapsed)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "gave up") {
		t.Errorf("the give-up was not logged at Error:\n%s", logs.String())
	}
}

// noNackSub is a subscriber that cannot Nack a single message, as a Kafka
// consumer without in-process redelivery would be.
type noNackSub struct{ *pubsubtest.TestSubscriber }

func (noNackSub) CanNack() bool { return false }

// Without a dead-letter publisher, Consume refuses to run over a subscriber
// that cannot Nack, unless the caller picks GiveUpDiscard, which then
// acknowledges the failed message and logs it at Error.
func TestConsumeRefusesNoNackWithoutGiveUpPolicy(t *testing.T) {
	h := func(context.Context, pubsub.SubscriberMessage) error { return errors.New("fails") }
	for _, opts := range [][]pubsub.ConsumeOption{nil, {pubsub.WithGiveUp(pubsub.GiveUpRedeliver)}} {
		sub := noNackSub{pubsubtest.NewTestSubscriber()}
		err := pubsub.Consume(context.Background(), sub, h, opts...)
		if err == nil || !strings.Contains(err.Error(), "cannot Nack") || !strings.Contains(err.Error(), "WithDeadLetter") {
			t.Errorf("Consume over a subscriber without Nack = %v, want a refusal naming the way out", err)
		}
		if sub.StopCount() != 0 {
			t.Error("Consume started the subscriber before refusing")
		}
	}
	if err := pubsub.Consume(context.Background(), noNackSub{pubsubtest.NewTestSubscriber()}, h, pubsub.WithGiveUp(99)); err == nil {
		t.Error("Consume accepted an unknown give-up policy")
	}

	m := pubsubtest.NewTestMessage("k", []byte("x"), nil)
	sub := noNackSub{pubsubtest.NewTestSubscriber(m)}
	var logs testlog.Buffer
	stop := consumeFor(t, sub, h, pubsub.WithGiveUp(pubsub.GiveUpDiscard),
		pubsub.WithRetry(pubsub.RetryPolicy{MaxAttempts: 2, InitialBackoff: time.Millisecond}),
		pubsub.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err := m.WaitSettled(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !m.Acked() || m.NackCount() != 0 {
		t.Errorf("GiveUpDiscard: acked %v, nacks %d; want acknowledged", m.Acked(), m.NackCount())
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "discarding") {
		t.Errorf("the discard was not logged at Error:\n%s", logs.String())
	}
}

// The first settle is final for Consume too: a handler that calls Done or
// Nack and then returns an error is neither retried nor dead-lettered.
func TestConsumeSettledThenErrorIsFinal(t *testing.T) {
	for _, settle := range []string{"done", "nack"} {
		t.Run(settle, func(t *testing.T) {
			m := pubsubtest.NewTestMessage("", []byte("x"), nil)
			sub := pubsubtest.NewTestSubscriber(m)
			dlq := pubsubtest.NewTestPublisher()
			var calls atomic.Int32
			stop := consumeFor(t, sub, func(_ context.Context, m pubsub.SubscriberMessage) error {
				calls.Add(1)
				if settle == "done" {
					_ = m.Done()
				} else {
					_ = m.Nack()
				}
				return errors.New("after the settle")
			}, pubsub.WithDeadLetter(dlq), pubsub.WithRetry(pubsub.RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond}))
			if err := m.WaitSettled(t.Context()); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond) // room for a wrong retry
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if calls.Load() != 1 || dlq.Len() != 0 || m.DoneCount()+m.NackCount() != 1 {
				t.Errorf("handler calls %d, dead letters %d, settles %d; want 1, 0 and the handler's own",
					calls.Load(), dlq.Len(), m.DoneCount()+m.NackCount())
			}
		})
	}
}

// With ordered keys, a message handed back after its last attempt blocks
// its key: the next message of the key does not run before the handed-back
// one comes back. Here it never comes back (the fake subscriber, like
// Kafka, does not hold keys and does not redeliver), so the next message
// is handed back unstarted: at once if it was queued, at the stop if it
// arrived after the give-up and was parked.
func TestConsumeKeyOrderAfterGiveUp(t *testing.T) {
	m1 := pubsubtest.NewTestMessage("k", []byte("m1"), nil)
	m2 := pubsubtest.NewTestMessage("k", []byte("m2"), nil)
	sub := pubsubtest.NewTestSubscriber(m1, m2)
	var ran2 atomic.Bool
	stop := consumeFor(t, sub, func(_ context.Context, m pubsub.SubscriberMessage) error {
		if string(m.Message()) == "m2" {
			ran2.Store(true)
			return nil
		}
		return errors.New("m1 fails")
	}, pubsub.WithOrderedKeys(), pubsub.WithRetry(pubsub.RetryPolicy{MaxAttempts: 1, MaxBackoff: 20 * time.Millisecond}))
	if err := m1.WaitSettled(t.Context()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // room for m2 to run wrongly
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if ran2.Load() || !m2.Nacked() || !m1.Nacked() {
		t.Errorf("m2 ran %v, m2 nacked %v, m1 nacked %v: want m1 and m2 handed back, m2 unstarted", ran2.Load(), m2.Nacked(), m1.Nacked())
	}
}

// A handler that calls runtime.Goexit (t.FailNow in a handler does) fails
// one attempt, like a panic; the worker carries on. (Before, the worker
// died silently: with one worker, nothing else was ever handled.)
func TestConsumeGoexitIsFailedAttempt(t *testing.T) {
	const n = 100
	msgs := make([]*pubsubtest.TestMessage, n)
	for i := range msgs {
		msgs[i] = pubsubtest.NewTestMessage("", []byte("x"), nil)
	}
	sub := pubsubtest.NewTestSubscriber(msgs...)
	var calls, handled atomic.Int32
	var logs testlog.Buffer
	stop := consumeFor(t, sub, func(context.Context, pubsub.SubscriberMessage) error {
		if calls.Add(1) == 1 {
			runtime.Goexit()
		}
		handled.Add(1)
		return nil
	}, pubsub.WithConcurrency(1), pubsub.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		pubsub.WithRetry(pubsub.RetryPolicy{InitialBackoff: time.Millisecond}))
	if err := sub.WaitSettled(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if handled.Load() != n {
		t.Errorf("%d of %d messages handled after a Goexit", handled.Load(), n)
	}
	for i, m := range msgs {
		if !m.Acked() {
			t.Errorf("message %d not acknowledged", i)
		}
	}
	if !strings.Contains(logs.String(), "runtime.Goexit") {
		t.Errorf("the Goexit was not logged:\n%s", logs.String())
	}
}
