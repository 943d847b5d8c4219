package server

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/seed8104ecd5/gizmo/server/internal/testpb"
	"github.com/seed8104ecd5/gizmo/web"
)

// echoRPC serves echoService over gRPC and, at POST /echo, over JSON/HTTP,
// both through the same implementation.
type echoRPC struct{ svc *echoService }

func (e echoRPC) Prefix() string                         { return "" }
func (e echoRPC) Middleware(h http.Handler) http.Handler { return h }
func (e echoRPC) Service() (*grpc.ServiceDesc, any)      { return &testpb.EchoService_ServiceDesc, e.svc }

func (e echoRPC) Endpoints() []Endpoint {
	return []Endpoint{{
		Method: http.MethodPost,
		Path:   "/echo",
		Handler: JSON(func(ctx context.Context, r *http.Request) (int, any, error) {
			var req struct {
				Message string `json:"message"`
			}
			if err := web.DecodeJSON(r, &req); err != nil {
				return 0, nil, err
			}
			resp, err := e.svc.Echo(ctx, &testpb.EchoRequest{Message: req.Message})
			if err != nil {
				return http.StatusInternalServerError, nil, err
			}
			return http.StatusOK, map[string]string{"message": resp.GetMessage()}, nil
		}),
	}}
}

// rpcRunning is an RPCServer started by startRPC.
type rpcRunning struct {
	srv      *RPCServer
	svc      *echoService
	httpAddr string
	rpcAddr  string
	cancel   context.CancelFunc // starts shutdown
	done     chan struct{}      // closed when Run returns
	err      error              // Run's result, set before done is closed
}

// wait returns Run's result, failing the test if Run does not return
// within a generous liveness bound.
func (r *rpcRunning) wait(t testing.TB) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

// startRPC builds an RPCServer serving echoRPC on two 127.0.0.1:0
// listeners and runs it until the test ends.
func startRPC(t testing.TB, cfg Config, opts ...RPCOption) *rpcRunning {
	t.Helper()
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rpcLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]RPCOption{WithListener(httpLn), WithRPCListener(rpcLn)}, opts...)
	srv, err := NewRPCServer(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	svc := newEchoService()
	if err := srv.Register(echoRPC{svc}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &rpcRunning{
		srv: srv, svc: svc,
		httpAddr: httpLn.Addr().String(), rpcAddr: rpcLn.Addr().String(),
		cancel: cancel, done: make(chan struct{}),
	}
	go func() {
		r.err = srv.Run(ctx)
		close(r.done)
	}()
	t.Cleanup(func() {
		svc.releaseSlow()
		cancel()
		_ = r.wait(t)
	})
	return r
}
