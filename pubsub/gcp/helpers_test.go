package gcp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	gizmo "github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/pubsubtest"
)

// waitFor bounds every wait for something that should happen.
const waitFor = 30 * time.Second

// fixture is what an integration test needs: pstest's address and
// topics and subscriptions that are deleted when the test ends.
type fixture struct {
	t    *testing.T
	addr string
	res  *resources
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	addr := pstestAddr(t)
	return &fixture{t: t, addr: addr, res: newResources(t, addr)}
}

// topicAndSub makes a topic and a subscription on it; edit adjusts the
// subscription.
func (f *fixture) topicAndSub(edit func(*pubsubpb.Subscription)) (topic, sub string) {
	f.t.Helper()
	topic = f.res.topic(f.t)
	return topic, f.res.sub(f.t, topic, edit)
}

// config returns the tests' Config for topic and sub, reaching pstest
// at addr (pstest itself when empty).
func (f *fixture) config(topic, sub string) Config {
	cfg := testConfig(f.addr)
	cfg.Topic, cfg.Subscription = topic, sub
	return cfg
}

func (f *fixture) publisher(cfg Config, opts ...Option) *Publisher {
	f.t.Helper()
	p, err := NewPublisher(f.t.Context(), cfg, opts...)
	if err != nil {
		f.t.Fatalf("NewPublisher: %v", err)
	}
	f.t.Cleanup(func() { _ = p.Close() })
	return p
}

// subscriber returns a subscriber that is stopped when the test ends.
func (f *fixture) subscriber(cfg Config, opts ...Option) *Subscriber {
	f.t.Helper()
	r, err := NewSubscriber(f.t.Context(), cfg, opts...)
	if err != nil {
		f.t.Fatalf("NewSubscriber: %v", err)
	}
	f.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Stop(ctx)
	})
	return r
}

func (f *fixture) publish(p *Publisher, key, payload string, opts ...gizmo.PublishOption) {
	f.t.Helper()
	if err := p.PublishRaw(f.t.Context(), key, []byte(payload), opts...); err != nil {
		f.t.Fatalf("PublishRaw(%q, %q): %v", key, payload, err)
	}
}

// recv returns the next delivery, failing the test if none comes within
// waitFor or the channel closes.
func recv(t testing.TB, ch <-chan gizmo.SubscriberMessage, what string) *Message {
	t.Helper()
	return pubsubtest.Receive(t, ch, waitFor, what).(*Message)
}

// expectNone fails the test if a message is delivered within d; unlike
// pubsubtest.ExpectNone it lets the channel close meanwhile.
func expectNone(t testing.TB, ch <-chan gizmo.SubscriberMessage, d time.Duration, why string) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case m, ok := <-ch:
		if ok {
			t.Errorf("%s: got %q", why, m.Message())
		}
	case <-timer.C:
	}
}

// tally counts deliveries by payload, from any number of goroutines.
type tally struct {
	mu    sync.Mutex
	seen  map[string]int
	all   chan struct{}
	added chan struct{} // capacity 1: something was added since the last receive
	want  map[string]bool
	found int
}

func newTally(want map[string]bool) *tally {
	return &tally{seen: make(map[string]int), all: make(chan struct{}), added: make(chan struct{}, 1), want: want}
}

// add records one delivery and reports whether it was its first.
func (c *tally) add(payload string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case c.added <- struct{}{}:
	default:
	}
	c.seen[payload]++
	if c.seen[payload] == 1 && c.want[payload] {
		c.found++
		if c.found == len(c.want) {
			close(c.all)
		}
	}
	return c.seen[payload] == 1
}

// wait waits until every wanted payload was seen, or d passes.
func (c *tally) wait(d time.Duration) {
	select {
	case <-c.all:
	case <-time.After(d):
	}
}

// missing and duplicates report the outcome.
func (c *tally) missing() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for p := range c.want {
		if c.seen[p] == 0 {
			out = append(out, p)
		}
	}
	return out
}

func (c *tally) duplicates() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, k := range c.seen {
		n += k - 1
	}
	return n
}

// payloads returns n distinct payloads with a prefix.
func payloads(prefix string, n int) (list []string, set map[string]bool) {
	set = make(map[string]bool, n)
	for i := range n {
		p := fmt.Sprintf("%s-%03d", prefix, i)
		list = append(list, p)
		set[p] = true
	}
	return list, set
}

// drainInto settles every delivery of ch with Done and records it in c,
// until ctx ends or ch closes.
func drainInto(ctx context.Context, t testing.TB, ch <-chan gizmo.SubscriberMessage, c *tally) {
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			c.add(string(m.Message()))
			if err := m.Done(); err != nil && !errors.Is(err, gizmo.ErrLeaseLost) {
				t.Errorf("Done: %v", err)
			}
		}
	}
}
