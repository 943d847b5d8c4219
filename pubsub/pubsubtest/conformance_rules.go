package pubsubtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// testRules checks the contract's rules on keys and attributes: the
// reserved prefix and invalid UTF-8 are refused with ErrInvalidMessage,
// nothing of a refused message is delivered, and the public dead-letter
// attribute goes through.
func testRules(t *testing.T, s *suite) {
	topic, sub := s.topicAndSub(t)
	p := s.publisher(t, topic)
	for name, tc := range map[string]struct {
		key   string
		attrs map[string]string
	}{
		"reserved prefix": {attrs: map[string]string{pubsub.AttrKey: "forged key"}},
		"other reserved":  {attrs: map[string]string{"gizmo-anything": "x"}},
		"invalid key":     {key: "bad \xff key"},
		"invalid name":    {attrs: map[string]string{"bad\xfe": "x"}},
		"invalid value":   {attrs: map[string]string{"a": "bad \xc3"}},
		"empty name":      {attrs: map[string]string{"": "x"}},
	} {
		err := p.PublishRaw(t.Context(), tc.key, s.payload(t, 0), pubsub.WithAttributes(tc.attrs))
		if !errors.Is(err, pubsub.ErrInvalidMessage) {
			t.Errorf("%s: PublishRaw = %v, want an error wrapping pubsub.ErrInvalidMessage", name, err)
		}
	}
	dl := map[string]string{pubsub.AttrDeadLetter: `{"error":"boom","attempts":3}`, "own": "attribute"}
	s.publish(t, p, "k", s.payload(t, 1), pubsub.WithAttributes(dl))
	m := Receive(t, s.subscriber(t, sub).Start(), s.caps.Timeout, "the message with the dead-letter attribute")
	confCheckMessage(t, m, "k", s.payload(t, 1), dl)
	_ = m.Done()
}

// testLimits publishes right at the backend's limits, which must
// round-trip, and one past each, which must fail with ErrTooLarge and
// deliver nothing.
func testLimits(t *testing.T, s *suite) {
	topic, sub := s.topicAndSub(t)
	p := s.publisher(t, topic)
	maxPayload, payloadLimited := s.caps.MaxPayloadBytes, s.caps.MaxPayloadBytes > 0
	if !payloadLimited {
		maxPayload = 1 << 20
	}
	big := []byte(strings.Repeat("x", maxPayload))
	s.publish(t, p, "", big)
	if payloadLimited {
		over := []byte(strings.Repeat("y", maxPayload+1))
		if err := p.PublishRaw(t.Context(), "", over); !errors.Is(err, pubsub.ErrTooLarge) {
			t.Errorf("payload of %d bytes, one over the limit: %v, want an error wrapping pubsub.ErrTooLarge", len(over), err)
		}
	}
	maxAttrs, attrsLimited := s.caps.MaxAttributes, s.caps.MaxAttributes > 0
	if !attrsLimited {
		maxAttrs = 64
	}
	attrs := make(map[string]string, maxAttrs+1)
	for i := range maxAttrs {
		attrs[fmt.Sprintf("attr-%02d", i)] = fmt.Sprint("value ", i)
	}
	binary := []byte{0xff, 0x00, 0xfe}
	s.publish(t, p, "limits-key", binary, pubsub.WithAttributes(attrs))
	if attrsLimited {
		err := p.PublishRaw(t.Context(), "limits-key", binary, pubsub.WithAttributes(attrs), pubsub.WithAttribute("one-more", "x"))
		if !errors.Is(err, pubsub.ErrTooLarge) {
			t.Errorf("%d attributes, one over the limit: %v, want an error wrapping pubsub.ErrTooLarge", maxAttrs+1, err)
		}
	}
	marker := s.payload(t, 0)
	s.publish(t, p, "", marker)
	ch := s.subscriber(t, sub).Start()
	seen := 0
	for seen < 3 {
		m := Receive(t, ch, s.caps.Timeout, "the messages at the limits")
		switch {
		case bytes.Equal(m.Message(), big):
			seen++
		case bytes.Equal(m.Message(), binary):
			confCheckMessage(t, m, "limits-key", binary, attrs)
			seen++
		case bytes.Equal(m.Message(), marker):
			seen++
		default:
			t.Errorf("delivered a message that was refused: %d bytes, %d attributes", len(m.Message()), len(m.Attributes()))
		}
		_ = m.Done()
	}
}

// testBatchKeyOrder checks that PublishBatch sends no message of a key
// after an earlier one of that key failed.
func testBatchKeyOrder(t *testing.T, s *suite) {
	topic, sub := s.topicAndSub(t)
	p, ok := s.publisher(t, topic).(pubsub.MultiPublisher)
	if !ok {
		t.Fatalf("the publisher (%T) does not implement pubsub.MultiPublisher", p)
	}
	msgs := []pubsub.Message{
		{Key: "K", Payload: s.payload(t, 0)},
		{Key: "K", Payload: s.payload(t, 1), Attributes: map[string]string{"gizmo-refused": "reserved prefix"}},
		{Key: "K", Payload: s.payload(t, 2)},
		{Key: "J", Payload: s.payload(t, 3)},
	}
	var err error
	wait := s.publishing(t, "", func(ctx context.Context) { err = p.PublishBatch(ctx, msgs) })
	check := func() {
		t.Helper()
		wait()
		var be *pubsub.BatchError
		if !errors.As(err, &be) || len(be.Errs) != len(msgs) {
			t.Fatalf("PublishBatch = %v, want a *pubsub.BatchError with %d entries", err, len(msgs))
		}
		if be.Errs[0] != nil || be.Errs[3] != nil {
			t.Errorf("the valid messages failed: %v, %v", be.Errs[0], be.Errs[3])
		}
		if !errors.Is(be.Errs[1], pubsub.ErrInvalidMessage) {
			t.Errorf("the invalid message: %v, want pubsub.ErrInvalidMessage", be.Errs[1])
		}
		if !errors.Is(be.Errs[2], pubsub.ErrKeyBlocked) {
			t.Errorf("the message after the failed one of its key: %v, want pubsub.ErrKeyBlocked", be.Errs[2])
		}
	}
	// PublishBatch has returned by now where the backend keeps a backlog;
	// elsewhere it returns once the subscriber below settled its messages.
	backlog := !s.gap(FeatureBacklog)
	if backlog {
		check()
	}
	marker := s.payload(t, 4)
	s.publish(t, p, "", marker)
	want := map[string]bool{string(msgs[0].Payload): true, string(msgs[3].Payload): true, string(marker): true}
	ch := s.subscriber(t, sub).Start()
	for len(want) > 0 {
		m := Receive(t, ch, s.caps.Timeout, "the accepted messages")
		if !want[string(m.Message())] {
			t.Errorf("delivered %q, which failed", m.Message())
		}
		delete(want, string(m.Message()))
		_ = m.Done()
	}
	if !backlog {
		check()
	}
}

// testDeduplication publishes twice with one deduplication ID: only the
// first is delivered.
func testDeduplication(t *testing.T, s *suite) {
	topic, sub := s.topicAndSub(t)
	p := s.publisher(t, topic)
	id := s.run + "-dedup"
	first, dup, other := s.payload(t, 0), s.payload(t, 1), s.payload(t, 2)
	s.publish(t, p, "d", first, pubsub.WithDeduplicationID(id))
	s.publish(t, p, "d", dup, pubsub.WithDeduplicationID(id))
	s.publish(t, p, "d", other, pubsub.WithDeduplicationID(id+"-other"))
	ch := s.subscriber(t, sub).Start()
	want := map[string]bool{string(first): true, string(other): true}
	for len(want) > 0 {
		m := Receive(t, ch, s.caps.Timeout, "the deduplicated messages")
		if bytes.Equal(m.Message(), dup) {
			t.Errorf("the duplicate was delivered")
		}
		delete(want, string(m.Message()))
		_ = m.Done()
	}
	ExpectNone(t, ch, s.promptWait(), "after the two distinct messages")
}

// testIndependentAcks acknowledges the second of two messages of one key,
// holds the first, and restarts the consumer: the first must come back.
// Where acks are independent, the second must not.
func testIndependentAcks(t *testing.T, s *suite) {
	topic, sub := s.topicAndSub(t)
	p := s.publisher(t, topic)
	m1p, m2p := s.payload(t, 1), s.payload(t, 2)
	s.publish(t, p, "same", m1p)
	s.publish(t, p, "same", m2p)
	r := s.subscriber(t, sub)
	ch := r.Start()
	var held pubsub.SubscriberMessage
	for got := 0; got < 2; got++ {
		m := Receive(t, ch, s.caps.Timeout, "the two messages")
		switch {
		case bytes.Equal(m.Message(), m1p):
			held = m
		case bytes.Equal(m.Message(), m2p):
			if err := m.Done(); err != nil {
				t.Fatalf("Done of the second message: %v", err)
			}
		default:
			t.Fatalf("unexpected message %q", m.Message())
		}
	}
	if _, ok := s.stop(t, r); !ok {
		return
	}
	confWaitClosed(t, ch, s.caps.Timeout)
	next := s.subscriber(t, sub).Start()
	m := Receive(t, next, s.redeliveryWait(), "the first message, held unsettled through the restart")
	for bytes.Equal(m.Message(), m2p) {
		if !s.gap(FeatureIndependentAcks) {
			t.Fatalf("the second message, Done before the restart, came back")
		}
		_ = m.Done()
		m = Receive(t, next, s.redeliveryWait(), "the first message, held unsettled through the restart")
	}
	if !bytes.Equal(m.Message(), m1p) {
		t.Fatalf("got %q, want the held first message", m.Message())
	}
	_ = m.Done()
	_ = held.Done() // a late Done from the stopped subscriber must not panic
}
