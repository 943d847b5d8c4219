package server

import (
	"net"

	"google.golang.org/grpc"
)

// An RPCOption configures an [RPCServer]. Every [Option] is also an
// RPCOption and applies to both sides of the server: [WithLogger],
// [WithRegistry], [WithTracerProvider] and [WithPropagator] configure the
// gRPC interceptors as well as the HTTP middleware, while [WithListener]
// and [WithMiddleware] concern the HTTP side only. The gRPC-only options are
// [WithRPCListener], [WithUnaryInterceptors], [WithStreamInterceptors],
// [WithGRPCServerOptions], [WithReflection] and [WithRequestIDHeader].
type RPCOption interface {
	applyRPC(*rpcOptions)
}

// rpcOptions collects the settings of an RPCServer.
type rpcOptions struct {
	http        []Option // applied to the HTTP side and read for the shared settings
	grpcOpts    []grpc.ServerOption
	unary       []grpc.UnaryServerInterceptor
	stream      []grpc.StreamServerInterceptor
	reflection  bool
	idHeader    bool
	rpcListener net.Listener
}

// applyRPC lets an Option be passed where an RPCOption is expected.
func (o Option) applyRPC(r *rpcOptions) {
	if o != nil {
		r.http = append(r.http, o)
	}
}

// rpcOptionFunc is an RPCOption that is not an Option.
type rpcOptionFunc func(*rpcOptions)

func (f rpcOptionFunc) applyRPC(r *rpcOptions) { f(r) }

// WithRPCListener makes Run serve gRPC on ln instead of binding
// Config.HTTPAddr:Config.RPCPort. Run closes ln when it returns. Useful for
// tests (127.0.0.1:0) and socket activation. Pair it with [WithListener] for
// the HTTP side.
func WithRPCListener(ln net.Listener) RPCOption {
	return rpcOptionFunc(func(r *rpcOptions) { r.rpcListener = ln })
}

// WithUnaryInterceptors adds unary interceptors. They run in the order given,
// inside the server's own interceptors (recovery, request ID, tracing,
// metrics, logging), so their panics are recovered and their time is
// measured, and [RequestID] works in them.
func WithUnaryInterceptors(in ...grpc.UnaryServerInterceptor) RPCOption {
	return rpcOptionFunc(func(r *rpcOptions) { r.unary = append(r.unary, in...) })
}

// WithStreamInterceptors adds stream interceptors. They run in the order
// given, inside the server's own interceptors, like [WithUnaryInterceptors].
func WithStreamInterceptors(in ...grpc.StreamServerInterceptor) RPCOption {
	return rpcOptionFunc(func(r *rpcOptions) { r.stream = append(r.stream, in...) })
}

// WithGRPCServerOptions passes options to grpc.NewServer, after the
// server's own (so they win where they overlap, e.g. grpc.Creds or
// grpc.MaxRecvMsgSize).
//
// Interceptors given as grpc.ChainUnaryInterceptor or
// grpc.ChainStreamInterceptor run inside the server's interceptors, as with
// [WithUnaryInterceptors]. An interceptor given as grpc.UnaryInterceptor or
// grpc.StreamInterceptor is accepted, but grpc-go always runs that single
// interceptor first, outside the server's recovery and metrics; prefer the
// Chain forms or [WithUnaryInterceptors].
func WithGRPCServerOptions(opts ...grpc.ServerOption) RPCOption {
	return rpcOptionFunc(func(r *rpcOptions) { r.grpcOpts = append(r.grpcOpts, opts...) })
}

// WithReflection registers the gRPC server reflection service
// (google.golang.org/grpc/reflection), which lets tools such as grpcurl list
// and call the services without their .proto files. It is off by default:
// it publishes the full API schema to anyone who can connect.
func WithReflection() RPCOption {
	return rpcOptionFunc(func(r *rpcOptions) { r.reflection = true })
}

// WithRequestIDHeader makes the gRPC side send each call's request ID back
// to the client in the "x-request-id" response header metadata, as the HTTP
// side always does with X-Request-Id.
//
// It is off by default because it is not free: a value that is new on every
// call cannot be compressed by HPACK and pushes other entries out of both
// peers' header tables, which cost about 5% of the throughput of a small
// unary call in docs/benchmarks.md. Without it the server still honours an
// incoming ID, or makes one, and logs it and hands it to handlers through
// [RequestID]; a client that wants to correlate its calls with the server's
// logs can send its own ID.
func WithRequestIDHeader() RPCOption {
	return rpcOptionFunc(func(r *rpcOptions) { r.idHeader = true })
}
