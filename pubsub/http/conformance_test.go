package http_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
	pubsubhttp "github.com/seed8104ecd5/gizmo/pubsub/http"
	"github.com/seed8104ecd5/gizmo/pubsub/pubsubtest"
)

// TestConformance runs the pubsub conformance suite, Consume part
// included, against publishers and push subscribers talking over a real
// HTTP server on 127.0.0.1, once in each format the publisher sends.
func TestConformance(t *testing.T) {
	for _, f := range []pubsubhttp.Format{pubsubhttp.FormatRaw, pubsubhttp.FormatPubSub} {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			pubsubtest.RunConformance(t, newHarness(t, f))
		})
	}
}

// The harness's settings. The suite waits 1.5 ack deadlines for things
// that must not happen and expects a Nack back within half of one.
const (
	harnessAckDeadline = 4 * time.Second
	harnessSecret      = "conformance secret"
)

// harness maps the suite's words onto HTTP. A topic is a URL: each topic
// has its own server on 127.0.0.1, as each push endpoint is a service of
// its own. A subscription is what serves that URL: a round-robin over the
// push subscribers made for it (NewSubscriber), as a load balancer spreads
// requests over replicas, sending each request to a subscriber that is
// Ready and answering 503 when none is. A topic with no subscription
// answers 404, as a URL with nothing mounted does. Restarting closes the
// servers of the calling test's topics, with their listeners and every
// connection, and serves again on the same addresses; the publishers'
// retries carry the messages across.
type harness struct {
	cfg     pubsubhttp.Config
	missing string // a URL that answers 404
	n       atomic.Int64

	mu     sync.Mutex
	topics map[string]*endpoint // URL -> endpoint
	subs   map[string]*endpoint // subscription name -> endpoint
}

// endpoint is one topic: its server, and its subscription.
type endpoint struct {
	url   string
	owner testing.TB // the test that created it
	dedup pubsubhttp.Deduplicator
	rr    atomic.Uint64

	srvMu sync.Mutex
	srv   *http.Server

	mu     sync.Mutex
	hasSub bool
	subs   []*pubsubhttp.Subscriber
}

// pushPath is the path of every topic URL.
const pushPath = "/push"

func newHarness(t *testing.T, f pubsubhttp.Format) *harness {
	h := &harness{
		cfg: pubsubhttp.Config{
			Format:         f,
			Subscription:   "projects/gizmo/subscriptions/conformance",
			AckDeadline:    harnessAckDeadline,
			MaxLease:       30 * time.Second,
			AttemptTimeout: 40 * time.Second,
			InitialBackoff: 20 * time.Millisecond,
			MaxBackoff:     200 * time.Millisecond,
			Secret:         harnessSecret,
		},
		topics: make(map[string]*endpoint),
		subs:   make(map[string]*endpoint),
	}
	missing := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(missing.Close)
	h.missing = missing.URL + pushPath
	return h
}

func (ep *endpoint) serve(ln net.Listener) {
	ep.srv = &http.Server{Handler: ep, ReadHeaderTimeout: 10 * time.Second}
	srv := ep.srv
	go func() { _ = srv.Serve(ln) }()
}

func (ep *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ep.mu.Lock()
	subs, hasSub := ep.subs, ep.hasSub
	ep.mu.Unlock()
	if !hasSub || r.URL.Path != pushPath {
		http.NotFound(w, r)
		return
	}
	if n := uint64(len(subs)); n > 0 {
		start := ep.rr.Add(1)
		for i := range n {
			if s := subs[(start+i)%n]; s.Ready(r.Context()) == nil {
				s.ServeHTTP(w, r)
				return
			}
		}
	}
	http.Error(w, "no subscriber is running", http.StatusServiceUnavailable)
}

func (h *harness) CreateTopic(_ context.Context, t testing.TB) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	ep := &endpoint{
		url:   "http://" + ln.Addr().String() + pushPath,
		owner: t,
		dedup: pubsubhttp.NewMemoryDeduplicator(time.Minute, 10000),
	}
	ep.serve(ln)
	h.mu.Lock()
	h.topics[ep.url] = ep
	h.mu.Unlock()
	t.Cleanup(func() {
		h.mu.Lock()
		delete(h.topics, ep.url)
		h.mu.Unlock()
		ep.srvMu.Lock()
		defer ep.srvMu.Unlock()
		_ = ep.srv.Close()
	})
	return ep.url, nil
}

func (h *harness) CreateSubscription(_ context.Context, t testing.TB, topic string, _ pubsubtest.SubscriptionOptions) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ep := h.topics[topic]
	if ep == nil {
		return "", fmt.Errorf("harness: no topic %q", topic)
	}
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.hasSub {
		return "", fmt.Errorf("harness: topic %q has a subscription already: a URL is one endpoint (FanOut is a gap)", topic)
	}
	ep.hasSub = true
	name := fmt.Sprintf("sub-%d", h.n.Add(1))
	h.subs[name] = ep
	t.Cleanup(func() {
		h.mu.Lock()
		delete(h.subs, name)
		h.mu.Unlock()
	})
	return name, nil
}

func (h *harness) NewPublisher(ctx context.Context, topic string) (pubsub.Publisher, error) {
	cfg := h.cfg
	cfg.URL = topic
	return pubsubhttp.NewPublisher(ctx, cfg)
}

func (h *harness) NewSubscriber(_ context.Context, name string) (pubsub.Subscriber, error) {
	h.mu.Lock()
	ep := h.subs[name]
	h.mu.Unlock()
	if ep == nil {
		return nil, fmt.Errorf("harness: subscription %q: %w", name, pubsub.ErrSubscriptionNotFound)
	}
	s, err := pubsubhttp.NewSubscriber(h.cfg, pubsubhttp.WithDeduplicator(ep.dedup))
	if err != nil {
		return nil, err
	}
	ep.mu.Lock()
	ep.subs = append(ep.subs, s)
	ep.mu.Unlock()
	return s, nil
}

func (h *harness) Capabilities() pubsubtest.Capabilities {
	return pubsubtest.Capabilities{
		AckDeadline:     harnessAckDeadline,
		MaxPayloadBytes: pubsubhttp.DefaultMaxPayloadBytes,
		MaxAttributes:   pubsubhttp.DefaultMaxAttributes,
		MissingTopic:    h.missing,
		Gaps: map[pubsubtest.Feature]string{
			pubsubtest.FeatureBacklog: "there is no broker: a message exists only while its publisher retries it, and Publish returns once a subscriber settled it, so nothing holds messages for a subscriber that does not run yet",
			pubsubtest.FeatureFanOut:  "a topic is a URL: a publish reaches the one endpoint there, not several subscriptions",
		},
	}
}

// RestartServer closes the servers of t's topics, their listeners and
// every connection, and serves again on the same addresses (Go's
// listeners set SO_REUSEADDR, so a port is free at once).
func (h *harness) RestartServer(_ context.Context, t testing.TB) error {
	h.mu.Lock()
	var eps []*endpoint
	for _, ep := range h.topics {
		if ep.owner == t {
			eps = append(eps, ep)
		}
	}
	h.mu.Unlock()
	if len(eps) == 0 {
		return fmt.Errorf("harness: test %s has no topic to restart", t.Name())
	}
	for _, ep := range eps {
		if err := ep.restart(); err != nil {
			return err
		}
	}
	return nil
}

func (ep *endpoint) restart() error {
	ep.srvMu.Lock()
	defer ep.srvMu.Unlock()
	if err := ep.srv.Close(); err != nil {
		return err
	}
	u, err := url.Parse(ep.url)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", u.Host)
	if err != nil {
		return err
	}
	ep.serve(ln)
	return nil
}

var _ pubsubtest.Restarter = (*harness)(nil)
