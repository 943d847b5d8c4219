package pubsubtest

import (
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// Receive returns the next message from ch, the channel of a
// [pubsub.Subscriber]. It fails the test at once if ch closes or nothing
// arrives within d; what names the awaited message in that failure.
func Receive(t testing.TB, ch <-chan pubsub.SubscriberMessage, d time.Duration, what string) pubsub.SubscriberMessage {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatalf("waiting for %s: the subscriber's channel closed", what)
		}
		return m
	case <-timer.C:
		t.Fatalf("waiting for %s: nothing delivered within %v", what, d)
		return nil
	}
}

// ExpectNone waits d and fails the test at once if ch delivers a message
// or closes meanwhile; why says what should have held. Choose d from the
// backend's redelivery time, such as one and a half ack deadlines: a
// shorter wait proves little.
func ExpectNone(t testing.TB, ch <-chan pubsub.SubscriberMessage, d time.Duration, why string) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatalf("%s: the subscriber's channel closed", why)
		}
		t.Fatalf("%s: got message %.80q (ID %q) within %v", why, m.Message(), m.ID(), d)
	case <-timer.C:
	}
}
