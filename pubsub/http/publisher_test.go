package http_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
	pubsubhttp "github.com/seed8104ecd5/gizmo/pubsub/http"
)

// scripted is a receiver that answers each request with the next status
// of a script (the last one repeats) and records what it got.
type scripted struct {
	mu       sync.Mutex
	script   []int
	extra    func(n int, w http.ResponseWriter) // sets headers for request n (from 0)
	requests []*http.Request
	bodies   []string
	arrivals []time.Time
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	n := len(s.requests)
	s.requests = append(s.requests, r)
	s.bodies = append(s.bodies, string(body))
	s.arrivals = append(s.arrivals, time.Now())
	status := s.script[min(n, len(s.script)-1)]
	s.mu.Unlock()
	if s.extra != nil {
		s.extra(n, w)
	}
	w.WriteHeader(status)
	if status >= 300 {
		fmt.Fprintf(w, "status %d for request %d\n", status, n)
	}
}

func (s *scripted) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

func (s *scripted) header(n int, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[n].Header.Get(name)
}

// fastRetries retries at once, more or less.
func fastRetries(url string) pubsubhttp.Config {
	return pubsubhttp.Config{URL: url, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}
}

func TestPublisherRetriesUntilAccepted(t *testing.T) {
	t.Parallel()
	rec := &scripted{script: []int{503, 500, 429, 502, 204}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	p := newPub(t, fastRetries(srv.URL))
	if err := p.PublishRaw(t.Context(), "k", []byte("payload")); err != nil {
		t.Fatalf("PublishRaw = %v, want nil after the 5th attempt", err)
	}
	if n := rec.count(); n != 5 {
		t.Fatalf("the receiver got %d requests, want 5", n)
	}
	id := rec.header(0, pubsubhttp.HeaderID)
	for i := range 5 {
		if got := rec.header(i, pubsubhttp.HeaderID); got != id || id == "" {
			t.Errorf("attempt %d: %s %q, want the same non-empty ID %q on every retry", i+1, pubsubhttp.HeaderID, got, id)
		}
		if got := rec.header(i, pubsubhttp.HeaderAttempt); got != "1" {
			t.Errorf("attempt %d: %s = %q, want 1: no answer said the message was delivered", i+1, pubsubhttp.HeaderAttempt, got)
		}
		if rec.bodies[i] != "payload" {
			t.Errorf("attempt %d: body %q, want the payload", i+1, rec.bodies[i])
		}
	}
}

func TestPublisherCountsDeliveries(t *testing.T) {
	t.Parallel()
	rec := &scripted{script: []int{503, 503, 503, 204}}
	rec.extra = func(n int, w http.ResponseWriter) {
		if n != 1 { // the second attempt's answer does not say delivered
			w.Header().Set(pubsubhttp.HeaderDelivered, "1")
		}
	}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	p := newPub(t, fastRetries(srv.URL))
	if err := p.PublishRaw(t.Context(), "", []byte("x")); err != nil {
		t.Fatal(err)
	}
	want := []string{"1", "2", "2", "3"}
	for i, w := range want {
		if got := rec.header(i, pubsubhttp.HeaderAttempt); got != w {
			t.Errorf("attempt %d: %s = %q, want %q", i+1, pubsubhttp.HeaderAttempt, got, w)
		}
	}
}

func TestPublisherPermanentErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		is     error
	}{
		{status: 400},
		{status: 401},
		{status: 404, is: pubsub.ErrTopicNotFound},
		{status: 410, is: pubsub.ErrTopicNotFound},
		{status: 413, is: pubsub.ErrTooLarge},
		{status: 422},
		{status: 307}, // a redirect is not followed
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			t.Parallel()
			rec := &scripted{script: []int{tc.status, 204}}
			rec.extra = func(_ int, w http.ResponseWriter) { w.Header().Set("Location", "/elsewhere") }
			srv := httptest.NewServer(rec)
			defer srv.Close()
			err := newPub(t, fastRetries(srv.URL)).PublishRaw(t.Context(), "", []byte("x"))
			var se *pubsubhttp.StatusError
			if !errors.As(err, &se) || se.StatusCode != tc.status {
				t.Fatalf("PublishRaw = %v, want a *StatusError with status %d", err, tc.status)
			}
			want := fmt.Sprintf("status %d for request 0", tc.status)
			if !strings.Contains(err.Error(), fmt.Sprint(tc.status)) || !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name the status and the start of the body %q", err, want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
			if n := rec.count(); n != 1 {
				t.Errorf("the receiver got %d requests, want 1: %d is permanent", n, tc.status)
			}
		})
	}
}

func TestPublisherErrorQuotesOnlyTheStartOfTheBody(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, "start\x00\x1b[31m"+strings.Repeat("y", 4096)+"END")
	}))
	defer srv.Close()
	err := newPub(t, fastRetries(srv.URL)).PublishRaw(t.Context(), "", []byte("x"))
	var se *pubsubhttp.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("PublishRaw = %v, want a *StatusError", err)
	}
	if !strings.HasPrefix(se.Body, "start") || strings.Contains(se.Body, "END") || len(se.Body) > 512 || strings.ContainsAny(se.Body, "\x00\x1b") {
		t.Errorf("StatusError.Body = %.60q… (%d bytes), want the printable start of the body, at most 512 bytes", se.Body, len(se.Body))
	}
}

func TestPublisherHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	rec := &scripted{script: []int{503, 204}}
	rec.extra = func(n int, w http.ResponseWriter) {
		if n == 0 {
			w.Header().Set("Retry-After", "1")
		}
	}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	if err := newPub(t, fastRetries(srv.URL)).PublishRaw(t.Context(), "", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if gap := rec.arrivals[1].Sub(rec.arrivals[0]); gap < time.Second {
		t.Errorf("the retry came %v after a 503 with Retry-After: 1, want at least 1s (the backoff alone is 2ms)", gap)
	}
}

func TestPublisherGivesUpWhenRetryAfterPassesTheDeadline(t *testing.T) {
	t.Parallel()
	rec := &scripted{script: []int{503}}
	rec.extra = func(_ int, w http.ResponseWriter) { w.Header().Set("Retry-After", "3600") }
	srv := httptest.NewServer(rec)
	defer srv.Close()
	cfg := fastRetries(srv.URL)
	cfg.Timeout = time.Minute
	err := newPub(t, cfg).PublishRaw(t.Context(), "", []byte("x"))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("PublishRaw = %v, want an error wrapping context.DeadlineExceeded that names the 503", err)
	}
	if n := rec.count(); n != 1 {
		t.Errorf("%d attempts, want 1: the retry would start after the deadline", n)
	}
}

func TestPublisherDeadlines(t *testing.T) {
	t.Parallel()
	t.Run("Timeout", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(&scripted{script: []int{503}})
		defer srv.Close()
		cfg := fastRetries(srv.URL)
		cfg.Timeout = 200 * time.Millisecond
		err := newPub(t, cfg).PublishRaw(t.Context(), "", []byte("x"))
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "last error") {
			t.Errorf("PublishRaw against a receiver that always answers 503 = %v, want DeadlineExceeded naming the last error", err)
		}
	})
	t.Run("Canceled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		rec := &scripted{script: []int{503}}
		rec.extra = func(n int, _ http.ResponseWriter) {
			if n == 2 {
				cancel()
			}
		}
		srv := httptest.NewServer(rec)
		defer srv.Close()
		err := newPub(t, fastRetries(srv.URL)).PublishRaw(ctx, "", []byte("x"))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("PublishRaw with a context cancelled during the retries = %v, want context.Canceled", err)
		}
	})
}

func TestPublisherAttemptTimeout(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var timeouts sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		timeouts.Store(n, r.Header.Get(pubsubhttp.HeaderTimeout))
		_, _ = io.ReadAll(r.Body) // then the server sees the connection close
		if n == 1 {
			<-r.Context().Done() // hang until the publisher gives up on the attempt
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	cfg := fastRetries(srv.URL)
	cfg.AttemptTimeout = time.Second
	if err := newPub(t, cfg).PublishRaw(t.Context(), "", []byte("x")); err != nil {
		t.Fatalf("PublishRaw = %v, want nil: the attempts after the first are answered", err)
	}
	// Two, unless a loaded machine also made the second one slower than a
	// second.
	if n := calls.Load(); n < 2 {
		t.Errorf("%d attempts, want the hanging one given up and another", n)
	}
	v, _ := timeouts.Load(int32(1))
	var ms int
	if _, err := fmt.Sscan(v.(string), &ms); err != nil || ms <= 0 || ms > 1000 {
		t.Errorf("%s = %q, want the attempt's timeout in ms, at most 1000", pubsubhttp.HeaderTimeout, v)
	}
}

func TestPublisherRetriesDroppedConnections(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close() // no answer at all
			}
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	if err := newPub(t, fastRetries(srv.URL)).PublishRaw(t.Context(), "", []byte("x")); err != nil {
		t.Fatalf("PublishRaw = %v, want nil once the connection stops dropping", err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
}

func TestPublisherRetriesRefusedConnections(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connections are refused
	var calls atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})}
	defer srv.Close()
	cfg := fastRetries("http://" + addr)
	cfg.MaxBackoff = 50 * time.Millisecond
	var retries atomic.Int32
	started := make(chan struct{})
	p := newPub(t, cfg, pubsubhttp.WithHeaders(func(context.Context, http.Header) error {
		if retries.Add(1) == 3 {
			close(started) // two attempts were refused
		}
		return nil
	}))
	res := goPublish(t, p, "", []byte("x"))
	<-started
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	if err := result(t, res); err != nil {
		t.Fatalf("PublishRaw = %v, want nil once the receiver listens", err)
	}
	if calls.Load() != 1 {
		t.Errorf("the receiver got %d requests, want 1", calls.Load())
	}
}

// connCounter counts the connections a test server accepts.
func connCounter(srv *httptest.Server) *atomic.Int32 {
	var n atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	return &n
}

func TestPublisherReusesConnections(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1)%2 == 1 { // every other answer is a refusal with a body
			http.Error(w, strings.Repeat("busy ", 200), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	conns := connCounter(srv)
	srv.Start()
	defer srv.Close()
	p := newPub(t, fastRetries(srv.URL))
	for i := range 50 {
		if err := p.PublishRaw(t.Context(), "", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("50 sequential publishes (100 requests) opened %d connections, want 1", n)
	}
	const workers = 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range 20 {
				if err := p.PublishRaw(t.Context(), "", fmt.Appendf(nil, "w%d-%d", w, i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	// net/http may dial while it waits for a connection to come back to
	// the pool, and then keep both: allow one spare per publisher. Without
	// reuse this would be one connection per request, over 240.
	if n := conns.Load(); n > 2*workers+1 {
		t.Errorf("%d concurrent publishers opened %d connections in all, want at most %d", workers, n, 2*workers+1)
	}
}

func TestPublisherHeaderHooks(t *testing.T) {
	t.Parallel()
	rec := &scripted{script: []int{503, 204}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	var tokens atomic.Int32
	cfg := fastRetries(srv.URL)
	cfg.Secret, cfg.SecretHeader = "s3cret", "X-Push-Secret"
	p := newPub(t, cfg, pubsubhttp.WithBearerToken(func(context.Context) (string, error) {
		return fmt.Sprint("token-", tokens.Add(1)), nil
	}))
	if err := p.PublishRaw(t.Context(), "", []byte("x")); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"Bearer token-1", "Bearer token-2"} {
		if got := rec.header(i, "Authorization"); got != want {
			t.Errorf("attempt %d: Authorization %q, want %q (a token per attempt)", i+1, got, want)
		}
		if got := rec.header(i, "X-Push-Secret"); got != "s3cret" {
			t.Errorf("attempt %d: X-Push-Secret %q, want the secret", i+1, got)
		}
	}

	boom := errors.New("token service down")
	failing := newPub(t, fastRetries(srv.URL), pubsubhttp.WithBearerToken(func(context.Context) (string, error) { return "", boom }))
	before := rec.count()
	if err := failing.PublishRaw(t.Context(), "", []byte("x")); !errors.Is(err, boom) {
		t.Errorf("PublishRaw with a failing token source = %v, want its error", err)
	}
	if rec.count() != before {
		t.Errorf("a publish whose header hook failed was sent")
	}
}

func TestPublisherIDs(t *testing.T) {
	t.Parallel()
	rec := &scripted{script: []int{204}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	p := newPub(t, fastRetries(srv.URL))
	for range 3 {
		if err := p.PublishRaw(t.Context(), "", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.PublishRaw(t.Context(), "", []byte("x"), pubsub.WithDeduplicationID("order-42")); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for i := range 3 {
		ids[rec.header(i, pubsubhttp.HeaderID)] = true
	}
	if len(ids) != 3 || ids[""] {
		t.Errorf("IDs of three messages %v: want three distinct, non-empty", ids)
	}
	if got := rec.header(3, pubsubhttp.HeaderID); got != "order-42" {
		t.Errorf("%s = %q, want the deduplication ID", pubsubhttp.HeaderID, got)
	}
	for _, bad := range []string{"clé", " lead", strings.Repeat("x", 257), "a\nb"} {
		err := p.PublishRaw(t.Context(), "", []byte("x"), pubsub.WithDeduplicationID(bad))
		if !errors.Is(err, pubsub.ErrInvalidMessage) {
			t.Errorf("deduplication ID %.20q: %v, want ErrInvalidMessage", bad, err)
		}
	}
	if n := rec.count(); n != 4 {
		t.Errorf("the receiver got %d requests, want 4: refused IDs are not sent", n)
	}
}

func TestPublisherLimits(t *testing.T) {
	t.Parallel()
	rec := &scripted{script: []int{204}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	cfg := fastRetries(srv.URL)
	cfg.MaxPayloadBytes, cfg.MaxAttributes, cfg.MaxAttributeBytes = 10, 2, 40
	p := newPub(t, cfg)
	for name, tc := range map[string]struct {
		key     string
		payload string
		attrs   map[string]string
		ok      bool
	}{
		"payload at the limit":      {payload: "0123456789", ok: true},
		"payload over":              {payload: "0123456789x"},
		"attributes at the limit":   {attrs: map[string]string{"a": "1", "b": "2"}, ok: true},
		"one attribute too many":    {attrs: map[string]string{"a": "1", "b": "2", "c": "3"}},
		"attribute bytes over":      {attrs: map[string]string{"a": strings.Repeat("v", 40)}},
		"escaping counts":           {attrs: map[string]string{"Ünï": strings.Repeat("v", 20)}},
		"the key counts":            {key: strings.Repeat("k", 40)},
		"attribute bytes at limits": {attrs: map[string]string{"a": strings.Repeat("v", 39)}, ok: true},
	} {
		before := rec.count()
		err := p.PublishRaw(t.Context(), tc.key, []byte(tc.payload), pubsub.WithAttributes(tc.attrs))
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: %v, want nil", name, err)
		case !tc.ok && !errors.Is(err, pubsub.ErrTooLarge):
			t.Errorf("%s: %v, want ErrTooLarge", name, err)
		case !tc.ok && rec.count() != before:
			t.Errorf("%s: refused, but sent", name)
		}
	}
}

func TestPublisherCloseWaitsForPublishes(t *testing.T) {
	t.Parallel()
	_, ch, srv := startSub(t, pubsubhttp.Config{})
	p, err := pubsubhttp.NewPublisher(t.Context(), pubsubhttp.Config{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	var order atomic.Int32
	var published, closed int32
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		if err := p.PublishRaw(t.Context(), "", []byte("held")); err != nil {
			t.Error(err)
		}
		published = order.Add(1)
	}()
	m := recv(t, ch) // the publish is in flight
	closeDone := make(chan struct{})
	go func() {
		defer close(closeDone)
		_ = p.Close()
		closed = order.Add(1)
	}()
	if err := m.Done(); err != nil {
		t.Fatal(err)
	}
	<-pubDone
	<-closeDone
	if closed < published {
		t.Errorf("Close returned before the publish in flight did")
	}
}

func TestNewPublisherErrors(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]pubsubhttp.Config{
		"no URL":       {},
		"bad scheme":   {URL: "ftp://example.com/x"},
		"no host":      {URL: "http:///x"},
		"bad format":   {URL: "http://127.0.0.1/x", Format: "xml"},
		"missing file": {URL: "https://127.0.0.1/x", TLSCAFile: "/nonexistent/ca.pem"},
	} {
		if _, err := pubsubhttp.NewPublisher(t.Context(), cfg); err == nil {
			t.Errorf("%s: NewPublisher(%+v) succeeded", name, cfg)
		}
	}
	_, err := pubsubhttp.NewPublisher(t.Context(), pubsubhttp.Config{URL: "http://127.0.0.1/x", TLSCAFile: "ca.pem"},
		pubsubhttp.WithHTTPClient(http.DefaultClient))
	if err == nil || !strings.Contains(err.Error(), "WithHTTPClient") {
		t.Errorf("WithHTTPClient with TLS files: %v, want an error naming the conflict", err)
	}
}
