package pubsubtest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/mem"
)

// Limits of the broker behind [NewMemHarness], which the conformance suite
// tests right at.
const (
	MemHarnessMaxBytes      = 64 << 10
	MemHarnessMaxAttributes = 16
	memHarnessAckDeadline   = 5 * time.Second // the suite expects a Nack back within half of it: room for a loaded CI machine
)

// NewMemHarness returns a [Harness] over a new [mem.Broker], closed when the
// test ends, for [RunConformance]. Its subscriptions have a 5 second ack
// deadline plus cfg's LeaseAtFetch and MaxBacklog; the broker refuses
// messages over [MemHarnessMaxBytes] bytes or [MemHarnessMaxAttributes]
// attributes. It is the harness package mem runs the suite with, and a
// short model for an adapter's own.
func NewMemHarness(t testing.TB, cfg mem.SubscriptionConfig) Harness {
	b := mem.NewBroker(mem.WithMaxMessageBytes(MemHarnessMaxBytes), mem.WithMaxAttributes(MemHarnessMaxAttributes))
	t.Cleanup(func() { _ = b.Close() })
	cfg.AckDeadline = memHarnessAckDeadline
	return &memHarness{b: b, cfg: cfg}
}

type memHarness struct {
	b   *mem.Broker
	cfg mem.SubscriptionConfig
	n   atomic.Int64
}

func (h *memHarness) CreateTopic(_ context.Context, t testing.TB) (string, error) {
	name := fmt.Sprintf("topic-%d", h.n.Add(1))
	if err := h.b.CreateTopic(name); err != nil {
		return "", err
	}
	t.Cleanup(func() { _ = h.b.DeleteTopic(name) })
	return name, nil
}

func (h *memHarness) CreateSubscription(_ context.Context, t testing.TB, topic string, opts SubscriptionOptions) (string, error) {
	name := fmt.Sprintf("sub-%d", h.n.Add(1))
	cfg := h.cfg
	cfg.OrderedKeys = opts.OrderedKeys
	if err := h.b.CreateSubscription(name, topic, cfg); err != nil {
		return "", err
	}
	t.Cleanup(func() { _ = h.b.DeleteSubscription(name) })
	return name, nil
}

func (h *memHarness) NewPublisher(_ context.Context, topic string) (pubsub.Publisher, error) {
	p, err := h.b.NewPublisher(topic)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (h *memHarness) NewSubscriber(_ context.Context, sub string) (pubsub.Subscriber, error) {
	r, err := h.b.NewSubscriber(sub)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (h *memHarness) Capabilities() Capabilities {
	return Capabilities{
		AckDeadline:     memHarnessAckDeadline,
		DrainTimeout:    time.Second,
		MaxPayloadBytes: MemHarnessMaxBytes,
		MaxAttributes:   MemHarnessMaxAttributes,
		Gaps: map[Feature]string{
			FeatureRestart: "the broker lives in the test process and keeps nothing across a restart; there is no server to restart",
		},
	}
}
