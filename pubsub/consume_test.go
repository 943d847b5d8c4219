package pubsub

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestConsumeAcksOnNil(t *testing.T) {
	noLeak(t)
	fm, sm := makeMsgs(5, func(int) string { return "" })
	sub := newFakeSub(0, sm...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	wait := runConsume(t, ctx, sub, func(context.Context, SubscriberMessage) error {
		calls.Add(1)
		return nil
	})
	for _, m := range fm {
		m.waitSettled(t)
	}
	cancel()
	if err := wait(); err != nil {
		t.Fatalf("Consume returned %v, want nil after a clean stop", err)
	}
	for _, m := range fm {
		if s := m.state(t); s != "done" {
			t.Errorf("message %s: %s, want done", m.id, s)
		}
	}
	if got := calls.Load(); got != 5 {
		t.Errorf("handler called %d times, want 5", got)
	}
	if sub.stops.Load() == 0 {
		t.Error("Stop was not called")
	}
}

func TestConsumeBadInput(t *testing.T) {
	h := func(context.Context, SubscriberMessage) error { return nil }
	if err := Consume(context.Background(), nil, h); err == nil {
		t.Error("nil Subscriber: want error")
	}
	if err := Consume(context.Background(), newFakeSub(0), nil); err == nil {
		t.Error("nil Handler: want error")
	}
}

func TestConsumeConcurrencyLimit(t *testing.T) {
	for _, ordered := range []bool{false, true} {
		t.Run(map[bool]string{false: "unordered", true: "ordered"}[ordered], func(t *testing.T) {
			noLeak(t)
			const n, total = 3, 30
			// Empty keys: in ordered mode they are spread over every goroutine.
			fm, sm := makeMsgs(total, func(int) string { return "" })
			sub := newFakeSub(0, sm...)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var inflight, peak atomic.Int32
			release := make(chan struct{})
			opts := []ConsumeOption{WithConcurrency(n)}
			if ordered {
				opts = append(opts, WithOrderedKeys())
			}
			wait := runConsume(t, ctx, sub, func(context.Context, SubscriberMessage) error {
				cur := inflight.Add(1)
				defer inflight.Add(-1)
				for {
					p := peak.Load()
					if cur <= p || peak.CompareAndSwap(p, cur) {
						break
					}
				}
				<-release
				return nil
			}, opts...)
			deadline := time.Now().Add(10 * time.Second)
			for inflight.Load() < n {
				if time.Now().After(deadline) {
					t.Fatalf("only %d handlers in flight, want %d", inflight.Load(), n)
				}
				time.Sleep(time.Millisecond)
			}
			// Give an (n+1)th handler the chance to start if the limit leaked.
			time.Sleep(50 * time.Millisecond)
			close(release)
			for _, m := range fm {
				m.waitSettled(t)
			}
			cancel()
			if err := wait(); err != nil {
				t.Fatal(err)
			}
			if got := peak.Load(); got != n {
				t.Errorf("peak in-flight handlers = %d, want %d", got, n)
			}
		})
	}
}

func TestConsumeOrderedKeysKeepsOrder(t *testing.T) {
	noLeak(t)
	const keys, perKey = 19, 25 // 19 keys: coprime with the 4 goroutines
	keyNames := make([]string, keys)
	for i := range keyNames {
		keyNames[i] = string(rune('a'+i)) + "-key"
	}
	// Interleave keys: message i belongs to key i%keys and is number i/keys of it.
	fm, sm := makeMsgs(keys*perKey, func(i int) string { return keyNames[i%keys] })
	seqOf := make(map[*fakeMsg]int, len(fm))
	for i, m := range fm {
		seqOf[m] = i / keys
	}
	sub := newFakeSub(0, sm...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	seen := make(map[string][]int)
	failedOnce := make(map[*fakeMsg]bool)
	wait := runConsume(t, ctx, sub, func(_ context.Context, m SubscriberMessage) error {
		fmsg, _ := MessageAs[*fakeMsg](m)
		mu.Lock()
		defer mu.Unlock()
		// Every 7th message fails its first attempt: retries must not let
		// later messages of its key overtake it.
		if seqOf[fmsg]%7 == 3 && !failedOnce[fmsg] {
			failedOnce[fmsg] = true
			return errors.New("transient")
		}
		seen[m.Key()] = append(seen[m.Key()], seqOf[fmsg])
		return nil
	}, WithOrderedKeys(), WithConcurrency(4), fastRetry(3))
	for _, m := range fm {
		m.waitSettled(t)
	}
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	for _, k := range keyNames {
		got := seen[k]
		if len(got) != perKey {
			t.Fatalf("key %s: %d messages handled, want %d", k, len(got), perKey)
		}
		for i, s := range got {
			if s != i {
				t.Fatalf("key %s handled out of order: %v", k, got)
			}
		}
	}
	for _, m := range fm {
		if s := m.state(t); s != "done" {
			t.Errorf("message %s: %s, want done", m.id, s)
		}
	}
}

func TestConsumeOrderedKeysDifferentKeysRunConcurrently(t *testing.T) {
	noLeak(t)
	const n = 4
	// Find two keys that land on different goroutines.
	a, b := "k0", ""
	for i := 1; b == ""; i++ {
		k := "k" + string(rune('0'+i))
		if keyHash(k)%n != keyHash(a)%n {
			b = k
		}
	}
	ma, mb := newFakeMsg("a", a), newFakeMsg("b", b)
	sub := newFakeSub(0, ma, mb)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bStarted := make(chan struct{})
	wait := runConsume(t, ctx, sub, func(_ context.Context, m SubscriberMessage) error {
		if m.Key() == b {
			close(bStarted)
			return nil
		}
		// a's handler only finishes once b's started: that needs them concurrent.
		select {
		case <-bStarted:
			return nil
		case <-time.After(10 * time.Second):
			return errors.New("key b never started while key a was in flight")
		}
	}, WithOrderedKeys(), WithConcurrency(n), fastRetry(1))
	ma.waitSettled(t)
	mb.waitSettled(t)
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if ma.state(t) != "done" || mb.state(t) != "done" {
		t.Errorf("states a=%s b=%s, want both done", ma.state(t), mb.state(t))
	}
}

func TestConsumeCancelDrains(t *testing.T) {
	for _, ordered := range []bool{false, true} {
		t.Run(map[bool]string{false: "unordered", true: "ordered"}[ordered], func(t *testing.T) {
			noLeak(t)
			// One goroutine, one key: message 0 is in flight, the rest wait
			// behind it (in the shard queue or in the subscriber's channel).
			fm, sm := makeMsgs(20, func(int) string { return "same" })
			sub := newFakeSub(0, sm...)
			errTerminal := errors.New("terminal")
			sub.stopErr = errTerminal
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			started := make(chan struct{})
			release := make(chan struct{})
			var ctxErrAtRelease atomic.Pointer[error]
			opts := []ConsumeOption{WithConcurrency(1), WithDrainTimeout(time.Hour)}
			if ordered {
				opts = append(opts, WithOrderedKeys())
			}
			wait := runConsume(t, ctx, sub, func(hctx context.Context, m SubscriberMessage) error {
				if m.ID() != "0" {
					t.Errorf("handler started message %s after cancel", m.ID())
					return nil
				}
				close(started)
				<-release
				err := hctx.Err()
				ctxErrAtRelease.Store(&err)
				return nil
			}, opts...)
			<-started
			cancel()
			select {
			case <-sub.stopped:
			case <-time.After(10 * time.Second):
				t.Fatal("Stop not called while a handler was in flight")
			}
			for _, m := range fm[1:] {
				m.waitSettled(t)
				if s := m.state(t); s != "nack" {
					t.Errorf("queued message %s: %s, want nack", m.id, s)
				}
			}
			if s := fm[0].state(t); s != "unsettled" {
				t.Fatalf("in-flight message settled (%s) before its handler returned", s)
			}
			close(release)
			if err := wait(); !errors.Is(err, errTerminal) {
				t.Errorf("Consume returned %v, want the subscriber's Err %v", err, errTerminal)
			}
			if s := fm[0].state(t); s != "done" {
				t.Errorf("in-flight message: %s, want done", s)
			}
			if p := ctxErrAtRelease.Load(); p == nil || *p != nil {
				t.Errorf("handler context cancelled within the drain timeout (or handler did not finish): %v", p)
			}
		})
	}
}

func TestConsumeDrainTimeoutCancelsHandlerContext(t *testing.T) {
	noLeak(t)
	m := newFakeMsg("1", "")
	sub := newFakeSub(0, m)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	var handlerErr atomic.Value
	wait := runConsume(t, ctx, sub, func(hctx context.Context, _ SubscriberMessage) error {
		close(started)
		<-hctx.Done()
		handlerErr.Store(hctx.Err())
		return hctx.Err()
	}, WithDrainTimeout(20*time.Millisecond), fastRetry(3))
	<-started
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if err, _ := handlerErr.Load().(error); !errors.Is(err, context.Canceled) {
		t.Errorf("handler context error = %v, want context.Canceled", err)
	}
	// The failed attempt cannot be retried while stopping: Nack.
	if s := m.state(t); s != "nack" {
		t.Errorf("message: %s, want nack", s)
	}
}

func TestConsumeReturnsSubscriberError(t *testing.T) {
	noLeak(t)
	sub := newFakeSub(1)
	errBroken := errors.New("broker connection lost")
	started := make(chan struct{})
	m := newFakeMsg("1", "")
	sub.ch <- m
	wait := runConsume(t, context.Background(), sub, func(context.Context, SubscriberMessage) error {
		close(started)
		return nil
	})
	<-started
	m.waitSettled(t)
	sub.fail(errBroken)
	if err := wait(); !errors.Is(err, errBroken) {
		t.Errorf("Consume returned %v, want %v", err, errBroken)
	}
}

func TestConsumeStopCalledElsewhereReturnsNil(t *testing.T) {
	noLeak(t)
	for _, ordered := range []bool{false, true} {
		sub := newFakeSub(0)
		var opts []ConsumeOption
		if ordered {
			opts = append(opts, WithOrderedKeys())
		}
		wait := runConsume(t, context.Background(), sub, func(context.Context, SubscriberMessage) error { return nil }, opts...)
		if err := sub.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := wait(); err != nil {
			t.Errorf("ordered=%v: Consume returned %v after an outside Stop, want nil", ordered, err)
		}
	}
}
