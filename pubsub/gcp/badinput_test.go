package gcp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	gizmo "github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/internal/wire"
)

// TestMissingTopicAndSubscription checks the sentinels for a topic and a
// subscription that do not exist, for a publish, a batch and a
// subscriber, which ends with its channel closed.
func TestMissingTopicAndSubscription(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.config(f.res.name("topics"), f.res.name("subscriptions"))
	p := f.publisher(cfg)
	if err := p.PublishRaw(t.Context(), "", []byte("x")); !errors.Is(err, gizmo.ErrTopicNotFound) {
		t.Errorf("PublishRaw to a missing topic = %v, want ErrTopicNotFound", err)
	}
	err := p.PublishBatch(t.Context(), []gizmo.Message{{Payload: []byte("a")}, {Key: "k", Payload: []byte("b")}})
	var be *gizmo.BatchError
	if !errors.As(err, &be) || be.Failed() != 2 || !errors.Is(be.Errs[0], gizmo.ErrTopicNotFound) || !errors.Is(be.Errs[1], gizmo.ErrTopicNotFound) {
		t.Errorf("PublishBatch to a missing topic = %v, want ErrTopicNotFound for each message", err)
	}

	r := f.subscriber(cfg)
	ch := r.Start()
	select {
	case m, ok := <-ch:
		if ok {
			t.Fatalf("a missing subscription delivered %q", m.Message())
		}
	case <-time.After(waitFor):
		t.Fatal("the channel of a subscriber of a missing subscription did not close")
	}
	if err := r.Err(); !errors.Is(err, gizmo.ErrSubscriptionNotFound) {
		t.Errorf("Err = %v, want ErrSubscriptionNotFound", err)
	}
	if err := r.Stop(t.Context()); err != nil {
		t.Errorf("Stop after the subscriber ended = %v, want nil", err)
	}
}

// TestOversize checks that messages past Pub/Sub's limits fail with
// ErrTooLarge before anything is sent: only the marker arrives.
func TestOversize(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	topic, sub := f.topicAndSub(nil)
	cfg := f.config(topic, sub)
	cfg.Publish.MaxMessageBytes = 4096
	p := f.publisher(cfg)
	many := make(map[string]string)
	for i := range MaxAttributes {
		many[fmt.Sprint("a", i)] = "v"
	}
	for name, publish := range map[string]func() error{
		"payload": func() error { return p.PublishRaw(t.Context(), "", make([]byte, 4096)) },
		"attributes with a key": func() error {
			return p.PublishRaw(t.Context(), "k", []byte("x"), gizmo.WithAttributes(many))
		},
		"attribute name": func() error {
			return p.PublishRaw(t.Context(), "", []byte("x"), gizmo.WithAttribute(strings.Repeat("n", 257), "v"))
		},
		"attribute value": func() error {
			return p.PublishRaw(t.Context(), "", []byte("x"), gizmo.WithAttribute("a", strings.Repeat("v", 1025)))
		},
		"key": func() error { return p.PublishRaw(t.Context(), strings.Repeat("k", 1025), []byte("x")) },
		"batch": func() error {
			return p.PublishBatch(t.Context(), []gizmo.Message{{Payload: make([]byte, 5000)}})
		},
		"raw message": func() error {
			_, err := p.PublishMessage(t.Context(), &pubsub.Message{Data: make([]byte, 5000)})
			return err
		},
	} {
		if err := publish(); !errors.Is(err, gizmo.ErrTooLarge) {
			t.Errorf("%s over the limit: %v, want ErrTooLarge", name, err)
		}
	}
	f.publish(p, "", "marker")
	ch := f.subscriber(cfg).Start()
	m := recv(t, ch, "the marker")
	if string(m.Message()) != "marker" {
		t.Errorf("delivered %d bytes, which were refused", len(m.Message()))
	}
	_ = m.Done()
	expectNone(t, ch, 2*time.Second, "a refused message was delivered")
}

// TestPublishMessage publishes SDK messages as they are: an ordering key
// is refused by a publisher without ordering, and carried by one with it,
// where a subscriber takes it for the key; a malformed gizmo encoding is
// delivered as it travelled, with DecodeError set.
func TestPublishMessage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	topic, sub := f.topicAndSub(func(s *pubsubpb.Subscription) { s.EnableMessageOrdering = true })
	cfg := f.config(topic, sub)
	unordered := f.publisher(cfg)
	_, err := unordered.PublishMessage(t.Context(), &pubsub.Message{Data: []byte("x"), OrderingKey: "k"})
	if !errors.Is(err, ErrOrderingNotEnabled) || !strings.Contains(err.Error(), "Publish.Ordering") {
		t.Errorf("an ordering key on a publisher without ordering: %v, want ErrOrderingNotEnabled naming Publish.Ordering", err)
	}
	for _, bad := range []*pubsub.Message{
		{},
		{Data: []byte("x"), Attributes: map[string]string{"goog-x": "reserved"}},
		{Data: []byte("x"), Attributes: map[string]string{"a": "\xff"}},
	} {
		if _, err := unordered.PublishMessage(t.Context(), bad); !errors.Is(err, gizmo.ErrInvalidMessage) {
			t.Errorf("PublishMessage(%+v) = %v, want ErrInvalidMessage", bad, err)
		}
	}

	cfg.Publish.Ordering = true
	ordered := f.publisher(cfg)
	id, err := ordered.PublishMessage(t.Context(), &pubsub.Message{Data: []byte("foreign"), OrderingKey: "order-7", Attributes: map[string]string{"a": "b"}})
	if err != nil || id == "" {
		t.Fatalf("PublishMessage = %q, %v", id, err)
	}
	malformed := map[string]string{wire.EscapePrefix + "!!": "x"}
	if _, err := ordered.PublishMessage(t.Context(), &pubsub.Message{Data: []byte("odd"), Attributes: malformed}); err != nil {
		t.Fatal(err)
	}
	ch := f.subscriber(cfg).Start()
	for range 2 {
		m := recv(t, ch, "the raw messages")
		switch string(m.Message()) {
		case "foreign":
			if m.Key() != "order-7" || m.Attributes()["a"] != "b" || m.ID() != id || m.DecodeError() != nil {
				t.Errorf("foreign message: key %q attributes %q ID %q (want %q), decode error %v", m.Key(), m.Attributes(), m.ID(), id, m.DecodeError())
			}
		case "odd":
			if m.DecodeError() == nil || m.Attributes()[wire.EscapePrefix+"!!"] != "x" {
				t.Errorf("malformed message: attributes %q, decode error %v; want them as they travelled, and the error", m.Attributes(), m.DecodeError())
			}
		default:
			t.Errorf("unexpected %q", m.Message())
		}
		_ = m.Done()
	}
}

// TestPublishRefusals checks what a publisher refuses up front.
func TestPublishRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	topic, _ := f.topicAndSub(nil)
	p := f.publisher(f.config(topic, ""))
	if err := p.PublishRaw(t.Context(), "k", []byte("x"), gizmo.WithDeduplicationID("id-1")); !errors.Is(err, gizmo.ErrNotSupported) {
		t.Errorf("WithDeduplicationID = %v, want ErrNotSupported", err)
	}
	err := p.PublishBatch(t.Context(), []gizmo.Message{{Payload: []byte("x"), DeduplicationID: "id-2"}})
	if !errors.Is(err, gizmo.ErrNotSupported) {
		t.Errorf("PublishBatch with a DeduplicationID = %v, want ErrNotSupported", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := p.PublishRaw(ctx, "", []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("PublishRaw with a canceled context = %v", err)
	}
}
