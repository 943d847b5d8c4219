package kit_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seed8104ecd5/gizmo/server"
	"github.com/seed8104ecd5/gizmo/server/kit"
	"github.com/seed8104ecd5/gizmo/server/kit/internal/kitpb"
)

// closed reports whether nothing accepts connections on addr any more.
func closed(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return true
	}
	_ = c.Close()
	return false
}

// TestGracefulShutdown starts one slow call on each transport, cancels
// Run, waits until both listeners are closed, then lets the calls finish:
// both must succeed, Run must return nil, and the shutdown hook must run
// after them with a deadline.
func TestGracefulShutdown(t *testing.T) {
	svc := newItemService()
	var hookCalls atomic.Int32
	var hookSawCalls atomic.Int64
	var hookDeadline atomic.Bool
	svc.shutdown = func(ctx context.Context) error {
		hookCalls.Add(1)
		hookSawCalls.Store(svc.epDone.Load())
		_, ok := ctx.Deadline()
		hookDeadline.Store(ok && ctx.Err() == nil)
		return nil
	}
	r := start(t, svc, kit.WithConfig(kit.Config{ShutdownTimeout: 15 * time.Second}))

	httpRes := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + r.httpAddr + "/items/slow")
		if err == nil {
			if resp.StatusCode != http.StatusOK {
				err = errors.New("HTTP status " + resp.Status)
			}
			_ = resp.Body.Close()
		}
		httpRes <- err
	}()
	rpcRes := make(chan error, 1)
	go func() {
		_, err := r.client.GetItem(testCtx(t), &kitpb.GetItemRequest{Id: "slow"})
		rpcRes <- err
	}()
	for range 2 {
		select {
		case <-svc.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("slow calls did not start")
		}
	}

	r.cancel()
	deadline := time.Now().Add(10 * time.Second)
	for !closed(r.httpAddr) || !closed(r.rpcAddr) {
		if time.Now().After(deadline) {
			t.Fatal("listeners still accept 10s after shutdown started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-r.done:
		t.Fatal("Run returned while calls were in flight")
	default:
	}
	svc.releaseAll()

	if err := <-httpRes; err != nil {
		t.Errorf("in-flight HTTP call failed: %v", err)
	}
	if err := <-rpcRes; err != nil {
		t.Errorf("in-flight gRPC call failed: %v", err)
	}
	if err := r.wait(t); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if hookCalls.Load() != 1 || hookSawCalls.Load() != 2 || !hookDeadline.Load() {
		t.Errorf("shutdown hook: %d calls, saw %d finished calls, live deadline %v; want 1, 2, true",
			hookCalls.Load(), hookSawCalls.Load(), hookDeadline.Load())
	}
}

// TestRunListenError checks that Run returns at once when a port is taken,
// runs the shutdown hook, and that a second Run is refused.
func TestRunListenError(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	svc := newItemService()
	hookErr := errors.New("hook failed")
	svc.shutdown = func(context.Context) error { return hookErr }
	rpcLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := kit.NewServer(svc,
		kit.WithConfig(kit.Config{HTTPAddr: "127.0.0.1", HTTPPort: port}),
		kit.WithServerOptions(server.WithRPCListener(rpcLn)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "http") || !errors.Is(err, hookErr) {
			t.Errorf("Run = %v; want the listen error joined with the hook error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return on a taken port")
	}
	if err := s.Run(context.Background()); err == nil {
		t.Error("second Run succeeded")
	}
}

// TestUserInterceptors checks that the service's interceptors and gRPC
// options run, in the documented order, on unary and streaming calls.
func TestUserInterceptors(t *testing.T) {
	svc := newItemService()
	var mu sync.Mutex
	var order []string
	add := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	var rawUnary, rawStream atomic.Int32
	svc.unary = []grpc.UnaryServerInterceptor{func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if server.RequestID(ctx) != "" {
			add("server")
		}
		add("unary")
		before := svc.mwCalls.Load()
		resp, err := h(ctx, req)
		if svc.mwCalls.Load() == before+1 {
			add("middleware")
		}
		return resp, err
	}}
	svc.stream = []grpc.StreamServerInterceptor{func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		add("stream")
		return h(srv, ss)
	}}
	svc.rpcOpts = []grpc.ServerOption{
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			rawUnary.Add(1)
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			rawStream.Add(1)
			return h(srv, ss)
		}),
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			add("chain")
			return h(ctx, req)
		}),
	}
	r := start(t, svc)
	if _, err := r.client.GetItem(testCtx(t), &kitpb.GetItemRequest{Id: "i"}); err != nil {
		t.Fatal(err)
	}
	st, err := r.client.ListItems(testCtx(t), &kitpb.ListItemsRequest{Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got, want := strings.Join(order, ","), "chain,server,unary,middleware,stream"; got != want {
		t.Errorf("interceptor order %s, want %s", got, want)
	}
	if rawUnary.Load() != 1 || rawStream.Load() != 1 {
		t.Errorf("grpc.UnaryInterceptor ran %d times, grpc.StreamInterceptor %d; want 1, 1", rawUnary.Load(), rawStream.Load())
	}
	if svc.mwCalls.Load() != 2 {
		t.Errorf("middleware ran %d times, want 2", svc.mwCalls.Load())
	}
}

// TestPanickingInterceptor checks that a user interceptor's panic is
// recovered like an endpoint's.
func TestPanickingInterceptor(t *testing.T) {
	svc := newItemService()
	svc.unary = []grpc.UnaryServerInterceptor{func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if req.(*kitpb.GetItemRequest).GetId() == "boom" {
			panic("interceptor boom")
		}
		return h(ctx, req)
	}}
	r := start(t, svc)
	if _, err := r.client.GetItem(testCtx(t), &kitpb.GetItemRequest{Id: "boom"}); status.Code(err) != codes.Internal {
		t.Errorf("panicking interceptor: %v, want Internal", err)
	}
	if _, err := r.client.GetItem(testCtx(t), &kitpb.GetItemRequest{Id: "ok"}); err != nil {
		t.Errorf("after the panic: %v", err)
	}
}

// TestNewServerErrors checks that bad services are errors, not panics.
func TestNewServerErrors(t *testing.T) {
	noop := func(context.Context, any) (any, error) { return nil, nil }
	cases := []struct {
		name string
		svc  func() kit.Service
		want string
	}{
		{"nil service", func() kit.Service { return nil }, "nil Service"},
		{"grpc.UnaryInterceptor twice", func() kit.Service {
			s := newItemService()
			in := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
				return h(ctx, req)
			}
			s.rpcOpts = []grpc.ServerOption{grpc.UnaryInterceptor(in), grpc.UnaryInterceptor(in)}
			return s
		}, "conflicting grpc.ServerOption"},
		{"nil middleware", func() kit.Service { s := newItemService(); s.mwNil = true; return s }, "Middleware returned a nil endpoint"},
		{"nil endpoint", func() kit.Service {
			return &extraEndpoints{newItemService(), []kit.HTTPEndpoint{{Method: http.MethodGet, Path: "/x"}}}
		}, "nil Endpoint"},
		{"duplicate route", func() kit.Service {
			return &extraEndpoints{newItemService(), []kit.HTTPEndpoint{{Method: http.MethodGet, Path: "/items/{x}", Endpoint: noop}}}
		}, "already registered"},
		{"wrong implementation", func() kit.Service { return &wrongImpl{newItemService()} }, "does not implement"},
		{"nil readiness check", func() kit.Service {
			s := newItemService()
			s.checks = map[string]func(context.Context) error{"db": nil}
			return s
		}, `readiness check "db" is nil`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kit.NewServer(tc.svc())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewServer = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// extraEndpoints adds endpoints to an itemService.
type extraEndpoints struct {
	*itemService
	extra []kit.HTTPEndpoint
}

func (e *extraEndpoints) HTTPEndpoints() []kit.HTTPEndpoint {
	return append(e.itemService.HTTPEndpoints(), e.extra...)
}

// wrongImpl returns a gRPC implementation of the wrong type.
type wrongImpl struct{ *itemService }

func (w *wrongImpl) RPCServer() any { return struct{}{} }
