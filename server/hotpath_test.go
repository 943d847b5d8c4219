package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

// Tests of the per-request fast paths: each checks that a shortcut gives
// the result of the plain code it replaced. The allocation budgets are in
// hotpath_allocs_test.go.

// TestCleanPathShortcut compares cleanPath, whose isCleanPath shortcut
// skips path.Clean, with the plain computation.
func TestCleanPathShortcut(t *testing.T) {
	for _, p := range []string{"", "/", "/a", "/a/", "/a//b", "/a/./b", "/a/../b", "/.well-known/x",
		"a/b", "/a/b.", "/a/.b", "/..", "/.", "//", "/a/b/", "/a.b/c", "/a/b/..", "/a/b/."} {
		checkCleanPath(t, p)
	}
}

func FuzzCleanPath(f *testing.F) {
	for _, p := range []string{"/users/42", "/a//b", "/a/../b", "/.x", "x"} {
		f.Add(p)
	}
	f.Fuzz(checkCleanPath)
}

func checkCleanPath(t *testing.T, p string) {
	want := p
	if want == "" {
		want = "/"
	}
	if want[0] != '/' {
		want = "/" + want
	}
	np := path.Clean(want)
	if want[len(want)-1] == '/' && np != "/" {
		np += "/"
	}
	if got := cleanPath(p); got != np {
		t.Errorf("cleanPath(%q) = %q, want %q", p, got, np)
	}
}

// TestRequestIDOutlivesRequest checks that a generated request ID, whose
// bytes live in the per-request state, stays intact for a goroutine that
// keeps the request's context after the handler returned.
func TestRequestIDOutlivesRequest(t *testing.T) {
	s := newTestSimple(t, Config{})
	ctxs := make(chan context.Context, 1)
	if err := s.Register(httpSvc{eps: []Endpoint{{Method: "GET", Path: "/keep", Handler: http.HandlerFunc(
		func(_ http.ResponseWriter, r *http.Request) { ctxs <- r.Context() })}}}); err != nil {
		t.Fatal(err)
	}
	rec := serveReq(s, httptest.NewRequest(http.MethodGet, "/keep", nil))
	kept := <-ctxs
	for range 3 {
		runtime.GC()
		serveReq(s, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	}
	id := rec.Header().Get(RequestIDHeader)
	if got := RequestID(kept); got != id || len(id) != requestIDLen || !validRequestID(id) {
		t.Fatalf("RequestID of a kept context = %q, response header %q", got, id)
	}
	// An incoming ID is kept as sent (header keys are canonical).
	req := httptest.NewRequest(http.MethodGet, "/keep", nil)
	req.Header.Set("x-request-id", "client-1")
	rec = serveReq(s, req)
	if got := RequestID(<-ctxs); got != "client-1" || rec.Header().Get(RequestIDHeader) != "client-1" {
		t.Errorf("incoming ID: context %q, header %q", got, rec.Header().Get(RequestIDHeader))
	}
}

// plainWriter is a ResponseWriter without WriteString.
type plainWriter struct {
	h    http.Header
	body bytes.Buffer
	code int
}

func (w *plainWriter) Header() http.Header         { return w.h }
func (w *plainWriter) WriteHeader(code int)        { w.code = code }
func (w *plainWriter) Write(b []byte) (int, error) { return w.body.Write(b) }

// TestWriteStringThroughStack writes with io.WriteString, which now uses
// the stack's WriteString, to writers with and without one of their own;
// the access log counts the bytes either way.
func TestWriteStringThroughStack(t *testing.T) {
	var logs bytes.Buffer
	s := newTestSimple(t, Config{}, WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	if err := s.Register(httpSvc{eps: []Endpoint{{Method: "GET", Path: "/s", Handler: textHandler("hello")}}}); err != nil {
		t.Fatal(err)
	}
	rec := serveReq(s, httptest.NewRequest(http.MethodGet, "/s", nil))
	pw := &plainWriter{h: http.Header{}}
	s.ServeHTTP(pw, httptest.NewRequest(http.MethodGet, "/s", nil))
	if rec.Code != 200 || rec.Body.String() != "hello" || pw.code != 0 || pw.body.String() != "hello" {
		t.Fatalf("recorder %d %q, plain writer %d %q", rec.Code, rec.Body, pw.code, pw.body.String())
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d access log lines, want 2:\n%s", len(lines), logs.String())
	}
	for _, l := range lines {
		m := decodeBody(t, []byte(l))
		if m["bytes"] != 5.0 || m["status"] != 200.0 {
			t.Errorf("access log %s: want bytes 5, status 200", l)
		}
	}
}

// TestAccessLogSource checks the source position the access log records
// carry for a handler with AddSource: the function that logs, on both
// sides.
func TestAccessLogSource(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{AddSource: true}))
	s := newTestSimple(t, Config{}, WithLogger(logger))
	for range 2 { // the second line uses the position found by the first
		serveReq(s, httptest.NewRequest(http.MethodGet, "/nothing", nil))
	}
	m, err := newRPCMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	o := &rpcObserver{logger: logger, metrics: m, mdKey: findIncomingMDKey()}
	info := &grpc.UnaryServerInfo{FullMethod: echoMethod}
	for range 2 {
		if _, err := o.unary(context.Background(), nil, info, func(context.Context, any) (any, error) { return nil, nil }); err != nil {
			t.Fatal(err)
		}
	}
	var lines []map[string]any
	dec := json.NewDecoder(&logs)
	for dec.More() {
		var l map[string]any
		if err := dec.Decode(&l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	want := []string{"(*stack).finish", "(*stack).finish", "(*rpcObserver).finish", "(*rpcObserver).finish"}
	if len(lines) != len(want) {
		t.Fatalf("%d log lines, want %d", len(lines), len(want))
	}
	for i, l := range lines {
		src, _ := l["source"].(map[string]any)
		fn, _ := src["function"].(string)
		file, _ := src["file"].(string)
		if !strings.HasSuffix(fn, "/server."+want[i]) || (!strings.HasSuffix(file, "/stack.go") && !strings.HasSuffix(file, "/interceptor.go")) {
			t.Errorf("line %d (%v): source %v, want %s", i, l["msg"], src, want[i])
		}
	}
}

// TestIncomingRequestID compares the interceptor's direct read of the
// x-request-id metadata with metadata.ValueFromIncomingContext, which it
// replaces, on the metadata a client or a hand-built context can give.
func TestIncomingRequestID(t *testing.T) {
	if findIncomingMDKey() == nil {
		t.Fatal("the context key of grpc-go's incoming metadata was not found: the interceptor copies the metadata again")
	}
	for _, md := range []metadata.MD{
		nil,
		{},
		{"x-request-id": {"a"}},
		{"x-request-id": {"a", "b"}},
		{"x-request-id": {}},
		{"X-Request-Id": {"upper"}},
		{"x-request-id-2": {"other"}, "user-agent": {"x"}},
		{"x-request-iD": {"mixed"}, "te": {"trailers"}},
	} {
		checkIncomingRequestID(t, md)
	}
}

func FuzzIncomingRequestID(f *testing.F) {
	f.Add("x-request-id", "abc", "user-agent", "x")
	f.Add("X-REQUEST-ID", "abc", "x-request-id", "")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		checkIncomingRequestID(t, metadata.MD{k1: {v1}, k2: {v2}})
	})
}

func checkIncomingRequestID(t *testing.T, md metadata.MD) {
	ctx := context.Background()
	if md != nil {
		ctx = metadata.NewIncomingContext(ctx, md)
	}
	var want string
	if vals := metadata.ValueFromIncomingContext(ctx, RequestIDMetadataKey); len(vals) > 0 {
		want = vals[0]
	}
	direct := (&rpcObserver{mdKey: findIncomingMDKey()}).incomingRequestID(ctx)
	fallback := (&rpcObserver{}).incomingRequestID(ctx)
	// Two keys that differ only in case make ValueFromIncomingContext's
	// choice depend on map order; only the exact key is deterministic.
	ambiguous := 0
	for k := range md {
		if strings.EqualFold(k, RequestIDMetadataKey) {
			ambiguous++
		}
	}
	if _, exact := md[RequestIDMetadataKey]; ambiguous > 1 && !exact {
		return
	}
	if direct != want || fallback != want {
		t.Errorf("metadata %v: direct %q, fallback %q, ValueFromIncomingContext %q", md, direct, fallback, want)
	}
}

// TestRPCMetricsCache checks that the cached children count as the vectors
// would: per method and code, beyond the codes grpc-go defines and beyond
// the cache's size.
func TestRPCMetricsCache(t *testing.T) {
	m, err := newRPCMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		m.observe("/a/A", codes.OK, time.Millisecond)
	}
	m.observe("/a/A", codes.NotFound, time.Millisecond)
	m.observe("/a/B", codes.OK, time.Millisecond)
	m.observe("/a/A", codes.Code(99), time.Millisecond)
	for i := range maxCachedMethods + 5 {
		m.observe("/many/M"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+time.Duration(i).String(), codes.OK, time.Millisecond)
	}
	m.observe("/a/late", codes.OK, time.Millisecond) // the cache is full now
	m.observe("/a/late", codes.OK, time.Millisecond)
	for _, c := range []struct {
		method, code string
		want         float64
	}{{"/a/A", "OK", 3}, {"/a/A", "NotFound", 1}, {"/a/B", "OK", 1}, {"/a/A", "Code(99)", 1}, {"/a/late", "OK", 2}} {
		if got := testutil.ToFloat64(m.handled.WithLabelValues(c.method, c.code)); got != c.want {
			t.Errorf("%s %s: handled %v, want %v", c.method, c.code, got, c.want)
		}
	}
	if n := len(*m.methods.Load()); n != maxCachedMethods {
		t.Errorf("%d methods cached, want the bound %d", n, maxCachedMethods)
	}
	if got := testutil.CollectAndCount(m.latency); got != 5+maxCachedMethods+5 {
		t.Errorf("%d latency series, want %d", got, 5+maxCachedMethods+5)
	}
}

// TestHijackGetsTheSocket checks that a handler that hijacks its
// connection gets the *net.TCPConn, not the listener's deadline wrapper,
// and can use it as before.
func TestHijackGetsTheSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newTestSimple(t, Config{}, WithListener(ln))
	types := make(chan string, 1)
	if err := s.Register(httpSvc{eps: []Endpoint{{Method: "GET", Path: "/hijack", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		c, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			types <- err.Error()
			return
		}
		defer c.Close()
		_, tcp := c.(*net.TCPConn)
		types <- map[bool]string{true: "tcp", false: "other"}[tcp]
		_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
		_ = rw.Flush()
	})}}}); err != nil {
		t.Fatal(err)
	}
	startRun(t, s)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.WriteString(c, "GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if got := <-types; got != "tcp" || string(body) != "hi" {
		t.Errorf("hijacked connection: %s, body %q", got, body)
	}
}

func TestDeadlineTick(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want time.Duration
	}{
		{Config{}.WithDefaults(), 100 * time.Millisecond},
		{Config{HTTPReadHeaderTimeout: 200 * time.Millisecond}.WithDefaults(), 10 * time.Millisecond},
		{Config{HTTPReadHeaderTimeout: 2 * time.Second}.WithDefaults(), 40 * time.Millisecond},
		{Config{HTTPIdleTimeout: time.Second, HTTPReadHeaderTimeout: time.Minute, HTTPReadTimeout: time.Minute, HTTPWriteTimeout: time.Minute}, 20 * time.Millisecond},
	} {
		if got := deadlineTick(c.cfg); got != c.want {
			t.Errorf("deadlineTick(read %v, header %v, write %v, idle %v) = %v, want %v", c.cfg.HTTPReadTimeout,
				c.cfg.HTTPReadHeaderTimeout, c.cfg.HTTPWriteTimeout, c.cfg.HTTPIdleTimeout, got, c.want)
		}
	}
}

// TestReqStateSizeClass keeps the per-request state within the 512-byte
// size class (see reqState): a larger struct would move every request's
// allocation to the allocator's path for objects with a malloc header,
// which also costs the garbage collector more to scan.
func TestReqStateSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(reqState{}); n > 512 {
		t.Errorf("reqState is %d bytes, want at most 512", n)
	}
}
