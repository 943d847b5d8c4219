package kafka_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/kafka"
)

// The benchmarks compare the adapter with raw sarama code using the same
// settings, against the same broker (the shared kfake), side by side.
// testdata/bench.sh runs them in alternating rounds and computes the
// paired ratios for docs/benchmarks.md. One op is one message; msgs/s is
// b.N over the wall time.

// benchConfig is the Config of both sides: acks=all, murmur2, one request
// in flight per broker, 3 retries, commits every second (sarama's default
// interval).
func benchConfig(addr, topic, group string) kafka.Config {
	cfg := testConfig(addr, []string{topic}, group)
	cfg.CommitInterval = time.Second
	cfg.HeartbeatInterval = 3 * time.Second
	cfg.Retries = 3
	return cfg.WithDefaults()
}

// rawSaramaConfig is what the adapter builds from cfg, written out as a
// sarama user would.
func rawSaramaConfig(cfg kafka.Config) *sarama.Config {
	sc := sarama.NewConfig()
	sc.Version = sarama.V2_8_0_0
	sc.ClientID = "gizmo"
	sc.Net.MaxOpenRequests = 1
	sc.Metadata.AllowAutoTopicCreation = false
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Producer.Partitioner = sarama.NewMurmur2Partitioner
	sc.Producer.MaxMessageBytes = cfg.MaxMessageBytes
	sc.Producer.Retry.Max = cfg.Retries
	sc.Producer.Return.Successes = true
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest
	sc.Consumer.Offsets.AutoCommit.Interval = cfg.CommitInterval
	sc.Consumer.Group.Session.Timeout = cfg.SessionTimeout
	sc.Consumer.Group.Heartbeat.Interval = cfg.HeartbeatInterval
	return sc
}

// order returns impls, reversed when GIZMO_BENCH_REVERSE=1, so that a
// script can alternate which side runs first.
func order(impls ...string) []string {
	if os.Getenv("GIZMO_BENCH_REVERSE") == "1" {
		slices.Reverse(impls)
	}
	return impls
}

func msgsPerSec(b *testing.B, start time.Time) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// spread runs fn(n) in pubs goroutines that share b.N calls.
func spread(b *testing.B, pubs int, fn func(i int) error) {
	var wg sync.WaitGroup
	for p := range pubs {
		n := b.N / pubs
		if p < b.N%pubs {
			n++
		}
		wg.Go(func() {
			for i := range n {
				if err := fn(p*1_000_000 + i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkPublish: sync publish (each call waits for its record's
// acknowledgement) by 1 and 64 concurrent publishers, gizmo and raw
// sarama's SyncProducer; and gizmo's throughput mode (Linger) by 64.
func BenchmarkPublish(b *testing.B) {
	addr := sharedBroker(b)
	for _, size := range []int{16, 256} {
		for _, pubs := range []int{1, 64} {
			for _, impl := range order("gizmo", "sarama", "gizmo-batched") {
				if impl == "gizmo-batched" && pubs == 1 {
					continue
				}
				b.Run(fmt.Sprintf("bytes=%d/pubs=%d/impl=%s", size, pubs, impl), func(b *testing.B) {
					topic := createTopic(b, addr, 3)
					cfg := benchConfig(addr, topic, "")
					payload := make([]byte, size)
					key := func(i int) string { return fmt.Sprint("key-", i%64) }
					var publish func(i int) error
					var closeFn func() error
					switch impl {
					case "gizmo", "gizmo-batched":
						if impl == "gizmo-batched" {
							cfg.Linger = 2 * time.Millisecond
							cfg.BatchMessages = pubs
						}
						p, err := kafka.NewPublisher(context.Background(), cfg)
						if err != nil {
							b.Fatal(err)
						}
						ctx := context.Background()
						publish = func(i int) error { return p.PublishRaw(ctx, key(i), payload) }
						closeFn = p.Close
					case "sarama":
						p, err := sarama.NewSyncProducer([]string{addr}, rawSaramaConfig(cfg))
						if err != nil {
							b.Fatal(err)
						}
						publish = func(i int) error {
							_, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key(i)), Value: sarama.ByteEncoder(payload)})
							return err
						}
						closeFn = p.Close
					}
					b.SetBytes(int64(size))
					b.ReportAllocs()
					b.ResetTimer()
					start := time.Now()
					spread(b, pubs, publish)
					msgsPerSec(b, start)
					b.StopTimer()
					if err := closeFn(); err != nil {
						b.Error(err)
					}
				})
			}
		}
	}
}

// fill writes n records of size bytes to topic fast, with large batches.
func fill(b *testing.B, addr, topic string, n, size int) {
	sc := saramaTestConfig()
	sc.Producer.Return.Successes = true
	sc.Producer.Flush.Messages = 1000
	sc.Producer.Flush.Frequency = 5 * time.Millisecond
	p, err := sarama.NewAsyncProducer([]string{addr}, sc)
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, size)
	go func() {
		for i := range n {
			p.Input() <- &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprint("key-", i%64)), Value: sarama.ByteEncoder(payload)}
		}
	}()
	for range n {
		select {
		case <-p.Successes():
		case err := <-p.Errors():
			b.Fatal(err)
		}
	}
	_ = p.Close()
}

// BenchmarkConsume: consume and commit b.N records of 3 partitions, from
// a group's start to its final commit: raw sarama (a consumer group whose
// handler marks each message), the gizmo Subscriber read directly (Done
// each), and pubsub.Consume over it with concurrency 8.
func BenchmarkConsume(b *testing.B) {
	addr := sharedBroker(b)
	for _, size := range []int{16, 256} {
		for _, impl := range order("gizmo", "sarama", "gizmo-consume8") {
			b.Run(fmt.Sprintf("bytes=%d/impl=%s", size, impl), func(b *testing.B) {
				topic := createTopic(b, addr, 3)
				fill(b, addr, topic, b.N, size)
				cfg := benchConfig(addr, topic, randomName("gizmo-g-"))
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				switch impl {
				case "sarama":
					consumeSarama(b, cfg)
				case "gizmo":
					consumeGizmo(b, cfg, false)
				case "gizmo-consume8":
					consumeGizmo(b, cfg, true)
				}
				msgsPerSec(b, start)
			})
		}
	}
}

type markAll struct {
	n, want int64
	all     chan struct{}
	once    sync.Once
}

func (h *markAll) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *markAll) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *markAll) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			sess.MarkMessage(m, "")
			if atomic.AddInt64(&h.n, 1) == h.want {
				h.once.Do(func() { close(h.all) })
			}
		case <-sess.Context().Done():
			return nil
		}
	}
}

func consumeSarama(b *testing.B, cfg kafka.Config) {
	g, err := sarama.NewConsumerGroup(cfg.Brokers, cfg.Group, rawSaramaConfig(cfg))
	if err != nil {
		b.Fatal(err)
	}
	h := &markAll{want: int64(b.N), all: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := g.Consume(ctx, cfg.Topics, h); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	waitBench(b, h.all)
	cancel()
	<-done
	if err := g.Close(); err != nil { // commits the marks
		b.Error(err)
	}
}

func consumeGizmo(b *testing.B, cfg kafka.Config, viaConsume bool) {
	s, err := kafka.NewSubscriber(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	all := make(chan struct{})
	var once sync.Once
	count := func() {
		if n.Add(1) == int64(b.N) {
			once.Do(func() { close(all) })
		}
	}
	if viaConsume {
		ctx, cancel := context.WithCancel(context.Background())
		res := make(chan error, 1)
		go func() {
			res <- pubsub.Consume(ctx, s, func(context.Context, pubsub.SubscriberMessage) error {
				count()
				return nil
			}, pubsub.WithConcurrency(8))
		}()
		waitBench(b, all)
		cancel() // Consume stops the subscriber: the final commit
		if err := <-res; err != nil {
			b.Error(err)
		}
		return
	}
	ch := s.Start()
	go func() {
		for m := range ch {
			if err := m.Done(); err != nil {
				b.Error(err)
			}
			count()
		}
	}()
	waitBench(b, all)
	if err := s.Stop(context.Background()); err != nil {
		b.Error(err)
	}
}

func waitBench(b *testing.B, all <-chan struct{}) {
	select {
	case <-all:
	case <-time.After(5 * time.Minute):
		b.Fatal("not every message arrived within 5 minutes")
	}
}
