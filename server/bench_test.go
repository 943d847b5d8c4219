package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"
	"github.com/seed8104ecd5/gizmo/web"
)

// benchWriter is a reusable ResponseWriter, so the benchmarks measure the
// handlers rather than httptest.ResponseRecorder.
type benchWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(code int)        { w.status = code }
func (w *benchWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

type benchUser struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

var benchPayload = benchUser{ID: "42", Name: "Ann Example", Email: "ann@example.com"}

// bareJSON is the baseline: a plain net/http handler writing the payload.
var bareJSON = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	_ = web.WriteJSON(w, http.StatusOK, benchPayload)
})

func runBench(b *testing.B, h http.Handler, target string) {
	b.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, req)
	}
	if w.status >= 500 {
		b.Fatalf("status %d", w.status)
	}
}

func benchServer(b *testing.B, h http.Handler, opts ...Option) *SimpleServer {
	b.Helper()
	s, err := NewSimpleServer(Config{}, opts...)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Register(httpSvc{prefix: "/users", eps: []Endpoint{
		{Method: http.MethodGet, Path: "/me", Handler: h},
		{Method: http.MethodGet, Path: "/{id}", Handler: h},
	}}); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkHTTPBare is the baseline handler with no router or middleware.
func BenchmarkHTTPBare(b *testing.B) {
	runBench(b, bareJSON, "/users/42")
}

// BenchmarkHTTPSimple is the same handler behind SimpleServer's router and
// default middleware (access log to the default discard logger, metrics,
// request ID, recovery; tracing off).
func BenchmarkHTTPSimple(b *testing.B) {
	runBench(b, benchServer(b, bareJSON), "/users/42")
}

// BenchmarkHTTPSimpleJSONEndpoint uses the JSON endpoint adapter instead.
func BenchmarkHTTPSimpleJSONEndpoint(b *testing.B) {
	h := JSON(func(context.Context, *http.Request) (int, any, error) { return http.StatusOK, benchPayload, nil })
	runBench(b, benchServer(b, h), "/users/42")
}

// BenchmarkHTTPSimpleAccessLog enables the access log (JSON to io.Discard).
func BenchmarkHTTPSimpleAccessLog(b *testing.B) {
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	runBench(b, benchServer(b, bareJSON, WithLogger(logger)), "/users/42")
}

// BenchmarkHTTPSimpleNotFound measures the unmatched-path answer.
func BenchmarkHTTPSimpleNotFound(b *testing.B) {
	runBench(b, benchServer(b, bareJSON), "/nothing/here")
}

// BenchmarkHTTPMuxOnly is the handler behind a bare gorilla/mux router with
// the same routes, to separate the router's cost from the middleware's.
func BenchmarkHTTPMuxOnly(b *testing.B) {
	s := benchServer(b, bareJSON)
	runBench(b, s.Router(), "/users/42")
}

// BenchmarkHTTPSimpleRouterMatch is BenchmarkHTTPSimple with the server's
// route table given up, as after a call to Router: every request is matched
// by mux.Router.Match, as before the table existed.
func BenchmarkHTTPSimpleRouterMatch(b *testing.B) {
	s := benchServer(b, bareJSON)
	s.Router()
	runBench(b, s, "/users/42")
}

// varsJSON is bareJSON reading the route variable, as a real handler of
// /users/{id} would.
var varsJSON = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	u := benchPayload
	u.ID = mux.Vars(r)["id"]
	_ = web.WriteJSON(w, http.StatusOK, u)
})

// BenchmarkHTTPSimpleVars is BenchmarkHTTPSimple with a handler that reads
// mux.Vars, which makes the table build the variables map.
func BenchmarkHTTPSimpleVars(b *testing.B) {
	runBench(b, benchServer(b, varsJSON), "/users/42")
}

// BenchmarkHTTPSimpleVarsRouterMatch is BenchmarkHTTPSimpleVars matched by
// mux.Router.Match.
func BenchmarkHTTPSimpleVarsRouterMatch(b *testing.B) {
	s := benchServer(b, varsJSON)
	s.Router()
	runBench(b, s, "/users/42")
}
