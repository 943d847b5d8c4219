package pubsub

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/seed8104ecd5/gizmo/internal/testlog"
)

func TestConsumeDeadLetterContent(t *testing.T) {
	noLeak(t)
	m := newFakeMsg("msg-42", "order-7")
	m.attrs = map[string]string{"trace": "abc", "type": "order"}
	origAttrs := maps.Clone(m.attrs)
	pub := &fakePub{}
	sub := newFakeSub(0, m)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before := time.Now().UTC()
	wait := runConsume(t, ctx, sub, func(context.Context, SubscriberMessage) error {
		return errors.New("inventory service said no")
	}, fastRetry(2), WithDeadLetter(pub))
	m.waitSettled(t)
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if s := m.state(t); s != "done" {
		t.Fatalf("message: %s, want done after dead-lettering", s)
	}
	dl := pub.published()
	if len(dl) != 1 {
		t.Fatalf("dead-lettered %d messages, want 1", len(dl))
	}
	got := dl[0]
	if got.Key != "order-7" || string(got.Payload) != "payload-msg-42" {
		t.Errorf("dead letter key/payload = %q/%q", got.Key, got.Payload)
	}
	for k, v := range origAttrs {
		if got.Attributes[k] != v {
			t.Errorf("original attribute %s = %q, want %q", k, got.Attributes[k], v)
		}
	}
	if n := len(got.Attributes); n != len(origAttrs)+1 {
		t.Errorf("dead letter has %d attributes, want the %d originals plus %s: %v", n, len(origAttrs), AttrDeadLetter, got.Attributes)
	}
	info, ok, err := ParseDeadLetter(got.Attributes)
	if !ok || err != nil {
		t.Fatalf("ParseDeadLetter = %v, %v; attribute %q", ok, err, got.Attributes[AttrDeadLetter])
	}
	if info.Error != "inventory service said no" || info.Attempts != 2 || info.MessageID != "msg-42" {
		t.Errorf("dead-letter info = %+v", info)
	}
	first, last := info.FirstFailedAt, info.FailedAt
	if first.Before(before) || last.Before(first) {
		t.Errorf("failure times out of order: start %v, first %v, last %v", before, first, last)
	}
	if !maps.Equal(m.attrs, origAttrs) {
		t.Errorf("the delivered message's attributes were modified: %v", m.attrs)
	}
}

func TestConsumeDeadLetterPublishFailureNacks(t *testing.T) {
	noLeak(t)
	m := newFakeMsg("1", "")
	pub := &fakePub{err: errors.New("dead-letter topic unavailable")}
	sub := newFakeSub(0, m)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs testlog.Buffer
	wait := runConsume(t, ctx, sub, func(context.Context, SubscriberMessage) error {
		return errors.New("boom")
	}, fastRetry(1), WithDeadLetter(pub), WithLogger(newTextLogger(&logs)))
	m.waitSettled(t)
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if s := m.state(t); s != "nack" {
		t.Errorf("message: %s, want nack so that it is not lost", s)
	}
	if !strings.Contains(logs.String(), "dead-letter topic unavailable") {
		t.Errorf("publish failure not logged:\n%s", logs.String())
	}
}

func TestConsumeNoDeadLetterNacks(t *testing.T) {
	noLeak(t)
	m := newFakeMsg("1", "")
	sub := newFakeSub(0, m)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs testlog.Buffer
	wait := runConsume(t, ctx, sub, func(context.Context, SubscriberMessage) error {
		return errors.New("boom")
	}, fastRetry(2), WithLogger(newTextLogger(&logs)))
	m.waitSettled(t)
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if s := m.state(t); s != "nack" {
		t.Errorf("message: %s, want nack", s)
	}
	if !strings.Contains(logs.String(), "handing it back to the broker after the hold") || !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("give-up not logged:\n%s", logs.String())
	}
}

func TestTruncateUTF8(t *testing.T) {
	s := strings.Repeat("é", 10) // 20 bytes
	for n := range 22 {
		got := truncateUTF8(s, n)
		if len(got) > n || !utf8.ValidString(got) || !strings.HasPrefix(s, got) || len(got) < n-1 {
			t.Errorf("truncateUTF8(%d) = %q", n, got)
		}
	}
}
