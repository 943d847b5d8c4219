package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/seed8104ecd5/gizmo/server"
	"github.com/seed8104ecd5/gizmo/server/internal/testpb"
	"github.com/seed8104ecd5/gizmo/web"
)

// echoGreeter implements the generated EchoServiceServer once and exposes it
// over gRPC and, at POST /v1/echo, over JSON/HTTP.
type echoGreeter struct {
	testpb.UnimplementedEchoServiceServer
}

func (g *echoGreeter) Echo(ctx context.Context, req *testpb.EchoRequest) (*testpb.EchoResponse, error) {
	return &testpb.EchoResponse{Message: "hello, " + req.GetMessage()}, nil
}

// The RPCService methods: the gRPC half...
func (g *echoGreeter) Service() (*grpc.ServiceDesc, any) { return &testpb.EchoService_ServiceDesc, g }

// ...and the HTTP half, a SimpleServer Service.
func (g *echoGreeter) Prefix() string                         { return "/v1" }
func (g *echoGreeter) Middleware(h http.Handler) http.Handler { return h }
func (g *echoGreeter) Endpoints() []server.Endpoint {
	return []server.Endpoint{{
		Method: http.MethodGet,
		Path:   "/echo/{name}",
		Handler: server.JSON(func(ctx context.Context, r *http.Request) (int, any, error) {
			resp, err := g.Echo(ctx, &testpb.EchoRequest{Message: web.RouteVar(r, "name")})
			return http.StatusOK, resp, err
		}),
	}}
}

func ExampleRPCServer() {
	// Real programs set Config.HTTPPort and Config.RPCPort (HTTP_PORT and
	// RPC_PORT); the example listens on free loopback ports instead.
	httpLn, _ := net.Listen("tcp", "127.0.0.1:0")
	rpcLn, _ := net.Listen("tcp", "127.0.0.1:0")
	srv, err := server.NewRPCServer(server.Config{},
		server.WithListener(httpLn), server.WithRPCListener(rpcLn),
		server.WithRequestIDHeader()) // echo x-request-id to gRPC clients
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := srv.Register(&echoGreeter{}); err != nil {
		fmt.Println(err)
		return
	}
	ctx, shutdown := context.WithCancel(context.Background())
	defer shutdown()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()

	// gRPC, with our own request ID.
	cc, err := grpc.NewClient(rpcLn.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cc.Close()
	var header metadata.MD
	callCtx := metadata.AppendToOutgoingContext(ctx, server.RequestIDMetadataKey, "example-1")
	resp, err := testpb.NewEchoServiceClient(cc).Echo(callCtx, &testpb.EchoRequest{Message: "grpc"}, grpc.Header(&header))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.GetMessage(), header.Get(server.RequestIDMetadataKey))

	// The same service over JSON/HTTP.
	hresp, err := http.Get("http://" + httpLn.Addr().String() + "/v1/echo/http")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(hresp.Body)
	_ = hresp.Body.Close()
	fmt.Print(string(body))

	shutdown()
	fmt.Println("Run:", <-done)
	// Output:
	// hello, grpc [example-1]
	// {"message":"hello, http"}
	// Run: <nil>
}
