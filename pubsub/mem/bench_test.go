package mem

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkBrokerThroughput measures end-to-end throughput of the in-memory
// broker: publishers call PublishRaw concurrently, one subscriber delivers,
// and consumer goroutines call Done. One op is one message published,
// delivered and acknowledged; msgs/s is b.N divided by the wall time from the
// first publish to the last Done.
func BenchmarkBrokerThroughput(b *testing.B) {
	for _, pubs := range []int{1, 8, 64} {
		for _, size := range []int{16, 256, 4096} {
			b.Run(fmt.Sprintf("pubs=%d/bytes=%d", pubs, size), func(b *testing.B) {
				benchThroughput(b, pubs, size)
			})
		}
	}
}

// benchConsumers is the number of goroutines receiving from the subscriber's
// channel and calling Done.
const benchConsumers = 2

func benchThroughput(b *testing.B, pubs, size int) {
	br := NewBroker()
	defer br.Close()
	if err := br.CreateTopic("bench"); err != nil {
		b.Fatal(err)
	}
	if err := br.CreateSubscription("bench", "bench", SubscriptionConfig{AckDeadline: time.Minute}); err != nil {
		b.Fatal(err)
	}
	pub, err := br.NewPublisher("bench")
	if err != nil {
		b.Fatal(err)
	}
	sub, err := br.NewSubscriber("bench")
	if err != nil {
		b.Fatal(err)
	}
	total := int64(b.N)
	var acked atomic.Int64
	all := make(chan struct{})
	ch := sub.Start()
	var cwg sync.WaitGroup
	for range benchConsumers {
		cwg.Go(func() {
			for m := range ch {
				if err := m.Done(); err != nil {
					b.Error(err)
					return
				}
				if acked.Add(1) == total {
					close(all)
				}
			}
		})
	}
	payload := make([]byte, size)
	ctx := context.Background()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var pwg sync.WaitGroup
	for p := range pubs {
		n := b.N / pubs
		if p < b.N%pubs {
			n++
		}
		pwg.Go(func() {
			for range n {
				if err := pub.PublishRaw(ctx, "", payload); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	pwg.Wait()
	select {
	case <-all:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d messages acknowledged after 5 minutes", acked.Load(), total)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	if err := sub.Stop(context.Background()); err != nil {
		b.Error(err)
	}
	cwg.Wait()
}
