package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/seed8104ecd5/gizmo/internal/testlog"
	"github.com/seed8104ecd5/gizmo/server/internal/testpb"
)

// observedServer serves echoService on 127.0.0.1:0 behind an rpcObserver's
// interceptors (outermost) plus extra options, and returns a client.
func observedServer(t *testing.T, o *rpcObserver, extra ...grpc.ServerOption) testpb.EchoServiceClient {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := append([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(o.unary),
		grpc.ChainStreamInterceptor(o.stream),
	}, extra...)
	gs := grpc.NewServer(opts...)
	testpb.RegisterEchoServiceServer(gs, newEchoService())
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)
	client, _ := rpcDial(t, ln.Addr().String(), nil)
	return client
}

// rpcJSONLogger logs everything as JSON lines to w.
func rpcJSONLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newTestObserver(t *testing.T, logs io.Writer) (*rpcObserver, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := newRPCMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	return &rpcObserver{
		logger:  rpcJSONLogger(logs),
		metrics: m,
	}, reg
}

const echoMethod = "/gizmo.server.testpb.v1.EchoService/Echo"
const streamMethod = "/gizmo.server.testpb.v1.EchoService/EchoStream"

func TestInterceptorRecoversPanic(t *testing.T) {
	logs := &testlog.Buffer{}
	o, _ := newTestObserver(t, logs)
	client := observedServer(t, o)
	ctx := rpcTestCtx(t)

	_, err := client.Echo(ctx, &testpb.EchoRequest{Message: cmdPanic})
	if got := status.Code(err); got != codes.Internal {
		t.Fatalf("unary panic: code %v, want Internal (err %v)", got, err)
	}
	if strings.Contains(err.Error(), panicSecret) {
		t.Errorf("unary panic leaked its text to the client: %v", err)
	}

	stream, err := client.EchoStream(ctx, &testpb.EchoStreamRequest{Message: cmdPanic, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	if got := status.Code(err); got != codes.Internal {
		t.Fatalf("stream panic: code %v, want Internal (err %v)", got, err)
	}
	if strings.Contains(err.Error(), panicSecret) {
		t.Errorf("stream panic leaked its text to the client: %v", err)
	}

	// The server keeps serving.
	resp, err := client.Echo(ctx, &testpb.EchoRequest{Message: "still here"})
	if err != nil || resp.GetMessage() != "still here" {
		t.Fatalf("after panic: %v, %v", resp, err)
	}

	panics := logs.Find(t, "grpc handler panic")
	if len(panics) != 2 {
		t.Fatalf("logged %d panics, want 2", len(panics))
	}
	for _, p := range panics {
		if p["panic"] != panicSecret || !strings.Contains(p["stack"].(string), "goroutine") {
			t.Errorf("panic log lacks the panic value or stack: %v", p)
		}
	}
}

func TestInterceptorRequestID(t *testing.T) {
	o, _ := newTestObserver(t, io.Discard)
	o.idHeader = true // as with WithRequestIDHeader
	client := observedServer(t, o)

	for _, tc := range []struct {
		name, sent string
		kept       bool
	}{
		{"honoured", "abc-123.X", true},
		{"generated when missing", "", false},
		{"replaced when malformed", "has space", false},
		{"replaced when too long", strings.Repeat("a", 129), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := rpcTestCtx(t)
			if tc.sent != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, RequestIDMetadataKey, tc.sent)
			}
			var header metadata.MD
			resp, err := client.Echo(ctx, &testpb.EchoRequest{Message: cmdID}, grpc.Header(&header))
			if err != nil {
				t.Fatal(err)
			}
			got := header.Get(RequestIDMetadataKey)
			if len(got) != 1 || got[0] != resp.GetMessage() {
				t.Fatalf("header %v, handler saw %q: want one equal ID", got, resp.GetMessage())
			}
			if tc.kept && got[0] != tc.sent {
				t.Fatalf("request ID %q not honoured: got %q", tc.sent, got[0])
			}
			if !tc.kept && (got[0] == tc.sent || !validRequestID(got[0])) {
				t.Fatalf("request ID %q should have been replaced by a fresh one, got %q", tc.sent, got[0])
			}
		})
	}

	// Streams get the ID in their header metadata too.
	ctx := metadata.AppendToOutgoingContext(rpcTestCtx(t), RequestIDMetadataKey, "stream-id")
	stream, err := client.EchoStream(ctx, &testpb.EchoStreamRequest{Message: cmdID, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	header, err := stream.Header()
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetMessage() != "stream-id" || header.Get(RequestIDMetadataKey)[0] != "stream-id" {
		t.Fatalf("stream: handler saw %q, header %v", resp.GetMessage(), header)
	}
}

func TestInterceptorTracePropagation(t *testing.T) {
	logs := &testlog.Buffer{}
	o, _ := newTestObserver(t, logs)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	o.tracer = tp.Tracer("test")
	o.propagator = propagation.TraceContext{}
	client := observedServer(t, o)

	s := echoWithTraceparent(t, client, rec)
	if s.Name() != echoMethod {
		t.Errorf("span named %q, want %q", s.Name(), echoMethod)
	}
	calls := logs.Find(t, "grpc call")
	if len(calls) != 1 {
		t.Fatalf("%d access log lines, want 1", len(calls))
	}
	c := calls[0]
	if c["trace_id"] != s.SpanContext().TraceID().String() || c["method"] != echoMethod || c["code"] != "OK" || c["request_id"] == "" {
		t.Errorf("access log %v lacks method, code, request or trace ID", c)
	}
	if d, ok := c["duration_seconds"].(float64); !ok || d <= 0 || d > 60 {
		t.Errorf("access log %v lacks duration_seconds in seconds", c)
	}
}

func TestInterceptorMetricsAndUserOrder(t *testing.T) {
	o, reg := newTestObserver(t, io.Discard)
	var mu sync.Mutex
	var userSaw []string // request IDs user interceptors saw
	userUnary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		mu.Lock()
		userSaw = append(userSaw, RequestID(ctx))
		mu.Unlock()
		if req.(*testpb.EchoRequest).GetMessage() == "user-panic" {
			panic("user interceptor " + panicSecret)
		}
		return h(ctx, req)
	}
	userStream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		mu.Lock()
		userSaw = append(userSaw, RequestID(ss.Context()))
		mu.Unlock()
		return h(srv, ss)
	}
	client := observedServer(t, o, grpc.ChainUnaryInterceptor(userUnary), grpc.ChainStreamInterceptor(userStream))
	ctx := rpcTestCtx(t)

	if _, err := client.Echo(ctx, &testpb.EchoRequest{Message: "hi"}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Echo(ctx, &testpb.EchoRequest{Message: "user-panic"}); status.Code(err) != codes.Internal {
		t.Fatalf("panic in user interceptor: %v, want Internal", err)
	}
	stream, err := client.EchoStream(ctx, &testpb.EchoStreamRequest{Message: "s", Count: 3})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := stream.Recv(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}

	mu.Lock()
	if len(userSaw) != 3 {
		t.Fatalf("user interceptors ran %d times, want 3", len(userSaw))
	}
	for _, id := range userSaw {
		if id == "" {
			t.Errorf("a user interceptor ran before ours: no request ID in its context")
		}
	}
	mu.Unlock()

	handled := func(method, code string) float64 {
		return testutil.ToFloat64(o.metrics.handled.WithLabelValues(method, code))
	}
	if got := handled(echoMethod, "OK"); got != 1 {
		t.Errorf("handled{Echo,OK} = %v, want 1", got)
	}
	if got := handled(echoMethod, "Internal"); got != 1 {
		t.Errorf("handled{Echo,Internal} = %v, want 1", got)
	}
	if got := handled(streamMethod, "OK"); got != 1 {
		t.Errorf("handled{EchoStream,OK} = %v, want 1", got)
	}
	if n, err := testutil.GatherAndCount(reg, RPCLatencyMetric); err != nil || n != 3 {
		t.Errorf("latency histogram has %d series (err %v), want 3", n, err)
	}
}

func TestRPCMetricsShareRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := newRPCMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newRPCMetrics(reg)
	if err != nil {
		t.Fatalf("second server on the same registry: %v", err)
	}
	if a.handled != b.handled {
		t.Error("second registration did not reuse the existing counter")
	}
	// A clashing collector under the same name is an error, not a panic.
	bad := prometheus.NewRegistry()
	bad.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: RPCHandledMetric, Help: "clash"}))
	if _, err := newRPCMetrics(bad); err == nil {
		t.Error("newRPCMetrics on a registry with a clashing metric: want error")
	}
}

// FuzzRPCRequestIDMetadata feeds arbitrary x-request-id and traceparent
// metadata, as a client could send, to the interceptor's per-call setup:
// it must never panic, must keep a valid ID unchanged, and must otherwise
// hand the handler a fresh valid ID.
func FuzzRPCRequestIDMetadata(f *testing.F) {
	for _, s := range []string{"", "abc-123", "has space", "\x00\xff", strings.Repeat("z", 200), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"} {
		f.Add(s, s)
	}
	o := &rpcObserver{
		logger:     slog.New(slog.DiscardHandler),
		propagator: propagation.TraceContext{},
		tracer:     sdktrace.NewTracerProvider().Tracer("fuzz"),
	}
	f.Fuzz(func(t *testing.T, id, traceparent string) {
		md := metadata.MD{RequestIDMetadataKey: {id}, "traceparent": {traceparent}}
		ctx, got, span := o.start(metadata.NewIncomingContext(context.Background(), md), echoMethod)
		defer span.End()
		if RequestID(ctx) != got || !validRequestID(got) {
			t.Fatalf("request ID %q (context %q) is not valid", got, RequestID(ctx))
		}
		if validRequestID(id) != (got == id) {
			t.Fatalf("sent %q (valid %v), got %q", id, validRequestID(id), got)
		}
	})
}

// echoWithTraceparent calls Echo with a W3C traceparent in the metadata
// and checks that the handler saw that trace and that exactly one server
// span, a child of the remote parent, was recorded. It returns the span.
func echoWithTraceparent(t *testing.T, client testpb.EchoServiceClient, rec *tracetest.SpanRecorder) sdktrace.ReadOnlySpan {
	t.Helper()
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	const parentID = "00f067aa0ba902b7"
	ctx := metadata.AppendToOutgoingContext(rpcTestCtx(t), "traceparent", "00-"+traceID+"-"+parentID+"-01")
	resp, err := client.Echo(ctx, &testpb.EchoRequest{Message: cmdTrace})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetMessage() != traceID {
		t.Fatalf("handler saw trace ID %q, want %q", resp.GetMessage(), traceID)
	}
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans ended, want 1", len(spans))
	}
	s := spans[0]
	if s.Parent().SpanID().String() != parentID || !s.Parent().IsRemote() {
		t.Fatalf("span %q parent %v: want a child of remote %s", s.Name(), s.Parent(), parentID)
	}
	return s
}
