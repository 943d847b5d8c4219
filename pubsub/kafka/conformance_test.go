package kafka_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/kafka"
	"github.com/seed8104ecd5/gizmo/pubsub/pubsubtest"
)

// TestConformance runs the pubsub conformance suite, Consume part
// included, against kfake: a topic is a 3-partition topic, and a
// subscription a consumer group that InitGroup has pointed at the topic's
// newest offsets.
func TestConformance(t *testing.T) {
	pubsubtest.RunConformance(t, newHarness(t))
}

// harness plugs the adapter into the suite. Topics live on the broker that
// scripts/testenv started, except those of the Reconnect case, which live
// on a private broker with a data dir that RestartServer restarts: a
// restart drops every group's members and the marks not yet committed, so
// the other cases, which run in parallel and check that nothing comes back
// when it must not, would see redeliveries Kafka allows but they refuse.
// TestBrokerRestart covers the adapter's side of that.
type harness struct {
	shared string

	mu       sync.Mutex
	private  *broker
	brokerOf map[string]string // topic -> broker address
}

const harnessSep = "|" // in subscription names: topic|group; not allowed in topic names

func newHarness(t *testing.T) *harness {
	return &harness{shared: sharedBroker(t), brokerOf: make(map[string]string)}
}

func (h *harness) addrFor(t testing.TB) string {
	if !strings.HasSuffix(t.Name(), "/Reconnect") {
		return h.shared
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.private == nil {
		dir, err := os.MkdirTemp("", "gizmo-kfake-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		h.private = startBroker(t, dir)
	}
	return h.private.Addr()
}

func (h *harness) CreateTopic(_ context.Context, t testing.TB) (string, error) {
	addr := h.addrFor(t)
	name := createTopic(t, addr, 3)
	h.mu.Lock()
	h.brokerOf[name] = addr
	h.mu.Unlock()
	return name, nil
}

func (h *harness) addr(topic string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if a, ok := h.brokerOf[topic]; ok {
		return a
	}
	return h.shared
}

func (h *harness) CreateSubscription(ctx context.Context, t testing.TB, topic string, _ pubsubtest.SubscriptionOptions) (string, error) {
	group := randomName("gizmo-g-")
	cfg := testConfig(h.addr(topic), []string{topic}, group)
	cfg.InitialOffset = "newest"
	if err := kafka.InitGroup(ctx, cfg); err != nil {
		return "", err
	}
	return topic + harnessSep + group, nil
}

func (h *harness) NewPublisher(ctx context.Context, topic string) (pubsub.Publisher, error) {
	p, err := kafka.NewPublisher(ctx, testConfig(h.addr(topic), []string{topic}, ""))
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (h *harness) NewSubscriber(ctx context.Context, sub string) (pubsub.Subscriber, error) {
	topic, group, ok := strings.Cut(sub, harnessSep)
	if !ok {
		return nil, fmt.Errorf("harness: malformed subscription %q", sub)
	}
	s, err := kafka.NewSubscriber(ctx, testConfig(h.addr(topic), []string{topic}, group))
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (h *harness) RestartServer(_ context.Context, t testing.TB) error {
	h.mu.Lock()
	b := h.private
	h.mu.Unlock()
	if b == nil {
		return fmt.Errorf("harness: RestartServer from %s, which has no private broker", t.Name())
	}
	b.restart()
	return nil
}

func (h *harness) Capabilities() pubsubtest.Capabilities {
	return pubsubtest.Capabilities{
		// Kafka has no deadline; this is what ExtendDeadline asks for and
		// the Consume cases' lease. The harness's RevokeTimeout is 2s.
		AckDeadline:         2 * time.Second,
		DrainTimeout:        2 * time.Second,
		Timeout:             15 * time.Second,
		MaxPayloadBytes:     kafka.DefaultMaxMessageBytes - 36,
		MissingTopic:        randomName("gizmo-missing-"),
		MissingSubscription: randomName("gizmo-missing-") + harnessSep + randomName("gizmo-g-"),
		Gaps: map[pubsubtest.Feature]string{
			pubsubtest.FeatureLeaseExpiry:     "Kafka puts no deadline on a delivery: it stays with the member until it is settled or its partition is revoked",
			pubsubtest.FeatureIndependentAcks: "Kafka commits one offset per partition: a Done becomes durable once every earlier record of its partition is settled",
			pubsubtest.FeatureDeduplication:   "Kafka does not deduplicate by ID; the idempotent producer drops only the duplicates of its own retries",
		},
	}
}
