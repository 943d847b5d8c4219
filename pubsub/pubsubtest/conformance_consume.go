package pubsubtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// consume runs pubsub.Consume on a new subscriber of sub until stop is
// called, which cancels it and returns its result (failing the test if it
// does not return within the drain timeout plus Timeout).
func (s *suite) consume(t *testing.T, sub string, h pubsub.Handler, opts ...pubsub.ConsumeOption) (stop func() error) {
	t.Helper()
	r := s.subscriber(t, sub)
	ctx, cancel := context.WithCancel(t.Context())
	res := make(chan error, 1)
	base := []pubsub.ConsumeOption{pubsub.WithDrainTimeout(s.caps.DrainTimeout)}
	if !s.gap(FeatureLeaseExpiry) {
		base = append(base, pubsub.WithLease(s.caps.AckDeadline))
	}
	go func() { res <- pubsub.Consume(ctx, r, h, append(base, opts...)...) }()
	var once sync.Once
	var err error
	stop = func() error {
		t.Helper()
		once.Do(func() {
			cancel()
			select {
			case err = <-res:
			case <-time.After(s.caps.DrainTimeout + s.caps.Timeout):
				err = errors.New("pubsubtest: Consume did not return after its context was cancelled")
				t.Error(err)
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// fastPolicy retries at once and holds a message that failed for good
// only briefly, so that the Consume cases run in a few seconds.
func fastPolicy(attempts int) pubsub.ConsumeOption {
	return pubsub.WithRetry(pubsub.RetryPolicy{MaxAttempts: attempts, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Jitter: -1})
}

// testConsumeDeadLetter runs Consume with retries and a dead-letter
// publisher: a flaky message succeeds on its third attempt, a poison one
// lands on the dead-letter topic with AttrDeadLetter, and neither comes
// back.
func testConsumeDeadLetter(t *testing.T, s *suite) {
	topic, sub := s.topicAndSub(t)
	dlTopic, dlSub := s.topicAndSub(t)
	p := s.publisher(t, topic)
	flaky, poison := s.payload(t, 0), s.payload(t, 1)
	s.publish(t, p, "flaky", flaky, pubsub.WithAttribute("kind", "flaky"))
	s.publish(t, p, "poison", poison, pubsub.WithAttribute("kind", "poison"))
	var flakyCalls, poisonCalls atomic.Int32
	flakyDone := make(chan struct{})
	stop := s.consume(t, sub, func(_ context.Context, m pubsub.SubscriberMessage) error {
		switch {
		case bytes.Equal(m.Message(), flaky):
			if n := flakyCalls.Add(1); n < 3 {
				return fmt.Errorf("flaky attempt %d", n)
			} else if n == 3 {
				close(flakyDone)
			}
			return nil
		case bytes.Equal(m.Message(), poison):
			poisonCalls.Add(1)
			return errors.New("poisoned")
		}
		return nil
	}, fastPolicy(3), pubsub.WithDeadLetter(s.publisher(t, dlTopic)))

	dm := Receive(t, s.subscriber(t, dlSub).Start(), s.caps.Timeout, "the poison message on the dead-letter topic")
	info, ok, err := pubsub.ParseDeadLetter(dm.Attributes())
	if !ok || err != nil {
		t.Fatalf("dead letter attributes %q: ParseDeadLetter = %v, %v", dm.Attributes(), ok, err)
	}
	if !bytes.Equal(dm.Message(), poison) || dm.Key() != "poison" || dm.Attributes()["kind"] != "poison" {
		t.Errorf("dead letter: payload %q key %q attributes %q, want the poison message's", dm.Message(), dm.Key(), dm.Attributes())
	}
	if info.Attempts < 3 || !strings.Contains(info.Error, "poisoned") || info.MessageID == "" {
		t.Errorf("dead-letter info %+v: want at least 3 attempts, the error and the message ID", info)
	}
	_ = dm.Done()
	select {
	case <-flakyDone:
	case <-time.After(s.caps.Timeout):
		t.Fatalf("the flaky message did not succeed on its third attempt (attempts so far: %d)", flakyCalls.Load())
	}
	if err := stop(); err != nil {
		t.Errorf("Consume = %v, want nil after a clean stop", err)
	}
	if n := poisonCalls.Load(); n != 3 {
		t.Errorf("poison message attempted %d times, want 3", n)
	}
	next := s.subscriber(t, sub).Start()
	ExpectNone(t, next, s.quietWait(), "a message that Consume acknowledged or dead-lettered came back")
}

// testConsumeOrderedKeys runs Consume with ordered keys over an ordered
// subscription; some first attempts fail. Per key, the messages must
// succeed in publish order.
func testConsumeOrderedKeys(t *testing.T, s *suite) {
	const keys, perKey = 3, 8
	topic := s.topic(t)
	sub := s.subscription(t, topic, SubscriptionOptions{OrderedKeys: true})
	p := s.publisher(t, topic)
	for i := range perKey {
		for k := range keys {
			key := fmt.Sprint("key-", k)
			s.publish(t, p, key, fmt.Appendf(nil, "%s|%s|%d", s.run, key, i))
		}
	}
	var mu sync.Mutex
	succeeded := make(map[string][]int)
	tried := make(map[string]bool)
	total := 0
	all := make(chan struct{})
	stop := s.consume(t, sub, func(_ context.Context, m pubsub.SubscriberMessage) error {
		var seq int
		parts := strings.Split(string(m.Message()), "|")
		if len(parts) != 3 {
			return pubsub.Permanent(fmt.Errorf("unexpected payload %q", m.Message()))
		}
		fmt.Sscan(parts[2], &seq)
		mu.Lock()
		defer mu.Unlock()
		id := string(m.Message())
		if seq%3 == 1 && !tried[id] {
			tried[id] = true
			return errors.New("first attempt fails")
		}
		succeeded[m.Key()] = append(succeeded[m.Key()], seq)
		if total++; total == keys*perKey {
			close(all)
		}
		return nil
	}, pubsub.WithOrderedKeys(), pubsub.WithConcurrency(4), fastPolicy(3))
	select {
	case <-all:
	case <-time.After(3 * s.caps.Timeout):
	}
	if err := stop(); err != nil {
		t.Errorf("Consume = %v, want nil", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for k := range keys {
		key := fmt.Sprint("key-", k)
		got := succeeded[key]
		for i, seq := range got {
			if seq != i {
				t.Errorf("key %q: messages succeeded in the order %v, want 0..%d", key, got, perKey-1)
				break
			}
		}
		if len(got) != perKey {
			t.Errorf("key %q: %d of %d messages succeeded", key, len(got), perKey)
		}
	}
}

// testConsumeDrain cancels Consume while a handler runs: the handler keeps
// a live context and finishes, its message is acknowledged and does not
// come back, and Consume returns nil.
func testConsumeDrain(t *testing.T, s *suite) {
	topic, sub := s.topicAndSub(t)
	p := s.publisher(t, topic)
	s.publish(t, p, "", s.payload(t, 0))
	started, release := make(chan struct{}), make(chan struct{})
	var ctxErr atomic.Value
	stop := s.consume(t, sub, func(ctx context.Context, _ pubsub.SubscriberMessage) error {
		close(started)
		<-release
		ctxErr.Store(fmt.Sprint(ctx.Err()))
		return nil
	})
	select {
	case <-started:
	case <-time.After(s.caps.Timeout):
		t.Fatal("the handler did not start")
	}
	res := make(chan error, 1)
	go func() { res <- stop() }()
	select {
	case err := <-res:
		t.Fatalf("Consume returned (%v) while its handler was still running", err)
	case <-time.After(s.caps.DrainTimeout / 4):
	}
	close(release)
	if err := <-res; err != nil {
		t.Errorf("Consume = %v, want nil: the handler finished within the drain timeout", err)
	}
	if got := ctxErr.Load(); got != "<nil>" {
		t.Errorf("handler context during the drain: %v, want still live", got)
	}
	next := s.subscriber(t, sub).Start()
	ExpectNone(t, next, s.quietWait(), "the message handled during the drain came back")
}

// testConsumeRestart stops one Consume part way and starts another: every
// message is handled at least once. Duplicates are counted, not failed.
func testConsumeRestart(t *testing.T, s *suite) {
	const n = 40
	topic, sub := s.topicAndSub(t)
	p := s.publisher(t, topic)
	for i := range n {
		s.publish(t, p, fmt.Sprint("key-", i%4), s.payload(t, i))
	}
	var mu sync.Mutex
	handled := make(map[string]int)
	record := func(m pubsub.SubscriberMessage) int {
		mu.Lock()
		defer mu.Unlock()
		handled[string(m.Message())]++
		return len(handled)
	}
	firstStop := make(chan struct{})
	var once sync.Once
	stop1 := s.consume(t, sub, func(_ context.Context, m pubsub.SubscriberMessage) error {
		if record(m) >= n/4 {
			once.Do(func() { close(firstStop) })
		}
		return nil
	}, pubsub.WithConcurrency(2))
	select {
	case <-firstStop:
	case <-time.After(s.caps.Timeout):
		t.Fatal("the first consumer handled too few messages")
	}
	if err := stop1(); err != nil {
		t.Errorf("first Consume = %v, want nil", err)
	}
	all := make(chan struct{})
	var allOnce sync.Once
	stop2 := s.consume(t, sub, func(_ context.Context, m pubsub.SubscriberMessage) error {
		if record(m) == n {
			allOnce.Do(func() { close(all) })
		}
		return nil
	})
	select {
	case <-all:
	case <-time.After(s.redeliveryWait() + s.caps.Timeout):
	}
	if err := stop2(); err != nil {
		t.Errorf("second Consume = %v, want nil", err)
	}
	mu.Lock()
	defer mu.Unlock()
	dups := 0
	for _, c := range handled {
		dups += c - 1
	}
	t.Logf("restart: %d of %d messages handled, %d duplicate deliveries", len(handled), n, dups)
	if len(handled) != n {
		t.Errorf("%d of %d messages lost across the restart", n-len(handled), n)
	}
}

// testReconnect restarts the backend's server between two halves of a
// stream: the publisher and the subscriber ride it out, and nothing is
// lost.
func testReconnect(t *testing.T, s *suite) {
	rs := s.h.(Restarter)
	topic, sub := s.topicAndSub(t)
	p := s.publisher(t, topic)
	r := s.subscriber(t, sub)
	ch := r.Start()
	want := make(map[string]bool)
	receive := func(count int) {
		for i := 0; i < count; {
			m := Receive(t, ch, 3*s.caps.Timeout, fmt.Sprintf("message %d of %d", i+1, count))
			if want[string(m.Message())] {
				delete(want, string(m.Message()))
				i++
			}
			if err := m.Done(); err != nil {
				t.Logf("Done across the restart: %v", err)
			}
		}
	}
	for i := range 5 {
		want[string(s.payload(t, i))] = true
		s.publish(t, p, "", s.payload(t, i))
	}
	receive(5)
	if err := rs.RestartServer(t.Context(), t); err != nil {
		t.Fatalf("RestartServer: %v", err)
	}
	for i := 5; i < 10; i++ {
		pl := s.payload(t, i)
		want[string(pl)] = true
		s.publishing(t, "after restart", func(ctx context.Context) {
			ctx, cancel := context.WithTimeout(ctx, 3*s.caps.Timeout)
			defer cancel()
			if err := p.PublishRaw(ctx, "", pl); err != nil && t.Context().Err() == nil {
				t.Errorf("publish after the server restarted: %v", err)
			}
		})
		if t.Failed() {
			return
		}
	}
	receive(5)
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("the subscriber ended across the restart: %v", r.Err())
		}
	default:
	}
}
