package gcp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	gizmo "github.com/seed8104ecd5/gizmo/pubsub"
)

// TestOrderingKeys publishes interleaved sequences for several keys with
// an ordered PublishBatch and consumes them with four goroutines, so that
// several keys are in flight at once, Nacking some messages the first
// time. Per key: first deliveries follow publish order, no message is
// offered while an earlier one of its key is unsettled, and every message
// is eventually Done.
func TestOrderingKeys(t *testing.T) {
	t.Parallel()
	const keys, perKey = 4, 25
	f := newFixture(t)
	topic, sub := f.topicAndSub(func(s *pubsubpb.Subscription) { s.EnableMessageOrdering = true })
	cfg := f.config(topic, sub)
	cfg.Publish.Ordering = true
	p := f.publisher(cfg)
	var msgs []gizmo.Message
	for i := range perKey {
		for k := range keys {
			msgs = append(msgs, gizmo.Message{Key: fmt.Sprint("key-", k), Payload: fmt.Appendf(nil, "key-%d|%d", k, i)})
		}
	}
	if err := p.PublishBatch(t.Context(), msgs); err != nil {
		t.Fatalf("PublishBatch: %v", err)
	}

	var mu sync.Mutex
	next := make(map[string]int)    // distinct messages delivered per key
	held := make(map[string]string) // key -> the payload in the application's hands
	nacked := make(map[string]bool) // payloads Nacked once
	done := make(map[string]bool)   // payloads Done
	order := make(map[string][]int) // delivery order per key, for failure messages
	backFirst, backLater := 0, 0    // after a Nack: redelivered before / after a later message of its key
	pendingBack := map[string]int{} // key -> seq Nacked and not yet seen again
	all := make(chan struct{})
	ch := f.subscriber(cfg).Start()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				var m gizmo.SubscriberMessage
				select {
				case <-ctx.Done():
					return
				case m = <-ch:
				}
				key, seqText, _ := strings.Cut(string(m.Message()), "|")
				seq, _ := strconv.Atoi(seqText)
				mu.Lock()
				if key != m.Key() {
					t.Errorf("payload %q delivered with key %q", m.Message(), m.Key())
				}
				if h, busy := held[key]; busy {
					t.Errorf("key %s: %q offered while %q was still unsettled", key, m.Message(), h)
				}
				held[key] = string(m.Message())
				order[key] = append(order[key], seq)
				if back, ok := pendingBack[key]; ok {
					if back == seq {
						backFirst++
					} else if seq > back {
						backLater++
					}
					if back == seq {
						delete(pendingBack, key)
					}
				}
				if seq == next[key] {
					next[key]++
				} else if seq > next[key] {
					t.Errorf("key %s: message %d delivered before %d (order %v)", key, seq, next[key], order[key])
				}
				nack := seq%4 == 1 && !nacked[string(m.Message())]
				if nack {
					nacked[string(m.Message())] = true
					pendingBack[key] = seq
				}
				mu.Unlock()

				// The handler takes a moment, so that the other goroutines
				// hold other keys meanwhile.
				time.Sleep(2 * time.Millisecond)
				mu.Lock()
				delete(held, key)
				mu.Unlock()
				if nack {
					if err := m.Nack(); err != nil {
						t.Errorf("Nack: %v", err)
					}
					continue
				}
				if err := m.Done(); err != nil {
					t.Errorf("Done: %v", err)
				}
				mu.Lock()
				done[string(m.Message())] = true
				if len(done) == keys*perKey {
					close(all)
				}
				mu.Unlock()
			}
		})
	}
	select {
	case <-all:
	case <-time.After(2 * waitFor):
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(done) != keys*perKey {
		t.Errorf("%d of %d messages were Done", len(done), keys*perKey)
	}
	t.Logf("after a Nack, the message came back before the next of its key %d times, after it %d times", backFirst, backLater)
}

// TestOrderingKeysConsume runs Consume with ordered keys and failing first
// attempts over an ordered subscription: per key, handlers succeed in
// publish order, across retries and Nacks.
func TestOrderingKeysConsume(t *testing.T) {
	t.Parallel()
	const keys, perKey = 3, 15
	f := newFixture(t)
	topic, sub := f.topicAndSub(func(s *pubsubpb.Subscription) { s.EnableMessageOrdering = true })
	cfg := f.config(topic, sub)
	cfg.Publish.Ordering = true
	p := f.publisher(cfg)
	for i := range perKey {
		for k := range keys {
			f.publish(p, fmt.Sprint("key-", k), fmt.Sprintf("%d", i))
		}
	}
	var mu sync.Mutex
	succeeded := make(map[string][]int)
	tried := make(map[string]bool)
	total := 0
	all := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	res := make(chan error, 1)
	r := f.subscriber(cfg)
	go func() {
		res <- gizmo.Consume(ctx, r, func(_ context.Context, m gizmo.SubscriberMessage) error {
			seq, _ := strconv.Atoi(string(m.Message()))
			id := m.Key() + "/" + string(m.Message())
			mu.Lock()
			defer mu.Unlock()
			if seq%3 == 2 && !tried[id] {
				tried[id] = true
				if seq%2 == 0 {
					_ = m.Nack() // handed back to Pub/Sub, not retried in process
					return nil
				}
				return errors.New("first attempt fails")
			}
			succeeded[m.Key()] = append(succeeded[m.Key()], seq)
			if total++; total == keys*perKey {
				close(all)
			}
			return nil
		}, gizmo.WithOrderedKeys(), gizmo.WithConcurrency(4),
			gizmo.WithRetry(gizmo.RetryPolicy{MaxAttempts: 3, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Jitter: -1}))
	}()
	select {
	case <-all:
	case <-time.After(2 * waitFor):
	}
	cancel()
	if err := <-res; err != nil {
		t.Errorf("Consume = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for k := range keys {
		key := fmt.Sprint("key-", k)
		got := succeeded[key]
		ok := len(got) == perKey
		for i, seq := range got {
			ok = ok && seq == i
		}
		if !ok {
			t.Errorf("key %s: handlers succeeded in the order %v, want 0..%d", key, got, perKey-1)
		}
	}
}
