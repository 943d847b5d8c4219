package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seed8104ecd5/gizmo/internal/testlog"
	"github.com/seed8104ecd5/gizmo/server/internal/testpb"
)

// observedEcho is observedServer that also returns the service, whose
// slow calls tell when they have started.
func observedEcho(t *testing.T, o *rpcObserver) (testpb.EchoServiceClient, *echoService) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.ChainUnaryInterceptor(o.unary), grpc.ChainStreamInterceptor(o.stream))
	svc := newEchoService()
	testpb.RegisterEchoServiceServer(gs, svc)
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)
	t.Cleanup(svc.releaseSlow)
	client, _ := rpcDial(t, ln.Addr().String(), nil)
	return client, svc
}

// TestInterceptorContextErrors checks that a call ended by the client
// (cancelled, or past its deadline), whose handler returns ctx.Err(), is
// recorded with the code the client sees, Canceled or DeadlineExceeded, in
// the metric and the access log, and logged at Info like any other call the
// client, not the server, ended; never as Unknown at Error.
func TestInterceptorContextErrors(t *testing.T) {
	logs := &testlog.Buffer{}
	o, _ := newTestObserver(t, logs)
	client, svc := observedEcho(t, o)

	entered := func() {
		t.Helper()
		select {
		case <-svc.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the handler did not start")
		}
	}

	// Unary, the handler's own deadline: it returns that ctx.Err(),
	// wrapped, and grpc-go sends DeadlineExceeded.
	if _, err := client.Echo(rpcTestCtx(t), &testpb.EchoRequest{Message: cmdDeadline}); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("handler's deadline: client got %v, want DeadlineExceeded", err)
	}

	// Unary, the client's deadline: the handler waits for ctx and returns
	// ctx.Err(). The deadline leaves the call ample time to reach the
	// handler. The server sees DeadlineExceeded or, when the client's
	// cancellation of the stream arrives first, Canceled.
	ctx, cancel := context.WithTimeout(rpcTestCtx(t), time.Second)
	_, err := client.Echo(ctx, &testpb.EchoRequest{Message: cmdSlow})
	cancel()
	if got := status.Code(err); got != codes.DeadlineExceeded {
		t.Fatalf("unary past its deadline: client got %v, want DeadlineExceeded", err)
	}
	entered()

	// Unary, cancelled once the handler runs.
	ctx, cancel = context.WithCancel(rpcTestCtx(t))
	errc := make(chan error, 1)
	go func() {
		_, err := client.Echo(ctx, &testpb.EchoRequest{Message: cmdSlow})
		errc <- err
	}()
	entered()
	cancel()
	if got := status.Code(<-errc); got != codes.Canceled {
		t.Fatalf("cancelled unary: client got %v, want Canceled", got)
	}

	// Server stream, cancelled once the handler runs.
	ctx, cancel = context.WithCancel(rpcTestCtx(t))
	stream, err := client.EchoStream(ctx, &testpb.EchoStreamRequest{Message: cmdSlow, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	entered()
	cancel()
	if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
		t.Fatalf("cancelled stream: client got %v, want Canceled", err)
	}

	// The server finishes each call after the client has given up on it.
	rpcWaitFor(t, "four access log lines", func() bool { return len(logs.Find(t, "grpc call")) == 4 })
	for _, c := range logs.Find(t, "grpc call") {
		if c["level"] != "INFO" {
			t.Errorf("call %v logged at %v, want INFO", c["method"], c["level"])
		}
		if code := c["code"]; code != "Canceled" && code != "DeadlineExceeded" {
			t.Errorf("call %v logged with code %v, want Canceled or DeadlineExceeded", c["method"], code)
		}
	}
	handled := func(method, code string) float64 {
		return testutil.ToFloat64(o.metrics.handled.WithLabelValues(method, code))
	}
	if got := handled(echoMethod, "DeadlineExceeded"); got < 1 {
		t.Errorf("%s{Echo, DeadlineExceeded} = %v, want at least 1", RPCHandledMetric, got)
	}
	if got := handled(echoMethod, "DeadlineExceeded") + handled(echoMethod, "Canceled"); got != 3 {
		t.Errorf("%s{Echo, DeadlineExceeded or Canceled} = %v, want 3", RPCHandledMetric, got)
	}
	if got := handled(streamMethod, "Canceled"); got != 1 {
		t.Errorf("%s{EchoStream, Canceled} = %v, want 1", RPCHandledMetric, got)
	}
	for _, m := range []string{echoMethod, streamMethod} {
		if got := handled(m, "Unknown"); got != 0 {
			t.Errorf("%s{%s, Unknown} = %v, want 0", RPCHandledMetric, m, got)
		}
	}
}

// TestInterceptorCodeOf checks the code recorded for each kind of error a
// handler can return, against what grpc-go sends the client for it.
func TestInterceptorCodeOf(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		code  codes.Code
		level string
	}{
		{"nil", nil, codes.OK, "INFO"},
		{"canceled", context.Canceled, codes.Canceled, "INFO"},
		{"deadline", context.DeadlineExceeded, codes.DeadlineExceeded, "INFO"},
		{"wrapped canceled", fmt.Errorf("loading user: %w", context.Canceled), codes.Canceled, "INFO"},
		{"wrapped deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), codes.DeadlineExceeded, "INFO"},
		{"joined deadline", errors.Join(errors.New("a"), context.DeadlineExceeded), codes.DeadlineExceeded, "INFO"},
		{"status", status.Error(codes.NotFound, "no such user"), codes.NotFound, "INFO"},
		{"wrapped status", fmt.Errorf("lookup: %w", status.Error(codes.PermissionDenied, "no")), codes.PermissionDenied, "INFO"},
		{"status wins over context", status.Error(codes.Internal, context.Canceled.Error()), codes.Internal, "ERROR"},
		{"plain error", errors.New("boom"), codes.Unknown, "ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &testlog.Buffer{}
			o, _ := newTestObserver(t, logs)
			info := &grpc.UnaryServerInfo{FullMethod: echoMethod}
			_, err := o.unary(context.Background(), nil, info, func(context.Context, any) (any, error) { return nil, tc.err })
			if err != tc.err {
				t.Errorf("interceptor changed the handler's error to %v", err)
			}
			if got := testutil.ToFloat64(o.metrics.handled.WithLabelValues(echoMethod, tc.code.String())); got != 1 {
				t.Errorf("%s{code=%s} = %v, want 1", RPCHandledMetric, tc.code, got)
			}
			calls := logs.Find(t, "grpc call")
			if len(calls) != 1 || calls[0]["code"] != tc.code.String() || calls[0]["level"] != tc.level {
				t.Errorf("access log %v, want code %s at %s", calls, tc.code, tc.level)
			}
			// What grpc-go tells the client for the same error.
			if tc.err != nil {
				client, ok := status.FromError(tc.err)
				if !ok {
					client = status.FromContextError(tc.err)
				}
				if client.Code() != tc.code {
					t.Errorf("recorded %v, but the client sees %v", tc.code, client.Code())
				}
			}
		})
	}
}
