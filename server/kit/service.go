package kit

import (
	"context"
	"net/http"

	"github.com/go-kit/kit/endpoint"
	httptransport "github.com/go-kit/kit/transport/http"
	"github.com/gorilla/mux"
	"google.golang.org/grpc"
)

// A Service is business logic written once as go-kit endpoints and served
// by a [Server] over HTTP and gRPC.
//
// Every method is called once, by [NewServer]. Return nil (or the argument
// unchanged, for the middleware methods) for what a service does not use.
type Service interface {
	// Middleware wraps every endpoint of the service, on both transports:
	// each HTTP endpoint's Endpoint, and every unary and streaming method of
	// the gRPC service. See the package documentation for what the request
	// value is on each transport. Return the endpoint unchanged for none.
	Middleware(endpoint.Endpoint) endpoint.Endpoint

	// HTTPEndpoints lists the HTTP endpoints in order. Routes are matched
	// in that order, so where two paths overlap (/items/new and
	// /items/{id}) the one listed first wins.
	HTTPEndpoints() []HTTPEndpoint
	// HTTPMiddleware wraps every HTTP endpoint handler after routing,
	// inside the server's default middleware. Return the handler unchanged
	// for none.
	HTTPMiddleware(http.Handler) http.Handler
	// HTTPRouterOptions configure the gorilla/mux router before the
	// endpoints are added.
	HTTPRouterOptions() []RouterOption

	// RPCServiceDesc is the gRPC service description, usually the
	// generated Foo_ServiceDesc. Nil means the service has no gRPC methods;
	// the gRPC port then serves only the health service.
	RPCServiceDesc() *grpc.ServiceDesc
	// RPCServer is the implementation of RPCServiceDesc's handler type
	// (FooServer), typically built from the same endpoints with go-kit's
	// transport/grpc. Give it the endpoints without Middleware: the server
	// applies Middleware around every call itself.
	RPCServer() any
	// RPCOptions are passed to grpc.NewServer after the server's own.
	RPCOptions() []grpc.ServerOption
	// RPCUnaryInterceptors run on unary calls in the order given, inside
	// the server's recovery, request-ID, tracing, metrics and logging
	// interceptors and outside Middleware.
	RPCUnaryInterceptors() []grpc.UnaryServerInterceptor
	// RPCStreamInterceptors run on streaming calls, placed like
	// RPCUnaryInterceptors.
	RPCStreamInterceptors() []grpc.StreamServerInterceptor
}

// An HTTPEndpoint is one HTTP route of a [Service], served by go-kit's
// transport/http.
type HTTPEndpoint struct {
	// Method is the HTTP method, such as http.MethodGet. Required.
	Method string
	// Path is an absolute gorilla/mux path template, such as "/items/{id}".
	Path string
	// Endpoint is the business logic. Required. The service's Middleware
	// is applied to it.
	Endpoint endpoint.Endpoint
	// Decoder turns the HTTP request into the endpoint's request. Nil
	// means the endpoint gets a nil request. See [DecodeJSON].
	Decoder httptransport.DecodeRequestFunc
	// Encoder writes the endpoint's response. Nil means [EncodeJSON].
	Encoder httptransport.EncodeResponseFunc
	// Options are go-kit server options for this endpoint. They are
	// applied after the server's own, so a ServerErrorEncoder here replaces
	// [EncodeError].
	Options []httptransport.ServerOption
}

// A RouterOption configures the gorilla/mux router of a [Server], for
// example func(r *mux.Router) { r.StrictSlash(true) }. Options run before
// the service's endpoints are added, after the built-in health, readiness
// and metrics routes.
type RouterOption func(*mux.Router)

// A Shutdowner is a [Service] with a shutdown hook. [Server.Run] calls
// Shutdown once, after the HTTP and gRPC servers have stopped (so no
// endpoint is still running), with a context that expires at the end of the
// server's graceful-shutdown deadline. Its error is returned by Run, joined
// with any serving error.
type Shutdowner interface {
	// Shutdown releases the service's resources before ctx expires.
	Shutdown(ctx context.Context) error
}

// A ReadinessChecker is a [Service] with readiness checks. [NewServer] adds
// each check, in name order, to the server's readiness: a failing check
// makes Config.ReadyPath answer 503 and the gRPC health service answer
// NOT_SERVING. Checks should honour ctx and return quickly.
type ReadinessChecker interface {
	// ReadinessChecks returns the checks by name.
	ReadinessChecks() map[string]func(ctx context.Context) error
}
