package aws_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
	gaws "github.com/seed8104ecd5/gizmo/pubsub/aws"
)

// fifoTarget is a FIFO queue to consume, and a publisher that reaches it
// directly or through a FIFO topic.
type fifoTarget struct {
	queue string
	pub   pubsub.MultiPublisher
}

func fifoTargets(t *testing.T, cfg gaws.Config) map[string]fifoTarget {
	t.Helper()
	sq, sn := clients(t, cfg)
	direct := newQueue(t, sq, gaws.QueueOptions{FIFO: true})
	pcfg := cfg
	pcfg.Queue = direct
	qp, err := gaws.NewSQSPublisher(t.Context(), pcfg, gaws.WithSQSClient(sq))
	if err != nil {
		t.Fatal(err)
	}
	topic := newTopic(t, sn, gaws.TopicOptions{FIFO: true})
	viaSNS := newQueue(t, sq, gaws.QueueOptions{FIFO: true})
	if _, err := gaws.EnsureSubscription(t.Context(), sn, sq, topic, viaSNS, gaws.SubscriptionOptions{RawDelivery: true}); err != nil {
		t.Fatal(err)
	}
	pcfg = cfg
	pcfg.Topic = topic
	tp, err := gaws.NewSNSPublisher(t.Context(), pcfg, gaws.WithSNSClient(sn))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]fifoTarget{"SQS": {direct, qp}, "SNS": {viaSNS, tp}}
}

// TestFIFOKeyOrder publishes interleaved sequences of several keys to FIFO
// queues, directly and through a FIFO topic, in batches and one by one,
// and consumes them with two subscribers that Nack some first deliveries:
// per key, first deliveries follow publish order, and every message
// arrives.
func TestFIFOKeyOrder(t *testing.T) {
	t.Parallel()
	cfg := sharedConfig(t)
	for name, tg := range fifoTargets(t, cfg) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const keys, perKey = 4, 15
			var batch []pubsub.Message
			for i := range perKey {
				for k := range keys {
					batch = append(batch, pubsub.Message{Key: fmt.Sprint("key-", k), Payload: fmt.Appendf(nil, "key-%d|%d", k, i)})
				}
			}
			// The first third one by one, the rest in one PublishBatch.
			third := len(batch) / 3
			for _, m := range batch[:third] {
				if err := tg.pub.PublishRaw(t.Context(), m.Key, m.Payload); err != nil {
					t.Fatal(err)
				}
			}
			if err := tg.pub.PublishBatch(t.Context(), batch[third:]); err != nil {
				t.Fatal(err)
			}
			scfg := cfg
			scfg.VisibilityTimeout = 5 * time.Second
			var mu sync.Mutex
			next := map[string]int{}
			seen, nacked, done := map[string]bool{}, map[string]bool{}, map[string]bool{}
			all := make(chan struct{})
			var wg sync.WaitGroup
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			for range 2 {
				_, ch := startSubscriber(t, scfg, tg.queue)
				wg.Go(func() {
					for {
						var m pubsub.SubscriberMessage
						select {
						case <-ctx.Done():
							return
						case m = <-ch:
						}
						key, seqText, _ := strings.Cut(string(m.Message()), "|")
						var seq int
						fmt.Sscan(seqText, &seq)
						if key != m.Key() {
							t.Errorf("message %q has key %q", m.Message(), m.Key())
						}
						mu.Lock()
						id := string(m.Message())
						if !seen[id] {
							if seq != next[key] {
								t.Errorf("key %s: message %d delivered first after %d others", key, seq, next[key])
							}
							seen[id] = true
							next[key]++
						}
						nack := seq%4 == 1 && !nacked[id]
						nacked[id] = nacked[id] || nack
						if !nack && !done[id] {
							done[id] = true
							if len(done) == keys*perKey {
								close(all)
							}
						}
						mu.Unlock()
						if nack {
							_ = m.Nack()
						} else {
							_ = m.Done()
						}
					}
				})
			}
			select {
			case <-all:
			case <-ctx.Done():
			}
			cancel()
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			if len(done) != keys*perKey {
				t.Errorf("%d of %d messages delivered and Done", len(done), keys*perKey)
			}
		})
	}
}

// TestFIFODeduplication publishes duplicates to FIFO queues, directly and
// through a FIFO topic: a second message with the same deduplication ID,
// or the same content without one, is accepted but not delivered again.
// On a standard queue a deduplication ID is refused.
func TestFIFODeduplication(t *testing.T) {
	t.Parallel()
	cfg := sharedConfig(t)
	for name, tg := range fifoTargets(t, cfg) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			pub := func(key, payload string, opts ...pubsub.PublishOption) {
				t.Helper()
				if err := tg.pub.PublishRaw(ctx, key, []byte(payload), opts...); err != nil {
					t.Fatal(err)
				}
			}
			pub("k", "first", pubsub.WithDeduplicationID("id 1")) // not a valid SQS ID: hashed
			pub("k", "dup of first", pubsub.WithDeduplicationID("id 1"))
			pub("k", "same content")
			pub("k", "same content")
			pub("j", "same content") // another key: another message
			pub("k", "same content", pubsub.WithAttribute("a", "1"))
			err := tg.pub.PublishBatch(ctx, []pubsub.Message{
				{Key: "b", Payload: []byte("batched"), DeduplicationID: "id-2"},
				{Key: "b", Payload: []byte("dup of batched"), DeduplicationID: "id-2"},
			})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int{"first": 1, "same content": 3, "batched": 1}
			_, ch := startSubscriber(t, cfg, tg.queue)
			got := map[string]int{}
			for range 5 {
				m := recv(t, ch, 10*time.Second, "the distinct messages")
				got[string(m.Message())]++
				_ = m.Done()
			}
			expectNone(t, ch, 2*time.Second, "after the distinct messages")
			for p, n := range want {
				if got[p] != n {
					t.Errorf("%q delivered %d times, want %d (all: %v)", p, got[p], n, got)
				}
			}
		})
	}
	sq, _ := clients(t, cfg)
	pcfg := cfg
	pcfg.Queue = newQueue(t, sq, gaws.QueueOptions{})
	std, err := gaws.NewSQSPublisher(t.Context(), pcfg, gaws.WithSQSClient(sq))
	if err != nil {
		t.Fatal(err)
	}
	if err := std.PublishRaw(t.Context(), "k", []byte("x"), pubsub.WithDeduplicationID("id")); !errors.Is(err, pubsub.ErrNotSupported) {
		t.Errorf("a deduplication ID on a standard queue: %v, want ErrNotSupported", err)
	}
}
