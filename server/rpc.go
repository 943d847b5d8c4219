package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

// An RPCService is served by an [RPCServer] over gRPC and over JSON/HTTP.
// Its Service methods (Prefix, Middleware, Endpoints) describe the HTTP
// endpoints, exactly as for a [SimpleServer]; Service returns the gRPC
// service description (the generated Foo_ServiceDesc) and the
// implementation, which must implement the description's handler type.
type RPCService interface {
	Service
	// Service returns the gRPC service description and its implementation.
	Service() (desc *grpc.ServiceDesc, impl any)
}

// RPCServer serves the same services over gRPC on Config.RPCPort and over
// JSON/HTTP on Config.HTTPPort, from one Run.
//
// Its HTTP side is a [SimpleServer] with everything that implies (default
// middleware, health, readiness, metrics and pprof endpoints, limits). Its
// gRPC side gets the same observability from unary and stream
// interceptors: panic recovery (codes.Internal, stack in the log), request
// IDs in the "x-request-id" metadata ([RequestIDMetadataKey]; honoured or
// generated, returned by [RequestID], and with [WithRequestIDHeader] also in
// the response header), trace
// context extraction and a server span, Prometheus metrics
// ([RPCHandledMetric], [RPCLatencyMetric]) on the same registry as the HTTP
// metrics, and an access log line per call. The code recorded is the one
// the client gets (see "gRPC status codes" in the package documentation).
// It also serves the standard
// gRPC health service, tied to readiness, and, with [WithReflection], server
// reflection. With Config.TLSCertFile and Config.TLSKeyFile both listeners
// use TLS. Config.MaxBodyBytes also caps the size of a received gRPC message.
//
// Build it with [NewRPCServer], add services with Register, then call Run.
// Its methods are safe for concurrent use.
type RPCServer struct {
	cfg    Config
	http   *SimpleServer
	grpc   *grpc.Server
	health *rpcHealth
	rpcLn  net.Listener // from WithRPCListener, or nil

	mu      sync.Mutex
	running bool // set by Run; Register is refused afterwards
}

// NewRPCServer builds a server from cfg (defaults applied to zero fields,
// then validated) and opts. It loads the TLS key pair when the Config names
// one and registers the HTTP and gRPC metrics on the registry.
func NewRPCServer(cfg Config, opts ...RPCOption) (*RPCServer, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var ro rpcOptions
	for _, opt := range opts {
		if opt != nil {
			opt.applyRPC(&ro)
		}
	}
	// Resolve the shared settings once (default logger, registry, ...) so
	// both sides use the same values.
	o := newOptions(ro.http)
	httpSide, err := newSimpleServer(cfg, o)
	if err != nil {
		return nil, err
	}
	metrics, err := newRPCMetrics(o.registry)
	if err != nil {
		return nil, err
	}
	obs := &rpcObserver{logger: o.logger, metrics: metrics, idHeader: ro.idHeader, mdKey: findIncomingMDKey()}
	if on, tp, prop := o.tracing(); on {
		obs.tracer, obs.propagator = tp.Tracer(tracerName), prop
	}

	gopts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(obs.unary),
		grpc.ChainStreamInterceptor(obs.stream),
		grpc.MaxRecvMsgSize(int(min(cfg.MaxBodyBytes, int64(maxInt)))),
	}
	if tc := httpSide.srv.TLSConfig; tc != nil {
		gopts = append(gopts, grpc.Creds(credentials.NewTLS(tc.Clone())))
	}
	gopts = append(gopts, ro.grpcOpts...)
	if len(ro.unary) > 0 {
		gopts = append(gopts, grpc.ChainUnaryInterceptor(ro.unary...))
	}
	if len(ro.stream) > 0 {
		gopts = append(gopts, grpc.ChainStreamInterceptor(ro.stream...))
	}
	gs := grpc.NewServer(gopts...)

	s := &RPCServer{
		cfg:    cfg,
		http:   httpSide,
		grpc:   gs,
		health: newRPCHealth(httpSide.readiness),
		rpcLn:  ro.rpcListener,
	}
	healthpb.RegisterHealthServer(gs, s.health)
	if ro.reflection {
		reflection.Register(gs)
	}
	return s, nil
}

const maxInt = int(^uint(0) >> 1)

// Register adds svc: its gRPC service to the gRPC server and its endpoints
// to the HTTP router. It fails, adding nothing, if svc or its description
// is nil, if the implementation does not implement the description's
// handler type, if a service of the same name or an HTTP route of the same
// method and template is already registered, or once Run has started.
func (s *RPCServer) Register(svc RPCService) error {
	if svc == nil {
		return errors.New("server: Register: nil RPCService")
	}
	desc, impl := svc.Service()
	if desc == nil {
		return fmt.Errorf("server: register %T: nil *grpc.ServiceDesc", svc)
	}
	if impl == nil {
		return fmt.Errorf("server: register %T: nil implementation of %s", svc, desc.ServiceName)
	}
	// grpc.Server.RegisterService ends the process (grpclog.Fatalf) on
	// these mistakes, so check them first and return an error instead.
	if desc.HandlerType != nil {
		want := reflect.TypeOf(desc.HandlerType).Elem()
		if got := reflect.TypeOf(impl); !got.Implements(want) {
			return fmt.Errorf("server: register %T: implementation %v does not implement %v of %s", svc, got, want, desc.ServiceName)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return fmt.Errorf("server: register %s: the server is already running", desc.ServiceName)
	}
	if _, dup := s.grpc.GetServiceInfo()[desc.ServiceName]; dup {
		return fmt.Errorf("server: register %T: gRPC service %s is already registered", svc, desc.ServiceName)
	}
	if err := s.http.Register(svc); err != nil {
		return err
	}
	s.grpc.RegisterService(desc, impl)
	s.health.SetServingStatus(desc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	return nil
}

// ServeHTTP serves one HTTP request exactly as the HTTP listener would,
// through the default middleware. Use it with httptest in tests; for gRPC,
// use a listener ([WithRPCListener]) and a real client.
func (s *RPCServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.http.ServeHTTP(w, r)
}

// GRPCServer returns the underlying *grpc.Server, an escape hatch for what
// Register cannot express (services without HTTP endpoints, channelz, ...).
// Register services on it before calling Run.
func (s *RPCServer) GRPCServer() *grpc.Server { return s.grpc }

// HTTPServer returns the HTTP side of the server: use it for its Router,
// Registry, Readiness and AddReadinessCheck. Readiness checks added there
// also drive the gRPC health service. Do not call its Run; call
// RPCServer.Run.
func (s *RPCServer) HTTPServer() *SimpleServer { return s.http }

// Run listens on both ports (or the WithListener and WithRPCListener
// listeners) and serves until ctx is done, then shuts down gracefully:
// readiness fails and the gRPC health service turns NOT_SERVING,
// Config.DrainDelay passes while both listeners still accept, then
// http.Server.Shutdown and grpc.Server.GracefulStop run in parallel under
// one Config.ShutdownTimeout deadline, and whatever is left is stopped hard
// (http.Server.Close, grpc.Server.Stop).
//
// Run returns at once with an error if it cannot listen on either port, or
// with the first error of either listener while serving (after shutting the
// other down). After a clean shutdown it returns nil; if the deadline forced
// connections closed it says so. An RPCServer runs once; a second Run is an
// error.
func (s *RPCServer) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running || !s.http.running.CompareAndSwap(false, true) {
		s.mu.Unlock()
		return errors.New("server: RPCServer.Run called twice")
	}
	s.running = true
	s.mu.Unlock()
	units := append([]unit{s.http.httpUnit(), s.grpcUnit()}, s.http.workerUnits()...)
	return s.http.lifecycle().run(ctx, units, grpc.ErrServerStopped)
}

// grpcUnit returns the lifecycle unit of the gRPC listener.
func (s *RPCServer) grpcUnit() unit {
	ln := s.rpcLn
	return unit{
		name: "grpc",
		listen: func() error {
			if ln != nil {
				return nil
			}
			var err error
			ln, err = net.Listen("tcp", net.JoinHostPort(s.cfg.HTTPAddr, strconv.Itoa(s.cfg.RPCPort)))
			return err
		},
		serve: func() error {
			s.http.logger.Info("server: gRPC listening", "addr", ln.Addr().String())
			return s.grpc.Serve(ln)
		},
		shutdown: func(ctx context.Context) error {
			s.health.endWatches()
			done := make(chan struct{})
			go func() {
				s.grpc.GracefulStop()
				close(done)
			}()
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				// The lifecycle calls close (Stop), which also ends the
				// GracefulStop above.
				return ctx.Err()
			}
		},
		close: func() error {
			s.health.endWatches()
			s.grpc.Stop()
			if ln != nil {
				// Stop closes the listeners it serves; this covers one that
				// was bound but never served.
				_ = ln.Close()
			}
			return nil
		},
	}
}
