package pubsubtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/pubsubtest"
)

func recv(t *testing.T, ch <-chan pubsub.SubscriberMessage) (pubsub.SubscriberMessage, bool) {
	t.Helper()
	select {
	case m, ok := <-ch:
		return m, ok
	case <-time.After(10 * time.Second):
		t.Fatal("nothing received within 10s")
		return nil, false
	}
}

func TestFakeSubscriberDelivers(t *testing.T) {
	a := pubsubtest.NewTestMessage("k", []byte("a"), nil)
	b := pubsubtest.NewTestMessage("k", []byte("b"), nil)
	c := pubsubtest.NewTestMessage("k", []byte("c"), nil)
	s := pubsubtest.NewTestSubscriber(a, b)
	ch := s.Start()
	if s.Start() != ch {
		t.Error("second Start returned a different channel")
	}
	for _, want := range []*pubsubtest.TestMessage{a, b} {
		if m, _ := recv(t, ch); m != want {
			t.Fatalf("received %v, want %v", m.ID(), want.ID())
		}
	}
	s.Add(c) // while running
	if m, _ := recv(t, ch); m != c {
		t.Fatalf("received %v, want the added message", m.ID())
	}
	d := pubsubtest.NewTestMessage("", nil, nil)
	s.Add(d)
	// Nobody receives d, so it is still pending when Stop is called.
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal("second Stop:", err)
	}
	if _, ok := recv(t, ch); ok {
		t.Fatal("channel still open after Stop")
	}
	if p := s.Pending(); len(p) != 1 || p[0] != d {
		t.Errorf("Pending = %v, want the undelivered message", p)
	}
	if s.Err() != nil || s.StopCount() != 2 || len(s.Messages()) != 4 {
		t.Errorf("Err %v, StopCount %d, Messages %d", s.Err(), s.StopCount(), len(s.Messages()))
	}
}

func TestFakeSubscriberFail(t *testing.T) {
	s := pubsubtest.NewTestSubscriber()
	ch := s.Start()
	errLost := errors.New("connection lost")
	s.Fail(errLost)
	if _, ok := recv(t, ch); ok {
		t.Fatal("channel open after Fail")
	}
	if !errors.Is(s.Err(), errLost) {
		t.Errorf("Err = %v", s.Err())
	}
	_ = s.Stop(context.Background())
	if !errors.Is(s.Err(), errLost) {
		t.Errorf("Stop after Fail cleared Err: %v", s.Err())
	}
}

func TestFakeSubscriberStopBeforeStart(t *testing.T) {
	s := pubsubtest.NewTestSubscriber(pubsubtest.NewTestMessage("", nil, nil))
	_ = s.Stop(context.Background())
	if _, ok := recv(t, s.Start()); ok {
		t.Fatal("Start after Stop delivered a message")
	}
}

func TestFakeSubscriberWithConsume(t *testing.T) {
	ok1 := pubsubtest.NewTestMessage("k", []byte("ok"), nil)
	bad := pubsubtest.NewTestMessage("k", []byte("bad"), map[string]string{"x": "y"}).WithDeliveryAttempt(2)
	ok2 := pubsubtest.NewTestMessage("k", []byte("ok"), nil)
	sub := pubsubtest.NewTestSubscriber(ok1, bad, ok2)
	dlq := pubsubtest.NewTestPublisher()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- pubsub.Consume(ctx, sub, func(_ context.Context, m pubsub.SubscriberMessage) error {
			if string(m.Message()) == "bad" {
				return errors.New("cannot process")
			}
			return nil
		}, pubsub.WithOrderedKeys(), pubsub.WithDeadLetter(dlq),
			pubsub.WithRetry(pubsub.RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond}))
	}()
	if err := sub.WaitSettled(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Consume = %v", err)
	}
	if !ok1.Acked() || !ok2.Acked() || !bad.Acked() {
		t.Errorf("acked: %v %v %v, want all (bad one after dead-lettering)", ok1.Acked(), bad.Acked(), ok2.Acked())
	}
	msgs := dlq.Messages()
	if len(msgs) != 1 {
		t.Fatalf("dead letters = %+v, want 1", msgs)
	}
	info, _, err := pubsub.ParseDeadLetter(msgs[0].Attributes)
	if err != nil || string(msgs[0].Payload) != "bad" || msgs[0].Attributes["x"] != "y" ||
		info.Attempts != 3 || info.MessageID != bad.ID() {
		t.Errorf("dead letter = %+v (%+v, %v)", msgs[0], info, err)
	}
	if sub.StopCount() == 0 {
		t.Error("Consume did not Stop the subscriber")
	}
}
