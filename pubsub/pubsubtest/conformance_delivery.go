package pubsubtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// checkMessage compares a delivered message with what was published.
func confCheckMessage(t testing.TB, m pubsub.SubscriberMessage, key string, payload []byte, attrs map[string]string) {
	t.Helper()
	if !bytes.Equal(m.Message(), payload) {
		t.Errorf("payload = %q, want %q", m.Message(), payload)
	}
	if m.Key() != key {
		t.Errorf("key = %q, want %q", m.Key(), key)
	}
	if got := m.Attributes(); !maps.Equal(got, attrs) && !(len(got) == 0 && len(attrs) == 0) {
		t.Errorf("attributes = %q, want %q", got, attrs)
	}
}

func testRoundTrip(t *testing.T, s *suite) {
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	cases := []struct {
		name    string
		key     string
		payload []byte
		attrs   map[string]string
	}{
		{name: "Binary", key: "binary", payload: binary, attrs: map[string]string{"kind": "binary"}},
		{name: "Empty", key: "empty", payload: []byte{}, attrs: map[string]string{"kind": "empty"}},
		{name: "Attributes", key: "clé/ключ 🔑 #1\tend", payload: []byte("attributes"), attrs: map[string]string{
			"ünïcødé-ключ-キー":           "値 ✓ 🚀 ñ",
			"punct.key_with-dash:colon": `a=b;c,d "quoted" 'single' <tag> & % $ # @ ! \ /`,
			"empty-value":               "",
			"space key":                 "  leading and trailing spaces  ",
			"newline":                   "line1\nline2\ttab",
			"control":                   "bell\x07 nul\x00 noncharacter\ufffe",
			"AWS.lookalike":             "reserved by SQS",
			"Amazon.lookalike":          "reserved by SQS",
			"googlookalike":             "reserved by Pub/Sub",
			".dot..name.":               "dots SQS refuses",
			"UPPER-lower":               "case must survive HTTP headers",
		}},
		{name: "NoAttributes", key: "", payload: []byte("no attributes, no key")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			topic, sub := s.topicAndSub(t)
			p := s.publisher(t, topic)
			// A backend with an attribute limit (SQS: ten) gets the
			// attributes spread over several messages; Limits tests the
			// count itself.
			groups := confSplitAttrs(c.attrs, s.caps.MaxAttributes)
			want := make(map[string]map[string]string, len(groups))
			for i, g := range groups {
				payload := c.payload
				if len(groups) > 1 {
					payload = fmt.Appendf(nil, "%s %d", c.payload, i)
				}
				want[string(payload)] = g
				s.publish(t, p, c.key, payload, pubsub.WithAttributes(g))
			}
			ch := s.subscriber(t, sub).Start()
			for len(want) > 0 {
				m := Receive(t, ch, s.caps.Timeout, "the published message")
				attrs, ok := want[string(m.Message())]
				if !ok {
					t.Fatalf("unexpected payload %q", m.Message())
				}
				delete(want, string(m.Message()))
				confCheckMessage(t, m, c.key, m.Message(), attrs)
				if err := m.Done(); err != nil {
					t.Errorf("Done: %v", err)
				}
			}
		})
	}
	t.Run("Proto", func(t *testing.T) {
		t.Parallel()
		topic, sub := s.topicAndSub(t)
		p := s.publisher(t, topic)
		want := wrapperspb.String("proto ✓ " + s.run)
		s.publishing(t, "proto", func(ctx context.Context) {
			if err := p.Publish(ctx, "proto", want, pubsub.WithAttribute("a", "b")); err != nil && ctx.Err() == nil {
				t.Errorf("Publish: %v", err)
			}
		})
		m := Receive(t, s.subscriber(t, sub).Start(), s.caps.Timeout, "the published message")
		got := &wrapperspb.StringValue{}
		if err := pubsub.UnmarshalProto(m, got); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, want) || m.Key() != "proto" || m.Attributes()["a"] != "b" {
			t.Errorf("got %v key %q attributes %q, want %v key %q attributes a=b", got, m.Key(), m.Attributes(), want, "proto")
		}
		_ = m.Done()
	})
	t.Run("BufferReuse", func(t *testing.T) {
		t.Parallel()
		topic, sub := s.topicAndSub(t)
		p := s.publisher(t, topic)
		buf := []byte("original payload")
		attrs := map[string]string{"k": "original"}
		s.publish(t, p, "k", buf, pubsub.WithAttributes(attrs))
		copy(buf, "CHANGED!")
		attrs["k"] = "changed"
		m := Receive(t, s.subscriber(t, sub).Start(), s.caps.Timeout, "the published message")
		confCheckMessage(t, m, "k", []byte("original payload"), map[string]string{"k": "original"})
		_ = m.Done()
	})
}

// confSplitAttrs splits attrs into groups of at most max attributes (all in
// one group if max is zero), in name order. It returns one group, possibly
// nil, when attrs fits.
func confSplitAttrs(attrs map[string]string, max int) []map[string]string {
	if max <= 0 || len(attrs) <= max {
		return []map[string]string{attrs}
	}
	names := slices.Sorted(maps.Keys(attrs))
	var groups []map[string]string
	for len(names) > 0 {
		n := min(max, len(names))
		g := make(map[string]string, n)
		for _, name := range names[:n] {
			g[name] = attrs[name]
		}
		groups = append(groups, g)
		names = names[n:]
	}
	return groups
}

func testBacklog(t *testing.T, s *suite) {
	topic, sub := s.topicAndSub(t)
	p := s.publisher(t, topic)
	const n = 10
	want := make(map[string]bool, n)
	for i := range n {
		pl := s.payload(t, i)
		want[string(pl)] = true
		s.publish(t, p, "", pl)
	}
	ch := s.subscriber(t, sub).Start()
	for len(want) > 0 {
		m := Receive(t, ch, s.caps.Timeout, fmt.Sprintf("the backlog (%d of %d still missing)", len(want), n))
		delete(want, string(m.Message()))
		_ = m.Done()
	}
}

// collect receives from every subscriber in subs, calls Done, and records
// each payload until all of want were seen or the wait d ends. It returns the
// payloads never seen.
func confCollect(t testing.TB, subs []pubsub.Subscriber, want map[string]bool, d time.Duration) (missing map[string]bool) {
	t.Helper()
	var mu sync.Mutex
	missing = maps.Clone(want)
	all := make(chan struct{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, r := range subs {
		ch := r.Start()
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case m, ok := <-ch:
					if !ok {
						return
					}
					if err := m.Done(); err != nil {
						t.Errorf("Done: %v", err)
					}
					mu.Lock()
					if missing[string(m.Message())] {
						delete(missing, string(m.Message()))
						if len(missing) == 0 {
							close(all)
						}
					}
					mu.Unlock()
				}
			}
		})
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-all:
	case <-timer.C:
	}
	close(stop)
	wg.Wait()
	return missing
}

func testCompetingConsumers(t *testing.T, s *suite) {
	const pubs, perPub, subs = 20, 60, 5
	topic, sub := s.topicAndSub(t)
	var rs []pubsub.Subscriber
	for range subs {
		rs = append(rs, s.subscriber(t, sub))
	}
	want := make(map[string]bool, pubs*perPub)
	for i := range pubs * perPub {
		want[string(s.payload(t, i))] = true
	}
	var wg sync.WaitGroup
	for w := range pubs {
		p := s.publisher(t, topic)
		wg.Go(func() {
			for i := range perPub {
				pl := s.payload(t, w*perPub+i)
				if err := p.PublishRaw(t.Context(), fmt.Sprint("key-", i%7), pl); err != nil {
					t.Errorf("publisher %d: PublishRaw: %v", w, err)
					return
				}
			}
		})
	}
	missing := confCollect(t, rs, want, 3*s.caps.Timeout)
	wg.Wait()
	if len(missing) > 0 {
		t.Errorf("%d of %d messages published by %d publishers were never delivered to %d competing subscribers",
			len(missing), len(want), pubs, subs)
	}
}

func testFanOut(t *testing.T, s *suite) {
	topic := s.topic(t)
	subA := s.subscription(t, topic, SubscriptionOptions{})
	subB := s.subscription(t, topic, SubscriptionOptions{})
	p := s.publisher(t, topic)
	const n = 20
	want := make(map[string]bool, n)
	for i := range n {
		pl := s.payload(t, i)
		want[string(pl)] = true
		s.publish(t, p, "", pl)
	}
	for _, sub := range []string{subA, subB} {
		if missing := confCollect(t, []pubsub.Subscriber{s.subscriber(t, sub)}, want, s.caps.Timeout); len(missing) > 0 {
			t.Errorf("subscription %q got %d of the %d messages published to its topic", sub, n-len(missing), n)
		}
	}
}

func testBatch(t *testing.T, s *suite) {
	topic, sub := s.topicAndSub(t)
	p, ok := s.publisher(t, topic).(pubsub.MultiPublisher)
	if !ok {
		t.Fatalf("the publisher (%T) does not implement pubsub.MultiPublisher; declare Gaps[FeatureBatch] if the backend cannot batch", p)
	}
	const n = 10
	msgs := make([]pubsub.Message, n)
	byPayload := make(map[string]pubsub.Message, n)
	for i := range msgs {
		msgs[i] = pubsub.Message{
			Key:        fmt.Sprint("batch-key-", i),
			Payload:    s.payload(t, i),
			Attributes: map[string]string{"index": fmt.Sprint(i)},
		}
		byPayload[string(msgs[i].Payload)] = msgs[i]
	}
	s.publishing(t, "", func(ctx context.Context) {
		if err := p.PublishBatch(ctx, msgs); err != nil && ctx.Err() == nil {
			t.Errorf("PublishBatch: %v", err)
		}
	})
	ch := s.subscriber(t, sub).Start()
	for len(byPayload) > 0 {
		m := Receive(t, ch, s.caps.Timeout, fmt.Sprintf("the batch (%d of %d still missing)", len(byPayload), n))
		if want, ok := byPayload[string(m.Message())]; ok {
			confCheckMessage(t, m, want.Key, want.Payload, want.Attributes)
			delete(byPayload, string(m.Message()))
		}
		_ = m.Done()
	}
}

func testNack(t *testing.T, s *suite) {
	topic, sub := s.topicAndSub(t)
	p := s.publisher(t, topic)
	want := s.payload(t, 0)
	s.publish(t, p, "k", want, pubsub.WithAttribute("a", "1"))
	ch := s.subscriber(t, sub).Start()
	first := Receive(t, ch, s.caps.Timeout, "the message")
	if err := first.Nack(); err != nil {
		t.Fatalf("Nack: %v", err)
	}
	if err := first.Nack(); err != nil {
		t.Errorf("second Nack = %v, want nil", err)
	}
	second := Receive(t, ch, s.promptWait(), "the redelivery after Nack")
	confCheckMessage(t, second, "k", want, map[string]string{"a": "1"})
	if a1, a2 := confAttempt(first), confAttempt(second); a1 > 0 && a2 <= a1 {
		t.Errorf("DeliveryAttempt after Nack = %d, want more than the first delivery's %d", a2, a1)
	}
	if err := second.Done(); err != nil {
		t.Errorf("Done: %v", err)
	}
}

func testStableIDs(t *testing.T, s *suite) {
	topic, sub := s.topicAndSub(t)
	p := s.publisher(t, topic)
	s.publish(t, p, "", s.payload(t, 0))
	s.publish(t, p, "", s.payload(t, 1))
	ch := s.subscriber(t, sub).Start()
	a := Receive(t, ch, s.caps.Timeout, "the first message")
	b := Receive(t, ch, s.caps.Timeout, "the second message")
	if a.ID() == "" || a.ID() == b.ID() {
		t.Errorf("IDs %q and %q of two messages: want distinct and non-empty", a.ID(), b.ID())
	}
	_ = b.Done()
	if err := a.Nack(); err != nil {
		t.Fatalf("Nack: %v", err)
	}
	again := Receive(t, ch, s.promptWait(), "the redelivery after Nack")
	if !bytes.Equal(again.Message(), a.Message()) || again.ID() != a.ID() {
		t.Errorf("redelivery: payload %q ID %q, want payload %q ID %q", again.Message(), again.ID(), a.Message(), a.ID())
	}
	_ = again.Done()
}

func testDeadlineRedelivery(t *testing.T, s *suite) {
	topic, sub := s.topicAndSub(t)
	p := s.publisher(t, topic)
	want := s.payload(t, 0)
	s.publish(t, p, "", want)
	ch := s.subscriber(t, sub).Start()
	first := Receive(t, ch, s.caps.Timeout, "the message")
	// Never settle first: it must come back once its deadline lapses.
	second := Receive(t, ch, s.redeliveryWait(), fmt.Sprintf("the redelivery after the ack deadline (%v)", s.caps.AckDeadline))
	if !bytes.Equal(second.Message(), want) {
		t.Fatalf("redelivered payload = %q, want %q", second.Message(), want)
	}
	if a1, a2 := confAttempt(first), confAttempt(second); a1 > 0 && a2 <= a1 {
		t.Errorf("DeliveryAttempt after the deadline = %d, want more than %d", a2, a1)
	}
	if err := second.Done(); err != nil {
		t.Errorf("Done: %v", err)
	}
	if err := first.Done(); !errors.Is(err, pubsub.ErrLeaseLost) {
		t.Errorf("Done of the lapsed first delivery = %v, want an error wrapping pubsub.ErrLeaseLost", err)
	}
}

func testExtendDeadline(t *testing.T, s *suite) {
	topic, sub := s.topicAndSub(t)
	p := s.publisher(t, topic)
	s.publish(t, p, "", s.payload(t, 0))
	ch := s.subscriber(t, sub).Start()
	m := Receive(t, ch, s.caps.Timeout, "the message")
	if err := m.ExtendDoneDeadline(4 * s.caps.AckDeadline); err != nil {
		t.Fatalf("ExtendDoneDeadline: %v", err)
	}
	ExpectNone(t, ch, s.quietWait(), "a message whose deadline was extended was redelivered")
	if err := m.Done(); err != nil {
		t.Errorf("Done after ExtendDoneDeadline: %v", err)
	}
}

func testDoneNotRedelivered(t *testing.T, s *suite) {
	topic, sub := s.topicAndSub(t)
	p := s.publisher(t, topic)
	s.publish(t, p, "", s.payload(t, 0))
	ch := s.subscriber(t, sub).Start()
	m := Receive(t, ch, s.caps.Timeout, "the message")
	if err := m.Done(); err != nil {
		t.Fatalf("Done: %v", err)
	}
	if err := m.Done(); err != nil {
		t.Errorf("second Done = %v, want nil", err)
	}
	if err := m.Nack(); err != nil {
		t.Errorf("Nack after Done = %v, want nil", err)
	}
	ExpectNone(t, ch, s.quietWait(), "a message that was Done was delivered again")
	// The subscriber must still be alive, or the silence proves nothing.
	marker := s.payload(t, 1)
	s.publish(t, p, "", marker)
	got := Receive(t, ch, s.caps.Timeout, "a later message")
	if !bytes.Equal(got.Message(), marker) {
		t.Errorf("got %q, want the later message %q", got.Message(), marker)
	}
	_ = got.Done()
}
