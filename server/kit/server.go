package kit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	httptransport "github.com/go-kit/kit/transport/http"
	"google.golang.org/grpc"

	"github.com/seed8104ecd5/gizmo/server"
)

// Config is the server configuration: the same type, fields, defaults and
// environment variables as package server's (HTTP_PORT, RPC_PORT,
// SHUTDOWN_TIMEOUT, ...). Fill it with envconfig, JSON or by hand and pass
// it with [WithConfig].
type Config = server.Config

// An Option configures a [Server].
type Option func(*options)

type options struct {
	cfg    Config
	logger *slog.Logger
	server []server.RPCOption
}

// WithConfig sets the server configuration. The default is the zero Config,
// which means every default of package server (HTTP on :8080, gRPC on
// :8081, ...). The environment is never read implicitly.
func WithConfig(cfg Config) Option {
	return func(o *options) { o.cfg = cfg }
}

// WithLogger sets the logger for access logs, panics, lifecycle events and
// endpoint errors on both transports. The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithServerOptions passes options to the underlying server.RPCServer:
// server.WithRegistry, server.WithTracerProvider, server.WithPropagator,
// server.WithMiddleware, server.WithReflection, and server.WithListener and
// server.WithRPCListener for tests or socket activation. They are applied
// after the options derived from the [Service], in the order given.
func WithServerOptions(opts ...server.RPCOption) Option {
	return func(o *options) { o.server = append(o.server, opts...) }
}

// Server serves one [Service] over HTTP and gRPC. It is a server.RPCServer
// with the service adapted to it, so it has all of that server's built-ins
// and lifecycle; see the package documentation.
//
// Build it with [NewServer]; use ServeHTTP in tests and Run in programs.
type Server struct {
	svc    Service
	rpc    *server.RPCServer
	cfg    Config // with defaults
	logger *slog.Logger

	shutdownAt atomic.Int64 // unix nanoseconds at which shutdown started; 0 before
	ran        atomic.Bool
}

// NewServer adapts svc and builds the server. It fails, naming what was
// wrong, if svc is nil, the Config is invalid, an HTTP endpoint has no
// method or endpoint or repeats a route, the gRPC implementation does not
// implement the description's handler type, a middleware method returns
// nil, or the gRPC options conflict (grpc.UnaryInterceptor given twice, for
// example, which makes grpc.NewServer panic; NewServer returns that as an
// error).
func NewServer(svc Service, opts ...Option) (*Server, error) {
	if svc == nil {
		return nil, errors.New("kit: NewServer: nil Service")
	}
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	cfg := o.cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	desc := svc.RPCServiceDesc()
	if desc != nil && desc.ServiceName == "" {
		return nil, fmt.Errorf("kit: %T: RPCServiceDesc has an empty ServiceName", svc)
	}

	ropts := []server.RPCOption{server.WithLogger(o.logger)}
	gopts := slices.DeleteFunc(slices.Clone(svc.RPCOptions()), func(o grpc.ServerOption) bool { return o == nil })
	if len(gopts) > 0 {
		ropts = append(ropts, server.WithGRPCServerOptions(gopts...))
	}
	unary := slices.DeleteFunc(slices.Clone(svc.RPCUnaryInterceptors()), func(i grpc.UnaryServerInterceptor) bool { return i == nil })
	stream := slices.DeleteFunc(slices.Clone(svc.RPCStreamInterceptors()), func(i grpc.StreamServerInterceptor) bool { return i == nil })
	if desc != nil {
		mw, err := newRPCMiddleware(desc.ServiceName, svc.Middleware, o.logger)
		if err != nil {
			return nil, fmt.Errorf("kit: %T: %w", svc, err)
		}
		unary, stream = append(unary, mw.unary), append(stream, mw.stream)
	}
	if len(unary) > 0 {
		ropts = append(ropts, server.WithUnaryInterceptors(unary...))
	}
	if len(stream) > 0 {
		ropts = append(ropts, server.WithStreamInterceptors(stream...))
	}
	rpc, err := newRPCServer(cfg, append(ropts, o.server...))
	if err != nil {
		return nil, err
	}

	for _, ro := range svc.HTTPRouterOptions() {
		if ro != nil {
			ro(rpc.HTTPServer().Router())
		}
	}
	eps, err := httpEndpoints(svc, o.logger)
	if err != nil {
		return nil, err
	}
	adapted := &kitService{svc: svc, eps: eps, desc: desc}
	if desc != nil {
		adapted.impl = svc.RPCServer()
		err = rpc.Register(adapted)
	} else {
		err = rpc.HTTPServer().Register(adapted)
	}
	if err != nil {
		return nil, fmt.Errorf("kit: %T: %w", svc, err)
	}

	s := &Server{svc: svc, rpc: rpc, cfg: cfg, logger: o.logger}
	rd := rpc.HTTPServer().Readiness()
	if rc, ok := svc.(ReadinessChecker); ok {
		checks := rc.ReadinessChecks()
		for _, name := range slices.Sorted(maps.Keys(checks)) {
			if checks[name] == nil {
				return nil, fmt.Errorf("kit: %T: readiness check %q is nil", svc, name)
			}
			rd.AddCheck(name, checks[name])
		}
	}
	rd.OnShutdown(func() { s.shutdownAt.Store(time.Now().UnixNano()) })
	return s, nil
}

// newRPCServer is server.NewRPCServer, with a panic from grpc.NewServer
// (conflicting grpc.ServerOption values) returned as an error.
func newRPCServer(cfg Config, opts []server.RPCOption) (s *server.RPCServer, err error) {
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, fmt.Errorf("kit: building the gRPC server: conflicting grpc.ServerOption values in RPCOptions: %v", p)
		}
	}()
	return server.NewRPCServer(cfg, opts...)
}

// httpEndpoints turns the service's HTTP endpoints into go-kit HTTP servers
// with the service middleware applied.
func httpEndpoints(svc Service, logger *slog.Logger) ([]server.Endpoint, error) {
	in := svc.HTTPEndpoints()
	out := make([]server.Endpoint, 0, len(in))
	for i, ep := range in {
		if ep.Endpoint == nil {
			return nil, fmt.Errorf("kit: %T: HTTP endpoint %d (%s %s): nil Endpoint", svc, i, ep.Method, ep.Path)
		}
		e := svc.Middleware(ep.Endpoint)
		if e == nil {
			return nil, fmt.Errorf("kit: %T: HTTP endpoint %d (%s %s): Middleware returned a nil endpoint", svc, i, ep.Method, ep.Path)
		}
		dec, enc := ep.Decoder, ep.Encoder
		if dec == nil {
			dec = httptransport.NopRequestDecoder
		}
		if enc == nil {
			enc = EncodeJSON
		}
		method := strings.ToUpper(strings.TrimSpace(ep.Method))
		kopts := make([]httptransport.ServerOption, 0, 1+len(ep.Options))
		kopts = append(kopts, httptransport.ServerErrorEncoder(errorEncoder(logger, method, ep.Path)))
		kopts = append(kopts, ep.Options...)
		out = append(out, server.Endpoint{
			Method:  ep.Method,
			Path:    ep.Path,
			Handler: httptransport.NewServer(e, dec, enc, kopts...),
		})
	}
	return out, nil
}

// ServeHTTP serves one HTTP request exactly as the HTTP listener would,
// through the server's default middleware. Use it with httptest in tests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.rpc.ServeHTTP(w, r)
}

// Base returns the underlying server.RPCServer, for its HTTPServer
// (Router, Registry, Readiness) and GRPCServer. Do not call its Run or
// Register; call Server.Run.
func (s *Server) Base() *server.RPCServer { return s.rpc }

// Run serves HTTP on Config.HTTPPort and gRPC on Config.RPCPort (or the
// listeners given with server.WithListener and server.WithRPCListener)
// until ctx is done, then shuts down as server.RPCServer.Run does:
// readiness and the gRPC health service fail, Config.DrainDelay passes,
// HTTP Shutdown and gRPC GracefulStop run in parallel under one
// Config.ShutdownTimeout deadline, and what is left is stopped hard.
//
// If the service is a [Shutdowner], its Shutdown runs next, once both
// servers have stopped, with a context that expires at that same deadline
// (or Config.ShutdownTimeout from then if shutdown never started, as when
// a port cannot be bound).
//
// Run returns at once with an error if it cannot listen on either port, or
// with the first listener error while serving; nil after a clean shutdown.
// Errors from the shutdown hook are joined to the result. A Server runs
// once; a second Run is an error.
func (s *Server) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("kit: Server.Run called twice")
	}
	err := s.rpc.Run(ctx)
	if sd, ok := s.svc.(Shutdowner); ok {
		deadline := time.Now().Add(s.cfg.ShutdownTimeout)
		if at := s.shutdownAt.Load(); at != 0 {
			deadline = time.Unix(0, at).Add(s.cfg.DrainDelay + s.cfg.ShutdownTimeout)
		}
		hctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
		defer cancel()
		if herr := runHook(hctx, sd); herr != nil {
			s.logger.Error("kit: shutdown hook failed", slog.Any("error", herr))
			err = errors.Join(err, herr)
		}
	}
	return err
}

// runHook calls the shutdown hook, turning a panic into an error.
func runHook(ctx context.Context, sd Shutdowner) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("kit: shutdown hook panicked: %v", p)
		}
	}()
	if err := sd.Shutdown(ctx); err != nil {
		return fmt.Errorf("kit: shutdown hook: %w", err)
	}
	return nil
}

// Run builds a [Server] for svc with opts and runs it until ctx is done;
// see [NewServer] and [Server.Run]. Use server.SignalContext for a context
// that ends on SIGINT or SIGTERM.
func Run(ctx context.Context, svc Service, opts ...Option) error {
	s, err := NewServer(svc, opts...)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// kitService adapts a Service to server.RPCService.
type kitService struct {
	svc  Service
	eps  []server.Endpoint
	desc *grpc.ServiceDesc
	impl any
}

var _ server.RPCService = (*kitService)(nil)

// Prefix implements server.Service: kit endpoint paths are absolute.
func (k *kitService) Prefix() string { return "" }

// Middleware implements server.Service with the service's HTTPMiddleware.
func (k *kitService) Middleware(h http.Handler) http.Handler { return k.svc.HTTPMiddleware(h) }

// Endpoints implements server.Service.
func (k *kitService) Endpoints() []server.Endpoint { return k.eps }

// Service implements server.RPCService.
func (k *kitService) Service() (*grpc.ServiceDesc, any) { return k.desc, k.impl }
