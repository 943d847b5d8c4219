package pubsub

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
)

// Small in-package fakes: package pubsub cannot import pubsubtest.

type fakeMsg struct {
	id, key  string
	payload  []byte
	attrs    map[string]string
	dones    atomic.Int32
	nacks    atomic.Int32
	settled  chan struct{}
	once     sync.Once
	acked    atomic.Bool
	mu       sync.Mutex
	extended []time.Duration
	extErr   error
}

func newFakeMsg(id, key string) *fakeMsg {
	return &fakeMsg{id: id, key: key, payload: []byte("payload-" + id), settled: make(chan struct{})}
}

func (m *fakeMsg) Message() []byte               { return m.payload }
func (m *fakeMsg) Key() string                   { return m.key }
func (m *fakeMsg) Attributes() map[string]string { return m.attrs }
func (m *fakeMsg) ID() string                    { return m.id }

func (m *fakeMsg) Done() error {
	m.dones.Add(1)
	m.once.Do(func() { m.acked.Store(true); close(m.settled) })
	return nil
}

func (m *fakeMsg) Nack() error {
	m.nacks.Add(1)
	m.once.Do(func() { close(m.settled) })
	return nil
}

func (m *fakeMsg) Settlement() Settlement {
	switch {
	case !isDone(m.settled):
		return Unsettled
	case m.acked.Load():
		return Acked
	}
	return Nacked
}

func isDone(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func (m *fakeMsg) ExtendDoneDeadline(d time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.extended = append(m.extended, d)
	return m.extErr
}

func (m *fakeMsg) extensions() []time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]time.Duration(nil), m.extended...)
}

// state returns "done", "nack" or "unsettled", failing on a double settle.
func (m *fakeMsg) state(t *testing.T) string {
	t.Helper()
	d, n := m.dones.Load(), m.nacks.Load()
	switch {
	case d+n > 1:
		t.Errorf("message %s settled %d times (done %d, nack %d)", m.id, d+n, d, n)
	case d == 1:
		return "done"
	case n == 1:
		return "nack"
	}
	return "unsettled"
}

func (m *fakeMsg) waitSettled(t *testing.T) {
	t.Helper()
	select {
	case <-m.settled:
	case <-time.After(10 * time.Second):
		t.Fatalf("message %s not settled within 10s", m.id)
	}
}

// attemptMsg is a fakeMsg whose backend counts deliveries.
type attemptMsg struct {
	*fakeMsg
	attempt int
}

func (m attemptMsg) DeliveryAttempt() int { return m.attempt }

type fakeSub struct {
	ch      chan SubscriberMessage
	mu      sync.Mutex
	closed  bool
	err     error
	stopErr error // terminal error Stop reports through Err
	stops   atomic.Int32
	stopped chan struct{}
}

func newFakeSub(buf int, msgs ...SubscriberMessage) *fakeSub {
	s := &fakeSub{ch: make(chan SubscriberMessage, max(buf, len(msgs))), stopped: make(chan struct{})}
	for _, m := range msgs {
		s.ch <- m
	}
	return s
}

func (s *fakeSub) Start() <-chan SubscriberMessage { return s.ch }

func (s *fakeSub) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *fakeSub) Stop(context.Context) error {
	if s.stops.Add(1) == 1 {
		close(s.stopped)
	}
	s.close(s.stopErr)
	return nil
}

// fail closes the channel with a terminal error, as a broken subscriber.
func (s *fakeSub) fail(err error) { s.close(err) }

func (s *fakeSub) close(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.err = err
		close(s.ch)
	}
}

type fakePub struct {
	mu   sync.Mutex
	msgs []Message
	err  error
}

func (p *fakePub) Publish(ctx context.Context, key string, msg proto.Message, opts ...PublishOption) error {
	return PublishProto(ctx, p.PublishRaw, key, msg, opts...)
}

func (p *fakePub) PublishRaw(_ context.Context, key string, payload []byte, opts ...PublishOption) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	o := ApplyPublishOptions(opts...)
	p.msgs = append(p.msgs, Message{Key: key, Payload: payload, Attributes: o.Attributes})
	return nil
}

func (p *fakePub) Close() error { return nil }

func (p *fakePub) published() []Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Message(nil), p.msgs...)
}

// runConsume starts Consume in a goroutine; wait returns its result,
// failing the test if it does not return within 10s.
func runConsume(t *testing.T, ctx context.Context, sub Subscriber, h Handler, opts ...ConsumeOption) (wait func() error) {
	t.Helper()
	res := make(chan error, 1)
	go func() { res <- Consume(ctx, sub, h, opts...) }()
	return func() error {
		t.Helper()
		select {
		case err := <-res:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Consume did not return within 10s")
			return nil
		}
	}
}

// noLeak fails the test if, after it ends, the goroutine count does not
// come back to what it was at the start within a few seconds.
func noLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

func makeMsgs(n int, key func(i int) string) ([]*fakeMsg, []SubscriberMessage) {
	fm := make([]*fakeMsg, n)
	sm := make([]SubscriberMessage, n)
	for i := range fm {
		fm[i] = newFakeMsg(fmt.Sprint(i), key(i))
		sm[i] = fm[i]
	}
	return fm, sm
}

// fastHold is fastRetry's MaxBackoff, and so how long a message that failed
// for good is held before it is handed back.
const fastHold = 20 * time.Millisecond

// fastRetry is a jitter-free policy with tiny waits.
func fastRetry(attempts int) ConsumeOption {
	return WithRetry(RetryPolicy{MaxAttempts: attempts, InitialBackoff: time.Millisecond, MaxBackoff: fastHold, Jitter: -1})
}

func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}
