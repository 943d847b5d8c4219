package gcp

import (
	"errors"
	"testing"
	"time"

	gizmo "github.com/seed8104ecd5/gizmo/pubsub"
)

// TestExtensionLimit checks that ExtendDoneDeadline cannot hold a message
// past Receive.MaxExtension: it says so, the lease ends there, the
// message comes back, and the stale delivery's Done reports the loss.
func TestExtensionLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	topic, sub := f.topicAndSub(nil)
	cfg := f.config(topic, sub)
	cfg.Receive.MaxExtension = 3 * time.Second
	cfg.Receive.Lease = 2 * time.Second
	f.publish(f.publisher(cfg), "", "m")
	r := f.subscriber(cfg)
	if r.Lease() != 2*time.Second || !r.CanNack() {
		t.Errorf("Lease() = %v, CanNack() = %v; want 2s, true", r.Lease(), r.CanNack())
	}
	ch := r.Start()
	m := recv(t, ch, "the message")
	if err := m.ExtendDoneDeadline(time.Second); err != nil {
		t.Errorf("ExtendDoneDeadline within MaxExtension: %v", err)
	}
	if err := m.ExtendDoneDeadline(time.Minute); !errors.Is(err, ErrExtensionLimit) {
		t.Errorf("ExtendDoneDeadline past MaxExtension = %v, want ErrExtensionLimit", err)
	}
	again := recv(t, ch, "the message, once MaxExtension passed")
	if string(again.Message()) != "m" || again.ID() != m.ID() {
		t.Errorf("got %q (ID %s), want the held message (ID %s)", again.Message(), again.ID(), m.ID())
	}
	if err := m.Done(); !errors.Is(err, gizmo.ErrLeaseLost) {
		t.Errorf("Done of the lapsed delivery = %v, want ErrLeaseLost", err)
	}
	if err := m.ExtendDoneDeadline(time.Second); !errors.Is(err, gizmo.ErrLeaseLost) {
		t.Errorf("ExtendDoneDeadline of the lapsed delivery = %v, want ErrLeaseLost", err)
	}
	if err := again.Done(); err != nil {
		t.Errorf("Done of the redelivery: %v", err)
	}
	if err := again.ExtendDoneDeadline(time.Second); !errors.Is(err, gizmo.ErrLeaseLost) {
		t.Errorf("ExtendDoneDeadline after Done = %v, want ErrLeaseLost", err)
	}
}

// TestExtendZeroHandsBack checks that ExtendDoneDeadline(0) is a Nack.
func TestExtendZeroHandsBack(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	topic, sub := f.topicAndSub(nil)
	cfg := f.config(topic, sub)
	f.publish(f.publisher(cfg), "", "m")
	r := f.subscriber(cfg)
	if r.Lease() != testLease {
		t.Errorf("Lease() = %v, want Receive.Lease %v", r.Lease(), testLease)
	}
	ch := r.Start()
	m := recv(t, ch, "the message")
	if err := m.ExtendDoneDeadline(0); err != nil {
		t.Fatalf("ExtendDoneDeadline(0): %v", err)
	}
	if m.Settlement() != gizmo.Nacked {
		t.Errorf("Settlement = %v, want Nacked", m.Settlement())
	}
	again := recv(t, ch, "the message handed back")
	if again.ID() != m.ID() {
		t.Errorf("got message %s, want %s", again.ID(), m.ID())
	}
	_ = again.Done()

	cfg.Receive.Lease = 0
	def := f.subscriber(cfg)
	if def.Lease() != cfg.Receive.MaxExtension {
		t.Errorf("Lease() with Receive.Lease zero = %v, want MaxExtension %v", def.Lease(), cfg.Receive.MaxExtension)
	}
}
