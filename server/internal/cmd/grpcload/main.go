// Command grpcload makes unary Echo calls (testpb.EchoService) to a gRPC
// server for a fixed time, or a fixed number of calls, and prints how many
// completed. It is the gRPC counterpart of wrk in scripts/bench-http.sh and
// of httpload in scripts/bench-instructions-server.sh:
//
//	grpcload -addr 127.0.0.1:18090 -conns 2 -callers 16 -d 5s
//	grpcload -addr 127.0.0.1:18090 -n 20000
//
// Output, one line: "<calls> <calls per second>".
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/seed8104ecd5/gizmo/server/internal/testpb"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "grpcload:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:18090", "server address")
	conns := flag.Int("conns", 2, "client connections")
	callers := flag.Int("callers", 16, "concurrent callers per connection")
	d := flag.Duration("d", 5*time.Second, "how long to call")
	total := flag.Int64("n", 0, "if set, make this many calls (after the connecting ones) instead of calling for -d")
	msg := flag.String("msg", "benchmark payload", "message to echo")
	flag.Parse()

	clients := make([]testpb.EchoServiceClient, *conns)
	for i := range clients {
		cc, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		defer cc.Close()
		clients[i] = testpb.NewEchoServiceClient(cc)
		if _, err := clients[i].Echo(context.Background(), &testpb.EchoRequest{Message: *msg}); err != nil {
			return err // connect before the clock starts
		}
	}
	var (
		calls   atomic.Int64
		stop    atomic.Bool
		wg      sync.WaitGroup
		errOnce sync.Once
		callErr error
	)
	start := time.Now()
	for _, c := range clients {
		for range *callers {
			wg.Go(func() {
				req := &testpb.EchoRequest{Message: *msg}
				for !stop.Load() {
					if *total > 0 && calls.Add(1) > *total {
						return
					}
					if _, err := c.Echo(context.Background(), req); err != nil {
						errOnce.Do(func() { callErr = err })
						return
					}
					if *total == 0 {
						calls.Add(1)
					}
				}
			})
		}
	}
	if *total == 0 {
		time.Sleep(*d)
		stop.Store(true)
	}
	wg.Wait()
	if callErr != nil {
		return callErr
	}
	n := calls.Load()
	if *total > 0 {
		n = *total
	}
	fmt.Printf("%d %.0f\n", n, float64(n)/time.Since(start).Seconds())
	return nil
}
