package kit

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/go-kit/kit/endpoint"
	"google.golang.org/grpc"

	"github.com/seed8104ecd5/gizmo/server"
)

// rpcMiddleware runs a service's endpoint middleware around its gRPC
// methods and maps their errors (see the package documentation). Its
// interceptors are the innermost ones of the server, and they leave the
// methods of other services (the health service) alone.
//
// The middleware is applied once, when the server is built, to an endpoint
// that calls the gRPC handler of the current call; the interceptors hand
// that handler down through the context, which is why the call types below
// are contexts themselves (one allocation per call).
type rpcMiddleware struct {
	prefix   string            // "/package.Service/"
	unaryEP  endpoint.Endpoint // Middleware(callUnary)
	streamEP endpoint.Endpoint // Middleware(callStream)
	logger   *slog.Logger
}

// errLostCall is returned when endpoint middleware calls the next endpoint
// with a context that does not derive from the one it was given.
var errLostCall = errors.New("kit: endpoint middleware called the next endpoint with a context not derived from its own")

func newRPCMiddleware(serviceName string, mw endpoint.Middleware, logger *slog.Logger) (*rpcMiddleware, error) {
	m := &rpcMiddleware{prefix: "/" + serviceName + "/", logger: logger}
	m.unaryEP, m.streamEP = mw(callUnary), mw(callStream)
	if m.unaryEP == nil || m.streamEP == nil {
		return nil, errors.New("kit: Service.Middleware returned a nil endpoint")
	}
	return m, nil
}

// callKey is the context key under which a unaryCall or streamCall answers
// with itself.
type callKey struct{}

// unaryCall is the context of a unary call while the middleware runs.
type unaryCall struct {
	context.Context
	handler grpc.UnaryHandler
}

// Value implements context.Context.
func (c *unaryCall) Value(key any) any {
	if _, ok := key.(callKey); ok {
		return c
	}
	return c.Context.Value(key)
}

// streamCall is the context of a streaming call while the middleware runs.
type streamCall struct {
	context.Context
	srv     any
	stream  grpc.ServerStream
	handler grpc.StreamHandler
}

// Value implements context.Context.
func (c *streamCall) Value(key any) any {
	if _, ok := key.(callKey); ok {
		return c
	}
	return c.Context.Value(key)
}

// callUnary is the endpoint the middleware wraps for unary methods: it runs
// the gRPC handler (decode, the service's method, encode) with the context
// and request the middleware passes on.
func callUnary(ctx context.Context, req any) (any, error) {
	c, ok := ctx.Value(callKey{}).(*unaryCall)
	if !ok {
		return nil, errLostCall
	}
	return c.handler(ctx, req)
}

// callStream is the endpoint the middleware wraps for streaming methods.
// Its request is the grpc.ServerStream (middleware may pass a wrapped one);
// its response is always nil. The stream's Context is the context the
// middleware passes on.
func callStream(ctx context.Context, req any) (any, error) {
	c, ok := ctx.Value(callKey{}).(*streamCall)
	if !ok {
		return nil, errLostCall
	}
	ss, ok := req.(grpc.ServerStream)
	if !ok || ss == nil {
		ss = c.stream
	}
	if ctx != context.Context(c) || ss != c.stream {
		ss = &contextStream{ServerStream: ss, ctx: ctx}
	}
	return nil, c.handler(c.srv, ss)
}

// contextStream is a grpc.ServerStream with another context.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

// Context returns the context the middleware passed on.
func (s *contextStream) Context() context.Context { return s.ctx }

// unary is the innermost unary interceptor.
func (m *rpcMiddleware) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if !strings.HasPrefix(info.FullMethod, m.prefix) {
		return handler(ctx, req)
	}
	resp, err := m.unaryEP(&unaryCall{Context: ctx, handler: handler}, req)
	if err != nil {
		return nil, m.fail(ctx, info.FullMethod, err)
	}
	return resp, nil
}

// stream is the innermost stream interceptor.
func (m *rpcMiddleware) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !strings.HasPrefix(info.FullMethod, m.prefix) {
		return handler(srv, ss)
	}
	c := &streamCall{Context: ss.Context(), srv: srv, stream: ss, handler: handler}
	if _, err := m.streamEP(c, ss); err != nil {
		return m.fail(c, info.FullMethod, err)
	}
	return nil
}

// fail maps err to the status the client gets, logging server faults with
// the full error text that the client does not see.
func (m *rpcMiddleware) fail(ctx context.Context, method string, err error) error {
	st := GRPCStatus(err)
	if httpForCode(st.Code()) >= 500 {
		m.logger.LogAttrs(ctx, slog.LevelError, "kit: endpoint error",
			slog.String("transport", "grpc"),
			slog.String("method", method),
			slog.String("request_id", server.RequestID(ctx)),
			slog.String("error", err.Error()),
		)
	}
	return st.Err()
}
