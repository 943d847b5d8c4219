//go:build !race

package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/seed8104ecd5/gizmo/web"
)

// The allocation budgets of the per-request paths. Allocation counts are
// exact (the race detector changes them, hence the build tag), so these
// hold the figures docs/benchmarks.md quotes.

// allocsPerRequest serves target through h with a reusable writer.
func allocsPerRequest(t *testing.T, h http.Handler, target string) float64 {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	w := &benchWriter{h: http.Header{}}
	h.ServeHTTP(w, req) // first use: metric children, log position
	return testing.AllocsPerRun(200, func() {
		clear(w.h)
		h.ServeHTTP(w, req)
	})
}

func TestStackAllocations(t *testing.T) {
	bare := allocsPerRequest(t, bareJSON, "/users/42")
	srv := func(opts ...Option) http.Handler {
		s := newTestSimple(t, Config{}, opts...)
		if err := s.Register(httpSvc{prefix: "/users", eps: []Endpoint{{Method: "GET", Path: "/{id}", Handler: bareJSON}}}); err != nil {
			t.Fatal(err)
		}
		return s
	}
	// The per-request state, which holds the request copy and the request
	// ID, is the one allocation the default middleware adds.
	if got := allocsPerRequest(t, srv(), "/users/42"); got > bare+1 {
		t.Errorf("default stack: %v allocations per request, bare handler %v; want at most 1 more", got, bare)
	}
	// A handler that reads its route variable through web.RouteVar (and
	// so web's Var getters) costs nothing more: the stack answers it
	// without the map mux.Vars builds.
	withVar := newTestSimple(t, Config{})
	if err := withVar.Register(httpSvc{prefix: "/users", eps: []Endpoint{{Method: "GET", Path: "/{id}",
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if web.RouteVar(r, "id") != "42" {
				t.Error("web.RouteVar(r, \"id\") is not 42")
			}
			bareJSON.ServeHTTP(w, r)
		})}}}); err != nil {
		t.Fatal(err)
	}
	if got := allocsPerRequest(t, withVar, "/users/42"); got > bare+1 {
		t.Errorf("default stack, handler reading web.RouteVar: %v allocations per request, bare handler %v; want at most 1 more", got, bare)
	}
	// With a JSON access log, slog takes two more: the Record's room for
	// the attributes beyond its first five, and the JSON handler's boxing
	// of the float duration_seconds (it formats floats with encoding/json).
	logged := srv(WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))))
	if got := allocsPerRequest(t, logged, "/users/42"); got > bare+3 {
		t.Errorf("with the access log: %v allocations per request, bare handler %v; want at most 3 more", got, bare)
	}
}

func TestInterceptorAllocations(t *testing.T) {
	m, err := newRPCMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	o := &rpcObserver{logger: slog.New(slog.DiscardHandler), metrics: m, mdKey: findIncomingMDKey()}
	info := &grpc.UnaryServerInfo{FullMethod: echoMethod}
	handler := func(ctx context.Context, req any) (any, error) { return req, nil }
	for _, md := range []metadata.MD{{RequestIDMetadataKey: {"abc-123"}}, {"user-agent": {"x"}}} {
		ctx := metadata.NewIncomingContext(context.Background(), md)
		ctx = grpc.NewContextWithServerTransportStream(ctx, &nopTransportStream{})
		_, _ = o.unary(ctx, nil, info, handler)
		// The handler's context, which holds the request ID, is the one
		// allocation.
		if got := testing.AllocsPerRun(200, func() { _, _ = o.unary(ctx, nil, info, handler) }); got > 1 {
			t.Errorf("metadata %v: %v allocations per call, want at most 1", md, got)
		}
	}
}
