package server

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// RequestIDMetadataKey is the gRPC metadata key that carries a request ID.
// RPCServer honours a well-formed ID sent by the client and generates one
// otherwise; with [WithRequestIDHeader] it also returns the ID in the
// response header metadata under the same key. gRPC metadata keys are lower
// case; the HTTP side uses the equivalent X-Request-ID header.
const RequestIDMetadataKey = "x-request-id"

// rpcObserver is the observability that RPCServer wraps around every call:
// request IDs, trace propagation, panic recovery, metrics and access logs.
// Its unary and stream interceptors are installed as the outermost
// interceptors of the gRPC server, so that interceptors supplied by the user
// run inside them and are covered by recovery, metrics and logs.
type rpcObserver struct {
	logger     *slog.Logger
	metrics    *rpcMetrics // nil disables metrics
	propagator propagation.TextMapPropagator
	tracer     trace.Tracer // nil when tracing is off
	idHeader   bool         // send the request ID back in the response header
	mdKey      any          // findIncomingMDKey's result; nil: use ValueFromIncomingContext
	logSite    logSite      // the access log line's source position
}

// internalErrorMessage is all a client learns about a recovered panic.
const internalErrorMessage = "internal error"

// start does the per-call work that precedes the handler: it settles the
// request ID, extracts the remote trace context and starts the server span.
// The span is nil when tracing is off. The context it returns carries the
// request ID in a single allocation (an rpcCtx), also when the ID is
// generated here.
func (o *rpcObserver) start(ctx context.Context, method string) (context.Context, string, trace.Span) {
	rc := &rpcCtx{Context: ctx}
	if id := o.incomingRequestID(ctx); validRequestID(id) {
		rc.id = id
	} else {
		// The bytes live in rc, which is never reused, and are not
		// written again.
		fillRequestID(&rc.idBuf)
		rc.id = unsafe.String(&rc.idBuf[0], len(rc.idBuf))
	}
	// The same accessor, RequestID(ctx), serves HTTP and gRPC handlers.
	ctx, id := rc, rc.id
	if o.tracer == nil {
		return ctx, id, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	ctx = o.propagator.Extract(ctx, metadataCarrier(md))
	ctx, span := o.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer))
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("rpc.system", "grpc"),
			attribute.String("rpc.method", method),
			attribute.String("request.id", id),
		)
	}
	return ctx, id, span
}

// incomingRequestID returns the first x-request-id value of the call's
// incoming metadata, or "". It gives what
// metadata.ValueFromIncomingContext gives (the key looked up exactly, then
// case-insensitively), without copying the values.
func (o *rpcObserver) incomingRequestID(ctx context.Context) string {
	var vals []string
	if o.mdKey != nil {
		md, _ := ctx.Value(o.mdKey).(metadata.MD)
		var ok bool
		if vals, ok = md[RequestIDMetadataKey]; !ok {
			// The transport's keys are lower case; a context built by
			// hand may have others, which ValueFromIncomingContext finds.
			for k, v := range md {
				if len(k) == len(RequestIDMetadataKey) && strings.EqualFold(k, RequestIDMetadataKey) {
					vals = v
					break
				}
			}
		}
	} else {
		vals = metadata.ValueFromIncomingContext(ctx, RequestIDMetadataKey)
	}
	if len(vals) == 0 {
		return ""
	}
	return vals[0]
}

// findIncomingMDKey returns the context key under which grpc-go stores a
// call's incoming metadata, found by asking metadata.ValueFromIncomingContext
// for a value from a context that records the keys it is asked for (as
// findMuxKeys does for gorilla/mux). It returns nil if that does not find
// exactly one key holding the metadata, and the observer then reads the
// metadata through ValueFromIncomingContext.
func findIncomingMDKey() any {
	spy := &keySpy{Context: context.Background()}
	metadata.ValueFromIncomingContext(spy, RequestIDMetadataKey)
	if len(spy.keys) != 1 {
		return nil
	}
	key := spy.keys[0]
	probe := metadata.NewIncomingContext(context.Background(), metadata.MD{"k": {"v"}})
	if md, ok := probe.Value(key).(metadata.MD); !ok || len(md["k"]) != 1 {
		return nil
	}
	return key
}

// rpcCtx is the context a gRPC handler gets from RPCServer's interceptors:
// the call's context plus its request ID, whose bytes it holds when the ID
// was generated. It answers [RequestID].
type rpcCtx struct {
	context.Context
	id    string
	idBuf [requestIDLen]byte
}

// Value implements context.Context.
func (c *rpcCtx) Value(key any) any {
	if _, ok := key.(requestIDKey); ok {
		return c
	}
	return c.Context.Value(key)
}

// finish records the outcome of a call: span status, metrics and the access
// log line.
func (o *rpcObserver) finish(ctx context.Context, span trace.Span, method, id string, kind string, began time.Time, err error) {
	elapsed := time.Since(began)
	st := rpcStatus(err)
	code := st.Code()
	var sc trace.SpanContext
	if span != nil {
		if span.IsRecording() {
			span.SetAttributes(attribute.Int("rpc.grpc.status_code", int(code)))
			if isServerFault(code) {
				span.SetStatus(otelcodes.Error, code.String())
			}
		}
		sc = span.SpanContext()
		span.End()
	}
	if o.metrics != nil {
		o.metrics.observe(method, code, elapsed)
	}
	level := slog.LevelInfo
	switch {
	case isServerFault(code):
		level = slog.LevelError
	case strings.HasPrefix(method, "/grpc.health.v1.Health/"):
		// Probes are frequent; the HTTP side logs /healthz and /readyz at
		// Debug too.
		level = slog.LevelDebug
	}
	if !o.logger.Enabled(ctx, level) {
		return
	}
	// As on the HTTP side, the record is built here, with the time from
	// the clock readings above and a source position found once (see
	// logSite).
	rec := slog.NewRecord(began.Add(elapsed), level, "grpc call", o.logSite.pc())
	rec.AddAttrs(
		slog.String("method", method),
		slog.String("kind", kind),
		slog.String("code", code.String()),
		slog.Float64("duration_seconds", elapsed.Seconds()),
		slog.String("request_id", id),
	)
	if sc.HasTraceID() {
		rec.AddAttrs(slog.String("trace_id", sc.TraceID().String()))
	}
	if err != nil {
		rec.AddAttrs(slog.String("error", st.Message()))
	}
	_ = o.logger.Handler().Handle(ctx, rec)
}

// rpcStatus is the status grpc-go sends the client when a handler returns
// err: the status err carries (also when wrapped), or else, for an error
// that is or wraps context.Canceled or context.DeadlineExceeded (a handler
// returning ctx.Err() after the client gave up), Canceled or
// DeadlineExceeded; anything else is Unknown. Metrics, logs and spans
// record that code, so that they agree with what the client saw.
func rpcStatus(err error) *status.Status {
	if st, ok := status.FromError(err); ok {
		return st // nil err gives OK
	}
	return status.FromContextError(err)
}

// recovered turns a recovered panic value into the error the client sees,
// logging the panic and its stack. The client gets codes.Internal with a
// fixed message; the panic text stays in the server log.
func (o *rpcObserver) recovered(ctx context.Context, method, id string, p any) error {
	o.logger.LogAttrs(ctx, slog.LevelError, "grpc handler panic",
		slog.String("method", method),
		slog.String("request_id", id),
		slog.String("panic", fmt.Sprint(p)),
		slog.String("stack", string(debug.Stack())),
	)
	return status.Error(codes.Internal, internalErrorMessage)
}

// unary is the outermost unary interceptor of an RPCServer.
func (o *rpcObserver) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	began := time.Now()
	ctx, id, span := o.start(ctx, info.FullMethod)
	if o.idHeader {
		// The header is sent with the response; an error here only means
		// the transport is already gone, which the handler will see too.
		_ = grpc.SetHeader(ctx, metadata.MD{RequestIDMetadataKey: {id}})
	}
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, o.recovered(ctx, info.FullMethod, id, p)
		}
		o.finish(ctx, span, info.FullMethod, id, "unary", began, err)
	}()
	return handler(ctx, req)
}

// stream is the outermost stream interceptor of an RPCServer.
func (o *rpcObserver) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	began := time.Now()
	ctx, id, span := o.start(ss.Context(), info.FullMethod)
	if o.idHeader {
		_ = ss.SetHeader(metadata.MD{RequestIDMetadataKey: {id}})
	}
	defer func() {
		if p := recover(); p != nil {
			err = o.recovered(ctx, info.FullMethod, id, p)
		}
		o.finish(ctx, span, info.FullMethod, id, streamKind(info), began, err)
	}()
	return handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
}

// streamKind names the shape of a streaming method for the access log.
func streamKind(info *grpc.StreamServerInfo) string {
	switch {
	case info.IsClientStream && info.IsServerStream:
		return "bidi_stream"
	case info.IsClientStream:
		return "client_stream"
	default:
		return "server_stream"
	}
}

// contextStream is a grpc.ServerStream whose Context carries the request ID
// and span that the stream interceptor added.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

// Context returns the stream's context with the interceptor's values.
func (s *contextStream) Context() context.Context { return s.ctx }

// isServerFault reports whether a status code means the server, not the
// caller, is at fault; such calls are logged at error level.
func isServerFault(c codes.Code) bool {
	switch c {
	case codes.Unknown, codes.Internal, codes.DataLoss, codes.Unimplemented:
		return true
	}
	return false
}

// metadataCarrier adapts incoming gRPC metadata to the otel TextMapCarrier
// interface, so that a propagator can read W3C traceparent/tracestate (or
// whatever the configured propagator uses) from it.
type metadataCarrier metadata.MD

// Get returns the first value for key.
func (c metadataCarrier) Get(key string) string {
	if vals := metadata.MD(c).Get(key); len(vals) > 0 {
		return vals[0]
	}
	return ""
}

// Set replaces the values for key. Extraction never calls it.
func (c metadataCarrier) Set(key, value string) { metadata.MD(c).Set(key, value) }

// Keys lists the metadata keys.
func (c metadataCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
