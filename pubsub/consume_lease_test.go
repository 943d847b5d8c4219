package pubsub_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/internal/testlog"
	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/mem"
)

// These tests run Consume over the in-memory broker, whose leases really
// lapse, to check what the runner promises about leases, draining and
// redelivery.

// memSetup returns a publisher and a subscriber of a one-subscription topic.
func memSetup(t *testing.T, cfg mem.SubscriptionConfig) (*mem.Broker, *mem.Publisher, *mem.Subscriber) {
	t.Helper()
	b := mem.NewBroker()
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
	s, err := b.NewSubscriber("s")
	if err != nil {
		t.Fatal(err)
	}
	return b, p, s
}

// consumeFor runs Consume until stop is called, and returns its result.
func consumeFor(t *testing.T, sub pubsub.Subscriber, h pubsub.Handler, opts ...pubsub.ConsumeOption) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- pubsub.Consume(ctx, sub, h, opts...) }()
	return func() error {
		t.Helper()
		cancel()
		select {
		case err := <-res:
			return err
		case <-time.After(20 * time.Second):
			t.Fatal("Consume did not return within 20s of its context being cancelled")
			return nil
		}
	}
}

// overlapGuard counts how often a message's handler runs while another run
// for the same message ID is still going.
type overlapGuard struct {
	mu      sync.Mutex
	running map[string]int
	calls   map[string]int
	overlap int
}

func newOverlapGuard() *overlapGuard {
	return &overlapGuard{running: make(map[string]int), calls: make(map[string]int)}
}

func (g *overlapGuard) enter(id string) (calls int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running[id] > 0 {
		g.overlap++
	}
	g.running[id]++
	g.calls[id]++
	return g.calls[id]
}

func (g *overlapGuard) leave(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.running[id]--
}

func (g *overlapGuard) snapshot() (calls map[string]int, overlap int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	calls = make(map[string]int, len(g.calls))
	for k, v := range g.calls {
		calls[k] = v
	}
	return calls, g.overlap
}

// A message retried in process keeps its lease: with a 1s ack deadline and
// 600ms attempts, the first two of which fail, the handler runs exactly
// three times and never beside itself. (Before the second edition the
// lease was extended only before a backoff wait, timed from the first
// failure, and the broker handed the message to a second worker.)
func TestConsumeKeepsLeaseAcrossRetries(t *testing.T) {
	_, p, sub := memSetup(t, mem.SubscriptionConfig{AckDeadline: time.Second})
	if err := p.PublishRaw(t.Context(), "", []byte("x")); err != nil {
		t.Fatal(err)
	}
	g := newOverlapGuard()
	succeeded := make(chan struct{})
	stop := consumeFor(t, sub, func(_ context.Context, m pubsub.SubscriberMessage) error {
		n := g.enter(m.ID())
		defer g.leave(m.ID())
		time.Sleep(600 * time.Millisecond) // the handler's work
		if n <= 2 {
			return errors.New("not yet")
		}
		close(succeeded)
		return nil
	}, pubsub.WithRetry(pubsub.RetryPolicy{InitialBackoff: 10 * time.Millisecond, Jitter: -1}))
	select {
	case <-succeeded:
	case <-time.After(15 * time.Second):
		t.Fatal("the third attempt did not succeed")
	}
	// Long enough for a lapsed lease to show as a redelivery.
	time.Sleep(1500 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	calls, overlap := g.snapshot()
	if calls["1"] != 3 || overlap != 0 {
		t.Errorf("handler calls %v, overlapping runs %d; want 3 calls and none overlapping", calls, overlap)
	}
}

// A slow handler keeps its lease, and so does a message queued behind it
// for its key: with a 500ms lease and a 1.2s handler each runs once. The
// subscription does not order keys, so the broker hands both over at once
// and the second waits inside Consume.
func TestConsumeKeepsLeaseOfSlowAndQueuedMessages(t *testing.T) {
	_, p, sub := memSetup(t, mem.SubscriptionConfig{AckDeadline: 500 * time.Millisecond})
	for _, s := range []string{"slow", "queued"} {
		if err := p.PublishRaw(t.Context(), "k", []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	g := newOverlapGuard()
	var handled atomic.Int32
	stop := consumeFor(t, sub, func(_ context.Context, m pubsub.SubscriberMessage) error {
		g.enter(string(m.Message()))
		defer g.leave(string(m.Message()))
		if string(m.Message()) == "slow" {
			time.Sleep(1200 * time.Millisecond)
		}
		handled.Add(1)
		return nil
	}, pubsub.WithOrderedKeys(), pubsub.WithConcurrency(1))
	for handled.Load() < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(time.Second) // a lapsed lease would redeliver within this
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	calls, overlap := g.snapshot()
	if calls["slow"] != 1 || calls["queued"] != 1 || overlap != 0 {
		t.Errorf("handler calls %v, overlapping %d; want each message once", calls, overlap)
	}
}

// With leases that start at the fetch (as on SQS), messages wait in the
// subscriber's prefetch before Consume sees them, and handlers take most of
// the lease: Consume still runs each message once.
func TestConsumeLeaseAtFetch(t *testing.T) {
	_, p, sub := memSetup(t, mem.SubscriptionConfig{AckDeadline: 1500 * time.Millisecond, LeaseAtFetch: true})
	const n = 6
	for i := range n {
		if err := p.PublishRaw(t.Context(), "", []byte{byte('a' + i)}); err != nil {
			t.Fatal(err)
		}
	}
	g := newOverlapGuard()
	var handled atomic.Int32
	stop := consumeFor(t, sub, func(_ context.Context, m pubsub.SubscriberMessage) error {
		g.enter(m.ID())
		defer g.leave(m.ID())
		time.Sleep(1200 * time.Millisecond)
		handled.Add(1)
		return nil
	}, pubsub.WithConcurrency(2))
	deadline := time.Now().Add(20 * time.Second)
	for handled.Load() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // a lapsed lease would redeliver within this
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	calls, overlap := g.snapshot()
	if len(calls) != n || overlap != 0 {
		t.Errorf("calls %v, overlapping %d; want %d messages once each", calls, overlap, n)
	}
	for id, c := range calls {
		if c != 1 {
			t.Errorf("message %s handled %d times", id, c)
		}
	}
}

// When an extension reports the lease lost, Consume stops retrying that
// delivery: the broker has already handed the message on. Consume here
// believes the lease is 2s while the broker's is 150ms, so the first
// extension comes too late.
func TestConsumeStopsRetryingAfterLeaseLost(t *testing.T) {
	_, p, sub := memSetup(t, mem.SubscriptionConfig{AckDeadline: 150 * time.Millisecond})
	if err := p.PublishRaw(t.Context(), "", []byte("x")); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	perDelivery := map[int]int{}
	var logs testlog.Buffer
	stop := consumeFor(t, sub, func(_ context.Context, m pubsub.SubscriberMessage) error {
		mu.Lock()
		perDelivery[m.(pubsub.DeliveryAttempter).DeliveryAttempt()]++
		mu.Unlock()
		return errors.New("always")
	}, pubsub.WithLease(2*time.Second), pubsub.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		pubsub.WithRetry(pubsub.RetryPolicy{MaxAttempts: 1000, InitialBackoff: 50 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Jitter: -1}))
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "lease lost") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	first := perDelivery[1]
	mu.Unlock()
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	firstLater := perDelivery[1]
	mu.Unlock()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "lease lost") {
		t.Fatalf("no lease loss logged:\n%s", logs.String())
	}
	if firstLater != first {
		t.Errorf("the first delivery was still retried after its lease was lost: %d attempts, then %d", first, firstLater)
	}
}

// Consume gives the subscriber the same drain deadline as its handlers: a
// handler that finishes within Consume's drain timeout has its message
// acknowledged, however the subscriber would drain on its own. (Before, a
// subscriber with a shorter drain of its own handed the message back and
// the handler's Done failed.)
func TestConsumeDrainDeadlineReachesSubscriber(t *testing.T) {
	b, p, sub := memSetup(t, mem.SubscriptionConfig{AckDeadline: time.Second})
	if err := p.PublishRaw(t.Context(), "", []byte("x")); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	var doneErr atomic.Value
	stop := consumeFor(t, sub, func(_ context.Context, m pubsub.SubscriberMessage) error {
		close(started)
		time.Sleep(300 * time.Millisecond)
		err := m.Done()
		doneErr.Store(errors.Join(err)) // errors.Join(nil) is nil; Store needs one type
		return nil
	}, pubsub.WithDrainTimeout(5*time.Second))
	<-started
	if err := stop(); err != nil {
		t.Errorf("Consume = %v, want nil", err)
	}
	if err, _ := doneErr.Load().(error); err != nil {
		t.Errorf("the handler's Done during the drain = %v, want nil", err)
	}
	next, err := b.NewSubscriber("s")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-next.Start():
		t.Errorf("message %q came back after it was acknowledged during the drain", m.Message())
	case <-time.After(1500 * time.Millisecond):
	}
	_ = next.Stop(context.Background())
}

// A handler that outlives the drain timeout makes Consume return an error
// wrapping ErrDrainTimeout, and its message is handed back, not lost.
func TestConsumeDrainTimeoutIsErrDrainTimeout(t *testing.T) {
	b, p, sub := memSetup(t, mem.SubscriptionConfig{AckDeadline: 10 * time.Second})
	if err := p.PublishRaw(t.Context(), "", []byte("x")); err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	stop := consumeFor(t, sub, func(context.Context, pubsub.SubscriberMessage) error {
		close(started)
		<-release // ignores its context
		return nil
	}, pubsub.WithDrainTimeout(50*time.Millisecond))
	<-started
	go func() {
		time.Sleep(300 * time.Millisecond)
		close(release)
	}()
	if err := stop(); !errors.Is(err, pubsub.ErrDrainTimeout) {
		t.Errorf("Consume = %v, want an error wrapping ErrDrainTimeout", err)
	}
	next, err := b.NewSubscriber("s")
	if err != nil {
		t.Fatal(err)
	}
	defer next.Stop(context.Background())
	select {
	case m := <-next.Start():
		if string(m.Message()) != "x" {
			t.Errorf("got %q", m.Message())
		}
		_ = m.Done()
	case <-time.After(5 * time.Second):
		t.Error("the message whose handler outlived the drain was not handed back")
	}
}
