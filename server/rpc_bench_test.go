package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
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

// BenchmarkRPCUnaryPaired compares the server's own CPU time per unary
// Echo call on a bare grpc-go server and on an RPCServer (default options,
// as in BenchmarkRPCUnary). Each server runs in a child process (this test
// binary again, see TestRPCBenchServerProcess), so that its CPU time
// (getrusage, user + system) is its own and not the client's; the clients
// run here, one connection per server. The servers are called in
// alternating blocks (order flipped every iteration) so that both see the
// same machine noise; a block is callers goroutines making 64 calls each,
// 1 caller for "serial" and 8 for "parallel".
//
// Per call it reports each server's CPU time and the wall time of the
// calls, and bare/other ratios of both: server-cpu-ratio is the throughput
// ratio of the two servers when their CPU is the limit (1.0 means no
// overhead), wall-ratio the latency or throughput ratio seen by the client.
// "control" pairs two identical bare server processes (an A/A test): its
// ratios show the method's own noise and bias. For pinned runs with
// min/median/max over many rounds, see scripts/bench-http.sh (grpc-bare
// and grpc-rpc modes).
func BenchmarkRPCUnaryPaired(b *testing.B) {
	ctx := benchCtx(b)
	req := &testpb.EchoRequest{Message: "benchmark payload"}
	const perCaller = 64
	block := func(p *rpcBenchProcess, callers int) (wall, cpu time.Duration) {
		cpu0 := p.cpu(b)
		start := time.Now()
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				for range perCaller {
					if _, err := p.client.Echo(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start), p.cpu(b) - cpu0
	}
	for _, pair := range []struct{ name, second string }{{"control", "bare"}, {"rpcserver", "rpcserver"}} {
		bare, other := startRPCBenchProcess(b, "bare"), startRPCBenchProcess(b, pair.second)
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
				b.ReportMetric(float64(cpuBare.Nanoseconds())/calls, "bare-server-cpu-ns/call")
				b.ReportMetric(float64(cpuOther.Nanoseconds())/calls, "other-server-cpu-ns/call")
				b.ReportMetric(float64(wallBare)/float64(wallOther), "wall-ratio")
				b.ReportMetric(float64(cpuBare)/float64(cpuOther), "server-cpu-ratio")
			})
		}
	}
}

// rpcBenchServerEnv names, in the environment of a child process of
// BenchmarkRPCUnaryPaired, the server it runs.
const rpcBenchServerEnv = "GIZMO_RPC_BENCH_SERVER"

// TestRPCBenchServerProcess is the server process of
// BenchmarkRPCUnaryPaired, and skips unless the benchmark started it. It
// serves "bare" or "rpcserver" (as BenchmarkRPCUnary does), prints
// "addr ADDRESS", then answers every line on stdin with "cpu N", the
// process's CPU time in nanoseconds, until stdin closes.
func TestRPCBenchServerProcess(t *testing.T) {
	var addr string
	switch os.Getenv(rpcBenchServerEnv) {
	case "":
		t.Skip("the server process of BenchmarkRPCUnaryPaired")
	case "bare":
		addr = startBareGRPC(t)
	case "rpcserver":
		addr = startBenchRPC(t)
	default:
		t.Fatalf("unknown %s=%q", rpcBenchServerEnv, os.Getenv(rpcBenchServerEnv))
	}
	fmt.Printf("addr %s\n", addr)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Printf("cpu %d\n", processCPU(t).Nanoseconds())
	}
}

// rpcBenchProcess is a server process started by startRPCBenchProcess.
type rpcBenchProcess struct {
	client testpb.EchoServiceClient
	in     io.Writer
	out    *bufio.Scanner
}

// startRPCBenchProcess runs TestRPCBenchServerProcess in a child process
// serving which, connects a client to it, and stops it when b ends.
func startRPCBenchProcess(b *testing.B, which string) *rpcBenchProcess {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRPCBenchServerProcess$", "-test.count=1", "-test.timeout=0")
	cmd.Env = append(os.Environ(), rpcBenchServerEnv+"="+which)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = in.Close()
		_ = cmd.Wait()
	})
	p := &rpcBenchProcess{in: in, out: bufio.NewScanner(out)}
	addr, ok := strings.CutPrefix(p.line(b), "addr ")
	if !ok {
		b.Fatalf("server process %s did not print its address", which)
	}
	p.client, _ = rpcDial(b, addr, nil)
	if _, err := p.client.Echo(benchCtx(b), &testpb.EchoRequest{Message: "connect"}); err != nil {
		b.Fatal(err)
	}
	return p
}

// line returns the next line the process printed.
func (p *rpcBenchProcess) line(b *testing.B) string {
	if !p.out.Scan() {
		b.Fatalf("server process: %v", p.out.Err())
	}
	return p.out.Text()
}

// cpu returns the CPU time the server process has used.
func (p *rpcBenchProcess) cpu(b *testing.B) time.Duration {
	if _, err := io.WriteString(p.in, "\n"); err != nil {
		b.Fatal(err)
	}
	ns, ok := strings.CutPrefix(p.line(b), "cpu ")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil {
		b.Fatalf("server process: bad CPU line %q", ns)
	}
	return time.Duration(n)
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
