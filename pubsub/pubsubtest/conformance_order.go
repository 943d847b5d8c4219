package pubsubtest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// testKeyOrder publishes interleaved sequences for a few keys to an ordered
// subscription, consumes them with two subscribers, Nacks the first
// delivery of some messages, and checks that, per key, no message was
// delivered before the previous one was Done.
func testKeyOrder(t *testing.T, s *suite) {
	const keys, perKey = 3, 20
	topic := s.topic(t)
	sub := s.subscription(t, topic, SubscriptionOptions{OrderedKeys: true})
	p := s.publisher(t, topic)
	for i := range perKey {
		for k := range keys {
			s.publish(t, p, fmt.Sprint("key-", k), fmt.Appendf(nil, "%s|%d", s.run, i))
		}
	}
	var mu sync.Mutex
	seen := make(map[string][]int) // key -> sequence numbers in delivery order
	done := make(map[string][]int) // key -> sequence numbers in Done order
	nacked := make(map[string]bool)
	finished := 0
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
				var run string
				var seq int
				if _, err := fmt.Sscanf(string(bytes.ReplaceAll(m.Message(), []byte("|"), []byte(" "))), "%s %d", &run, &seq); err != nil || run != s.run {
					t.Errorf("unexpected payload %q", m.Message())
					_ = m.Done()
					continue
				}
				id := fmt.Sprintf("%s/%d", m.Key(), seq)
				mu.Lock()
				seen[m.Key()] = append(seen[m.Key()], seq)
				if seq%5 == 2 && !nacked[id] {
					nacked[id] = true
					mu.Unlock()
					_ = m.Nack()
					continue
				}
				done[m.Key()] = append(done[m.Key()], seq)
				finished++
				if finished == keys*perKey {
					close(all)
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
	for k := range keys {
		key := fmt.Sprint("key-", k)
		for i := 1; i < len(seen[key]); i++ {
			if seen[key][i] < seen[key][i-1] {
				t.Errorf("key %q: delivery order %v goes backwards (a later message was delivered while an earlier one was outstanding)", key, seen[key])
				break
			}
		}
		for i, seq := range done[key] {
			if seq != i {
				t.Errorf("key %q: Done order %v, want 0..%d in order", key, done[key], perKey-1)
				break
			}
		}
		if len(done[key]) != perKey {
			t.Errorf("key %q: %d of %d messages delivered", key, len(done[key]), perKey)
		}
	}
}
