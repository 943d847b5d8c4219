package pubsubtest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/mem"
)

// These tests prove that RunConformance catches broken backends. Each runs
// the suite against a deliberately broken broker in a child process (the
// test binary itself, selected by brokenEnv) and checks that the child fails
// in the subtest that covers the broken promise.

const brokenEnv = "GIZMO_PUBSUBTEST_BROKEN"

func TestBrokenNackConformance(t *testing.T) {
	if os.Getenv(brokenEnv) != "nack" {
		expectChildFailure(t, "TestBrokenNackConformance", "Nack|StableIDs", "nack",
			"TestBrokenNackConformance/Nack", "TestBrokenNackConformance/StableIDs")
		return
	}
	h := &wrapHarness{Harness: NewMemHarness(t, mem.SubscriptionConfig{})}
	h.wrapSub = func(r pubsub.Subscriber) pubsub.Subscriber { return newNacklessSubscriber(r) }
	RunConformance(t, h)
}

func TestBrokenAttributesConformance(t *testing.T) {
	if os.Getenv(brokenEnv) != "attributes" {
		expectChildFailure(t, "TestBrokenAttributesConformance", "RoundTrip|Batch", "attributes",
			"TestBrokenAttributesConformance/RoundTrip/Attributes", "TestBrokenAttributesConformance/Batch")
		return
	}
	h := &wrapHarness{Harness: NewMemHarness(t, mem.SubscriptionConfig{})}
	h.wrapPub = func(p pubsub.Publisher) pubsub.Publisher { return attributeDropper{p.(pubsub.MultiPublisher)} }
	RunConformance(t, h)
}

// expectChildFailure re-runs the test binary with brokenEnv=mode, limited to
// the named subtests of test, and checks that it fails in each of wantFail.
func expectChildFailure(t *testing.T, test, subtests, mode string, wantFail ...string) {
	t.Helper()
	t.Parallel()
	cmd := exec.CommandContext(t.Context(), os.Args[0],
		"-test.run=^"+test+"$/^("+subtests+")$", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), brokenEnv+"="+mode)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("the conformance suite run against a broker with broken %s: want a failing exit, got %v\n%s", mode, err, out)
	}
	for _, name := range wantFail {
		if !bytes.Contains(out, []byte("--- FAIL: "+name+" (")) {
			t.Errorf("the broken-%s run did not report %q as failed; output:\n%s", mode, name, out)
		}
	}
}

// wrapHarness breaks the publishers or subscribers of a harness on purpose.
type wrapHarness struct {
	Harness
	wrapPub func(pubsub.Publisher) pubsub.Publisher
	wrapSub func(pubsub.Subscriber) pubsub.Subscriber
}

func (h *wrapHarness) NewPublisher(ctx context.Context, topic string) (pubsub.Publisher, error) {
	p, err := h.Harness.NewPublisher(ctx, topic)
	if err != nil || h.wrapPub == nil {
		return p, err
	}
	return h.wrapPub(p), nil
}

func (h *wrapHarness) NewSubscriber(ctx context.Context, sub string) (pubsub.Subscriber, error) {
	r, err := h.Harness.NewSubscriber(ctx, sub)
	if err != nil || h.wrapSub == nil {
		return r, err
	}
	return h.wrapSub(r), nil
}

// nacklessSubscriber delivers messages whose Nack does nothing.
type nacklessSubscriber struct {
	pubsub.Subscriber
	out chan pubsub.SubscriberMessage
}

func newNacklessSubscriber(r pubsub.Subscriber) *nacklessSubscriber {
	return &nacklessSubscriber{Subscriber: r, out: make(chan pubsub.SubscriberMessage)}
}

func (n *nacklessSubscriber) Start() <-chan pubsub.SubscriberMessage {
	in := n.Subscriber.Start()
	go func() {
		defer close(n.out)
		for m := range in {
			n.out <- nacklessMessage{m}
		}
	}()
	return n.out
}

type nacklessMessage struct{ pubsub.SubscriberMessage }

func (nacklessMessage) Nack() error { return nil }

// attributeDropper publishes without attributes.
type attributeDropper struct{ pubsub.MultiPublisher }

func (a attributeDropper) PublishRaw(ctx context.Context, key string, payload []byte, _ ...pubsub.PublishOption) error {
	return a.MultiPublisher.PublishRaw(ctx, key, payload)
}

func (a attributeDropper) PublishBatch(ctx context.Context, msgs []pubsub.Message) error {
	stripped := make([]pubsub.Message, len(msgs))
	for i, m := range msgs {
		stripped[i] = pubsub.Message{Key: m.Key, Payload: m.Payload}
	}
	return a.MultiPublisher.PublishBatch(ctx, stripped)
}
