package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestSimpleGracefulShutdownUnderLoad(t *testing.T) {
	const n = 200
	var inFlight atomic.Int32
	release := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		inFlight.Add(1)
		select {
		case <-release:
		case <-time.After(30 * time.Second): // bound the test if it goes wrong
		}
		_, _ = io.WriteString(w, "done")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	s := newTestSimple(t, Config{DrainDelay: 2 * time.Second, ShutdownTimeout: 20 * time.Second}, WithListener(ln))
	if err := s.Register(httpSvc{eps: []Endpoint{{Method: "GET", Path: "/slow", Handler: slow}}}); err != nil {
		t.Fatal(err)
	}
	stop := startRun(t, s)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}, Timeout: 60 * time.Second}
	defer client.CloseIdleConnections()
	type result struct {
		status int
		body   string
		err    error
	}
	results := make(chan result, n)
	for range n {
		go func() {
			resp, err := client.Get("http://" + addr + "/slow")
			if err != nil {
				results <- result{err: err}
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- result{resp.StatusCode, string(b), err}
		}()
	}
	eventually(t, "200 requests in flight", func() bool { return inFlight.Load() == n })

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()

	// Readiness fails during the drain, while the listener still accepts.
	probe := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	var readyBody string
	eventually(t, "readiness to fail", func() bool {
		resp, err := probe.Get("http://" + addr + "/readyz")
		if err != nil {
			t.Fatalf("readiness probe during drain: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		readyBody = string(b)
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	if !strings.Contains(readyBody, "shutting down") {
		t.Errorf("readiness body during drain: %q", readyBody)
	}
	// After the drain the listener closes: new connections are refused
	// while the slow requests are still running.
	eventually(t, "new connections to be refused", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return false
		}
		return true
	})
	if got := inFlight.Load(); got != n {
		t.Fatalf("in flight = %d, want %d", got, n)
	}
	close(release)
	for range n {
		r := <-results
		if r.err != nil || r.status != http.StatusOK || r.body != "done" {
			t.Fatalf("in-flight request: status %d body %q err %v", r.status, r.body, r.err)
		}
	}
	if err := <-stopped; err != nil {
		t.Errorf("Run after graceful shutdown = %v, want nil", err)
	}
}

func TestSimpleShutdownDeadlineForcesClose(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	var entered atomic.Bool
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newTestSimple(t, Config{ShutdownTimeout: 200 * time.Millisecond}, WithListener(ln))
	_ = s.Register(httpSvc{eps: []Endpoint{{Method: "GET", Path: "/stuck", Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		entered.Store(true)
		<-block
	})}}})
	stop := startRun(t, s)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/stuck")
		if err == nil {
			resp.Body.Close()
		}
	}()
	eventually(t, "request to start", entered.Load)
	err = stop()
	if err == nil || !strings.Contains(err.Error(), "did not finish within 200ms") {
		t.Errorf("Run = %v, want a forced-close error", err)
	}
}

func TestSignalContext(t *testing.T) {
	ctx, stop := SignalContext(context.Background())
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("context not cancelled by SIGTERM")
	}
	// A cancelled parent cancels it too.
	parent, cancel := context.WithCancel(context.Background())
	ctx2, stop2 := SignalContext(parent)
	defer stop2()
	cancel()
	<-ctx2.Done()
}

func TestSimpleRunBindError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	s := newTestSimple(t, Config{HTTPAddr: "127.0.0.1", HTTPPort: port})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = s.Run(ctx)
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Run on a used port = %v, want EADDRINUSE", err)
	}
	if ctx.Err() != nil {
		t.Error("Run waited for the context instead of returning the bind error")
	}
	if err := s.Run(ctx); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("second Run = %v", err)
	}
	err = s.Register(httpSvc{eps: []Endpoint{{Method: "GET", Path: "/late", Handler: textHandler("")}}})
	if err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("Register after Run = %v", err)
	}
}

func TestSimpleRunReturnsServeError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newTestSimple(t, Config{DrainDelay: time.Hour}, WithListener(ln))
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	eventually(t, "server to serve", func() bool {
		resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	ln.Close() // the listener fails under the running server
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Run = %v, want the listener's error", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after its listener failed (the drain delay must be skipped)")
	}
	if !s.Readiness().ShuttingDown() {
		t.Error("readiness still passing after the listener failed")
	}
}

func TestSimpleReadHeaderTimeout(t *testing.T) {
	_, addr, _ := runOn(t, Config{HTTPReadHeaderTimeout: 200 * time.Millisecond})
	conn := dialAndWrite(t, addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
	waitForClose(t, conn, conn, "a connection with unfinished headers")
	// A client that finishes its headers is served.
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("healthz: %d", resp.StatusCode)
	}
}

func TestSimpleMaxHeaderBytes(t *testing.T) {
	_, addr, _ := runOn(t, Config{MaxHeaderBytes: 1 << 10})
	get := func(headerLen int) *http.Response {
		t.Helper()
		req := mustRequest(t, http.MethodGet, "http://"+addr+"/healthz")
		req.Header.Set("X-Big", strings.Repeat("a", headerLen))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	// net/http allows 4 KiB of slack above MaxHeaderBytes; 16 KiB is over.
	if resp := get(16 << 10); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("16 KiB header: status %d, want 431", resp.StatusCode)
	}
	if resp := get(100); resp.StatusCode != http.StatusOK {
		t.Errorf("100 B header: status %d, want 200", resp.StatusCode)
	}
}

func TestSimpleIdleTimeout(t *testing.T) {
	_, addr, _ := runOn(t, Config{HTTPIdleTimeout: 200 * time.Millisecond})
	conn := dialAndWrite(t, addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("first request: status %d, close %v; want a kept-alive 200", resp.StatusCode, resp.Close)
	}
	// The connection now idles, and nothing more may arrive on it.
	if n := waitForClose(t, conn, br, "an idle keep-alive connection"); n != 0 {
		t.Fatalf("%d unexpected bytes on the idle connection", n)
	}
}

// dialAndWrite opens a raw connection to addr, writes req to it and
// closes it when the test ends.
func dialAndWrite(t *testing.T, addr, req string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	return conn
}

// waitForClose reads r (from conn) until the server closes the
// connection, failing if that takes 15s, and returns the bytes read.
func waitForClose(t *testing.T, conn net.Conn, r io.Reader, what string) int64 {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	n, err := io.Copy(io.Discard, r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("server kept %s open for 15s", what)
	}
	return n
}

func TestSimpleWriteTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newTestSimple(t, Config{HTTPWriteTimeout: 100 * time.Millisecond}, WithListener(ln))
	release := make(chan struct{})
	defer close(release)
	if err := s.Register(httpSvc{eps: []Endpoint{{Method: "GET", Path: "/slow", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(time.Second):
		}
		_, _ = io.WriteString(w, "late")
	})}}}); err != nil {
		t.Fatal(err)
	}
	startRun(t, s)
	// A response that is not written within the write timeout never
	// reaches the client: the server closes the connection instead.
	resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("slow response arrived past the write timeout: %d %q", resp.StatusCode, body)
	}
}

func TestSimpleTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSignedCert(t, dir)
	_, addr, stop := runOn(t, Config{TLSCertFile: certFile, TLSKeyFile: keyFile})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Errorf("https healthz: %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	// Plain HTTP to the TLS port is not served.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP request to TLS port got 200")
		}
	}
	if err := stop(); err != nil {
		t.Errorf("Run = %v", err)
	}

	// Unreadable key pair: NewSimpleServer fails, naming the fields.
	_, err = NewSimpleServer(Config{TLSCertFile: certFile, TLSKeyFile: filepath.Join(dir, "missing.pem")})
	if err == nil || !strings.Contains(err.Error(), "TLS_KEY_FILE") {
		t.Errorf("missing key file: %v", err)
	}
}

func TestSimpleHealthAndReadiness(t *testing.T) {
	s := newTestSimple(t, Config{HealthPath: "/live", ReadyPath: "/ready"})
	var dbDown atomic.Bool
	dbDown.Store(true)
	s.AddReadinessCheck("db", func(context.Context) error {
		if dbDown.Load() {
			return errors.New("db down")
		}
		return nil
	})
	s.AddReadinessCheck("cache", func(context.Context) error { return nil })
	var hooks atomic.Int32
	s.Readiness().OnShutdown(func() { hooks.Add(1) })

	get := func(path string) (int, map[string]any) {
		rec := serveReq(s, mustRequest(t, "GET", path))
		return rec.Code, decodeBody(t, rec.Body.Bytes())
	}
	if code, body := get("/live"); code != 200 || body["status"] != "ok" {
		t.Errorf("liveness: %d %v", code, body)
	}
	code, body := get("/ready")
	checks, _ := body["checks"].(map[string]any)
	if code != 503 || body["status"] != "unavailable" || checks["db"] != "failed" || checks["cache"] != "ok" {
		t.Errorf("readiness with failing check: %d %v", code, body)
	}
	if strings.Contains(serveReq(s, mustRequest(t, "GET", "/ready")).Body.String(), "db down") {
		t.Error("readiness leaks the check error text")
	}
	dbDown.Store(false)
	if code, body := get("/ready"); code != 200 || body["status"] != "ok" {
		t.Errorf("readiness with passing checks: %d %v", code, body)
	}
	s.AddReadinessCheck("panicky", func(context.Context) error { panic("oops") })
	if code, _ := get("/ready"); code != 503 {
		t.Errorf("readiness with panicking check: %d", code)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(s.Readiness().StartShutdown)
	}
	wg.Wait()
	if code, body := get("/ready"); code != 503 || body["status"] != "shutting down" {
		t.Errorf("readiness after StartShutdown: %d %v", code, body)
	}
	if hooks.Load() != 1 {
		t.Errorf("OnShutdown hook ran %d times, want 1", hooks.Load())
	}
	if code, _ := get("/live"); code != 200 {
		t.Errorf("liveness during shutdown: %d", code)
	}
}

func TestSimplePprof(t *testing.T) {
	off := newTestSimple(t, Config{})
	if rec := serveReq(off, mustRequest(t, "GET", "/debug/pprof/")); rec.Code != 404 {
		t.Errorf("pprof off by default: got %d", rec.Code)
	}
	on := newTestSimple(t, Config{EnablePprof: true})
	if rec := serveReq(on, mustRequest(t, "GET", "/debug/pprof/")); rec.Code != 200 || !strings.Contains(rec.Body.String(), "goroutine") {
		t.Errorf("pprof index: %d", rec.Code)
	}
	if rec := serveReq(on, mustRequest(t, "GET", "/debug/pprof/goroutine?debug=1")); rec.Code != 200 || !strings.Contains(rec.Body.String(), "goroutine profile") {
		t.Errorf("pprof goroutine: %d %.80q", rec.Code, rec.Body.String())
	}
}

func mustRequest(t testing.TB, method, target string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.RemoteAddr = "192.0.2.1:1234"
	return req
}
