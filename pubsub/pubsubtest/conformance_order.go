package pubsubtest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// testKeyOrder publishes interleaved sequences for a few keys to an ordered
// subscription, each message with a payload of its own (so that FIFO
// content deduplication keeps them all), consumes them with two
// subscribers, Nacks the first delivery of some messages, and checks the
// contract's rule: per key, first deliveries arrive in publish order; a
// redelivery may be followed by repeats of later messages of its key.
func testKeyOrder(t *testing.T, s *suite) {
	const keys, perKey = 3, 20
	topic := s.topic(t)
	sub := s.subscription(t, topic, SubscriptionOptions{OrderedKeys: true})
	p := s.publisher(t, topic)
	for i := range perKey {
		for k := range keys {
			key := fmt.Sprint("key-", k)
			s.publish(t, p, key, fmt.Appendf(nil, "%s|%s|%d", s.run, key, i))
		}
	}
	var mu sync.Mutex
	next := make(map[string]int)       // key -> number of distinct messages delivered so far
	seen := make(map[string]bool)      // key/seq delivered at least once
	nacked := make(map[string]bool)    // key/seq Nacked once
	done := make(map[string]bool)      // key/seq Done
	var order = make(map[string][]int) // key -> delivery order, for the failure message
	all := make(chan struct{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		ch := s.subscriber(t, sub).Start()
		wg.Go(func() {
			for {
				var m pubsub.SubscriberMessage
				var ok bool
				select {
				case <-stop:
					return
				case m, ok = <-ch:
					if !ok {
						return
					}
				}
				var run, key string
				var seq int
				parts := strings.Split(string(m.Message()), "|")
				if len(parts) != 3 {
					t.Errorf("unexpected payload %q", m.Message())
					_ = m.Done()
					continue
				}
				run, key = parts[0], parts[1]
				if _, err := fmt.Sscan(parts[2], &seq); err != nil || run != s.run || key != m.Key() {
					t.Errorf("unexpected payload %q for key %q", m.Message(), m.Key())
					_ = m.Done()
					continue
				}
				id := fmt.Sprintf("%s/%d", key, seq)
				mu.Lock()
				order[key] = append(order[key], seq)
				if !seen[id] {
					if seq != next[key] {
						t.Errorf("key %q: message %d delivered for the first time after %d distinct ones (delivery order %v): first deliveries must follow publish order",
							key, seq, next[key], order[key])
					}
					seen[id] = true
					next[key]++
				}
				if seq%5 == 2 && !nacked[id] {
					nacked[id] = true
					mu.Unlock()
					_ = m.Nack()
					continue
				}
				if !done[id] {
					done[id] = true
					if len(done) == keys*perKey {
						close(all)
					}
				}
				mu.Unlock()
				_ = m.Done()
			}
		})
	}
	timer := time.NewTimer(3 * s.caps.Timeout)
	select {
	case <-all:
	case <-timer.C:
	}
	timer.Stop()
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(done) != keys*perKey {
		t.Errorf("%d of %d messages were delivered and Done", len(done), keys*perKey)
	}
}
