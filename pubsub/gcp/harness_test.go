package gcp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/seed8104ecd5/gizmo/internal/testenv"
	gizmo "github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/pubsubtest"
)

// Settings of the tests against pstest.
const (
	testProject = "gizmo-test"
	// pstestMaxRequest is the largest request pstest takes: gRPC's
	// default limit on a received message.
	pstestMaxRequest = 4 << 20
	// testAckExtension bounds every ack-deadline extension the client
	// sends, and is the streams' ack deadline: a message Pub/Sub sent as a
	// stream closed comes back after it. The client extends every
	// testAckExtension-5s (1s), which leaves 5s of slack on a loaded
	// machine. Pub/Sub itself takes 10s at least; pstest takes anything.
	testAckExtension = 6 * time.Second
	// testLease is the lease of a delivery, the suite's ack deadline. The
	// suite expects a message handed back within half of it, which must
	// cover testAckExtension.
	testLease = 16 * time.Second
)

// pstestAddr returns the address of the pstest that scripts/testenv
// started: the test is skipped without it, and fails under CI=true.
func pstestAddr(t testing.TB) string {
	t.Helper()
	return testenv.Addr(t, "pubsub")
}

// testConfig returns a Config for the emulator at addr with the tests'
// settings.
func testConfig(addr string) Config {
	cfg := DefaultConfig()
	cfg.ProjectID = testProject
	cfg.EmulatorHost = addr
	cfg.Publish.MaxMessageBytes = pstestMaxRequest
	cfg.Receive.MinDurationPerAckExtension = testAckExtension
	cfg.Receive.MaxDurationPerAckExtension = testAckExtension
	cfg.Receive.Lease = testLease
	cfg.Receive.NumGoroutines = 2
	return cfg
}

// newAdmin returns a client for making topics and subscriptions.
func newAdmin(t testing.TB, addr string) *pubsub.Client {
	t.Helper()
	c, err := connect(t.Context(), testConfig(addr), newOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// resources makes uniquely named topics and subscriptions on pstest and
// deletes them when the test ends.
type resources struct {
	admin *pubsub.Client
	run   string
	n     atomic.Int64
}

func newResources(t testing.TB, addr string) *resources {
	return &resources{admin: newAdmin(t, addr), run: randomHex(6)}
}

// name returns a new name of the same length as every other.
func (r *resources) name(kind string) string {
	return fmt.Sprintf("projects/%s/%s/%s-%06d", testProject, kind, r.run, r.n.Add(1))
}

func (r *resources) topic(t testing.TB) string {
	t.Helper()
	name := r.name("topics")
	if _, err := r.admin.TopicAdminClient.CreateTopic(t.Context(), &pubsubpb.Topic{Name: name}); err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = r.admin.TopicAdminClient.DeleteTopic(context.Background(), &pubsubpb.DeleteTopicRequest{Topic: name})
	})
	return name
}

// sub creates a subscription on topic; edit, if not nil, adjusts it.
func (r *resources) sub(t testing.TB, topic string, edit func(*pubsubpb.Subscription)) string {
	t.Helper()
	s := &pubsubpb.Subscription{Name: r.name("subscriptions"), Topic: topic, AckDeadlineSeconds: 10}
	if edit != nil {
		edit(s)
	}
	if _, err := r.admin.SubscriptionAdminClient.CreateSubscription(t.Context(), s); err != nil {
		t.Fatalf("create subscription %s: %v", s.Name, err)
	}
	t.Cleanup(func() {
		_ = r.admin.SubscriptionAdminClient.DeleteSubscription(context.Background(), &pubsubpb.DeleteSubscriptionRequest{Subscription: s.Name})
	})
	return s.Name
}

// harness runs the conformance suite on pstest. Each test reaches pstest
// through a TCP proxy of its own, so that RestartServer can take the
// server away from that test's clients alone.
type harness struct {
	addr string
	res  *resources

	mu      sync.Mutex
	proxies map[string]*tcpProxy // by test name
	owner   map[string]*tcpProxy // topic or subscription -> its test's proxy
	ordered map[string]bool      // topics with an ordered subscription
}

var (
	_ pubsubtest.Harness   = (*harness)(nil)
	_ pubsubtest.Restarter = (*harness)(nil)
)

func newHarness(t *testing.T) *harness {
	addr := pstestAddr(t)
	return &harness{addr: addr, res: newResources(t, addr), proxies: make(map[string]*tcpProxy), owner: make(map[string]*tcpProxy), ordered: make(map[string]bool)}
}

func (h *harness) proxyFor(t testing.TB) *tcpProxy {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.proxies[t.Name()]
	if p == nil {
		p = newProxy(t, h.addr)
		h.proxies[t.Name()] = p
	}
	return p
}

func (h *harness) own(name string, p *tcpProxy) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.owner[name] = p
}

// addrFor returns the address the clients of a topic or subscription
// use: its test's proxy, or pstest itself for names the harness did not
// make.
func (h *harness) addrFor(name string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p := h.owner[name]; p != nil {
		return p.addr
	}
	return h.addr
}

func (h *harness) CreateTopic(_ context.Context, t testing.TB) (string, error) {
	p := h.proxyFor(t)
	name := h.res.topic(t)
	h.own(name, p)
	return name, nil
}

func (h *harness) CreateSubscription(_ context.Context, t testing.TB, topic string, opts pubsubtest.SubscriptionOptions) (string, error) {
	p := h.proxyFor(t)
	name := h.res.sub(t, topic, func(s *pubsubpb.Subscription) { s.EnableMessageOrdering = opts.OrderedKeys })
	h.own(name, p)
	if opts.OrderedKeys {
		h.mu.Lock()
		h.ordered[topic] = true
		h.mu.Unlock()
	}
	return name, nil
}

// NewPublisher returns a publisher with ordering for a topic that has an
// ordered subscription, since ordering is the publisher's to ask for on
// Pub/Sub, and one without it elsewhere.
func (h *harness) NewPublisher(ctx context.Context, topic string) (gizmo.Publisher, error) {
	cfg := testConfig(h.addrFor(topic))
	cfg.Topic = topic
	h.mu.Lock()
	cfg.Publish.Ordering = h.ordered[topic]
	h.mu.Unlock()
	return NewPublisher(ctx, cfg)
}

func (h *harness) NewSubscriber(ctx context.Context, sub string) (gizmo.Subscriber, error) {
	cfg := testConfig(h.addrFor(sub))
	cfg.Subscription = sub
	return NewSubscriber(ctx, cfg)
}

// RestartServer restarts the server as the test's clients see it. pstest
// keeps everything in memory, so restarting its process loses every topic,
// subscription and message, which a restart must keep. So the proxy in
// front of it restarts instead: it drops every connection, refuses new
// ones for a moment, and serves again on the same address, with the data
// intact. That is all a client can observe of a restart; what a restart
// does inside the server is out of reach. TestServerProcessRestart
// restarts a pstest process itself.
func (h *harness) RestartServer(_ context.Context, t testing.TB) error {
	p := h.proxyFor(t)
	p.down()
	time.Sleep(300 * time.Millisecond) // the outage
	return p.up("")
}

func (h *harness) Capabilities() pubsubtest.Capabilities {
	// The suite's limit message has no key and no attributes; every
	// topic name has the same length.
	topic := h.res.name("topics")
	maxPayload := 0
	for n := pstestMaxRequest; n > 0; n-- {
		if requestSize(topic, &pubsub.Message{Data: make([]byte, n)}) <= pstestMaxRequest {
			maxPayload = n
			break
		}
	}
	return pubsubtest.Capabilities{
		AckDeadline:     testLease,
		Timeout:         15 * time.Second,
		MaxPayloadBytes: maxPayload,
		MaxAttributes:   MaxAttributes - 1, // gizmo-key counts
		Gaps: map[pubsubtest.Feature]string{
			pubsubtest.FeatureDeduplication: "Pub/Sub does not deduplicate on publish (exactly-once delivery is about acknowledgements); WithDeduplicationID fails with ErrNotSupported",
		},
		MissingTopic:        fmt.Sprintf("projects/%s/topics/missing-%s", testProject, randomHex(6)),
		MissingSubscription: fmt.Sprintf("projects/%s/subscriptions/missing-%s", testProject, randomHex(6)),
	}
}
