package pubsubtest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

func testStopClean(t *testing.T, s *suite) {
	topic, sub := s.topicAndSub(t)
	p := s.publisher(t, topic)
	s.publish(t, p, "", s.payload(t, 0))
	r := s.subscriber(t, sub)
	ch := r.Start()
	if again := r.Start(); again != ch {
		t.Errorf("a second Start returned a different channel")
	}
	m := Receive(t, ch, s.caps.Timeout, "the message")
	if err := m.Done(); err != nil {
		t.Fatalf("Done: %v", err)
	}
	if err, ok := s.stop(t, r); ok && err != nil {
		t.Errorf("Stop with nothing in flight = %v, want nil", err)
	}
	if extra := confWaitClosed(t, ch, s.caps.Timeout); extra > 0 {
		t.Errorf("%d messages delivered after Stop returned", extra)
	}
	if err := r.Err(); err != nil {
		t.Errorf("Err after a clean Stop = %v, want nil", err)
	}
	s.stop(t, r) // a second Stop must return, and not panic
	if err := r.Err(); err != nil {
		t.Errorf("Err after a second Stop = %v, want nil", err)
	}

	idle := s.subscriber(t, sub)
	if err, ok := s.stop(t, idle); ok && err != nil {
		t.Errorf("Stop of a subscriber never started = %v, want nil", err)
	}
}

// testStopWaitsForInFlight checks that Stop waits for a delivered message
// to be settled (or for the drain timeout), and that a Done during the drain
// counts.
func testStopWaitsForInFlight(t *testing.T, s *suite) {
	topic, sub := s.topicAndSub(t)
	p := s.publisher(t, topic)
	want := s.payload(t, 0)
	s.publish(t, p, "", want)
	r := s.subscriber(t, sub)
	ch := r.Start()
	m := Receive(t, ch, s.caps.Timeout, "the message")

	stopped := make(chan error, 1)
	called := time.Now()
	var stopElapsed time.Duration
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.caps.DrainTimeout)
		defer cancel()
		err := r.Stop(ctx)
		stopElapsed = time.Since(called)
		stopped <- err
	}()
	time.Sleep(min(s.caps.DrainTimeout/4, 250*time.Millisecond)) // a slow handler
	var early bool
	select {
	case err := <-stopped:
		stopped <- err
		early = true
	default:
	}
	doneErr := m.Done()
	limit := s.caps.DrainTimeout + s.caps.Timeout
	select {
	case err := <-stopped:
		if early && stopElapsed < s.caps.DrainTimeout {
			t.Errorf("Stop returned after %v, before the in-flight message was settled and before the drain timeout %v", stopElapsed, s.caps.DrainTimeout)
		}
		if err != nil && doneErr == nil {
			t.Errorf("Stop = %v, although the in-flight message was settled during the drain", err)
		}
		if err != nil && doneErr != nil && !errors.Is(err, pubsub.ErrDrainTimeout) {
			t.Errorf("Stop after the drain deadline passed = %v, want an error wrapping pubsub.ErrDrainTimeout", err)
		}
	case <-time.After(limit):
		t.Fatalf("Stop did not return within %v after the in-flight message was settled", limit)
	}
	confWaitClosed(t, ch, s.caps.Timeout)
	if doneErr != nil {
		t.Logf("Done during Stop = %v (the drain timeout passed first); not checking redelivery", doneErr)
		return
	}
	if err := r.Err(); err != nil {
		t.Errorf("Err after a clean Stop = %v, want nil", err)
	}
	next := s.subscriber(t, sub).Start()
	ExpectNone(t, next, s.quietWait(), "a message Done during Stop's drain was delivered again")
}

// testStopInFlightRedelivered checks that a delivered message still
// unsettled when Stop gives up reaches the next subscriber.
func testStopInFlightRedelivered(t *testing.T, s *suite) {
	topic, sub := s.topicAndSub(t)
	p := s.publisher(t, topic)
	want := s.payload(t, 0)
	s.publish(t, p, "", want)
	r := s.subscriber(t, sub)
	ch := r.Start()
	held := Receive(t, ch, s.caps.Timeout, "the message")
	if err, ok := s.stop(t, r); !ok {
		return
	} else if !errors.Is(err, pubsub.ErrDrainTimeout) {
		t.Errorf("Stop with a message left unsettled = %v, want an error wrapping pubsub.ErrDrainTimeout", err)
	}
	confWaitClosed(t, ch, s.caps.Timeout)
	next := s.subscriber(t, sub).Start()
	m := Receive(t, next, s.redeliveryWait(), "the message left unsettled by the stopped subscriber")
	if !bytes.Equal(m.Message(), want) {
		t.Errorf("got %q, want %q", m.Message(), want)
	}
	if err := m.Done(); err != nil {
		t.Errorf("Done: %v", err)
	}
	_ = held.Done() // late, after Stop: must not panic
}

// testStopHandsBackPrefetched checks that messages a subscriber fetched but
// never delivered are available to the next subscriber at once, not only
// when their deadline lapses.
func testStopHandsBackPrefetched(t *testing.T, s *suite) {
	topic, sub := s.topicAndSub(t)
	p := s.publisher(t, topic)
	const n = 50
	want := make(map[string]bool, n)
	for i := range n {
		pl := s.payload(t, i)
		want[string(pl)] = true
		s.publish(t, p, "", pl)
	}
	r := s.subscriber(t, sub)
	ch := r.Start()
	m := Receive(t, ch, s.caps.Timeout, "the first message")
	delete(want, string(m.Message()))
	if err := m.Done(); err != nil {
		t.Fatalf("Done: %v", err)
	}
	if _, ok := s.stop(t, r); !ok {
		return
	}
	confWaitClosed(t, ch, s.caps.Timeout)
	d := s.promptWait()
	missing := confCollect(t, []pubsub.Subscriber{s.subscriber(t, sub)}, want, d)
	if len(missing) > 0 {
		t.Errorf("the next subscriber got %d of the %d remaining messages within %v of Stop (ack deadline %v): Stop did not hand prefetched messages back",
			len(want)-len(missing), len(want), d, s.caps.AckDeadline)
	}
}

func testContextCanceled(t *testing.T, s *suite) {
	topic := s.topic(t)
	p := s.publisher(t, topic)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := p.PublishRaw(ctx, "", s.payload(t, 0)); !errors.Is(err, context.Canceled) {
		t.Errorf("PublishRaw with a canceled context = %v, want an error matching context.Canceled", err)
	}
	if err := p.Publish(ctx, "", wrapperspb.String("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with a canceled context = %v, want an error matching context.Canceled", err)
	}
	if mp, ok := p.(pubsub.MultiPublisher); ok {
		err := mp.PublishBatch(ctx, []pubsub.Message{{Payload: s.payload(t, 1)}})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("PublishBatch with a canceled context = %v, want an error matching context.Canceled", err)
		}
	}
}

func testTopicNotFound(t *testing.T, s *suite) {
	name := s.caps.MissingTopic
	p, err := s.h.NewPublisher(t.Context(), name)
	if err == nil {
		defer func() { _ = p.Close() }()
		err = p.PublishRaw(t.Context(), "", s.payload(t, 0))
	}
	if !errors.Is(err, pubsub.ErrTopicNotFound) {
		t.Errorf("publishing to the missing topic %q: error %v, want one wrapping pubsub.ErrTopicNotFound (from NewPublisher or the first publish)", name, err)
	}
}

func testSubscriptionNotFound(t *testing.T, s *suite) {
	name := s.caps.MissingSubscription
	r, err := s.h.NewSubscriber(t.Context(), name)
	if err == nil {
		ch := r.Start()
		if extra := confWaitClosed(t, ch, s.caps.Timeout); extra > 0 {
			t.Errorf("%d messages delivered from a missing subscription", extra)
		}
		err = r.Err()
		s.stop(t, r)
	}
	if !errors.Is(err, pubsub.ErrSubscriptionNotFound) {
		t.Errorf("subscribing to the missing subscription %q: error %v, want one wrapping pubsub.ErrSubscriptionNotFound (from NewSubscriber or Err once the channel closes)", name, err)
	}
}

func testPublishAfterClose(t *testing.T, s *suite) {
	topic := s.topic(t)
	p, err := s.h.NewPublisher(t.Context(), topic)
	if err != nil {
		t.Fatalf("NewPublisher: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	err = p.PublishRaw(t.Context(), "", s.payload(t, 0))
	if !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("PublishRaw after Close = %v, want an error wrapping pubsub.ErrClosed", err)
	}
	if mp, ok := p.(pubsub.MultiPublisher); ok {
		err := mp.PublishBatch(t.Context(), []pubsub.Message{{Payload: s.payload(t, 1)}})
		if !errors.Is(err, pubsub.ErrClosed) {
			t.Errorf("PublishBatch after Close = %v, want an error wrapping pubsub.ErrClosed", err)
		}
	}
	_ = p.Close() // a second Close must not panic
}
