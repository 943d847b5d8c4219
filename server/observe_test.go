package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/seed8104ecd5/gizmo/internal/testlog"
	"github.com/seed8104ecd5/gizmo/web"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// series returns the label sets of the samples of metric name.
func series(t testing.TB, reg *prometheus.Registry, name string) []map[string]string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			labels["_value"] = fmt.Sprint(counterOrCount(m))
			out = append(out, labels)
		}
	}
	return out
}

func counterOrCount(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return float64(m.GetHistogram().GetSampleCount())
}

func TestSimpleMetricsCardinality(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := newTestSimple(t, Config{}, WithRegistry(reg))
	if err := s.Register(httpSvc{prefix: "/items", eps: []Endpoint{
		{Method: "GET", Path: "/{id}", Handler: textHandler("item")},
		{Method: "GET", Path: "/{id}/fail", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
		})},
	}}); err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		serveReq(s, httptest.NewRequest("GET", fmt.Sprintf("/items/%d", i), nil))
	}
	got := series(t, reg, HTTPRequestsMetric)
	if len(got) != 1 || got[0]["route"] != "/items/{id}" || got[0]["method"] != "GET" || got[0]["status"] != "2xx" || got[0]["_value"] != "1000" {
		t.Fatalf("after 1000 IDs on one route: %v", got)
	}
	// 10,000 random URLs of 1-5 segments, none of them a route: they all
	// land in the one unmatched series.
	rng := rand.New(rand.NewPCG(7, 11))
	for range 10000 {
		var p strings.Builder
		for range 1 + rng.IntN(5) {
			fmt.Fprintf(&p, "/%x", rng.Uint64())
		}
		serveReq(s, httptest.NewRequest("GET", p.String(), nil))
	}
	serveReq(s, httptest.NewRequest("BREW", "/items/1", nil)) // unknown method
	serveReq(s, httptest.NewRequest("GET", "/items/7/fail", nil))
	got = series(t, reg, HTTPRequestsMetric)
	want := map[string]string{
		"GET /items/{id} 2xx":      "1000",
		"GET unmatched 4xx":        "10000",
		"OTHER unmatched 4xx":      "1",
		"GET /items/{id}/fail 5xx": "1",
	}
	if len(got) != len(want) {
		t.Fatalf("series: got %v, want %v", got, want)
	}
	for _, l := range got {
		key := l["method"] + " " + l["route"] + " " + l["status"]
		if want[key] != l["_value"] {
			t.Errorf("series %s = %s, want %q", key, l["_value"], want[key])
		}
	}
	if h := series(t, reg, HTTPDurationMetric); len(h) != len(want) {
		t.Errorf("duration histogram has %d series, want %d", len(h), len(want))
	}
	// The metrics endpoint serves this registry, and never the global one.
	rec := serveReq(s, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `http_server_requests_total{method="GET",route="/items/{id}",status="2xx"} 1000`) {
		t.Errorf("/metrics body lacks the route series:\n%.500s", rec.Body.String())
	}
	if strings.Contains(rec.Body.String(), "go_goroutines") {
		t.Error("/metrics serves the global registry's collectors")
	}
}

func TestSimpleSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	newTestSimple(t, Config{}, WithRegistry(reg))
	if _, err := NewSimpleServer(Config{}, WithRegistry(reg)); err != nil {
		t.Errorf("second server on one registry: %v", err)
	}
}

func TestSimpleAccessLog(t *testing.T) {
	logs := &testlog.Buffer{}
	logger, err := NewLogger(logs, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	s := newTestSimple(t, Config{}, WithLogger(logger))
	_ = s.Register(httpSvc{prefix: "/orders", eps: []Endpoint{
		{Method: "POST", Path: "/{id}", Handler: textHandler("twelve bytes")},
		{Method: "GET", Path: "/{id}", Handler: JSON(func(context.Context, *http.Request) (int, any, error) {
			return 0, nil, web.NewError(http.StatusNotFound, "no such order")
		})},
	}})
	req := httptest.NewRequest("POST", "/orders/77", strings.NewReader("{}"))
	req.Header.Set(RequestIDHeader, "rid-1")
	serveReq(s, req)
	serveReq(s, httptest.NewRequest("GET", "/orders/78", nil))
	serveReq(s, httptest.NewRequest("GET", "/healthz", nil)) // Debug level: not logged at info

	lines := logs.Find(t, "http request")
	if len(lines) != 2 {
		t.Fatalf("got %d access log lines, want 2: %v", len(lines), lines)
	}
	l := lines[0]
	for k, want := range map[string]any{
		"level": "INFO", "method": "POST", "route": "/orders/{id}", "path": "/orders/77",
		"status": float64(200), "bytes": float64(12), "request_id": "rid-1",
	} {
		if l[k] != want {
			t.Errorf("access log %s = %v, want %v", k, l[k], want)
		}
	}
	// Seconds, a unit a person reads; a bare nanosecond count would be
	// far above 60 for any request.
	if d, ok := l["duration_seconds"].(float64); !ok || d <= 0 || d > 60 {
		t.Errorf("access log duration_seconds = %v", l["duration_seconds"])
	}
	if _, ok := l["trace_id"]; ok {
		t.Errorf("trace_id logged with tracing off: %v", l["trace_id"])
	}
	if lines[1]["status"] != float64(404) || !strings.Contains(fmt.Sprint(lines[1]["error"]), "no such order") {
		t.Errorf("error access log: %v", lines[1])
	}
}

// TestSimpleTraceContext installs only a tracer provider: the default
// propagator must read the W3C traceparent header by itself.
func TestSimpleTraceContext(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	logs := &testlog.Buffer{}
	logger, _ := NewLogger(logs, "info", "json")
	s := newTestSimple(t, Config{}, WithTracerProvider(tp), WithLogger(logger))
	var handlerTrace trace.SpanContext
	_ = s.Register(httpSvc{eps: []Endpoint{{Method: "GET", Path: "/t/{id}", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlerTrace = trace.SpanContextFromContext(r.Context())
		w.WriteHeader(http.StatusInternalServerError)
	})}}})

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	const parentID = "00f067aa0ba902b7"
	req := httptest.NewRequest("GET", "/t/9", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	serveReq(s, req)

	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("recorded %d spans, want 1", len(spans))
	}
	sp := spans[0]
	if sp.SpanContext().TraceID().String() != traceID || sp.Parent().SpanID().String() != parentID || !sp.Parent().IsRemote() {
		t.Errorf("span trace %s parent %s (remote %v); want trace %s parent %s",
			sp.SpanContext().TraceID(), sp.Parent().SpanID(), sp.Parent().IsRemote(), traceID, parentID)
	}
	if sp.Name() != "GET /t/{id}" || sp.SpanKind() != trace.SpanKindServer || sp.Status().Code.String() != "Error" {
		t.Errorf("span name %q kind %v status %v", sp.Name(), sp.SpanKind(), sp.Status().Code)
	}
	if handlerTrace.SpanID() != sp.SpanContext().SpanID() {
		t.Error("handler context does not carry the server span")
	}
	if l := logs.Find(t, "http request"); len(l) != 1 || l[0]["trace_id"] != traceID {
		t.Errorf("access log trace_id: %v", l)
	}
}

func TestSimpleBodyLimit(t *testing.T) {
	s := newTestSimple(t, Config{MaxBodyBytes: 64})
	_ = s.Register(httpSvc{eps: []Endpoint{
		{Method: "POST", Path: "/decode", Handler: JSON(func(_ context.Context, r *http.Request) (int, any, error) {
			var v map[string]any
			if err := web.DecodeJSON(r, &v); err != nil {
				return 0, nil, err
			}
			return 200, v, nil
		})},
		{Method: "POST", Path: "/read", Handler: JSON(func(_ context.Context, r *http.Request) (int, any, error) {
			_, err := io.ReadAll(r.Body)
			return 200, nil, err
		})},
	}})
	big := `{"k":"` + strings.Repeat("x", 100) + `"}`
	for _, tc := range []struct {
		name string
		path string
		body io.Reader
	}{
		{"declared length", "/read", strings.NewReader(big)},
		{"chunked body via io.ReadAll", "/read", io.MultiReader(strings.NewReader(big))},
		{"chunked body via web.DecodeJSON", "/decode", io.MultiReader(strings.NewReader(big))},
	} {
		req := httptest.NewRequest("POST", tc.path, tc.body)
		if _, ok := tc.body.(*strings.Reader); !ok {
			req.ContentLength = -1
		}
		rec := serveReq(s, req)
		m := decodeBody(t, rec.Body.Bytes())
		if rec.Code != 413 || m["detail"] != "request body is larger than 64 bytes" || rec.Header().Get("Content-Type") != web.ProblemContentType {
			t.Errorf("%s: %d %v", tc.name, rec.Code, m)
		}
	}
	rec := serveReq(s, httptest.NewRequest("POST", "/decode", bytes.NewReader([]byte(`{"k":"small"}`))))
	if rec.Code != 200 {
		t.Errorf("small body: %d %s", rec.Code, rec.Body)
	}
}
