package pubsub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// These tests drive the ordered-keys hand-back rules and the memory of
// given-up messages with a fake subscriber that redelivers only when told
// to, so that every step is an event the test controls.

// orderLog records which messages succeeded, in order.
type orderLog struct {
	mu  sync.Mutex
	ids []string
}

func (l *orderLog) add(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ids = append(l.ids, id)
}

func (l *orderLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ids...)
}

// A message the handler Nacks blocks its key: the next message of the key,
// queued in Consume, is handed back unstarted; a later one that arrives
// before the Nacked message comes back is parked; when it comes back and
// succeeds, the parked one runs after it.
func TestConsumeHandBackBlocksKey(t *testing.T) {
	noLeak(t)
	m1, m2 := newFakeMsg("1", "k"), newFakeMsg("2", "k")
	sub := newFakeSub(8, m1, m2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var done orderLog
	first := true
	wait := runConsume(t, ctx, sub, func(_ context.Context, m SubscriberMessage) error {
		if m.ID() == "1" && first {
			first = false
			return m.Nack()
		}
		done.add(m.ID())
		return nil
	}, WithOrderedKeys(), WithConcurrency(1))
	m1.waitSettled(t)
	m2.waitSettled(t)
	if m1.state(t) != "nack" || m2.state(t) != "nack" {
		t.Fatalf("m1 %s, m2 %s: want both handed back", m1.state(t), m2.state(t))
	}
	m3 := newFakeMsg("3", "k")
	sub.ch <- m3 // arrives before m1 comes back: parked
	m1b, m2b := newFakeMsg("1", "k"), newFakeMsg("2", "k")
	sub.ch <- m1b
	sub.ch <- m2b
	m3.waitSettled(t)
	m2b.waitSettled(t)
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if got := done.get(); len(got) != 3 || got[0] != "1" || got[1] != "3" || got[2] != "2" {
		t.Errorf("succeeded in the order %v, want [1 3 2]: m1 again first, then m3 parked behind it, then m2 redelivered", got)
	}
}

// If the handed-back message never comes back (another consumer took it),
// the key is released after the block's time limit, and what was parked
// runs.
func TestConsumeKeyBlockExpires(t *testing.T) {
	noLeak(t)
	m1 := newFakeMsg("1", "k")
	sub := newFakeSub(8, m1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var done orderLog
	start := time.Now() // before m1 can be handed back, so before its key is blocked
	wait := runConsume(t, ctx, sub, func(_ context.Context, m SubscriberMessage) error {
		if m.ID() == "1" {
			return m.Nack()
		}
		done.add(m.ID())
		return nil
	}, WithOrderedKeys(), WithConcurrency(1), WithLease(80*time.Millisecond), fastRetry(1))
	m1.waitSettled(t)
	// m1 is settled but its handler may not have returned yet: a message
	// of k arriving now would be queued behind m1 and handed back with it.
	// The only worker takes a message of another key only once it is done
	// with m1, which has then blocked k; after that, a message of k is
	// parked.
	probe := newFakeMsg("2", "other")
	sub.ch <- probe
	probe.waitSettled(t)
	m3 := newFakeMsg("3", "k")
	sub.ch <- m3
	m3.waitSettled(t)
	elapsed := time.Since(start)
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if m3.state(t) != "done" {
		t.Errorf("parked message: %s, want done once the block expired", m3.state(t))
	}
	// The block lasts 2*MaxBackoff + 2*lease = 200ms from when it began,
	// which is after start: timers never fire early.
	if elapsed < 200*time.Millisecond {
		t.Errorf("the parked message ran %v after Consume started, before the block could expire", elapsed)
	}
	if got := done.get(); len(got) != 2 || got[0] != "2" || got[1] != "3" {
		t.Errorf("succeeded in the order %v, want [2 3]", got)
	}
}

// On a backend that does not count deliveries, a message Consume gave up
// on gets one attempt when it comes back, not a fresh budget.
func TestConsumeRemembersGivenUpMessages(t *testing.T) {
	noLeak(t)
	m := newFakeMsg("poison", "")
	sub := newFakeSub(8, m)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	calls := 0
	wait := runConsume(t, ctx, sub, func(context.Context, SubscriberMessage) error {
		mu.Lock()
		calls++
		mu.Unlock()
		return errors.New("always")
	}, fastRetry(3))
	m.waitSettled(t) // handed back after three attempts and the hold
	for range 3 {
		again := newFakeMsg("poison", "")
		sub.ch <- again
		again.waitSettled(t)
		if again.state(t) != "nack" {
			t.Fatalf("redelivery: %s, want handed back again", again.state(t))
		}
	}
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 3+3 {
		t.Errorf("handler calls = %d, want 3 for the first delivery and 1 for each of the 3 redeliveries", calls)
	}
}

// The keeper extends a message held longer than an eighth of the lease by
// the whole lease, again and again, and stops for good once the backend
// says it cannot extend.
func TestConsumeLeaseKeeper(t *testing.T) {
	for _, tc := range []struct {
		name    string
		extErr  error
		atLeast int
		atMost  int
	}{
		{"extends", nil, 2, 100},
		{"not supported", fmt.Errorf("extend: %w", ErrNotSupported), 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noLeak(t)
			const lease = 80 * time.Millisecond
			m := newFakeMsg("1", "")
			m.extErr = tc.extErr
			second := newFakeMsg("2", "") // a second message: the keeper stays off for it too
			sub := newFakeSub(0, m, second)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			wait := runConsume(t, ctx, sub, func(context.Context, SubscriberMessage) error {
				time.Sleep(4 * lease) // a slow handler
				return nil
			}, WithLease(lease), WithConcurrency(1))
			m.waitSettled(t)
			second.waitSettled(t)
			cancel()
			if err := wait(); err != nil {
				t.Fatal(err)
			}
			ext := append(m.extensions(), second.extensions()...)
			if len(ext) < tc.atLeast || len(ext) > tc.atMost {
				t.Errorf("extensions %v, want between %d and %d", ext, tc.atLeast, tc.atMost)
			}
			for _, d := range ext {
				if d != lease {
					t.Errorf("extended by %v, want the lease %v", d, lease)
				}
			}
		})
	}
}
