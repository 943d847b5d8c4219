package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/seed8104ecd5/gizmo/internal/testlog"
	"github.com/seed8104ecd5/gizmo/server/internal/testpb"
)

// handled reads grpc_server_handled_total{method,code} from reg.
func rpcHandled(t *testing.T, reg *prometheus.Registry, method, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != RPCHandledMetric {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["method"] == method && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestRPCServerPanicKeepsServing(t *testing.T) {
	logs := &testlog.Buffer{}
	reg := prometheus.NewRegistry()
	r := startRPC(t, Config{}, WithRegistry(reg), WithLogger(rpcJSONLogger(logs)))
	client, _ := rpcDial(t, r.rpcAddr, nil)
	ctx := rpcTestCtx(t)

	_, err := client.Echo(ctx, &testpb.EchoRequest{Message: cmdPanic})
	if status.Code(err) != codes.Internal || strings.Contains(err.Error(), panicSecret) {
		t.Fatalf("panicking call: %v; want codes.Internal without the panic text", err)
	}
	for i := range 3 {
		msg := "after " + strconv.Itoa(i)
		if resp, err := client.Echo(ctx, &testpb.EchoRequest{Message: msg}); err != nil || resp.GetMessage() != msg {
			t.Fatalf("call after the panic: %v, %v", resp, err)
		}
	}
	if got := rpcHandled(t, reg, echoMethod, "Internal"); got != 1 {
		t.Errorf("handled{Internal} = %v, want 1", got)
	}
	if got := rpcHandled(t, reg, echoMethod, "OK"); got != 3 {
		t.Errorf("handled{OK} = %v, want 3", got)
	}
	if n := len(logs.Find(t, "grpc handler panic")); n != 1 {
		t.Errorf("%d panic log lines, want 1", n)
	}

	// The gRPC metrics are on the same registry the HTTP side serves.
	resp, err := http.Get("http://" + r.httpAddr + DefaultMetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	want := RPCHandledMetric + `{code="Internal",method="` + echoMethod + `"} 1`
	if !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %q:\n%s", want, body)
	}
}

func TestRPCServerInterceptorChains(t *testing.T) {
	var userUnary, userStream, rawUnary, rawStream atomic.Int32
	reg := prometheus.NewRegistry()
	r := startRPC(t, Config{}, WithRegistry(reg),
		WithStreamInterceptors(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if RequestID(ss.Context()) != "" { // ours ran first
				userStream.Add(1)
			}
			return h(srv, ss)
		}),
		WithUnaryInterceptors(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if RequestID(ctx) != "" {
				userUnary.Add(1)
			}
			return h(ctx, req)
		}),
		// The single-interceptor options must not make grpc.NewServer panic
		// next to our chained interceptors.
		WithGRPCServerOptions(
			grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
				rawUnary.Add(1)
				return h(ctx, req)
			}),
			grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
				rawStream.Add(1)
				return h(srv, ss)
			}),
		),
	)
	client, _ := rpcDial(t, r.rpcAddr, nil)
	ctx := rpcTestCtx(t)

	stream, err := client.EchoStream(ctx, &testpb.EchoStreamRequest{Message: "x", Count: 4})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetIndex() != int32(n) {
			t.Fatalf("response %d has index %d", n, resp.GetIndex())
		}
		n++
	}
	if n != 4 {
		t.Fatalf("got %d stream responses, want 4", n)
	}
	if _, err := client.Echo(ctx, &testpb.EchoRequest{Message: "u"}); err != nil {
		t.Fatal(err)
	}

	if userStream.Load() != 1 || userUnary.Load() != 1 {
		t.Errorf("user interceptors ran inside ours: stream %d, unary %d; want 1, 1", userStream.Load(), userUnary.Load())
	}
	if rawStream.Load() != 1 || rawUnary.Load() != 1 {
		t.Errorf("grpc.StreamInterceptor/UnaryInterceptor ran %d, %d times; want 1, 1", rawStream.Load(), rawUnary.Load())
	}
	if got := rpcHandled(t, reg, streamMethod, "OK"); got != 1 {
		t.Errorf("our stream interceptor counted %v stream calls, want 1", got)
	}
	if got := rpcHandled(t, reg, echoMethod, "OK"); got != 1 {
		t.Errorf("our unary interceptor counted %v calls, want 1", got)
	}
	if n, err := testutil.GatherAndCount(reg, RPCLatencyMetric); err != nil || n != 2 {
		t.Errorf("latency histogram has %d series (err %v), want 2", n, err)
	}
}

func TestRPCServerRequestIDHeaderIsOptIn(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []RPCOption
		want string
	}{
		{"default", nil, ""},
		{"WithRequestIDHeader", []RPCOption{WithRequestIDHeader()}, "req-7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startRPC(t, Config{}, tc.opts...)
			client, _ := rpcDial(t, r.rpcAddr, nil)
			ctx := metadata.AppendToOutgoingContext(rpcTestCtx(t), RequestIDMetadataKey, "req-7")
			var header metadata.MD
			resp, err := client.Echo(ctx, &testpb.EchoRequest{Message: cmdID}, grpc.Header(&header))
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetMessage() != "req-7" {
				t.Errorf("handler saw request ID %q, want req-7", resp.GetMessage())
			}
			if got := strings.Join(header.Get(RequestIDMetadataKey), ","); got != tc.want {
				t.Errorf("response header %s = %q, want %q", RequestIDMetadataKey, got, tc.want)
			}
		})
	}
}

func TestRPCServerRequestIDAndTrace(t *testing.T) {
	r := startRPC(t, Config{}, WithPropagator(propagation.TraceContext{}), WithRequestIDHeader())
	client, _ := rpcDial(t, r.rpcAddr, nil)

	ctx := metadata.AppendToOutgoingContext(rpcTestCtx(t), RequestIDMetadataKey, "req-42")
	var header metadata.MD
	resp, err := client.Echo(ctx, &testpb.EchoRequest{Message: cmdID}, grpc.Header(&header))
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetMessage() != "req-42" || strings.Join(header.Get(RequestIDMetadataKey), ",") != "req-42" {
		t.Fatalf("handler saw %q, response header %v; want req-42 in both", resp.GetMessage(), header)
	}

	const traceID = "0af7651916cd43dd8448eb211c80319c"
	ctx = metadata.AppendToOutgoingContext(rpcTestCtx(t), "traceparent", "00-"+traceID+"-b7ad6b7169203331-01")
	resp, err = client.Echo(ctx, &testpb.EchoRequest{Message: cmdTrace})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetMessage() != traceID {
		t.Fatalf("handler saw trace ID %q, want %q", resp.GetMessage(), traceID)
	}
}

// TestRPCServerTraceProviderOnly installs only a tracer provider: the
// default propagator must read the W3C traceparent metadata by itself.
func TestRPCServerTraceProviderOnly(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	r := startRPC(t, Config{}, WithTracerProvider(tp))
	client, _ := rpcDial(t, r.rpcAddr, nil)
	echoWithTraceparent(t, client, rec)
}

func TestRPCServerJSONOverHTTP(t *testing.T) {
	r := startRPC(t, Config{})
	req, _ := http.NewRequest(http.MethodPost, "http://"+r.httpAddr+"/echo", strings.NewReader(`{"message":"hello"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(RequestIDHeader, "http-id-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != `{"message":"hello"}` {
		t.Fatalf("POST /echo: %d %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get(RequestIDHeader); got != "http-id-1" {
		t.Errorf("X-Request-Id = %q, want http-id-1", got)
	}

	// ServeHTTP goes through the same stack without a listener.
	rec := httptest.NewRecorder()
	r.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/echo", strings.NewReader(`{"message":"`+cmdID+`"}`)))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), rec.Header().Get(RequestIDHeader)) {
		t.Fatalf("ServeHTTP: %d %s (X-Request-Id %q)", rec.Code, rec.Body, rec.Header().Get(RequestIDHeader))
	}
}

func TestRPCServerTLS(t *testing.T) {
	certFile, keyFile, pool := selfSignedCert(t, t.TempDir())
	r := startRPC(t, Config{TLSCertFile: certFile, TLSKeyFile: keyFile})
	ctx := rpcTestCtx(t)

	client, _ := rpcDial(t, r.rpcAddr, credentials.NewTLS(rpcClientTLS(pool)))
	if resp, err := client.Echo(ctx, &testpb.EchoRequest{Message: "secure"}); err != nil || resp.GetMessage() != "secure" {
		t.Fatalf("gRPC over TLS: %v, %v", resp, err)
	}
	plain, _ := rpcDial(t, r.rpcAddr, nil)
	if _, err := plain.Echo(ctx, &testpb.EchoRequest{Message: "x"}); err == nil {
		t.Error("plain-text gRPC call to the TLS port succeeded")
	}

	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: rpcClientTLS(pool)}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Post("https://"+r.httpAddr+"/echo", "application/json", strings.NewReader(`{"message":"tls"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"tls"`) {
		t.Fatalf("HTTPS POST /echo: %d %s", resp.StatusCode, body)
	}
}

func TestRPCServerHealth(t *testing.T) {
	r := startRPC(t, Config{})
	_, cc := rpcDial(t, r.rpcAddr, nil)
	hc := healthpb.NewHealthClient(cc)
	ctx := rpcTestCtx(t)
	for _, svc := range []string{"", testpb.EchoService_ServiceDesc.ServiceName} {
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health of %q: %v, %v; want SERVING", svc, resp, err)
		}
	}
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "no.Such"}); status.Code(err) != codes.NotFound {
		t.Errorf("health of an unknown service: %v, want NotFound", err)
	}

	// A failing readiness check makes the server NOT_SERVING, as /readyz 503.
	var failing atomic.Bool
	r.srv.HTTPServer().AddReadinessCheck("db", func(context.Context) error {
		if failing.Load() {
			return errors.New("db down")
		}
		return nil
	})
	failing.Store(true)
	if resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health with a failing check: %v, %v; want NOT_SERVING", resp, err)
	}
	failing.Store(false)
	if resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health after the check recovered: %v, %v; want SERVING", resp, err)
	}
}

func TestRPCServerRunBindFailure(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port

	for _, side := range []string{"grpc", "http"} {
		t.Run(side, func(t *testing.T) {
			other, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			alt := busyPort + 1 // never bound: the other side uses a listener
			if alt > 65535 {
				alt = busyPort - 1
			}
			cfg := Config{HTTPAddr: "127.0.0.1", HTTPPort: busyPort, RPCPort: alt}
			opt := WithRPCListener(other)
			if side == "grpc" {
				cfg.HTTPPort, cfg.RPCPort = alt, busyPort
				opt = WithListener(other)
			}
			srv, err := NewRPCServer(cfg, opt)
			if err != nil {
				t.Fatal(err)
			}
			err = srv.Run(rpcTestCtx(t)) // returns at once: the context never ends
			if err == nil || !strings.Contains(err.Error(), side) {
				t.Fatalf("Run with the %s port in use: %v; want an error naming %s", side, err, side)
			}
			// The pre-bound listener of the other side was closed.
			if _, err := other.Accept(); err == nil {
				t.Error("the other listener is still open")
			}
		})
	}
}

// TestRPCServerReflection asks the reflection service, over TCP, for the
// services and for the echo service's file descriptor, as grpcurl does.
func TestRPCServerReflection(t *testing.T) {
	r := startRPC(t, Config{}, WithReflection())
	_, cc := rpcDial(t, r.rpcAddr, nil)
	stream, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(rpcTestCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	ask := func(req *reflectionpb.ServerReflectionRequest) *reflectionpb.ServerReflectionResponse {
		t.Helper()
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	list := ask(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: "*"},
	}).GetListServicesResponse()
	var names []string
	for _, svc := range list.GetService() {
		names = append(names, svc.GetName())
	}
	for _, want := range []string{testpb.EchoService_ServiceDesc.ServiceName, "grpc.health.v1.Health"} {
		if !slices.Contains(names, want) {
			t.Errorf("ListServices = %v, lacks %s", names, want)
		}
	}
	files := ask(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{
			FileContainingSymbol: testpb.EchoService_ServiceDesc.ServiceName,
		},
	}).GetFileDescriptorResponse()
	if files == nil || len(files.GetFileDescriptorProto()) == 0 {
		t.Fatalf("FileContainingSymbol(%s): no descriptor", testpb.EchoService_ServiceDesc.ServiceName)
	}
	var fd descriptorpb.FileDescriptorProto
	if err := proto.Unmarshal(files.GetFileDescriptorProto()[0], &fd); err != nil {
		t.Fatal(err)
	}
	if len(fd.GetService()) == 0 || fd.GetPackage()+"."+fd.GetService()[0].GetName() != testpb.EchoService_ServiceDesc.ServiceName {
		t.Errorf("descriptor %s declares services %v", fd.GetName(), fd.GetService())
	}
}

func TestRPCServerRegisterErrors(t *testing.T) {
	srv, err := NewRPCServer(Config{}, WithReflection())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Register(nil); err == nil {
		t.Error("Register(nil): want error")
	}
	if err := srv.Register(badRPC{desc: nil, impl: newEchoService()}); err == nil {
		t.Error("Register with a nil ServiceDesc: want error")
	}
	if err := srv.Register(badRPC{desc: &testpb.EchoService_ServiceDesc, impl: "not a server"}); err == nil || !strings.Contains(err.Error(), "does not implement") {
		t.Errorf("Register with a wrong implementation: %v", err)
	}
	if err := srv.Register(echoRPC{newEchoService()}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Register(badRPC{desc: &testpb.EchoService_ServiceDesc, impl: newEchoService()}); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("second registration of the same gRPC service: %v", err)
	}
	// A clashing HTTP route adds nothing to either side.
	clash := badRPC{desc: &grpc.ServiceDesc{ServiceName: "other.Svc", HandlerType: (*any)(nil)}, impl: 1, endpoints: echoRPC{}.Endpoints()}
	if err := srv.Register(clash); err == nil {
		t.Error("Register with a duplicate HTTP route: want error")
	}
	info := srv.GRPCServer().GetServiceInfo()
	if _, ok := info["other.Svc"]; ok {
		t.Error("a failed Register left its gRPC service behind")
	}
	for _, name := range []string{"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", testpb.EchoService_ServiceDesc.ServiceName} {
		if _, ok := info[name]; !ok {
			t.Errorf("service %s not registered; have %v", name, info)
		}
	}
	if err := srv.Register(badRPC{desc: &healthpb.Health_ServiceDesc, impl: nil}); err == nil {
		t.Error("Register with a nil implementation: want error")
	}

	plain, err := NewRPCServer(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := plain.GRPCServer().GetServiceInfo()["grpc.reflection.v1.ServerReflection"]; ok {
		t.Error("reflection is registered without WithReflection")
	}
	if _, err := NewRPCServer(Config{RPCPort: 70000}); err == nil || !strings.Contains(err.Error(), "RPC_PORT") {
		t.Errorf("invalid RPC_PORT: %v", err)
	}
}

// badRPC is an RPCService with arbitrary parts, for Register's checks.
type badRPC struct {
	desc      *grpc.ServiceDesc
	impl      any
	endpoints []Endpoint
}

func (b badRPC) Prefix() string                         { return "" }
func (b badRPC) Middleware(h http.Handler) http.Handler { return h }
func (b badRPC) Endpoints() []Endpoint                  { return b.endpoints }
func (b badRPC) Service() (*grpc.ServiceDesc, any)      { return b.desc, b.impl }
