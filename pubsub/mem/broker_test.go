package pubsubtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// newTestBroker returns a broker with topic "t" and subscription "s".
func newTestBroker(t *testing.T, cfg SubscriptionConfig) (*Broker, pubsub.MultiPublisher) {
	t.Helper()
	b := NewBroker()
	t.Cleanup(func() { _ = b.Close() })
	if err := b.CreateTopic("t"); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateSubscription("s", "t", cfg); err != nil {
		t.Fatal(err)
	}
	p, err := b.NewPublisher("t")
	if err != nil {
		t.Fatal(err)
	}
	return b, p
}

func startBrokerSub(t *testing.T, b *Broker, opts ...SubscriberOption) (pubsub.Subscriber, <-chan pubsub.SubscriberMessage) {
	t.Helper()
	r, err := b.NewSubscriber("s", append([]SubscriberOption{WithDrainTimeout(time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop() })
	return r, r.Start()
}

func TestBrokerNamesAndErrors(t *testing.T) {
	b, _ := newTestBroker(t, SubscriptionConfig{})
	if err := b.CreateTopic("t"); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("duplicate CreateTopic = %v, want ErrAlreadyExists", err)
	}
	if err := b.CreateSubscription("s", "t", SubscriptionConfig{}); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("duplicate CreateSubscription = %v, want ErrAlreadyExists", err)
	}
	if err := b.CreateSubscription("s2", "nope", SubscriptionConfig{}); !errors.Is(err, pubsub.ErrTopicNotFound) {
		t.Errorf("CreateSubscription on a missing topic = %v, want ErrTopicNotFound", err)
	}
	if err := b.CreateSubscription("s3", "t", SubscriptionConfig{AckDeadline: -time.Second}); err == nil {
		t.Error("CreateSubscription with a negative AckDeadline succeeded")
	}
	if err := b.CreateTopic(""); err == nil {
		t.Error("CreateTopic with an empty name succeeded")
	}
	for _, opt := range []SubscriberOption{WithPrefetch(0), WithMaxOutstanding(0), WithDrainTimeout(-1)} {
		if _, err := b.NewSubscriber("s", opt); err == nil {
			t.Error("NewSubscriber with an invalid option succeeded")
		}
	}
	if err := b.DeleteTopic("nope"); !errors.Is(err, pubsub.ErrTopicNotFound) {
		t.Errorf("DeleteTopic(missing) = %v", err)
	}
	if err := b.DeleteSubscription("nope"); !errors.Is(err, pubsub.ErrSubscriptionNotFound) {
		t.Errorf("DeleteSubscription(missing) = %v", err)
	}
}

func TestBrokerSubscriptionSeesOnlyLaterMessages(t *testing.T) {
	b, p := newTestBroker(t, SubscriptionConfig{})
	ctx := t.Context()
	if err := p.PublishRaw(ctx, "", []byte("before")); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateSubscription("late", "t", SubscriptionConfig{}); err != nil {
		t.Fatal(err)
	}
	if err := p.PublishRaw(ctx, "", []byte("after")); err != nil {
		t.Fatal(err)
	}
	r, err := b.NewSubscriber("late")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	m := confRecv(t, r.Start(), 10*time.Second, "the message")
	if string(m.Message()) != "after" {
		t.Errorf("a subscription created later got %q first, want %q", m.Message(), "after")
	}
	_ = m.Done()
}

func TestBrokerDeleteAndClose(t *testing.T) {
	b, p := newTestBroker(t, SubscriptionConfig{})
	r, ch := startBrokerSub(t, b)
	if err := b.DeleteSubscription("s"); err != nil {
		t.Fatal(err)
	}
	confWaitClosed(t, ch, 10*time.Second)
	if err := r.Err(); !errors.Is(err, pubsub.ErrSubscriptionNotFound) {
		t.Errorf("Err after DeleteSubscription = %v, want ErrSubscriptionNotFound", err)
	}
	if err := b.DeleteTopic("t"); err != nil {
		t.Fatal(err)
	}
	if err := p.PublishRaw(t.Context(), "", nil); !errors.Is(err, pubsub.ErrTopicNotFound) {
		t.Errorf("publish after DeleteTopic = %v, want ErrTopicNotFound", err)
	}

	b2, p2 := newTestBroker(t, SubscriptionConfig{})
	if err := p2.PublishRaw(t.Context(), "", []byte("x")); err != nil {
		t.Fatal(err)
	}
	r2, ch2 := startBrokerSub(t, b2)
	m := confRecv(t, ch2, 10*time.Second, "the message")
	if err := b2.Close(); err != nil {
		t.Fatal(err)
	}
	confWaitClosed(t, ch2, 10*time.Second)
	if err := r2.Err(); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("Err after Broker.Close = %v, want ErrClosed", err)
	}
	if err := m.Done(); !errors.Is(err, pubsub.ErrStopped) {
		t.Errorf("Done after Broker.Close = %v, want ErrStopped", err)
	}
	if err := p2.PublishRaw(t.Context(), "", nil); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("publish after Broker.Close = %v, want ErrClosed", err)
	}
	if _, err := b2.NewSubscriber("s"); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("NewSubscriber after Broker.Close = %v, want ErrClosed", err)
	}
	if err := b2.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestBrokerDeliveryAttemptsAndExtend(t *testing.T) {
	b, p := newTestBroker(t, SubscriptionConfig{AckDeadline: time.Minute})
	if err := p.PublishRaw(t.Context(), "", []byte("x")); err != nil {
		t.Fatal(err)
	}
	_, ch := startBrokerSub(t, b)
	var ids []string
	for want := 1; want <= 3; want++ {
		m := confRecv(t, ch, 10*time.Second, "the message")
		if got := m.(pubsub.DeliveryAttempter).DeliveryAttempt(); got != want {
			t.Errorf("DeliveryAttempt = %d, want %d", got, want)
		}
		ids = append(ids, m.ID())
		if want < 3 {
			// Extend with zero hands the message back like Nack.
			if err := m.ExtendDoneDeadline(0); err != nil {
				t.Fatal(err)
			}
			if err := m.ExtendDoneDeadline(time.Second); !errors.Is(err, ErrLeaseExpired) {
				t.Errorf("Extend after the lease ended = %v, want ErrLeaseExpired", err)
			}
			continue
		}
		if err := m.Done(); err != nil {
			t.Fatal(err)
		}
		if err := m.ExtendDoneDeadline(time.Second); !errors.Is(err, ErrLeaseExpired) {
			t.Errorf("Extend after Done = %v, want ErrLeaseExpired", err)
		}
	}
	if ids[0] != ids[1] || ids[1] != ids[2] {
		t.Errorf("IDs across redeliveries = %q, want all equal", ids)
	}
}

// A subscriber never holds more unsettled messages than WithMaxOutstanding,
// so the rest go to other subscribers.
func TestBrokerMaxOutstanding(t *testing.T) {
	b, p := newTestBroker(t, SubscriptionConfig{AckDeadline: time.Minute})
	for _, s := range []string{"1", "2", "3"} {
		if err := p.PublishRaw(t.Context(), "", []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	_, chA := startBrokerSub(t, b, WithMaxOutstanding(1))
	held := confRecv(t, chA, 10*time.Second, "A's message")
	_, chB := startBrokerSub(t, b)
	got := map[string]bool{string(held.Message()): true}
	for range 2 {
		m := confRecv(t, chB, 10*time.Second, "B's messages")
		got[string(m.Message())] = true
		_ = m.Done()
	}
	if len(got) != 3 {
		t.Errorf("messages seen by A and B = %v, want 3 distinct", got)
	}
	_ = held.Done()
}

// With OrderedKeys, a message whose deadline lapses keeps its key blocked
// until it is redelivered and Done.
func TestBrokerOrderedKeyAcrossDeadline(t *testing.T) {
	b, p := newTestBroker(t, SubscriptionConfig{AckDeadline: 100 * time.Millisecond, OrderedKeys: true})
	ctx := context.Background()
	for _, s := range []string{"k1", "k2"} {
		if err := p.PublishRaw(ctx, "k", []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.PublishRaw(ctx, "other", []byte("o1")); err != nil {
		t.Fatal(err)
	}
	_, ch := startBrokerSub(t, b)
	var order []string
	for len(order) < 4 {
		m := confRecv(t, ch, 10*time.Second, "a message")
		order = append(order, string(m.Message()))
		if string(m.Message()) == "k1" && m.(pubsub.DeliveryAttempter).DeliveryAttempt() == 1 {
			continue // let the deadline lapse
		}
		_ = m.Done()
	}
	var ks []string
	for _, s := range order {
		if s != "o1" {
			ks = append(ks, s)
		}
	}
	if len(ks) != 3 || ks[0] != "k1" || ks[1] != "k1" || ks[2] != "k2" {
		t.Errorf("delivery order %v, want k1, k1 (redelivered), k2 with o1 anywhere", order)
	}
}

// A delivery still unsettled when Stop's drain timeout passes is handed
// back, and settling it afterwards reports ErrStopped.
func TestBrokerStopDrainTimeout(t *testing.T) {
	b, p := newTestBroker(t, SubscriptionConfig{AckDeadline: time.Minute})
	if err := p.PublishRaw(t.Context(), "", []byte("x")); err != nil {
		t.Fatal(err)
	}
	r, ch := startBrokerSub(t, b, WithDrainTimeout(50*time.Millisecond))
	m := confRecv(t, ch, 10*time.Second, "the message")
	if err := r.Stop(); err == nil {
		t.Error("Stop after the drain timeout = nil, want an error counting the unsettled message")
	}
	if err := m.Done(); !errors.Is(err, pubsub.ErrStopped) {
		t.Errorf("Done after Stop = %v, want ErrStopped", err)
	}
	_, ch2 := startBrokerSub(t, b)
	m2 := confRecv(t, ch2, 10*time.Second, "the handed-back message")
	if string(m2.Message()) != "x" {
		t.Errorf("got %q", m2.Message())
	}
	_ = m2.Done()
}
