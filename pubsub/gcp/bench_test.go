package gcp

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	gizmo "github.com/seed8104ecd5/gizmo/pubsub"
)

// The benchmarks compare the adapter with the same work done by the
// client library directly (impl=raw), with the same settings, each
// against a fresh pstest process of its own: pstest slows down as it
// accumulates messages, which would favour whichever ran first. Run them
// side by side, in alternating rounds; see docs/benchmarks.md.

const benchPayloadSize = 64

// benchEnv is a private pstest.
type benchEnv struct {
	em    *emulator
	admin *pubsub.Client
	n     atomic.Int64
}

func newBenchEnv(b *testing.B) *benchEnv {
	em := startEmulator(b)
	return &benchEnv{em: em, admin: newAdmin(b, em.addr)}
}

// topic makes a fresh topic, with no subscription: publishing to it costs
// pstest the least, so that the publisher's cost shows.
func (e *benchEnv) topic(b *testing.B) string {
	topic := fmt.Sprintf("projects/%s/topics/bench-%d", testProject, e.n.Add(1))
	if _, err := e.admin.TopicAdminClient.CreateTopic(b.Context(), &pubsubpb.Topic{Name: topic}); err != nil {
		b.Fatal(err)
	}
	return topic
}

// topicAndSub makes a fresh topic with one subscription.
func (e *benchEnv) topicAndSub(b *testing.B) (topic, sub string) {
	topic = e.topic(b)
	sub = fmt.Sprintf("projects/%s/subscriptions/bench-%d", testProject, e.n.Add(1))
	if _, err := e.admin.SubscriptionAdminClient.CreateSubscription(b.Context(), &pubsubpb.Subscription{Name: sub, Topic: topic, AckDeadlineSeconds: 60}); err != nil {
		b.Fatal(err)
	}
	return topic, sub
}

// config is the adapter's default configuration for the emulator, which
// matches the client's defaults, with the receive settings of rawClient.
func (e *benchEnv) config(topic, sub string) Config {
	cfg := DefaultConfig()
	cfg.ProjectID = testProject
	cfg.EmulatorHost = e.em.addr
	cfg.Topic, cfg.Subscription = topic, sub
	cfg.Publish.MaxMessageBytes = pstestMaxRequest
	cfg.Receive.NumGoroutines = benchStreams
	cfg.Receive.MaxOutstandingMessages = benchOutstanding
	return cfg
}

// The receive settings of both: pstest sends one message per stream
// every 10ms, so more streams is the only way to go faster.
const (
	benchStreams     = 8
	benchOutstanding = 10000
)

func (e *benchEnv) rawClient(b *testing.B) *pubsub.Client {
	c, err := connect(b.Context(), e.config("", ""), newOptions(nil))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

var benchPayload = make([]byte, benchPayloadSize)

// cpuTime returns the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// The process CPU time when the timed part of a benchmark began and, if
// it was stopped early, ended; set by resetTimer and stopTimer.
var startCPU, stopCPU atomic.Int64

// resetTimer starts the clock, and the count of CPU time the client
// process spends: on a shared, loaded machine CPU per message varies far
// less than wall time.
func resetTimer(b *testing.B) {
	stopCPU.Store(0)
	startCPU.Store(int64(cpuTime()))
	b.ResetTimer()
}

// stopTimer stops the clock and the count of CPU time.
func stopTimer(b *testing.B) {
	b.StopTimer()
	stopCPU.Store(int64(cpuTime()))
}

// reportRate reports msgs messages as msgs/s and as client CPU ns per
// message (the process's CPU, GC included; pstest runs in another).
func reportRate(b *testing.B, msgs int) {
	end := stopCPU.Load()
	if end == 0 {
		end = int64(cpuTime())
	}
	b.ReportMetric(float64(msgs)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(end-startCPU.Load())/float64(msgs), "cpu-ns/msg")
}

// BenchmarkPublishBatch publishes batches of 1000 messages: PublishBatch,
// or 1000 Publish calls followed by 1000 Gets. One op is one batch.
func BenchmarkPublishBatch(b *testing.B) {
	const size = 1000
	b.Run("impl=raw", func(b *testing.B) {
		e := newBenchEnv(b)
		topic := e.topic(b)
		t := e.rawClient(b).Publisher(topic)
		defer t.Stop()
		res := make([]*pubsub.PublishResult, size)
		resetTimer(b)
		for range b.N {
			for i := range res {
				res[i] = t.Publish(b.Context(), &pubsub.Message{Data: benchPayload})
			}
			for _, r := range res {
				if _, err := r.Get(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
		}
		reportRate(b, b.N*size)
	})
	b.Run("impl=gizmo", func(b *testing.B) {
		e := newBenchEnv(b)
		p, err := NewPublisher(b.Context(), e.config(e.topic(b), ""))
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		msgs := make([]gizmo.Message, size)
		for i := range msgs {
			msgs[i] = gizmo.Message{Payload: benchPayload}
		}
		resetTimer(b)
		for range b.N {
			if err := p.PublishBatch(b.Context(), msgs); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b, b.N*size)
	})
}

// BenchmarkPublishBatchKeyed publishes batches of 1000 messages over 10
// keys: without ordering, PublishBatch sends them in 100 rounds to keep
// the batch key rule; with ordering, the client sends each key's messages
// one request at a time. One op is one batch.
func BenchmarkPublishBatchKeyed(b *testing.B) {
	const size, keys = 1000, 10
	for _, ordering := range []bool{false, true} {
		name := "impl=gizmo-unordered"
		if ordering {
			name = "impl=gizmo-ordered"
		}
		b.Run(name, func(b *testing.B) {
			e := newBenchEnv(b)
			cfg := e.config(e.topic(b), "")
			cfg.Publish.Ordering = ordering
			p, err := NewPublisher(b.Context(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			msgs := make([]gizmo.Message, size)
			for i := range msgs {
				msgs[i] = gizmo.Message{Key: fmt.Sprint("key-", i%keys), Payload: benchPayload}
			}
			resetTimer(b)
			for range b.N {
				if err := p.PublishBatch(b.Context(), msgs); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, b.N*size)
		})
	}
}

// BenchmarkPublishSequential publishes one message at a time and waits
// for each. One op is one message; 1000 of them are what one
// BenchmarkPublishBatch op sends.
func BenchmarkPublishSequential(b *testing.B) {
	b.Run("impl=raw", func(b *testing.B) {
		e := newBenchEnv(b)
		topic := e.topic(b)
		t := e.rawClient(b).Publisher(topic)
		defer t.Stop()
		resetTimer(b)
		for range b.N {
			if _, err := t.Publish(b.Context(), &pubsub.Message{Data: benchPayload}).Get(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b, b.N)
	})
	b.Run("impl=gizmo", func(b *testing.B) {
		e := newBenchEnv(b)
		p, err := NewPublisher(b.Context(), e.config(e.topic(b), ""))
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		resetTimer(b)
		for range b.N {
			if err := p.PublishRaw(b.Context(), "", benchPayload); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b, b.N)
	})
}

// BenchmarkPublishConcurrent publishes from 64 goroutines, each waiting
// for its message before the next. The messages have a key, which the
// adapter sends as the gizmo-key attribute; the raw client sends the same
// attribute. One op is one message.
func BenchmarkPublishConcurrent(b *testing.B) {
	const goroutines = 64
	run := func(b *testing.B, publish func() error) {
		var next atomic.Int64
		var wg sync.WaitGroup
		resetTimer(b)
		for range goroutines {
			wg.Go(func() {
				for next.Add(1) <= int64(b.N) {
					if err := publish(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		reportRate(b, b.N)
	}
	b.Run("impl=raw", func(b *testing.B) {
		e := newBenchEnv(b)
		t := e.rawClient(b).Publisher(e.topic(b))
		defer t.Stop()
		run(b, func() error {
			m := &pubsub.Message{Data: benchPayload, Attributes: map[string]string{gizmo.AttrKey: "k"}}
			_, err := t.Publish(b.Context(), m).Get(b.Context())
			return err
		})
	})
	b.Run("impl=gizmo", func(b *testing.B) {
		e := newBenchEnv(b)
		p, err := NewPublisher(b.Context(), e.config(e.topic(b), ""))
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		run(b, func() error { return p.PublishRaw(b.Context(), "k", benchPayload) })
	})
}

// BenchmarkConsume receives and acknowledges b.N messages published
// beforehand: the client's Receive with Ack in the callback, or
// pubsub.Consume over a Subscriber with a handler that returns nil. One op
// is one message; the clock stops when the last one is handled.
func BenchmarkConsume(b *testing.B) {
	fill := func(b *testing.B, e *benchEnv, topic string) {
		t := e.rawClient(b).Publisher(topic)
		defer t.Stop()
		res := make([]*pubsub.PublishResult, b.N)
		for i := range res {
			res[i] = t.Publish(b.Context(), &pubsub.Message{Data: benchPayload})
		}
		for _, r := range res {
			if _, err := r.Get(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("impl=raw", func(b *testing.B) {
		e := newBenchEnv(b)
		topic, sub := e.topicAndSub(b)
		fill(b, e, topic)
		s := e.rawClient(b).Subscriber(sub)
		s.ReceiveSettings.NumGoroutines = benchStreams
		s.ReceiveSettings.MaxOutstandingMessages = benchOutstanding
		ctx, cancel := context.WithCancel(b.Context())
		defer cancel()
		var n atomic.Int64
		resetTimer(b)
		err := s.Receive(ctx, func(_ context.Context, m *pubsub.Message) {
			m.Ack()
			if n.Add(1) == int64(b.N) {
				stopTimer(b)
				cancel()
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		reportRate(b, b.N)
	})
	b.Run("impl=gizmo", func(b *testing.B) {
		e := newBenchEnv(b)
		topic, sub := e.topicAndSub(b)
		fill(b, e, topic)
		r, err := NewSubscriber(b.Context(), e.config(topic, sub))
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(b.Context())
		defer cancel()
		var n atomic.Int64
		resetTimer(b)
		err = gizmo.Consume(ctx, r, func(context.Context, gizmo.SubscriberMessage) error {
			if n.Add(1) == int64(b.N) {
				stopTimer(b)
				cancel()
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		reportRate(b, b.N)
	})
}

// BenchmarkEncode is the adapter's own cost of preparing a message for
// the client (validation, wire encoding, payload copy, limits), without
// a server: a message without key or attributes, and one with a key and
// two attributes.
func BenchmarkEncode(b *testing.B) {
	topic := fmt.Sprintf("projects/%s/topics/bench-000001", testProject)
	attrs := map[string]string{"kind": "order", "region": "eu"}
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := encode(topic, false, MaxRequestBytes, "", benchPayload, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("keyed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := encode(topic, false, MaxRequestBytes, "customer-7", benchPayload, attrs); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecode is the adapter's cost of undoing the wire encoding of a
// received message with a key and two attributes.
func BenchmarkDecode(b *testing.B) {
	m, err := encode("t", false, MaxRequestBytes, "customer-7", benchPayload, map[string]string{"kind": "order", "region": "eu"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if d := decode(m); d.err != nil {
			b.Fatal(d.err)
		}
	}
}
