package aws_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/seed8104ecd5/gizmo/pubsub"
	gaws "github.com/seed8104ecd5/gizmo/pubsub/aws"
)

// benchPayload is the 64-byte body every benchmark message carries.
var benchPayload = []byte(strings.Repeat("p", 64))

// fillQueue sends n benchmark messages to url with SendMessageBatch from
// eight goroutines.
func fillQueue(b *testing.B, c *sqs.Client, url string, n int) {
	b.Helper()
	cfg := gaws.Config{Queue: url}
	p, err := gaws.NewSQSPublisher(b.Context(), cfg, gaws.WithSQSClient(c))
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				start := int(next.Add(100)) - 100
				if start >= n {
					return
				}
				msgs := make([]pubsub.Message, min(100, n-start))
				for i := range msgs {
					msgs[i] = pubsub.Message{Payload: benchPayload}
				}
				if err := p.PublishBatch(b.Context(), msgs); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// benchImpls returns impls, reversed when GIZMO_BENCH_REVERSE is set, so
// that alternate rounds can run the baseline last.
func benchImpls(impls ...string) []string {
	if os.Getenv("GIZMO_BENCH_REVERSE") != "" {
		slices.Reverse(impls)
	}
	return impls
}

// cpuMeter measures the CPU time the test process and the server use
// between start and stop.
type cpuMeter struct {
	srv            *fauxqs
	client, server time.Duration // at start, then used until stop
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (c *cpuMeter) start(b *testing.B) {
	var err error
	if c.server, err = c.srv.cpuTime(); err != nil {
		b.Fatal(err)
	}
	c.client = processCPU()
}

// stop records the CPU time used since start.
func (c *cpuMeter) stop(b *testing.B) {
	server, err := c.srv.cpuTime()
	if err != nil {
		b.Fatal(err)
	}
	c.client, c.server = processCPU()-c.client, server-c.server
}

// report adds the CPU microseconds per message the client and the server
// spent between start and stop.
func (c *cpuMeter) report(b *testing.B, n int) {
	b.ReportMetric(float64(c.client.Microseconds())/float64(n), "client-µs/msg")
	b.ReportMetric(float64(c.server.Microseconds())/float64(n), "server-µs/msg")
}

// BenchmarkConsumeDelete measures consume-and-delete throughput of a queue
// holding b.N 64-byte messages, with 1, 4 and 16 receivers: the adapter's
// Subscriber, its messages Done by two goroutines, against a raw
// aws-sdk-go-v2 loop per receiver that receives ten, processes them
// (nothing) and deletes them with one DeleteMessageBatch. Both ask for the
// same attributes and wait up to a second per poll. It runs a private
// fauxqs server, in memory like the shared one, so that it can measure the
// server's CPU time too. One op is one message; msgs/s is b.N over the
// time from the start until the last delete is confirmed; client-µs/msg
// and server-µs/msg are the CPU time each side spent per message. Filling
// the queue is not timed.
func BenchmarkConsumeDelete(b *testing.B) {
	srv := startFauxqsIn(b, "")
	cfg := endpointConfig(srv.endpoint())
	sq, _ := clients(b, cfg)
	for _, receivers := range []int{1, 4, 16} {
		for _, impl := range benchImpls("raw", "gizmo") {
			b.Run(fmt.Sprintf("receivers=%d/impl=%s", receivers, impl), func(b *testing.B) {
				url := newQueue(b, sq, gaws.QueueOptions{})
				fillQueue(b, sq, url, b.N)
				cpu := cpuMeter{srv: srv}
				b.ResetTimer()
				cpu.start(b)
				start := time.Now()
				var end time.Time
				if impl == "raw" {
					end = rawConsume(b, sq, url, receivers, b.N, &cpu)
				} else {
					end = gizmoConsume(b, cfg, sq, url, receivers, b.N, &cpu)
				}
				cpu.report(b, b.N)
				b.ReportMetric(float64(b.N)/end.Sub(start).Seconds(), "msgs/s")
			})
		}
	}
}

// rawConsume runs the baseline and returns when the last delete was
// confirmed. Receivers still in a poll then are not waited for.
func rawConsume(b *testing.B, c *sqs.Client, url string, receivers, n int, cpu *cpuMeter) time.Time {
	var deleted atomic.Int64
	ctx, cancel := context.WithTimeout(b.Context(), 5*time.Minute)
	defer cancel()
	all := make(chan time.Time, 1)
	var wg sync.WaitGroup
	for range receivers {
		wg.Go(func() {
			for deleted.Load() < int64(n) && ctx.Err() == nil {
				out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
					QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 30,
					MessageAttributeNames:       []string{"All"},
					MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
				})
				if err != nil {
					if ctx.Err() == nil {
						b.Error(err)
					}
					return
				}
				if len(out.Messages) == 0 {
					continue
				}
				entries := make([]sqstypes.DeleteMessageBatchRequestEntry, len(out.Messages))
				for i, m := range out.Messages {
					_ = m.Body // process
					entries[i] = sqstypes.DeleteMessageBatchRequestEntry{Id: ptr(fmt.Sprint(i)), ReceiptHandle: m.ReceiptHandle}
				}
				res, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: entries})
				if err != nil || len(res.Failed) > 0 {
					b.Errorf("delete: %v, %d failed", err, len(res.Failed))
					return
				}
				if deleted.Add(int64(len(res.Successful))) == int64(n) {
					all <- time.Now()
				}
			}
		})
	}
	var end time.Time
	select {
	case end = <-all:
	case <-ctx.Done():
		b.Fatalf("only %d of %d deleted", deleted.Load(), n)
	}
	b.StopTimer()
	cpu.stop(b)
	cancel()
	wg.Wait()
	return end
}

// gizmoConsume runs the adapter and returns when its counters show the
// last delete confirmed.
func gizmoConsume(b *testing.B, cfg gaws.Config, c *sqs.Client, url string, receivers, n int, cpu *cpuMeter) time.Time {
	cfg.Queue = url
	cfg.Receivers = receivers
	cfg.WaitTime = time.Second
	sub, err := gaws.NewSubscriber(b.Context(), cfg, gaws.WithSQSClient(c))
	if err != nil {
		b.Fatal(err)
	}
	ch := sub.Start()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for m := range ch {
				_ = m.Message() // process
				if err := m.Done(); err != nil {
					b.Error(err)
				}
			}
		})
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	timeout := time.After(5 * time.Minute)
	for sub.Stats().Deleted < uint64(n) {
		select {
		case <-tick.C:
		case <-timeout:
			b.Fatalf("only %d of %d deleted after 5 minutes", sub.Stats().Deleted, n)
		}
	}
	end := time.Now()
	b.StopTimer()
	cpu.stop(b)
	if st := sub.Stats(); st.DeleteFailures != 0 {
		b.Errorf("%d delete failures", st.DeleteFailures)
	}
	_ = sub.Stop(b.Context())
	wg.Wait()
	return end
}

func ptr[T any](v T) *T { return &v }

// BenchmarkPublish measures publishing 64-byte messages to a queue on a
// private fauxqs server: sequential PublishRaw, one SendMessage each,
// against PublishBatch of 100 messages (ten SendMessageBatch calls). One op
// is one message.
func BenchmarkPublish(b *testing.B) {
	srv := startFauxqsIn(b, "")
	cfg := endpointConfig(srv.endpoint())
	sq, _ := clients(b, cfg)
	for _, impl := range benchImpls("Publish", "PublishBatch") {
		b.Run("impl="+impl, func(b *testing.B) {
			pcfg := cfg
			pcfg.Queue = newQueue(b, sq, gaws.QueueOptions{})
			p, err := gaws.NewSQSPublisher(b.Context(), pcfg, gaws.WithSQSClient(sq))
			if err != nil {
				b.Fatal(err)
			}
			ctx := b.Context()
			batch := make([]pubsub.Message, 100)
			for i := range batch {
				batch[i] = pubsub.Message{Payload: benchPayload}
			}
			cpu := cpuMeter{srv: srv}
			b.ResetTimer()
			cpu.start(b)
			start := time.Now()
			if impl == "Publish" {
				for range b.N {
					if err := p.PublishRaw(ctx, "", benchPayload); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				for i := 0; i < b.N; i += len(batch) {
					if err := p.PublishBatch(ctx, batch[:min(len(batch), b.N-i)]); err != nil {
						b.Fatal(err)
					}
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			cpu.stop(b)
			cpu.report(b, b.N)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
		})
	}
}
