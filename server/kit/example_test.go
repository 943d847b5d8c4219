package kit_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/go-kit/kit/endpoint"
	kitgrpc "github.com/go-kit/kit/transport/grpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/seed8104ecd5/gizmo/server"
	"github.com/seed8104ecd5/gizmo/server/kit"
	"github.com/seed8104ecd5/gizmo/server/kit/internal/kitpb"
	"github.com/seed8104ecd5/gizmo/web"
)

// catalog is a go-kit service: one endpoint, getItem, served at
// GET /items/{id} and as ItemService/GetItem.
type catalog struct{}

// getItem is the business logic, written once.
func (catalog) getItem(_ context.Context, req any) (any, error) {
	id := req.(string)
	if id == "" || strings.HasPrefix(id, "missing") {
		return nil, status.Errorf(codes.NotFound, "no item %q", id)
	}
	return item{ID: id, Name: "item " + id}, nil
}

// Middleware logs every call, whichever transport it came from.
func (catalog) Middleware(next endpoint.Endpoint) endpoint.Endpoint {
	return func(ctx context.Context, req any) (any, error) {
		resp, err := next(ctx, req)
		fmt.Printf("middleware: error=%v\n", status.Code(err))
		return resp, err
	}
}

func (c catalog) HTTPEndpoints() []kit.HTTPEndpoint {
	return []kit.HTTPEndpoint{{
		Method:   http.MethodGet,
		Path:     "/items/{id}",
		Endpoint: c.getItem,
		Decoder: func(_ context.Context, r *http.Request) (any, error) {
			return web.VarString(r, "id")
		},
		// Encoder nil: kit.EncodeJSON.
	}}
}

func (catalog) HTTPMiddleware(h http.Handler) http.Handler { return h }
func (catalog) HTTPRouterOptions() []kit.RouterOption      { return nil }
func (catalog) RPCServiceDesc() *grpc.ServiceDesc          { return &kitpb.ItemService_ServiceDesc }
func (c catalog) RPCServer() any                           { return &catalogGRPC{get: c.grpcGetItem()} }
func (catalog) RPCOptions() []grpc.ServerOption            { return nil }
func (catalog) RPCUnaryInterceptors() []grpc.UnaryServerInterceptor {
	return nil
}
func (catalog) RPCStreamInterceptors() []grpc.StreamServerInterceptor {
	return nil
}

// grpcGetItem serves the same endpoint with go-kit's transport/grpc.
func (c catalog) grpcGetItem() kitgrpc.Handler {
	return kitgrpc.NewServer(c.getItem,
		func(_ context.Context, req any) (any, error) { return req.(*kitpb.GetItemRequest).GetId(), nil },
		func(_ context.Context, resp any) (any, error) {
			it := resp.(item)
			return &kitpb.Item{Id: it.ID, Name: it.Name}, nil
		})
}

// catalogGRPC implements kitpb.ItemServiceServer.
type catalogGRPC struct {
	kitpb.UnimplementedItemServiceServer
	get kitgrpc.Handler
}

func (g *catalogGRPC) GetItem(ctx context.Context, req *kitpb.GetItemRequest) (*kitpb.Item, error) {
	_, resp, err := g.get.ServeGRPC(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kitpb.Item), nil
}

// ExampleNewServer serves HTTP requests through the whole server stack
// with ServeHTTP, as a test would.
func ExampleNewServer() {
	srv, err := kit.NewServer(catalog{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, path := range []string{"/items/7", "/items/missing"} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		fmt.Printf("%d %s %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
	// Output:
	// middleware: error=OK
	// 200 application/json {"id":"7","name":"item 7"}
	// middleware: error=NotFound
	// 404 application/problem+json {"type":"about:blank","title":"Not Found","status":404,"detail":"no item \"missing\""}
}

// ExampleRun serves the same endpoint over HTTP and gRPC until the context
// is cancelled. A program would use server.SignalContext and a Config from
// the environment instead of test listeners.
func ExampleRun() {
	httpLn, _ := net.Listen("tcp", "127.0.0.1:0")
	rpcLn, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- kit.Run(ctx, catalog{},
			kit.WithConfig(kit.Config{HTTPAddr: "127.0.0.1"}),
			kit.WithServerOptions(server.WithListener(httpLn), server.WithRPCListener(rpcLn)))
	}()

	resp, err := http.Get("http://" + httpLn.Addr().String() + "/items/9")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("HTTP:", resp.StatusCode)
	_ = resp.Body.Close()

	cc, err := grpc.NewClient(rpcLn.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cc.Close()
	client := kitpb.NewItemServiceClient(cc)
	it, err := client.GetItem(context.Background(), &kitpb.GetItemRequest{Id: "9"})
	fmt.Println("gRPC:", it.GetName(), status.Code(err))
	_, err = client.GetItem(context.Background(), &kitpb.GetItemRequest{Id: "missing"})
	fmt.Println("gRPC:", status.Code(err))

	cancel()
	fmt.Println("Run:", <-done)
	// Output:
	// middleware: error=OK
	// HTTP: 200
	// middleware: error=OK
	// gRPC: item 9 OK
	// middleware: error=NotFound
	// gRPC: NotFound
	// Run: <nil>
}
