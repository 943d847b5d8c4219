package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A worker runs beside the listeners, gets a context cancelled at
// shutdown (after readiness has failed), and Run waits for it.
func TestWorkerLifecycle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newTestSimple(t, Config{DrainDelay: 50 * time.Millisecond}, WithListener(ln))
	started := make(chan struct{})
	readyAtCancel := make(chan bool, 1)
	finished := make(chan struct{})
	if err := s.AddWorker("consumer", func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		readyAtCancel <- !s.Readiness().ShuttingDown()
		time.Sleep(100 * time.Millisecond) // draining its work
		close(finished)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	stop := startRun(t, s)
	<-started
	if err := s.AddWorker("late", func(context.Context) error { return nil }); err == nil {
		t.Error("AddWorker after Run succeeded")
	}
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz with a healthy worker: %d", resp.StatusCode)
	}
	if err := stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	select {
	case <-finished:
	default:
		t.Error("Run returned before the worker finished")
	}
	if <-readyAtCancel {
		t.Error("the worker was cancelled while the server still reported ready")
	}
}

// A worker that fails while the server runs makes liveness fail, naming
// it, without stopping the server.
func TestWorkerFailureFailsLiveness(t *testing.T) {
	s := newTestSimple(t, Config{})
	failed := make(chan struct{})
	_ = s.AddWorker("consumer", func(context.Context) error {
		defer close(failed)
		return errors.New("subscription deleted")
	})
	s.AddLivenessCheck("always", func(context.Context) error { return nil })
	stop := startRun(t, s)
	<-failed
	deadline := time.Now().Add(10 * time.Second)
	var rec = serveReq(s, httptestGet("/healthz"))
	for rec.Code == http.StatusOK && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // the failure is recorded just after run returns
		rec = serveReq(s, httptestGet("/healthz"))
	}
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"worker consumer":"failed"`) || !strings.Contains(rec.Body.String(), `"always":"ok"`) {
		t.Errorf("healthz after the worker failed: %d %s", rec.Code, rec.Body)
	}
	if rec := serveReq(s, httptestGet("/readyz")); rec.Code != http.StatusOK {
		t.Errorf("readyz: %d, want 200: liveness, not readiness, reports the failure", rec.Code)
	}
	if err := stop(); err != nil {
		t.Errorf("Run = %v, want nil: a failed worker does not fail the shutdown", err)
	}
}

// A failing liveness check gives 503; shutting down does not.
func TestLivenessChecks(t *testing.T) {
	s := newTestSimple(t, Config{})
	var sick error
	s.AddLivenessCheck("db", func(context.Context) error { return sick })
	if rec := serveReq(s, httptestGet("/healthz")); rec.Code != http.StatusOK {
		t.Errorf("healthy: %d", rec.Code)
	}
	sick = errors.New("deadlocked")
	if rec := serveReq(s, httptestGet("/healthz")); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"status":"unhealthy"`) {
		t.Errorf("sick: %d %s", rec.Code, rec.Body)
	}
	sick = nil
	s.Readiness().StartShutdown()
	if rec := serveReq(s, httptestGet("/healthz")); rec.Code != http.StatusOK {
		t.Errorf("healthz while shutting down: %d, want 200", rec.Code)
	}
}

// A worker that ignores cancellation past the shutdown timeout makes Run
// say so.
func TestWorkerShutdownTimeout(t *testing.T) {
	s := newTestSimple(t, Config{ShutdownTimeout: 100 * time.Millisecond})
	release := make(chan struct{})
	defer close(release)
	_ = s.AddWorker("stuck", func(context.Context) error {
		<-release
		return nil
	})
	stop := startRun(t, s)
	if err := stop(); err == nil || !strings.Contains(err.Error(), "worker stuck") {
		t.Errorf("Run = %v, want an error naming the stuck worker", err)
	}
	if err := s.AddWorker("", nil); err == nil {
		t.Error("AddWorker without a name or function succeeded")
	}
}

func httptestGet(path string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, path, nil)
	r.RequestURI = path
	return r
}
