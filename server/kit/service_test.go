package kit_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/kit/endpoint"
	kitgrpc "github.com/go-kit/kit/transport/grpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/seed8104ecd5/gizmo/server"
	"github.com/seed8104ecd5/gizmo/server/kit"
	"github.com/seed8104ecd5/gizmo/server/kit/internal/kitpb"
	"github.com/seed8104ecd5/gizmo/web"
)

// getItemRequest and item are the domain types of the test service's
// endpoint; the transports convert to and from them.
type getItemRequest struct {
	ID string `json:"id"`
}

type item struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// mwKey is the context key the test middleware sets, so endpoints can
// check that they ran inside it.
type mwKey struct{}

// itemService is the kit.Service under test: one endpoint (getItem) served
// at GET /items/{id}, POST /items/lookup and ItemService/GetItem, and one
// hand-written streaming method, ListItems.
type itemService struct {
	mwCalls atomic.Int64 // calls through Middleware, both transports
	epCalls atomic.Int64 // calls of the getItem endpoint
	epDone  atomic.Int64 // calls of the getItem endpoint that returned
	inMW    atomic.Int64 // endpoint or stream calls that saw Middleware's context
	errs    map[string]error

	// slow: an endpoint call with ID "slow" signals entered and waits for
	// release.
	entered     chan string
	release     chan struct{}
	releaseOnce sync.Once

	unary    []grpc.UnaryServerInterceptor
	stream   []grpc.StreamServerInterceptor
	rpcOpts  []grpc.ServerOption
	checks   map[string]func(context.Context) error
	mwNil    bool // Middleware returns nil
	shutdown func(ctx context.Context) error
}

func newItemService() *itemService {
	return &itemService{
		errs:    map[string]error{},
		entered: make(chan string, 8),
		release: make(chan struct{}),
	}
}

func (s *itemService) getItem(ctx context.Context, req any) (any, error) {
	r := req.(getItemRequest)
	s.epCalls.Add(1)
	defer s.epDone.Add(1)
	if ctx.Value(mwKey{}) != nil {
		s.inMW.Add(1)
	}
	switch r.ID {
	case "panic":
		panic("boom: secret panic text")
	case "slow":
		s.entered <- r.ID
		<-s.release
	}
	if err, ok := s.errs[r.ID]; ok {
		return nil, err
	}
	return item{ID: r.ID, Name: "item " + r.ID}, nil
}

func (s *itemService) Middleware(next endpoint.Endpoint) endpoint.Endpoint {
	if s.mwNil {
		return nil
	}
	return func(ctx context.Context, req any) (any, error) {
		s.mwCalls.Add(1)
		return next(context.WithValue(ctx, mwKey{}, true), req)
	}
}

func (s *itemService) HTTPEndpoints() []kit.HTTPEndpoint {
	return []kit.HTTPEndpoint{
		{
			Method:   http.MethodPost,
			Path:     "/items/lookup",
			Endpoint: s.getItem,
			Decoder:  kit.DecodeJSON[getItemRequest](),
		},
		{
			Method:   http.MethodGet,
			Path:     "/items/{id}",
			Endpoint: s.getItem,
			Decoder: func(_ context.Context, r *http.Request) (any, error) {
				id, err := web.VarString(r, "id")
				return getItemRequest{ID: id}, err
			},
		},
	}
}

func (s *itemService) HTTPMiddleware(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Item-Service", "1")
		h.ServeHTTP(w, r)
	})
}

func (s *itemService) HTTPRouterOptions() []kit.RouterOption { return nil }
func (s *itemService) RPCServiceDesc() *grpc.ServiceDesc     { return &kitpb.ItemService_ServiceDesc }
func (s *itemService) RPCServer() any                        { return newItemGRPC(s) }
func (s *itemService) RPCOptions() []grpc.ServerOption       { return s.rpcOpts }

func (s *itemService) RPCUnaryInterceptors() []grpc.UnaryServerInterceptor   { return s.unary }
func (s *itemService) RPCStreamInterceptors() []grpc.StreamServerInterceptor { return s.stream }

func (s *itemService) ReadinessChecks() map[string]func(context.Context) error { return s.checks }

func (s *itemService) Shutdown(ctx context.Context) error {
	if s.shutdown != nil {
		return s.shutdown(ctx)
	}
	return nil
}

// itemGRPC implements kitpb.ItemServiceServer: GetItem through go-kit's
// transport/grpc and the raw getItem endpoint, ListItems by hand.
type itemGRPC struct {
	kitpb.UnimplementedItemServiceServer
	svc *itemService
	get kitgrpc.Handler
}

func newItemGRPC(s *itemService) *itemGRPC {
	return &itemGRPC{svc: s, get: kitgrpc.NewServer(s.getItem,
		func(_ context.Context, req any) (any, error) {
			return getItemRequest{ID: req.(*kitpb.GetItemRequest).GetId()}, nil
		},
		func(_ context.Context, resp any) (any, error) {
			it := resp.(item)
			return &kitpb.Item{Id: it.ID, Name: it.Name}, nil
		},
	)}
}

func (g *itemGRPC) GetItem(ctx context.Context, req *kitpb.GetItemRequest) (*kitpb.Item, error) {
	_, resp, err := g.get.ServeGRPC(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kitpb.Item), nil
}

func (g *itemGRPC) ListItems(req *kitpb.ListItemsRequest, ss grpc.ServerStreamingServer[kitpb.Item]) error {
	if ss.Context().Value(mwKey{}) != nil {
		g.svc.inMW.Add(1)
	}
	if req.GetPrefix() == "fail" {
		return kitError(http.StatusConflict)
	}
	for i := range req.GetCount() {
		if err := ss.Send(&kitpb.Item{Id: fmt.Sprint(i), Name: req.GetPrefix() + fmt.Sprint(i)}); err != nil {
			return err
		}
	}
	return nil
}

// kitError is an error that carries a status only through go-kit's
// StatusCoder, with internal text.
type kitError int

func (e kitError) Error() string   { return fmt.Sprintf("secret internal state %d", int(e)) }
func (e kitError) StatusCode() int { return int(e) }

// running is a kit.Server started by start.
type running struct {
	srv      *kit.Server
	httpAddr string
	rpcAddr  string
	cancel   context.CancelFunc
	done     chan struct{}
	err      error
	client   kitpb.ItemServiceClient
	conn     *grpc.ClientConn
}

// wait returns Run's result, failing if Run does not return in time.
func (r *running) wait(t testing.TB) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

// start runs svc on two 127.0.0.1:0 listeners until the test ends and
// dials a gRPC client.
func start(t testing.TB, svc kit.Service, opts ...kit.Option) *running {
	t.Helper()
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rpcLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]kit.Option{kit.WithServerOptions(server.WithListener(httpLn), server.WithRPCListener(rpcLn))}, opts...)
	srv, err := kit.NewServer(svc, opts...)
	if err != nil {
		_ = httpLn.Close()
		_ = rpcLn.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{srv: srv, httpAddr: httpLn.Addr().String(), rpcAddr: rpcLn.Addr().String(), cancel: cancel, done: make(chan struct{})}
	go func() {
		r.err = srv.Run(ctx)
		close(r.done)
	}()
	r.conn, err = grpc.NewClient(r.rpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	r.client = kitpb.NewItemServiceClient(r.conn)
	t.Cleanup(func() {
		if is, ok := svc.(*itemService); ok {
			is.releaseAll()
		}
		cancel()
		_ = r.wait(t)
		_ = r.conn.Close()
	})
	return r
}

// releaseAll lets every slow call finish.
func (s *itemService) releaseAll() { s.releaseOnce.Do(func() { close(s.release) }) }

// testCtx is a context bounded by a generous liveness timeout.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
