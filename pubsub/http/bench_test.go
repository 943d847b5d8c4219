package http_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pubsubhttp "github.com/seed8104ecd5/gizmo/pubsub/http"
)

// benchPayload is the body every benchmark sends.
var benchPayload = bytes.Repeat([]byte("x"), 64)

// BenchmarkThroughput measures messages per second from concurrent
// publishers to a receiver over loopback with keep-alive: one op is one
// message sent and answered. impl=bare is the baseline, a net/http client
// posting to a handler that reads the body and answers 200; impl=gizmo is
// a Publisher posting to a push Subscriber whose messages consumer
// goroutines take from its channel and acknowledge with Done, which
// answers 204. Both clients keep up to 64 idle connections. Besides msgs/s
// it reports the process's CPU time per message (client and server).
// docs/benchmarks.md has the numbers and the script that alternates the
// two.
func BenchmarkThroughput(b *testing.B) {
	for _, pubs := range []int{1, 16, 64} {
		for _, impl := range []string{"bare", "gizmo"} {
			b.Run(fmt.Sprintf("pubs=%d/impl=%s", pubs, impl), func(b *testing.B) {
				if impl == "bare" {
					benchBare(b, pubs)
				} else {
					benchGizmo(b, pubs)
				}
			})
		}
	}
}

// benchServe serves h on a new 127.0.0.1 listener until the benchmark
// ends, and returns its URL.
func benchServe(b *testing.B, h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String() + "/push"
}

// runPublishers runs b.N sends spread over pubs goroutines and reports
// msgs/s.
func runPublishers(b *testing.B, pubs int, send func() error) {
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), processCPU(b)
	for range pubs {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if err := send(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	// CPU time per message, client and server together: steadier than
	// msgs/s on a shared machine, where the CPU share varies.
	b.ReportMetric(float64(processCPU(b)-cpu)/float64(time.Microsecond)/float64(b.N), "cpu-µs/msg")
}

func benchBare(b *testing.B, pubs int) {
	url := benchServe(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 64, 64
	client := &http.Client{Transport: tr}
	b.Cleanup(tr.CloseIdleConnections)
	ctx := context.Background()
	runPublishers(b, pubs, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(benchPayload))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
}

// benchConsumers is how many goroutines take messages from the
// subscriber's channel and call Done.
const benchConsumers = 4

func benchGizmo(b *testing.B, pubs int) {
	sub, err := pubsubhttp.NewSubscriber(pubsubhttp.Config{})
	if err != nil {
		b.Fatal(err)
	}
	ch := sub.Start()
	var consumers sync.WaitGroup
	for range benchConsumers {
		consumers.Go(func() {
			for m := range ch {
				if err := m.Done(); err != nil {
					b.Error(err)
				}
			}
		})
	}
	b.Cleanup(func() {
		_ = sub.Stop(context.Background())
		consumers.Wait()
	})
	url := benchServe(b, sub)
	p, err := pubsubhttp.NewPublisher(context.Background(), pubsubhttp.Config{URL: url})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close() })
	ctx := context.Background()
	runPublishers(b, pubs, func() error { return p.PublishRaw(ctx, "", benchPayload) })
}
