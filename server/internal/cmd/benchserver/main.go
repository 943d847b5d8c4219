// Command benchserver serves one endpoint for load tests, from package
// server or from a baseline without it, on 127.0.0.1 only.
// scripts/bench-http.sh drives it with wrk (HTTP) or grpcload (gRPC) and
// reads its CPU time from the -ctl-port endpoint.
//
// HTTP modes serve GET /users/{id} (a 3-field JSON object):
//
//	bare                     the handler on a zero http.Server (no timeouts)
//	bare-log                 bare, plus the line SimpleServer's access log
//	                         writes, through slog.JSONHandler to io.Discard:
//	                         the same attributes, with values bare has no
//	                         cheaper way to know (route, request ID, bytes)
//	                         as constants of the same length; the least a
//	                         server writing that line through that handler
//	                         can cost
//	bare-timeouts            the same on an http.Server with SimpleServer's
//	                         default timeouts and header limit ("limits" is
//	                         an older name for it)
//	mux                      the handler behind a plain gorilla/mux router
//	simple                   server.SimpleServer, default middleware
//	simple-log               simple, with a JSON access log to io.Discard
//	simplemux                simple, routed by mux.Router.Match (Router called)
//	gokit-mux                go-kit transport/http on gorilla/mux
//	gokit-servemux           go-kit transport/http on http.ServeMux
//	kit                      server/kit: the same go-kit endpoint on kit.Server
//
// The bare, mux and gokit modes take a "-timeouts" suffix (bare-timeouts,
// gokit-mux-timeouts, ...) for SimpleServer's default timeouts and header
// limit on their http.Server, and "-timeouts-watch" for the same served as
// SimpleServer serves them, through the listener of
// server/internal/deadline (a 100ms watchdog, as with the defaults).
//
// gRPC modes serve testpb.EchoService on -port:
//
//	grpc-bare                grpc.NewServer(), no options
//	grpc-rpc                 server.RPCServer, default options (its HTTP
//	                         side listens on an ephemeral port)
//
// With -ctl-port, GET /cpu on that port answers the process's CPU time
// (user + system, from getrusage) in nanoseconds and the number of heap
// allocations it has made, so that a driver can measure the server's own
// CPU and allocations per request; GET /quit there stops the server.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/kit/endpoint"
	httptransport "github.com/go-kit/kit/transport/http"
	"github.com/gorilla/mux"
	"google.golang.org/grpc"

	"github.com/seed8104ecd5/gizmo/server"
	"github.com/seed8104ecd5/gizmo/server/internal/deadline"
	"github.com/seed8104ecd5/gizmo/server/internal/testpb"
	"github.com/seed8104ecd5/gizmo/server/kit"
	"github.com/seed8104ecd5/gizmo/web"
)

type user struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

var payload = user{ID: "42", Name: "Ann Example", Email: "ann@example.com"}

func handler(w http.ResponseWriter, _ *http.Request) {
	_ = web.WriteJSON(w, http.StatusOK, payload)
}

type users struct{}

func (users) Prefix() string                         { return "/users" }
func (users) Middleware(h http.Handler) http.Handler { return h }
func (users) Endpoints() []server.Endpoint {
	return []server.Endpoint{
		{Method: http.MethodGet, Path: "/me", Handler: http.HandlerFunc(handler)},
		{Method: http.MethodGet, Path: "/{id}", Handler: http.HandlerFunc(handler)},
	}
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchserver:", err)
		os.Exit(1)
	}
}

func run() error {
	mode := flag.String("mode", "simple", "server to run (see the command documentation)")
	port := flag.Int("port", 18080, "port on 127.0.0.1")
	ctlPort := flag.Int("ctl-port", 0, "if set, serve GET /cpu (process CPU time in ns) on this port")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this file until exit")
	memProfile := flag.String("memprofile", "", "write an allocation profile to this file at exit")
	flag.Parse()

	if *memProfile != "" {
		runtime.MemProfileRate = 4096
		defer func() {
			if f, err := os.Create(*memProfile); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				_ = f.Close()
			}
		}()
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	ctx, stop := server.SignalContext(context.Background())
	defer stop()
	ctx, quit := context.WithCancel(ctx)
	defer quit()
	if *ctlPort != 0 {
		if err := serveCtl(ctx, *ctlPort, quit); err != nil {
			return err
		}
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(*port))

	switch m := *mode; m {
	case "simple", "simple-log", "simplemux":
		var opts []server.Option
		if m == "simple-log" {
			opts = append(opts, server.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))))
		}
		s, err := server.NewSimpleServer(server.Config{HTTPAddr: "127.0.0.1", HTTPPort: *port}, opts...)
		if err != nil {
			return err
		}
		if err := s.Register(users{}); err != nil {
			return err
		}
		if m == "simplemux" {
			// Router gives up the server's route table: every request is
			// then matched by mux.Router.Match, as before the table existed.
			s.Router()
		}
		return s.Run(ctx)
	case "kit":
		rpcLn, err := net.Listen("tcp", "127.0.0.1:0") // its gRPC side serves only health
		if err != nil {
			return err
		}
		return kit.Run(ctx, kitUsers{},
			kit.WithConfig(server.Config{HTTPAddr: "127.0.0.1", HTTPPort: *port}),
			kit.WithServerOptions(server.WithRPCListener(rpcLn)))
	case "grpc-bare":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		gs := grpc.NewServer()
		testpb.RegisterEchoServiceServer(gs, echo{})
		go func() { <-ctx.Done(); gs.Stop() }()
		return gs.Serve(ln)
	case "grpc-rpc":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		httpLn, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		s, err := server.NewRPCServer(server.Config{}, server.WithListener(httpLn), server.WithRPCListener(ln))
		if err != nil {
			return err
		}
		if err := s.Register(echoRPC{}); err != nil {
			return err
		}
		return s.Run(ctx)
	}

	base, watch := strings.CutSuffix(*mode, "-watch")
	base, timeouts := strings.CutSuffix(base, "-timeouts")
	if *mode == "limits" {
		base, timeouts = "bare", true
	}
	var h http.Handler
	switch base {
	case "bare":
		h = http.HandlerFunc(handler)
	case "bare-log":
		h = logged(http.HandlerFunc(handler), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	case "mux":
		r := mux.NewRouter()
		for _, ep := range (users{}).Endpoints() {
			r.Path("/users" + ep.Path).Methods(ep.Method).Handler(ep.Handler)
		}
		h = r
	case "gokit-mux":
		r := mux.NewRouter()
		r.Path("/users/{id}").Methods(http.MethodGet).Handler(httptransport.NewServer(getUser,
			func(_ context.Context, r *http.Request) (any, error) { return mux.Vars(r)["id"], nil },
			httptransport.EncodeJSONResponse))
		h = r
	case "gokit-servemux":
		m := http.NewServeMux()
		m.Handle("GET /users/{id}", httptransport.NewServer(getUser,
			func(_ context.Context, r *http.Request) (any, error) { return r.PathValue("id"), nil },
			httptransport.EncodeJSONResponse))
		h = m
	default:
		return fmt.Errorf("unknown -mode %q", *mode)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h}
	if timeouts {
		// The timeouts and header limit SimpleServer applies by default,
		// without its router or middleware.
		cfg := server.Config{}.WithDefaults()
		srv.ReadTimeout = cfg.HTTPReadTimeout
		srv.ReadHeaderTimeout = cfg.HTTPReadHeaderTimeout
		srv.WriteTimeout = cfg.HTTPWriteTimeout
		srv.IdleTimeout = cfg.HTTPIdleTimeout
		srv.MaxHeaderBytes = cfg.MaxHeaderBytes
	}
	if watch {
		// As SimpleServer serves: the deadlines enforced by a watchdog.
		ln = deadline.NewListener(ln, 100*time.Millisecond)
	}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// getUser is the go-kit endpoint of the gokit and kit modes: the payload
// with the ID from the route.
func getUser(_ context.Context, req any) (any, error) {
	u := payload
	u.ID = req.(string)
	return u, nil
}

// kitUsers is the server/kit service of the kit mode: the gokit modes'
// endpoint, with kit's default encoder, HTTP only. Its decoder reads the
// route variable with web.RouteVar, gizmo's accessor, as the gokit modes
// use their router's (mux.Vars, Request.PathValue).
type kitUsers struct{}

func (kitUsers) Middleware(e endpoint.Endpoint) endpoint.Endpoint { return e }
func (kitUsers) HTTPEndpoints() []kit.HTTPEndpoint {
	return []kit.HTTPEndpoint{{
		Method:   http.MethodGet,
		Path:     "/users/{id}",
		Endpoint: getUser,
		Decoder:  func(_ context.Context, r *http.Request) (any, error) { return web.RouteVar(r, "id"), nil },
	}}
}
func (kitUsers) HTTPMiddleware(h http.Handler) http.Handler            { return h }
func (kitUsers) HTTPRouterOptions() []kit.RouterOption                 { return nil }
func (kitUsers) RPCServiceDesc() *grpc.ServiceDesc                     { return nil }
func (kitUsers) RPCServer() any                                        { return nil }
func (kitUsers) RPCOptions() []grpc.ServerOption                       { return nil }
func (kitUsers) RPCUnaryInterceptors() []grpc.UnaryServerInterceptor   { return nil }
func (kitUsers) RPCStreamInterceptors() []grpc.StreamServerInterceptor { return nil }

// echo is the EchoService of the gRPC modes.
type echo struct {
	testpb.UnimplementedEchoServiceServer
}

func (echo) Echo(_ context.Context, req *testpb.EchoRequest) (*testpb.EchoResponse, error) {
	return &testpb.EchoResponse{Message: req.GetMessage()}, nil
}

// echoRPC registers echo on an RPCServer, with no HTTP endpoints.
type echoRPC struct{}

func (echoRPC) Prefix() string                         { return "" }
func (echoRPC) Middleware(h http.Handler) http.Handler { return h }
func (echoRPC) Endpoints() []server.Endpoint           { return nil }
func (echoRPC) Service() (*grpc.ServiceDesc, any)      { return &testpb.EchoService_ServiceDesc, echo{} }

// serveCtl serves on 127.0.0.1:port until ctx is done: GET /cpu answers
// the process's user + system CPU time in nanoseconds and its heap
// allocations so far, separated by a space; GET /quit stops the server as
// a signal would (valgrind does not cope with Go's signal handling).
func serveCtl(ctx context.Context, port int, quit func()) error {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return err
	}
	allocs := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cpu", func(w http.ResponseWriter, _ *http.Request) {
		ns, err := processCPU()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		metrics.Read(allocs)
		_, _ = fmt.Fprintf(w, "%d %d\n", ns, allocs[0].Value.Uint64())
	})
	mux.HandleFunc("GET /quit", func(http.ResponseWriter, *http.Request) { quit() })
	srv := &http.Server{Handler: mux}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// logged is h plus one access log line per request through logger, with
// the attributes SimpleServer's access log has (see server/stack.go), at
// the least cost: the record is built as the stack builds it, and what
// only the stack knows is a constant of the same length.
func logged(h http.Handler, logger *slog.Logger) http.Handler {
	const requestID = "0123456789abcdef0123456789abcdef" // as long as a generated ID
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.ServeHTTP(w, r)
		d := time.Since(start)
		rec := slog.NewRecord(start.Add(d), slog.LevelInfo, "http request", 0)
		rec.AddAttrs(
			slog.String("method", r.Method),
			slog.String("route", "/users/{id}"),
			slog.String("path", r.URL.Path),
			slog.Int("status", http.StatusOK),
			slog.Int64("bytes", 59),
			slog.Float64("duration_seconds", d.Seconds()),
			slog.String("request_id", requestID),
		)
		_ = logger.Handler().Handle(r.Context(), rec)
	})
}
