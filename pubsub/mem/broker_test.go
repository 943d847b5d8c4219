package mem_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
	. "github.com/seed8104ecd5/gizmo/pubsub/mem"
)

// newTestBroker returns a broker with topic "t" and subscription "s".
func newTestBroker(t *testing.T, cfg SubscriptionConfig) (*Broker, *Publisher) {
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

func startBrokerSub(t *testing.T, b *Broker, opts ...SubscriberOption) (*Subscriber, <-chan pubsub.SubscriberMessage) {
	t.Helper()
	r, err := b.NewSubscriber("s", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stopWithin(r, time.Second) })
	return r, r.Start()
}

// stopWithin stops r with a drain deadline d from now.
func stopWithin(r pubsub.Subscriber, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return r.Stop(ctx)
}

// recv returns the next message from ch, failing the test if none arrives
// within 10s or the channel closes.
func recv(t *testing.T, ch <-chan pubsub.SubscriberMessage, what string) pubsub.SubscriberMessage {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatalf("waiting for %s: the channel closed", what)
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("waiting for %s: nothing within 10s", what)
		return nil
	}
}

// waitClosed fails the test unless ch closes within 10s.
func waitClosed(t *testing.T, ch <-chan pubsub.SubscriberMessage) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the channel did not close within 10s")
		}
	}
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
	for _, opt := range []SubscriberOption{WithPrefetch(0), WithMaxOutstanding(0)} {
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
	defer stopWithin(r, time.Second)
	m := recv(t, r.Start(), "the message")
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
	waitClosed(t, ch)
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
	m := recv(t, ch2, "the message")
	if err := b2.Close(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, ch2)
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
		m := recv(t, ch, "the message")
		if got := m.(pubsub.DeliveryAttempter).DeliveryAttempt(); got != want {
			t.Errorf("DeliveryAttempt = %d, want %d", got, want)
		}
		ids = append(ids, m.ID())
		if want < 3 {
			// Extend with zero hands the message back like Nack.
			if err := m.ExtendDoneDeadline(0); err != nil {
				t.Fatal(err)
			}
			if err := m.ExtendDoneDeadline(time.Second); !errors.Is(err, pubsub.ErrLeaseLost) {
				t.Errorf("Extend after the lease ended = %v, want pubsub.ErrLeaseLost", err)
			}
			continue
		}
		if err := m.Done(); err != nil {
			t.Fatal(err)
		}
		if err := m.ExtendDoneDeadline(time.Second); !errors.Is(err, pubsub.ErrLeaseLost) {
			t.Errorf("Extend after Done = %v, want pubsub.ErrLeaseLost", err)
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
	held := recv(t, chA, "A's message")
	_, chB := startBrokerSub(t, b)
	got := map[string]bool{string(held.Message()): true}
	for range 2 {
		m := recv(t, chB, "B's messages")
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
		m := recv(t, ch, "a message")
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

// A delivery still unsettled when Stop's context ends is handed back, Stop
// says so with ErrDrainTimeout, and settling it afterwards reports
// ErrStopped.
func TestBrokerStopDrainTimeout(t *testing.T) {
	b, p := newTestBroker(t, SubscriptionConfig{AckDeadline: time.Minute})
	if err := p.PublishRaw(t.Context(), "", []byte("x")); err != nil {
		t.Fatal(err)
	}
	r, ch := startBrokerSub(t, b)
	m := recv(t, ch, "the message")
	if err := stopWithin(r, 50*time.Millisecond); !errors.Is(err, pubsub.ErrDrainTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop after the drain deadline = %v, want an error wrapping pubsub.ErrDrainTimeout and the context's error", err)
	}
	if err := m.Done(); !errors.Is(err, pubsub.ErrStopped) || !errors.Is(err, pubsub.ErrLeaseLost) {
		t.Errorf("Done after Stop = %v, want ErrStopped and ErrLeaseLost", err)
	}
	_, ch2 := startBrokerSub(t, b)
	m2 := recv(t, ch2, "the handed-back message")
	if string(m2.Message()) != "x" {
		t.Errorf("got %q", m2.Message())
	}
	_ = m2.Done()
}

// A bounded backlog refuses a publish that would pass it, for every
// subscription of the topic at once, and makes room as messages are Done.
func TestBrokerMaxBacklog(t *testing.T) {
	b, p := newTestBroker(t, SubscriptionConfig{MaxBacklog: 2})
	if err := b.CreateSubscription("roomy", "t", SubscriptionConfig{}); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for i := range 2 {
		if err := p.PublishRaw(ctx, "", []byte{byte('0' + i)}); err != nil {
			t.Fatal(err)
		}
	}
	err := p.PublishRaw(ctx, "", []byte("over"))
	if !errors.Is(err, ErrBacklogFull) || !strings.Contains(err.Error(), `"s"`) {
		t.Fatalf("publish past MaxBacklog = %v, want ErrBacklogFull naming the subscription", err)
	}
	err = p.PublishBatch(ctx, []pubsub.Message{{Payload: []byte("b1")}, {Payload: []byte("b2")}})
	var be *pubsub.BatchError
	if !errors.As(err, &be) || be.Failed() != 2 {
		t.Fatalf("batch past MaxBacklog = %v, want both refused", err)
	}
	// The roomy subscription got neither refused message.
	roomy, err := b.NewSubscriber("roomy")
	if err != nil {
		t.Fatal(err)
	}
	defer stopWithin(roomy, time.Second)
	rch := roomy.Start()
	for range 2 {
		_ = recv(t, rch, "the accepted messages").Done()
	}
	select {
	case m := <-rch:
		t.Fatalf("the other subscription got the refused message %q", m.Message())
	case <-time.After(50 * time.Millisecond):
	}
	_, ch := startBrokerSub(t, b)
	m := recv(t, ch, "a message")
	if err := m.Nack(); err != nil { // a Nack does not make room
		t.Fatal(err)
	}
	if err := p.PublishRaw(ctx, "", []byte("still over")); !errors.Is(err, ErrBacklogFull) {
		t.Fatalf("publish after a Nack = %v, want ErrBacklogFull", err)
	}
	if err := recv(t, ch, "a message").Done(); err != nil {
		t.Fatal(err)
	}
	if err := p.PublishRaw(ctx, "", []byte("fits")); err != nil {
		t.Fatalf("publish after a Done made room = %v", err)
	}
}

// A deduplication ID is remembered for the window and then forgotten.
func TestBrokerDeduplicationWindow(t *testing.T) {
	b := NewBroker(WithDeduplicationWindow(50 * time.Millisecond))
	defer b.Close()
	_ = b.CreateTopic("t")
	_ = b.CreateSubscription("s", "t", SubscriptionConfig{})
	p, _ := b.NewPublisher("t")
	ctx := t.Context()
	for _, payload := range []string{"first", "duplicate"} {
		if err := p.PublishRaw(ctx, "", []byte(payload), pubsub.WithDeduplicationID("id-1")); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(60 * time.Millisecond) // past the window
	if err := p.PublishRaw(ctx, "", []byte("after the window"), pubsub.WithDeduplicationID("id-1")); err != nil {
		t.Fatal(err)
	}
	_, ch := startBrokerSub(t, b)
	for _, want := range []string{"first", "after the window"} {
		m := recv(t, ch, want)
		if string(m.Message()) != want {
			t.Errorf("got %q, want %q", m.Message(), want)
		}
		_ = m.Done()
	}
}

// With LeaseAtFetch the lease runs while a message waits in the
// subscriber's prefetch; one with less than half its lease left is handed
// back rather than delivered, and fetched again later.
func TestBrokerLeaseAtFetch(t *testing.T) {
	const ack = 200 * time.Millisecond
	b, p := newTestBroker(t, SubscriptionConfig{AckDeadline: ack, LeaseAtFetch: true})
	for _, s := range []string{"a", "b"} {
		if err := p.PublishRaw(t.Context(), "", []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	r, ch := startBrokerSub(t, b)
	if r.Lease() != ack || !r.CanNack() {
		t.Errorf("Lease %v CanNack %v, want %v and true", r.Lease(), r.CanNack(), ack)
	}
	first := recv(t, ch, "the first message")
	time.Sleep(ack + 100*time.Millisecond) // the second waits in the prefetch past half its lease, the first lapses
	second := recv(t, ch, "the second message")
	for string(second.Message()) != "b" { // the lapsed first may come first
		_ = second.Done()
		second = recv(t, ch, "the second message")
	}
	if got := second.(pubsub.DeliveryAttempter).DeliveryAttempt(); got != 1 {
		t.Errorf("the stale prefetched message came with DeliveryAttempt %d, want 1: it was never delivered", got)
	}
	if err := second.Done(); err != nil {
		t.Errorf("Done of the refetched message: %v", err)
	}
	if err := first.Done(); !errors.Is(err, pubsub.ErrLeaseLost) {
		t.Errorf("Done after the fetch-time lease ended = %v, want ErrLeaseLost", err)
	}
}

// The broker's limits refuse a message with ErrTooLarge, naming the limit.
func TestBrokerLimits(t *testing.T) {
	b := NewBroker(WithMaxMessageBytes(10), WithMaxAttributes(1))
	defer b.Close()
	_ = b.CreateTopic("t")
	p, _ := b.NewPublisher("t")
	for name, err := range map[string]error{
		"bytes":      p.PublishRaw(t.Context(), "key", []byte("12345678")),
		"attributes": p.PublishRaw(t.Context(), "", nil, pubsub.WithAttributes(map[string]string{"a": "", "b": ""})),
	} {
		if !errors.Is(err, pubsub.ErrTooLarge) || !strings.Contains(err.Error(), "allows") {
			t.Errorf("%s over the limit: %v, want ErrTooLarge naming the limit", name, err)
		}
	}
	if err := p.PublishRaw(t.Context(), "k", []byte("123456789")); err != nil {
		t.Errorf("a message of exactly 10 bytes: %v", err)
	}
}
