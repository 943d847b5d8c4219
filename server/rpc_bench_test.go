package server

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/seed8104ecd5/gizmo/server/internal/testpb"
)

// BenchmarkRPCUnary compares unary Echo calls against a bare grpc-go server
// and against an RPCServer (default options: all interceptors on, discard
// logger, fresh registry, no tracing) serving the same implementation. Both
// run in-process over real loopback TCP, one client connection each.
// "serial" is one call at a time (latency); "parallel" runs GOMAXPROCS*4
// callers at once (throughput).
func BenchmarkRPCUnary(b *testing.B) {
	for _, srv := range []struct {
		name  string
		start func(testing.TB) string
	}{{"bare", startBareGRPC}, {"rpcserver", startBenchRPC}} {
		b.Run(srv.name, func(b *testing.B) {
			client, _ := rpcDial(b, srv.start(b), nil)
			ctx := benchCtx(b)
			req := &testpb.EchoRequest{Message: "benchmark payload"}
			if _, err := client.Echo(ctx, req); err != nil { // connect
				b.Fatal(err)
			}
			b.Run("serial", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := client.Echo(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := client.Echo(ctx, req); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}

// benchCtx bounds a benchmark's calls; b.N bounds their number.
func benchCtx(b *testing.B) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	b.Cleanup(cancel)
	return ctx
}

// startBareGRPC serves echoService on a plain grpc.NewServer() and returns
// its address.
func startBareGRPC(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	gs := grpc.NewServer()
	testpb.RegisterEchoServiceServer(gs, newEchoService())
	go func() { _ = gs.Serve(ln) }()
	tb.Cleanup(gs.Stop)
	return ln.Addr().String()
}

// startBenchRPC serves echoService on an RPCServer with default options and
// returns its gRPC address.
func startBenchRPC(tb testing.TB) string { return startRPC(tb, Config{}).rpcAddr }

// BenchmarkRPCUnaryPaired measures the same thing as BenchmarkRPCUnary but
// interleaves the two servers in small blocks (order flipped every
// iteration), so that both see the same machine noise. A block is callers
// goroutines making 32 calls each: 1 caller for "serial", 8 for "parallel".
// Per call it reports wall time and process CPU time (user+system from
// getrusage: client and server together, as both are in-process) on each
// server, and two ratios bare/other: wall-ratio (throughput ratio) and
// cpu-ratio (throughput ratio when CPU-bound; it is the steadier of the two
// on a shared machine). 1.0 means no overhead; "other" is the server
// under test.
//
// The "control" pairs two bare servers (A/A): its ratios show the
// measurement's own noise and bias on the machine at hand.
func BenchmarkRPCUnaryPaired(b *testing.B) {
	ctx := benchCtx(b)
	req := &testpb.EchoRequest{Message: "benchmark payload"}
	const perCaller = 32
	block := func(c testpb.EchoServiceClient, callers int) (wall, cpu time.Duration) {
		cpu0 := processCPU(b)
		start := time.Now()
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				for range perCaller {
					if _, err := c.Echo(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start), processCPU(b) - cpu0
	}
	for _, pair := range []struct {
		name   string
		second func(testing.TB) string
	}{{"control", startBareGRPC}, {"rpcserver", startBenchRPC}} {
		bare, _ := rpcDial(b, startBareGRPC(b), nil)
		other, _ := rpcDial(b, pair.second(b), nil)
		for _, c := range []testpb.EchoServiceClient{bare, other} { // connect
			if _, err := c.Echo(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
		for _, mode := range []struct {
			name    string
			callers int
		}{{"serial", 1}, {"parallel", 8}} {
			b.Run(pair.name+"/"+mode.name, func(b *testing.B) {
				var wallBare, wallOther, cpuBare, cpuOther time.Duration
				n := 0
				for b.Loop() {
					first, second := bare, other
					if n%2 == 1 {
						first, second = other, bare
					}
					w1, c1 := block(first, mode.callers)
					w2, c2 := block(second, mode.callers)
					if n%2 == 1 {
						w1, c1, w2, c2 = w2, c2, w1, c1
					}
					wallBare, cpuBare = wallBare+w1, cpuBare+c1
					wallOther, cpuOther = wallOther+w2, cpuOther+c2
					n++
				}
				calls := float64(n * mode.callers * perCaller)
				b.ReportMetric(float64(wallBare.Nanoseconds())/calls, "bare-ns/call")
				b.ReportMetric(float64(wallOther.Nanoseconds())/calls, "other-ns/call")
				b.ReportMetric(float64(cpuBare.Nanoseconds())/calls, "bare-cpu-ns/call")
				b.ReportMetric(float64(cpuOther.Nanoseconds())/calls, "other-cpu-ns/call")
				b.ReportMetric(float64(wallBare)/float64(wallOther), "wall-ratio")
				b.ReportMetric(float64(cpuBare)/float64(cpuOther), "cpu-ratio")
			})
		}
	}
}

// BenchmarkRPCInterceptorUnary is the cost of RPCServer's unary interceptor
// alone (default options: discard logger, metrics on, no tracing), around
// a handler that does nothing, with an incoming request ID.
func BenchmarkRPCInterceptorUnary(b *testing.B) {
	m, err := newRPCMetrics(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	o := &rpcObserver{logger: slog.New(slog.DiscardHandler), metrics: m, mdKey: findIncomingMDKey()}
	info := &grpc.UnaryServerInfo{FullMethod: echoMethod}
	handler := func(ctx context.Context, req any) (any, error) { return req, nil }
	for _, tc := range []struct {
		name string
		md   metadata.MD
	}{{"with-id", metadata.Pairs(RequestIDMetadataKey, "abc-123")}, {"no-id", metadata.MD{}}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := metadata.NewIncomingContext(context.Background(), tc.md)
			ctx = grpc.NewContextWithServerTransportStream(ctx, &nopTransportStream{})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := o.unary(ctx, info, info, handler); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// nopTransportStream is a grpc.ServerTransportStream that drops headers.
type nopTransportStream struct{}

func (*nopTransportStream) Method() string                  { return echoMethod }
func (*nopTransportStream) SetHeader(md metadata.MD) error  { return nil }
func (*nopTransportStream) SendHeader(md metadata.MD) error { return nil }
func (*nopTransportStream) SetTrailer(md metadata.MD) error { return nil }
