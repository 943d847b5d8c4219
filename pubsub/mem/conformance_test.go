package pubsubtest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// brokerHarness plugs a Broker into RunConformance. The wrap functions, when
// set, let tests break the broker on purpose.
type brokerHarness struct {
	b       *Broker
	n       atomic.Int64
	wrapPub func(pubsub.Publisher) pubsub.Publisher
	wrapSub func(pubsub.Subscriber) pubsub.Subscriber
}

const (
	harnessAckDeadline = 5 * time.Second // the suite expects a Nack back within half of it: leave room for a loaded CI machine
	harnessDrain       = time.Second
)

func newBrokerHarness(t *testing.T) *brokerHarness {
	b := NewBroker()
	t.Cleanup(func() { _ = b.Close() })
	return &brokerHarness{b: b}
}

func (h *brokerHarness) CreateTopic(_ context.Context, t testing.TB) (string, error) {
	name := fmt.Sprintf("topic-%d", h.n.Add(1))
	if err := h.b.CreateTopic(name); err != nil {
		return "", err
	}
	t.Cleanup(func() { _ = h.b.DeleteTopic(name) })
	return name, nil
}

func (h *brokerHarness) CreateSubscription(_ context.Context, t testing.TB, topic string, opts SubscriptionOptions) (string, error) {
	name := fmt.Sprintf("sub-%d", h.n.Add(1))
	cfg := SubscriptionConfig{AckDeadline: harnessAckDeadline, OrderedKeys: opts.OrderedKeys}
	if err := h.b.CreateSubscription(name, topic, cfg); err != nil {
		return "", err
	}
	t.Cleanup(func() { _ = h.b.DeleteSubscription(name) })
	return name, nil
}

func (h *brokerHarness) NewPublisher(_ context.Context, topic string) (pubsub.Publisher, error) {
	p, err := h.b.NewPublisher(topic)
	if err != nil || h.wrapPub == nil {
		return p, err
	}
	return h.wrapPub(p), nil
}

func (h *brokerHarness) NewSubscriber(_ context.Context, sub string) (pubsub.Subscriber, error) {
	r, err := h.b.NewSubscriber(sub, WithDrainTimeout(harnessDrain))
	if err != nil || h.wrapSub == nil {
		return r, err
	}
	return h.wrapSub(r), nil
}

func (h *brokerHarness) Capabilities() Capabilities {
	return Capabilities{AckDeadline: harnessAckDeadline, DrainTimeout: harnessDrain}
}

func TestBrokerConformance(t *testing.T) {
	RunConformance(t, newBrokerHarness(t))
}
