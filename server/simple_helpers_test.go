package server

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// httpSvc is a Service built from fields, for tests.
type httpSvc struct {
	prefix string
	mw     func(http.Handler) http.Handler
	eps    []Endpoint
}

func (s httpSvc) Prefix() string { return s.prefix }
func (s httpSvc) Middleware(h http.Handler) http.Handler {
	if s.mw == nil {
		return h
	}
	return s.mw(h)
}
func (s httpSvc) Endpoints() []Endpoint { return s.eps }

// textHandler answers 200 with body.
func textHandler(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, body)
	})
}

// newTestSimple builds a SimpleServer or fails the test.
func newTestSimple(t testing.TB, cfg Config, opts ...Option) *SimpleServer {
	t.Helper()
	s, err := NewSimpleServer(cfg, opts...)
	if err != nil {
		t.Fatalf("NewSimpleServer: %v", err)
	}
	return s
}

// serve runs req through s and returns the recorded response.
func serveReq(s http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

// decodeBody decodes a JSON response body into a map.
func decodeBody(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", b, err)
	}
	return m
}

// runOn starts s.Run on a fresh 127.0.0.1 listener and returns its base
// URL, the listener address and a stop function that cancels Run and
// returns its error.
func runOn(t *testing.T, cfg Config, opts ...Option) (*SimpleServer, string, func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newTestSimple(t, cfg, append(opts, WithListener(ln))...)
	return s, ln.Addr().String(), startRun(t, s)
}

// startRun runs s in the background; the returned func cancels it and
// waits (at most 20s) for Run's error.
func startRun(t *testing.T, s *SimpleServer) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(20 * time.Second):
				t.Errorf("Run did not return within 20s of cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// eventually polls cond every 10ms until it holds, failing after 10s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
