package pubsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/internal/testlog"
)

func TestRetryPolicyBackoff(t *testing.T) {
	p := RetryPolicy{InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, Multiplier: 3, Jitter: -1}.withDefaults()
	want := []time.Duration{100 * time.Millisecond, 300 * time.Millisecond, 900 * time.Millisecond, time.Second, time.Second}
	for i, w := range want {
		if got := p.backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w)
		}
		if got := p.delay(i + 1); got != w {
			t.Errorf("delay(%d) without jitter = %v, want %v", i+1, got, w)
		}
	}
	if got := p.backoff(1000); got != time.Second {
		t.Errorf("backoff(1000) = %v, want the 1s cap", got)
	}
}

func TestRetryPolicyJitterBounds(t *testing.T) {
	p := RetryPolicy{Jitter: 0.25}.withDefaults()
	d := time.Second
	if got := p.jittered(d, 0); got != 750*time.Millisecond {
		t.Errorf("jittered(r=0) = %v, want 750ms", got)
	}
	if got := p.jittered(d, 0.5); got != d {
		t.Errorf("jittered(r=0.5) = %v, want 1s", got)
	}
	if got := p.jittered(d, 0.999999); got < 1249*time.Millisecond || got >= 1250*time.Millisecond {
		t.Errorf("jittered(r→1) = %v, want just under 1.25s", got)
	}
	for range 1000 {
		if got := p.delay(1); got < 75*time.Millisecond || got > 125*time.Millisecond {
			t.Fatalf("delay(1) = %v, outside 100ms ±25%%", got)
		}
	}
}

func TestRetryPolicyDefaults(t *testing.T) {
	got := RetryPolicy{}.withDefaults()
	if got != DefaultRetryPolicy() {
		t.Errorf("zero policy = %+v, want defaults %+v", got, DefaultRetryPolicy())
	}
	got = RetryPolicy{MaxAttempts: 2, Jitter: -3, Multiplier: 0.5, InitialBackoff: time.Minute, MaxBackoff: time.Second}.withDefaults()
	want := RetryPolicy{MaxAttempts: 2, InitialBackoff: time.Minute, MaxBackoff: time.Minute, Multiplier: 1, Jitter: 0}
	if got != want {
		t.Errorf("withDefaults = %+v, want %+v", got, want)
	}
	if got := (RetryPolicy{Jitter: 7}).withDefaults().Jitter; got != 1 {
		t.Errorf("jitter 7 clamped to %v, want 1", got)
	}
}

func TestConsumeRetriesWithGrowingBackoff(t *testing.T) {
	noLeak(t)
	m := newFakeMsg("1", "k")
	sub := newFakeSub(0, m)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var at []time.Time
	wait := runConsume(t, ctx, sub, func(context.Context, SubscriberMessage) error {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		return errors.New("boom")
	}, WithRetry(RetryPolicy{MaxAttempts: 4, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Multiplier: 2, Jitter: -1}))
	m.waitSettled(t)
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if len(at) != 4 {
		t.Fatalf("handler attempts = %d, want 4", len(at))
	}
	// Timers never fire early, so each gap is at least its backoff: the
	// waits grow 10ms, 20ms, 40ms.
	for i, min := range []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond} {
		if gap := at[i+1].Sub(at[i]); gap < min {
			t.Errorf("wait before attempt %d = %v, want at least %v", i+2, gap, min)
		}
	}
	if s := m.state(t); s != "nack" {
		t.Errorf("message: %s, want nack (no dead-letter publisher)", s)
	}
	if ext := m.extensions(); len(ext) != 0 {
		t.Errorf("short waits extended the lease: %v", ext)
	}
}

func TestConsumeRetryThenSuccessAcks(t *testing.T) {
	noLeak(t)
	m := newFakeMsg("1", "")
	sub := newFakeSub(0, m)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	wait := runConsume(t, ctx, sub, func(context.Context, SubscriberMessage) error {
		if calls.Add(1) < 3 {
			return errors.New("not yet")
		}
		return nil
	}, fastRetry(5))
	m.waitSettled(t)
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if got := calls.Load(); got != 3 {
		t.Errorf("attempts = %d, want 3", got)
	}
	if s := m.state(t); s != "done" {
		t.Errorf("message: %s, want done", s)
	}
}

func TestConsumeDeliveryAttempterBudget(t *testing.T) {
	for _, tc := range []struct{ delivered, wantCalls int }{
		{0, 5}, {1, 5}, {3, 3}, {5, 1}, {9, 1},
	} {
		t.Run(fmt.Sprint("delivery-", tc.delivered), func(t *testing.T) {
			noLeak(t)
			fm := newFakeMsg("1", "")
			pub := &fakePub{}
			sub := newFakeSub(0, attemptMsg{fm, tc.delivered})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var calls atomic.Int32
			wait := runConsume(t, ctx, sub, func(context.Context, SubscriberMessage) error {
				calls.Add(1)
				return errors.New("boom")
			}, fastRetry(5), WithDeadLetter(pub))
			fm.waitSettled(t)
			cancel()
			if err := wait(); err != nil {
				t.Fatal(err)
			}
			if got := int(calls.Load()); got != tc.wantCalls {
				t.Errorf("handler calls = %d, want %d", got, tc.wantCalls)
			}
			dl := pub.published()
			if len(dl) != 1 {
				t.Fatalf("dead-lettered %d messages, want 1", len(dl))
			}
			info, ok, err := ParseDeadLetter(dl[0].Attributes)
			if !ok || err != nil {
				t.Fatalf("ParseDeadLetter = %v, %v", ok, err)
			}
			if want := max(tc.delivered, 5); info.Attempts != want {
				t.Errorf("dead-letter attempts = %d, want %d", info.Attempts, want)
			}
		})
	}
}

func TestConsumePermanentSkipsRetries(t *testing.T) {
	noLeak(t)
	m := newFakeMsg("1", "")
	pub := &fakePub{}
	sub := newFakeSub(0, m)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errBad := errors.New("malformed payload")
	var calls atomic.Int32
	wait := runConsume(t, ctx, sub, func(context.Context, SubscriberMessage) error {
		calls.Add(1)
		return fmt.Errorf("decode: %w", Permanent(errBad))
	}, fastRetry(5), WithDeadLetter(pub))
	m.waitSettled(t)
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("attempts = %d, want 1 for a permanent error", got)
	}
	dl := pub.published()
	if len(dl) != 1 {
		t.Fatalf("dead letters = %+v, want one", dl)
	}
	if info, _, _ := ParseDeadLetter(dl[0].Attributes); info.Error != "decode: malformed payload" {
		t.Errorf("dead-letter error = %q, want the error text", info.Error)
	}
	if s := m.state(t); s != "done" {
		t.Errorf("message: %s, want done after dead-lettering", s)
	}
	if Permanent(nil) != nil || IsPermanent(errBad) || !errors.Is(Permanent(errBad), errBad) {
		t.Error("Permanent/IsPermanent wrapping is wrong")
	}
}

func TestConsumePanicIsFailedAttempt(t *testing.T) {
	noLeak(t)
	m1, m2 := newFakeMsg("1", ""), newFakeMsg("2", "")
	pub := &fakePub{}
	sub := newFakeSub(0, m1, m2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs testlog.Buffer
	var calls1 atomic.Int32
	wait := runConsume(t, ctx, sub, func(_ context.Context, m SubscriberMessage) error {
		if m.ID() == "1" && calls1.Add(1) > 1 {
			return nil // first attempt panics, the retry succeeds
		}
		panic("kaboom " + m.ID())
	}, fastRetry(2), WithDeadLetter(pub), WithConcurrency(1),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	m1.waitSettled(t)
	m2.waitSettled(t)
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if m1.state(t) != "done" || calls1.Load() != 2 {
		t.Errorf("message 1: %s after %d calls, want done after 2", m1.state(t), calls1.Load())
	}
	dl := pub.published()
	if len(dl) != 1 || !strings.Contains(dl[0].Attributes[AttrDeadLetter], "kaboom 2") {
		t.Fatalf("dead letters = %+v, want message 2 with the panic value", dl)
	}
	if s := logs.String(); !strings.Contains(s, "handler panicked") || !strings.Contains(s, "retry_test.go") {
		t.Errorf("log lacks the panic and its stack:\n%s", s)
	}
	pe := &PanicError{Value: errBoom}
	if !errors.Is(pe, errBoom) || !strings.Contains(pe.Error(), "boom") {
		t.Errorf("PanicError does not expose its error value: %v", pe)
	}
}

var errBoom = errors.New("boom")

func TestConsumeBackoffEndsOnCancel(t *testing.T) {
	noLeak(t)
	m := newFakeMsg("1", "")
	sub := newFakeSub(0, m)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	failed := make(chan struct{})
	var calls atomic.Int32
	wait := runConsume(t, ctx, sub, func(context.Context, SubscriberMessage) error {
		if calls.Add(1) == 1 {
			close(failed)
		}
		return errors.New("boom")
	}, WithRetry(RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Hour}), WithLease(0))
	<-failed
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if s := m.state(t); s != "nack" || calls.Load() != 1 {
		t.Errorf("message: %s after %d attempts, want nack after 1", s, calls.Load())
	}
}

func TestConsumeHandlerTimeout(t *testing.T) {
	noLeak(t)
	m := newFakeMsg("1", "")
	sub := newFakeSub(0, m)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	wait := runConsume(t, ctx, sub, func(hctx context.Context, _ SubscriberMessage) error {
		calls.Add(1)
		<-hctx.Done()
		return hctx.Err()
	}, fastRetry(2), WithHandlerTimeout(10*time.Millisecond))
	m.waitSettled(t)
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if s := m.state(t); s != "nack" || calls.Load() != 2 {
		t.Errorf("message: %s after %d attempts, want nack after 2 timed-out attempts", s, calls.Load())
	}
}
