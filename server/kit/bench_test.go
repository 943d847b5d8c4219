package kit_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-kit/kit/endpoint"
	kitgrpc "github.com/go-kit/kit/transport/grpc"
	httptransport "github.com/go-kit/kit/transport/http"
	"github.com/gorilla/mux"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/seed8104ecd5/gizmo/server"
	"github.com/seed8104ecd5/gizmo/server/kit"
	"github.com/seed8104ecd5/gizmo/server/kit/internal/kitpb"
	"github.com/seed8104ecd5/gizmo/web"
)

// The benchmarks compare the kit paths with their baselines on the same
// business logic: look up an item by ID and return it as JSON (HTTP) or as
// a kitpb.Item (gRPC). Run them side by side, for example:
//
//	go test -run '^$' -bench . -count 6 ./server/kit/ | benchstat -col /impl -
//
// On a shared, loaded machine the Paired benchmarks are the steadier
// comparison: each iteration makes one call on each path, alternating which
// goes first, and reports both average times and their ratio
// (baseline time / kit time, so 1 means kit is as fast and 0.85 means kit
// has 85% of the baseline's throughput).

// paired runs base and kit alternately b.N times each and reports their
// average times and the ratio base/kit.
func paired(b *testing.B, base, kitCall func()) {
	b.Helper()
	var tBase, tKit time.Duration
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		first, second := base, kitCall
		pFirst, pSecond := &tBase, &tKit
		if i%2 == 1 {
			first, second, pFirst, pSecond = kitCall, base, &tKit, &tBase
		}
		t0 := time.Now()
		first()
		t1 := time.Now()
		second()
		*pFirst += t1.Sub(t0)
		*pSecond += time.Since(t1)
		i++
	}
	b.ReportMetric(float64(tBase.Nanoseconds())/float64(i), "base-ns/call")
	b.ReportMetric(float64(tKit.Nanoseconds())/float64(i), "kit-ns/call")
	b.ReportMetric(float64(tBase)/float64(tKit), "base/kit")
}

// benchItem is the business logic shared by every variant.
func benchItem(_ context.Context, req any) (any, error) {
	id := req.(string)
	return item{ID: id, Name: "item " + id}, nil
}

// benchKit is the kit service of the benchmarks: one HTTP endpoint and the
// gRPC GetItem method over benchItem, with pass-through middleware.
type benchKit struct{ catalog }

func (benchKit) Middleware(next endpoint.Endpoint) endpoint.Endpoint {
	return func(ctx context.Context, req any) (any, error) { return next(ctx, req) }
}

func (benchKit) HTTPEndpoints() []kit.HTTPEndpoint {
	return []kit.HTTPEndpoint{{
		Method:   http.MethodGet,
		Path:     "/items/{id}",
		Endpoint: benchItem,
		Decoder:  func(_ context.Context, r *http.Request) (any, error) { return web.VarString(r, "id") },
	}}
}

func (benchKit) RPCServer() any {
	return &catalogGRPC{get: kitgrpc.NewServer(benchItem,
		func(_ context.Context, req any) (any, error) { return req.(*kitpb.GetItemRequest).GetId(), nil },
		func(_ context.Context, resp any) (any, error) {
			it := resp.(item)
			return &kitpb.Item{Id: it.ID, Name: it.Name}, nil
		})}
}

// benchSimple is the same HTTP endpoint as a server.Service.
type benchSimple struct{}

func (benchSimple) Prefix() string                         { return "" }
func (benchSimple) Middleware(h http.Handler) http.Handler { return h }
func (benchSimple) Endpoints() []server.Endpoint {
	return []server.Endpoint{{
		Method: http.MethodGet,
		Path:   "/items/{id}",
		Handler: server.JSON(func(ctx context.Context, r *http.Request) (int, any, error) {
			id, err := web.VarString(r, "id")
			if err != nil {
				return 0, nil, err
			}
			resp, err := benchItem(ctx, id)
			return http.StatusOK, resp, err
		}),
	}}
}

// benchWriter is a reusable ResponseWriter, so the in-process benchmarks
// measure the servers rather than httptest.ResponseRecorder.
type benchWriter struct {
	h      http.Header
	status int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(code int)        { w.status = code }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }

// benchHandlers returns the HTTP handlers the benchmarks compare: "simple"
// and "kit" as described at BenchmarkHTTP, and plain go-kit
// transport/http servers of the same endpoint with go-kit's own JSON
// encoder and no middleware, on gorilla/mux ("gokit-mux") and on
// http.ServeMux ("gokit-servemux").
func benchHandlers(b *testing.B) map[string]http.Handler {
	simple, err := server.NewSimpleServer(server.Config{})
	if err != nil {
		b.Fatal(err)
	}
	if err := simple.Register(benchSimple{}); err != nil {
		b.Fatal(err)
	}
	k, err := kit.NewServer(benchKit{})
	if err != nil {
		b.Fatal(err)
	}
	gm := mux.NewRouter()
	gm.Path("/items/{id}").Methods(http.MethodGet).Handler(httptransport.NewServer(benchItem,
		func(_ context.Context, r *http.Request) (any, error) { return mux.Vars(r)["id"], nil },
		httptransport.EncodeJSONResponse))
	sm := http.NewServeMux()
	sm.Handle("GET /items/{id}", httptransport.NewServer(benchItem,
		func(_ context.Context, r *http.Request) (any, error) { return r.PathValue("id"), nil },
		httptransport.EncodeJSONResponse))
	return map[string]http.Handler{"simple": simple, "kit": k, "gokit-mux": gm, "gokit-servemux": sm}
}

// BenchmarkHTTP serves GET /items/42 in process (ServeHTTP, no network)
// through server.SimpleServer with a server.JSON endpoint (impl=simple) and
// through kit.Server with a go-kit endpoint (impl=kit). Both include the
// whole default middleware (recovery, request ID, access log to the
// discard logger, metrics).
//
// impl=gokit-mux and impl=gokit-servemux are the baselines of plain go-kit
// (see benchHandlers), which have no middleware at all.
func BenchmarkHTTP(b *testing.B) {
	hs := benchHandlers(b)
	for _, impl := range []string{"simple", "kit", "gokit-mux", "gokit-servemux"} {
		b.Run("impl="+impl, func(b *testing.B) {
			h := hs[impl]
			req := httptest.NewRequest(http.MethodGet, "/items/42", nil)
			w := &benchWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.status = 0
				h.ServeHTTP(w, req)
			}
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
		})
	}
}

// BenchmarkHTTPLoopback is BenchmarkHTTP over real TCP on 127.0.0.1 with a
// keep-alive client, one request at a time.
func BenchmarkHTTPLoopback(b *testing.B) {
	hs := benchHandlers(b)
	for _, impl := range []string{"simple", "kit"} {
		b.Run("impl="+impl, func(b *testing.B) {
			ts := httptest.NewServer(hs[impl])
			defer ts.Close()
			client := ts.Client()
			url := ts.URL + "/items/42"
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}

// bareGRPC implements GetItem directly on grpc-go: the baseline.
type bareGRPC struct {
	kitpb.UnimplementedItemServiceServer
}

func (bareGRPC) GetItem(ctx context.Context, req *kitpb.GetItemRequest) (*kitpb.Item, error) {
	resp, err := benchItem(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	it := resp.(item)
	return &kitpb.Item{Id: it.ID, Name: it.Name}, nil
}

// grpcClient serves GetItem over TCP on 127.0.0.1 and returns a client:
// impl "bare" is grpc.NewServer with a hand-written implementation, impl
// "kit" is kit.Run with go-kit's transport/grpc, the pass-through
// middleware and package server's interceptors (recovery, request ID,
// metrics, access log to the discard logger). The server stops when the
// benchmark ends.
func grpcClient(b *testing.B, impl string) kitpb.ItemServiceClient {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	switch impl {
	case "bare":
		gs := grpc.NewServer()
		kitpb.RegisterItemServiceServer(gs, bareGRPC{})
		go func() { _ = gs.Serve(ln) }()
		b.Cleanup(gs.Stop)
	case "kit":
		httpLn, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- kit.Run(ctx, benchKit{}, kit.WithServerOptions(server.WithListener(httpLn), server.WithRPCListener(ln)))
		}()
		b.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				b.Error(err)
			}
		})
	}
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cc.Close() })
	return kitpb.NewItemServiceClient(cc)
}

// getItem makes one GetItem call and checks the answer.
func getItem(b *testing.B, client kitpb.ItemServiceClient) {
	it, err := client.GetItem(context.Background(), &kitpb.GetItemRequest{Id: "42"})
	if err != nil {
		b.Fatal(err)
	}
	if it.GetName() != "item 42" {
		b.Fatalf("item %v", it)
	}
}

// BenchmarkGRPC calls GetItem over TCP on 127.0.0.1, one call at a time,
// on the bare grpc-go server and on the kit server (see grpcClient).
func BenchmarkGRPC(b *testing.B) {
	for _, impl := range []string{"bare", "kit"} {
		b.Run("impl="+impl, func(b *testing.B) {
			client := grpcClient(b, impl)
			b.ReportAllocs()
			for b.Loop() {
				getItem(b, client)
			}
		})
	}
}

// BenchmarkGRPCPaired is BenchmarkGRPC with the two servers called
// alternately in one loop.
func BenchmarkGRPCPaired(b *testing.B) {
	bare, k := grpcClient(b, "bare"), grpcClient(b, "kit")
	paired(b, func() { getItem(b, bare) }, func() { getItem(b, k) })
}

// BenchmarkHTTPPaired is BenchmarkHTTP with the two servers called
// alternately in one loop.
func BenchmarkHTTPPaired(b *testing.B) {
	hs := benchHandlers(b)
	call := func(h http.Handler) func() {
		req := httptest.NewRequest(http.MethodGet, "/items/42", nil)
		w := &benchWriter{h: http.Header{}}
		return func() {
			clear(w.h)
			w.status = 0
			h.ServeHTTP(w, req)
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
		}
	}
	paired(b, call(hs["simple"]), call(hs["kit"]))
}

// BenchmarkHTTPLoopbackPaired is BenchmarkHTTPLoopback with the two servers
// called alternately in one loop.
func BenchmarkHTTPLoopbackPaired(b *testing.B) {
	hs := benchHandlers(b)
	call := func(h http.Handler) func() {
		ts := httptest.NewServer(h)
		b.Cleanup(ts.Close)
		client, url := ts.Client(), ts.URL+"/items/42"
		return func() {
			resp, err := client.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	}
	paired(b, call(hs["simple"]), call(hs["kit"]))
}
