package kit_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/seed8104ecd5/gizmo/server"
	"github.com/seed8104ecd5/gizmo/server/kit"
	"github.com/seed8104ecd5/gizmo/server/kit/internal/kitpb"
	"github.com/seed8104ecd5/gizmo/web"
)

// httpDo sends one request to the running server and returns the status,
// headers and body.
func httpDo(t testing.TB, r *running, method, path, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), method, "http://"+r.httpAddr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// TestSameEndpointBothTransports sends the same request over HTTP and gRPC
// and checks that both run the same endpoint inside the same middleware.
func TestSameEndpointBothTransports(t *testing.T) {
	svc := newItemService()
	r := start(t, svc, kit.WithServerOptions(server.WithRequestIDHeader()))

	code, hdr, body := httpDo(t, r, http.MethodGet, "/items/a1", "")
	if code != http.StatusOK {
		t.Fatalf("GET /items/a1: %d %s", code, body)
	}
	var got item
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if got != (item{ID: "a1", Name: "item a1"}) {
		t.Errorf("HTTP item = %+v", got)
	}
	if hdr.Get(server.RequestIDHeader) == "" || hdr.Get("X-Item-Service") != "1" {
		t.Errorf("missing request ID or HTTPMiddleware header: %v", hdr)
	}
	if svc.mwCalls.Load() != 1 || svc.epCalls.Load() != 1 || svc.inMW.Load() != 1 {
		t.Fatalf("after HTTP: middleware %d, endpoint %d, endpoint inside middleware %d; want 1, 1, 1",
			svc.mwCalls.Load(), svc.epCalls.Load(), svc.inMW.Load())
	}

	var md metadata.MD
	resp, err := r.client.GetItem(testCtx(t), &kitpb.GetItemRequest{Id: "a1"}, grpc.Header(&md))
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetId() != "a1" || resp.GetName() != "item a1" {
		t.Errorf("gRPC item = %v", resp)
	}
	if len(md.Get(server.RequestIDMetadataKey)) != 1 {
		t.Errorf("gRPC header has no request ID: %v", md)
	}
	if svc.mwCalls.Load() != 2 || svc.epCalls.Load() != 2 || svc.inMW.Load() != 2 {
		t.Fatalf("after gRPC: middleware %d, endpoint %d, endpoint inside middleware %d; want 2, 2, 2",
			svc.mwCalls.Load(), svc.epCalls.Load(), svc.inMW.Load())
	}

	// A streaming call runs the middleware too, and the stream's context
	// is the one the middleware passed on.
	st, err := r.client.ListItems(testCtx(t), &kitpb.ListItemsRequest{Prefix: "p", Count: 3})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		it, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if want := "p" + string(rune('0'+n)); it.GetName() != want {
			t.Errorf("stream item %d = %q, want %q", n, it.GetName(), want)
		}
		n++
	}
	if n != 3 {
		t.Errorf("stream sent %d items, want 3", n)
	}
	if svc.mwCalls.Load() != 3 || svc.inMW.Load() != 3 {
		t.Errorf("after stream: middleware %d, inside middleware %d; want 3, 3", svc.mwCalls.Load(), svc.inMW.Load())
	}

	// The health service is not the service's: no middleware.
	hc, err := healthpb.NewHealthClient(r.conn).Check(testCtx(t), &healthpb.HealthCheckRequest{})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health Check = %v, %v; want SERVING", hc, err)
	}
	if svc.mwCalls.Load() != 3 {
		t.Errorf("health check ran the service middleware (%d calls)", svc.mwCalls.Load())
	}

	// The built-in endpoints are there, and metrics use the route template.
	if code, _, _ := httpDo(t, r, http.MethodGet, "/healthz", ""); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	_, _, metrics := httpDo(t, r, http.MethodGet, "/metrics", "")
	if !strings.Contains(metrics, `route="/items/{id}"`) || !strings.Contains(metrics, "GetItem") {
		t.Errorf("metrics lack the HTTP route template or the gRPC method:\n%s", metrics)
	}
}

// TestDecodeJSONEndpoint checks the JSON decoder on both a good and a bad
// body.
func TestDecodeJSONEndpoint(t *testing.T) {
	svc := newItemService()
	r := start(t, svc)
	code, _, body := httpDo(t, r, http.MethodPost, "/items/lookup", `{"id":"b2"}`)
	if code != http.StatusOK || !strings.Contains(body, `"name":"item b2"`) {
		t.Errorf("POST /items/lookup: %d %s", code, body)
	}
	code, hdr, body := httpDo(t, r, http.MethodPost, "/items/lookup", `{"id":"b2","extra":1}`)
	if code != http.StatusBadRequest || hdr.Get("Content-Type") != web.ProblemContentType || !strings.Contains(body, "extra") {
		t.Errorf("unknown field: %d %s %s; want 400 problem naming the field", code, hdr.Get("Content-Type"), body)
	}
	if svc.epCalls.Load() != 1 {
		t.Errorf("endpoint ran %d times, want 1 (not for the bad body)", svc.epCalls.Load())
	}
}

// TestPanic checks that a panicking endpoint answers 500 on HTTP and
// Internal on gRPC without its text, and that the server keeps serving.
func TestPanic(t *testing.T) {
	svc := newItemService()
	r := start(t, svc)

	code, hdr, body := httpDo(t, r, http.MethodGet, "/items/panic", "")
	if code != http.StatusInternalServerError || hdr.Get("Content-Type") != web.ProblemContentType {
		t.Errorf("HTTP panic: %d %s", code, hdr.Get("Content-Type"))
	}
	if strings.Contains(body, "secret") {
		t.Errorf("HTTP panic body leaks the panic: %s", body)
	}
	_, err := r.client.GetItem(testCtx(t), &kitpb.GetItemRequest{Id: "panic"})
	if s := status.Convert(err); s.Code() != codes.Internal || strings.Contains(s.Message(), "secret") {
		t.Errorf("gRPC panic: %v; want Internal without the panic text", err)
	}
	if _, err := r.client.GetItem(testCtx(t), &kitpb.GetItemRequest{Id: "after"}); err != nil {
		t.Errorf("gRPC after panic: %v", err)
	}
	if code, _, _ := httpDo(t, r, http.MethodGet, "/items/after", ""); code != http.StatusOK {
		t.Errorf("HTTP after panic: %d", code)
	}
}

// TestReadinessChecks checks that a failing service check fails /readyz
// and the gRPC health service.
func TestReadinessChecks(t *testing.T) {
	svc := newItemService()
	var fail atomic.Bool
	svc.checks = map[string]func(context.Context) error{
		"db": func(context.Context) error {
			if fail.Load() {
				return context.DeadlineExceeded
			}
			return nil
		},
	}
	r := start(t, svc)
	if code, _, body := httpDo(t, r, http.MethodGet, "/readyz", ""); code != http.StatusOK || !strings.Contains(body, `"db":"ok"`) {
		t.Errorf("/readyz while ready: %d %s", code, body)
	}
	fail.Store(true)
	if code, _, _ := httpDo(t, r, http.MethodGet, "/readyz", ""); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with a failing check: %d, want 503", code)
	}
	hc, err := healthpb.NewHealthClient(r.conn).Check(testCtx(t), &healthpb.HealthCheckRequest{})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health Check with a failing check = %v, %v; want NOT_SERVING", hc, err)
	}
}
