package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/seed8104ecd5/gizmo/server/internal/deadline"
)

// SimpleServer serves HTTP services on a gorilla/mux router behind the
// default middleware (see the package documentation), with health,
// readiness and metrics endpoints, limits, TLS and graceful shutdown.
//
// Build it with [NewSimpleServer], add services with Register, then call
// Run. ServeHTTP serves a single request through the full stack, for tests.
// Register (and changes through Router) must happen before serving starts:
// gorilla/mux does not support adding routes while it routes requests, so
// Register fails once Run has been called. Other methods are safe for
// concurrent use.
type SimpleServer struct {
	cfg       Config
	opts      *options
	logger    *slog.Logger
	router    *mux.Router
	handler   *stack
	metrics   *httpMetrics
	readiness *Readiness
	resolver  *routeResolver
	srv       *http.Server

	liveness *Readiness // its checks only: a liveness probe never reports shutdown

	mu      sync.Mutex
	routes  map[string]string // normalized "METHOD template" -> template
	workers []*worker
	// table routes requests until Router is called, which sets it to nil
	// for good; it is replaced, never changed, under mu.
	table   atomic.Pointer[routeTable]
	running atomic.Bool
}

// NewSimpleServer builds a server from cfg (defaults applied to zero
// fields, then validated) and opts. It loads the TLS key pair when the
// Config names one, and registers its metrics on the registry.
func NewSimpleServer(cfg Config, opts ...Option) (*SimpleServer, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newSimpleServer(cfg, newOptions(opts))
}

// newSimpleServer is NewSimpleServer for a Config that has defaults applied
// and is valid; RPCServer uses it for its HTTP side.
func newSimpleServer(cfg Config, o *options) (*SimpleServer, error) {
	m, err := newHTTPMetrics(o.registry)
	if err != nil {
		return nil, err
	}
	var tlsCfg *tls.Config
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("server: TLS_CERT_FILE/TLS_KEY_FILE: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	s := &SimpleServer{
		cfg:       cfg,
		opts:      o,
		logger:    o.logger,
		router:    mux.NewRouter(),
		metrics:   m,
		readiness: NewReadiness(),
		liveness:  NewReadiness(),
		resolver:  &routeResolver{},
		routes:    map[string]string{},
	}
	s.router.NotFoundHandler = http.HandlerFunc(notFound)
	s.router.MethodNotAllowedHandler = methodNotAllowed(s.router)
	s.router.Use(s.resolver.Middleware)
	s.table.Store(&routeTable{middleware: s.resolver.Middleware})

	get := []string{http.MethodGet, http.MethodHead}
	s.mustAdd(get, cfg.HealthPath, healthz(s.liveness, s.logger), slog.LevelDebug)
	s.mustAdd(get, cfg.ReadyPath, readyz(s.readiness, s.logger), slog.LevelDebug)
	s.mustAdd(get, cfg.MetricsPath, promhttp.HandlerFor(o.registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(o.logger.Handler(), slog.LevelError),
	}), slog.LevelDebug)
	if cfg.EnablePprof {
		s.mountPprof()
	}

	var next http.Handler = &dispatcher{router: s.router, table: &s.table}
	for i := len(o.middleware) - 1; i >= 0; i-- {
		next = o.middleware[i](next)
	}
	s.handler = newStack(next, o, m, cfg.MaxBodyBytes)
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadTimeout:       cfg.HTTPReadTimeout,
		ReadHeaderTimeout: cfg.HTTPReadHeaderTimeout,
		WriteTimeout:      cfg.HTTPWriteTimeout,
		IdleTimeout:       cfg.HTTPIdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		TLSConfig:         tlsCfg,
		ErrorLog:          slog.NewLogLogger(o.logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Register adds the endpoints of svc, in order, under svc.Prefix() with
// svc.Middleware around each. It fails, adding nothing, if an endpoint has
// no method or handler, has a path gorilla/mux rejects, or repeats a method
// and path template already registered (variable names are ignored, so
// /u/{id} and /u/{uid} collide).
func (s *SimpleServer) Register(svc Service) error {
	if svc == nil {
		return errors.New("server: Register: nil Service")
	}
	if s.running.Load() {
		return fmt.Errorf("server: register %T: the server is already running", svc)
	}
	prefix := strings.TrimSuffix(svc.Prefix(), "/")
	if prefix != "" && !strings.HasPrefix(prefix, "/") {
		return fmt.Errorf("server: register %T: prefix %q does not start with /", svc, svc.Prefix())
	}
	type pending struct {
		methods []string
		path    string
		handler http.Handler
	}
	eps := svc.Endpoints()
	add := make([]pending, 0, len(eps))
	s.mu.Lock()
	defer s.mu.Unlock()
	batch := map[string]bool{}
	for i, ep := range eps {
		method := strings.ToUpper(strings.TrimSpace(ep.Method))
		if method == "" {
			return registerError(svc, i, ep, "empty Method")
		}
		if !validMethod(method) {
			return registerError(svc, i, ep, "Method %q is not an HTTP method token", ep.Method)
		}
		if ep.Handler == nil {
			return registerError(svc, i, ep, "nil Handler")
		}
		path := prefix + ep.Path
		if !strings.HasPrefix(path, "/") {
			return registerError(svc, i, ep, "path %q does not start with /", path)
		}
		if err := checkTemplate(path); err != nil {
			return registerError(svc, i, ep, "%v", err)
		}
		key := method + " " + normalizeTemplate(path)
		if prev, dup := s.routes[key]; dup || batch[key] {
			if !dup {
				prev = path
			}
			return registerError(svc, i, ep, "route %s %s is already registered (as %s)", method, path, prev)
		}
		batch[key] = true
		h := svc.Middleware(ep.Handler)
		if h == nil {
			return registerError(svc, i, ep, "Middleware returned a nil handler")
		}
		add = append(add, pending{[]string{method}, path, h})
	}
	for _, p := range add {
		s.addLocked(p.methods, p.path, p.handler, slog.LevelInfo)
	}
	return nil
}

// validMethod reports whether m is an RFC 9110 token.
func validMethod(m string) bool {
	for i := 0; i < len(m); i++ {
		c := m[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return m != ""
}

// mustAdd adds a built-in route. Config.Validate has checked the paths, so
// a clash is a bug in this package.
func (s *SimpleServer) mustAdd(methods []string, path string, h http.Handler, level slog.Level) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocked(methods, path, h, level)
}

func (s *SimpleServer) addLocked(methods []string, path string, h http.Handler, level slog.Level) {
	info := newRouteInfo(path, level)
	methods = append([]string(nil), methods...) // mux upper-cases them in place
	route := s.router.Path(path).Methods(methods...).Handler(&routeHandler{info: info, next: h})
	if t := s.table.Load(); t != nil {
		s.table.Store(t.with(newRouteEntry(route, path, methods)))
	}
	for _, m := range methods {
		s.routes[m+" "+normalizeTemplate(path)] = path
	}
}

// Router returns the underlying router, an escape hatch for what Register
// cannot express (host matching, subrouters, PathPrefix, Router.Use). Routes
// added here get the default middleware too, and are labelled with their
// path template; they are not checked for duplicates. The server matches
// with Router.Match rather than Router.ServeHTTP, and always redirects
// non-canonical paths ("/a//b") with 301 and a relative Location:
// Router.SkipClean has no effect. A request whose target is in absolute
// form ("GET http://host/a") is matched as its origin-form copy, so mux's
// own redirects (StrictSlash) are relative too.
//
// Until Router is first called, the server routes from its own copy of the
// route list, which gives the same results as Router.Match without running
// mux's regular expressions for plain templates. Calling Router gives that
// copy up, since the router may then change in any way, and every request
// is matched by Router.Match.
func (s *SimpleServer) Router() *mux.Router {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.table.Store(nil)
	return s.router
}

// Registry returns the Prometheus registry the server's metrics are in.
func (s *SimpleServer) Registry() *prometheus.Registry { return s.opts.registry }

// Readiness returns the server's readiness state.
func (s *SimpleServer) Readiness() *Readiness { return s.readiness }

// Config returns the server's configuration, defaults applied.
func (s *SimpleServer) Config() Config { return s.cfg }

// Logger returns the server's logger, for the workers and the code that
// run beside it.
func (s *SimpleServer) Logger() *slog.Logger { return s.logger }

// Tracing returns the tracer provider and propagator the server was given
// (WithTracerProvider, WithPropagator), so that what runs beside it, such
// as a queue consumer, joins the same traces. tp is nil when tracing is
// off; prop is W3C Trace Context unless another was given.
func (s *SimpleServer) Tracing() (tp trace.TracerProvider, prop propagation.TextMapPropagator) {
	on, tp, prop := s.opts.tracing()
	if !on {
		tp = nil
	}
	return tp, prop
}

// AddReadinessCheck registers a named check run by the readiness endpoint;
// see [Readiness.AddCheck].
func (s *SimpleServer) AddReadinessCheck(name string, check func(ctx context.Context) error) {
	s.readiness.AddCheck(name, check)
}

// ServeHTTP serves one request through the default middleware and router,
// exactly as Run would. Use it with httptest in tests.
func (s *SimpleServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// Run listens on Config.HTTPAddr:Config.HTTPPort (or the WithListener
// listener) and serves until ctx is done, then shuts down gracefully:
// readiness fails, Config.DrainDelay passes, in-flight requests finish
// within Config.ShutdownTimeout, and what is left is closed.
//
// Run returns at once with an error if it cannot listen (port in use), or
// with the first error of the listener while serving. After a clean
// shutdown it returns nil; if the deadline forced connections closed it
// says so. A SimpleServer runs once; a second Run is an error.
func (s *SimpleServer) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("server: SimpleServer.Run called twice")
	}
	return s.lifecycle().run(ctx, append([]unit{s.httpUnit()}, s.workerUnits()...))
}

// lifecycle returns the shutdown sequencer configured from s.
func (s *SimpleServer) lifecycle() *lifecycle {
	return &lifecycle{
		readiness:       s.readiness,
		drainDelay:      s.cfg.DrainDelay,
		shutdownTimeout: s.cfg.ShutdownTimeout,
		logger:          s.logger,
	}
}

// httpUnit returns the lifecycle unit of the HTTP listener. RPCServer runs
// it next to its gRPC unit.
func (s *SimpleServer) httpUnit() unit {
	var ln net.Listener
	return unit{
		name: "http",
		listen: func() error {
			if s.opts.listener != nil {
				ln = s.opts.listener
				return nil
			}
			addr := net.JoinHostPort(s.cfg.HTTPAddr, strconv.Itoa(s.cfg.HTTPPort))
			var err error
			ln, err = net.Listen("tcp", addr)
			return err
		},
		serve: func() error {
			// net/http sets the timeouts as connection deadlines, several
			// times per request; see deadlineTick.
			dl := deadline.NewListener(ln, deadlineTick(s.cfg))
			if s.srv.TLSConfig != nil {
				return s.srv.ServeTLS(dl, "", "")
			}
			return s.srv.Serve(dl)
		},
		shutdown: s.srv.Shutdown,
		close: func() error {
			err := s.srv.Close()
			if ln != nil {
				_ = ln.Close()
			} else if s.opts.listener != nil {
				_ = s.opts.listener.Close()
			}
			return err
		},
	}
}

// deadlineTick is how often the HTTP listener's watchdog enforces the
// connection deadlines that carry the read, read-header, write and idle
// timeouts: a fiftieth of the shortest of them, between 10ms and 100ms
// (100ms with the defaults). net/http sets those deadlines several times
// per request; the listener records a deadline that is more than a tick
// away and lets the watchdog set it on the socket once it has passed, so
// that a request costs no runtime timer operations. A timeout therefore
// fires up to a tick late (2% of the shortest timeout at most), and never
// early. See package server/internal/deadline.
func deadlineTick(cfg Config) time.Duration {
	shortest := cfg.HTTPReadTimeout
	for _, d := range []time.Duration{cfg.HTTPReadHeaderTimeout, cfg.HTTPWriteTimeout, cfg.HTTPIdleTimeout} {
		if d > 0 && (shortest <= 0 || d < shortest) {
			shortest = d
		}
	}
	return min(max(shortest/50, 10*time.Millisecond), 100*time.Millisecond)
}
