package gcp

import (
	"context"
	"errors"
	"testing"
	"time"

	gizmo "github.com/seed8104ecd5/gizmo/pubsub"
)

// TestStopWithMessagesInFlight stops a subscriber that holds five
// deliveries and has more prefetched. One is Done during the drain and
// never comes back; the others are still unsettled at the drain deadline,
// so Stop reports ErrDrainTimeout, settling them afterwards reports a lost
// lease, and they come back to the next subscriber, with the prefetched
// ones.
func TestStopWithMessagesInFlight(t *testing.T) {
	t.Parallel()
	const n, held = 30, 5
	f := newFixture(t)
	topic, sub := f.topicAndSub(nil)
	cfg := f.config(topic, sub)
	p := f.publisher(cfg)
	list, want := payloads("stop", n)
	for _, pl := range list {
		f.publish(p, "", pl)
	}
	r := f.subscriber(cfg)
	ch := r.Start()
	var hold []*Message
	for range held {
		hold = append(hold, recv(t, ch, "a message to hold"))
	}
	doneDuring := hold[0]
	delete(want, string(doneDuring.Message()))

	stopped := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	go func() { stopped <- r.Stop(ctx) }()
	// Stop waits for the held deliveries: one is settled meanwhile.
	if err := doneDuring.Done(); err != nil {
		t.Errorf("Done during the drain: %v", err)
	}
	err := <-stopped
	if !errors.Is(err, gizmo.ErrDrainTimeout) {
		t.Errorf("Stop = %v, want an error wrapping ErrDrainTimeout", err)
	}
	for m := range ch {
		t.Errorf("delivered %q after Stop began", m.Message())
	}
	if err := r.Err(); err != nil {
		t.Errorf("Err after Stop = %v, want nil", err)
	}
	for _, m := range hold[1:] {
		err := m.Done()
		if !errors.Is(err, gizmo.ErrLeaseLost) || !errors.Is(err, gizmo.ErrStopped) {
			t.Errorf("Done after Stop handed the message back = %v, want ErrLeaseLost and ErrStopped", err)
		}
	}

	c := newTally(want)
	ctx2, cancel2 := context.WithCancel(t.Context())
	go drainInto(ctx2, t, f.subscriber(cfg).Start(), c)
	c.wait(waitFor)
	cancel2()
	if missing := c.missing(); len(missing) > 0 {
		t.Errorf("%d of %d messages did not come back after Stop: %v", len(missing), len(want), missing)
	}
	c.mu.Lock()
	again := c.seen[string(doneDuring.Message())]
	c.mu.Unlock()
	if again > 0 {
		t.Errorf("the message Done during the drain came back")
	}
	t.Logf("%d duplicate deliveries", c.duplicates())
}

// TestStopIdempotent checks that Stop twice, and Stop of a subscriber
// never started, return nil and close the channel.
func TestStopIdempotent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	topic, sub := f.topicAndSub(nil)
	cfg := f.config(topic, sub)
	idle := f.subscriber(cfg)
	if err := idle.Stop(t.Context()); err != nil {
		t.Errorf("Stop of a subscriber never started = %v", err)
	}
	if _, ok := <-idle.Start(); ok {
		t.Errorf("Start after Stop delivered")
	}
	r := f.subscriber(cfg)
	ch := r.Start()
	if err := r.Stop(t.Context()); err != nil {
		t.Errorf("Stop = %v", err)
	}
	if err := r.Stop(t.Context()); err != nil {
		t.Errorf("second Stop = %v", err)
	}
	if _, ok := <-ch; ok {
		t.Errorf("the channel is open after Stop")
	}
}
