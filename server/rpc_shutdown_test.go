package server

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/seed8104ecd5/gizmo/server/internal/testpb"
)

// slowCall starts a slow Echo on client and waits until the handler runs.
// The returned channel yields the call's outcome.
type callResult struct {
	resp *testpb.EchoResponse
	err  error
}

func slowCall(t *testing.T, r *rpcRunning, client testpb.EchoServiceClient) <-chan callResult {
	t.Helper()
	out := make(chan callResult, 1)
	go func() {
		resp, err := client.Echo(rpcTestCtx(t), &testpb.EchoRequest{Message: cmdSlow})
		out <- callResult{resp, err}
	}()
	select {
	case <-r.svc.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("slow call never reached the handler")
	}
	return out
}

// listenerClosed reports whether nothing accepts on addr any more.
func listenerClosed(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return true
	}
	_ = c.Close()
	return false
}

func TestRPCServerShutdownHealthAndDrain(t *testing.T) {
	// The drain delay only has to outlast a few local round trips; it is
	// generous so that a loaded machine does not fail the test.
	r := startRPC(t, Config{DrainDelay: 2 * time.Second, ShutdownTimeout: 15 * time.Second})
	caller, _ := rpcDial(t, r.rpcAddr, nil)
	_, watcherConn := rpcDial(t, r.rpcAddr, nil)
	health := healthpb.NewHealthClient(watcherConn)
	ctx := rpcTestCtx(t)

	// Connect the second client and watch the server's health.
	if resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health before shutdown: %v, %v", resp, err)
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watch, err := health.Watch(watchCtx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := watch.Recv(); err != nil || ev.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first Watch event: %v, %v", ev, err)
	}

	inflight := slowCall(t, r, caller)
	r.cancel() // shutdown starts

	if ev, err := watch.Recv(); err != nil || ev.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Watch after shutdown started: %v, %v; want NOT_SERVING", ev, err)
	}
	// During the drain delay: both listeners still answer, and both say
	// "not ready".
	for _, svc := range []string{"", testpb.EchoService_ServiceDesc.ServiceName} {
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("health of %q during the drain: %v, %v; want NOT_SERVING", svc, resp, err)
		}
	}
	resp, err := http.Get("http://" + r.httpAddr + DefaultReadyPath)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the drain: %d, want 503", resp.StatusCode)
	}

	// After the drain, GracefulStop closes the gRPC listener but waits for
	// the in-flight call.
	rpcWaitFor(t, "the gRPC listener to close", func() bool { return listenerClosed(r.rpcAddr) })
	select {
	case res := <-inflight:
		t.Fatalf("in-flight call ended before it was released: %v, %v", res.resp, res.err)
	default:
	}
	r.svc.releaseSlow()
	res := <-inflight
	if res.err != nil || res.resp.GetMessage() != "done" {
		t.Fatalf("in-flight call during graceful shutdown: %v, %v; want done", res.resp, res.err)
	}
	// The Watch stream was ended when graceful stop began, so it did not
	// hold the shutdown up to its deadline.
	if ev, err := watch.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("Watch after graceful stop began: %v, %v; want Unavailable", ev, err)
	}
	if err := r.wait(t); err != nil {
		t.Fatalf("Run after a clean shutdown: %v", err)
	}
}

func TestRPCServerShutdownDeadlineStopsHard(t *testing.T) {
	r := startRPC(t, Config{ShutdownTimeout: 100 * time.Millisecond})
	caller, _ := rpcDial(t, r.rpcAddr, nil)
	inflight := slowCall(t, r, caller)
	r.cancel()
	err := r.wait(t)
	if err == nil || !strings.Contains(err.Error(), "grpc") {
		t.Fatalf("Run with a call outliving the deadline: %v; want an error naming grpc", err)
	}
	if res := <-inflight; res.err == nil {
		t.Fatalf("call cut off by Stop succeeded: %v", res.resp)
	}
}
