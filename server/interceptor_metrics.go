package server

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
)

// Names of the gRPC metrics that RPCServer registers. Both are labelled by
// "method" (the full gRPC method name, e.g. "/pkg.Service/Method", which is
// bounded by the registered services) and "code" (the gRPC status code name,
// e.g. "OK", "Internal").
const (
	// RPCHandledMetric counts finished calls.
	RPCHandledMetric = "grpc_server_handled_total"
	// RPCLatencyMetric is a histogram of call latency in seconds, measured
	// from the start of the outermost interceptor to the handler's return.
	RPCLatencyMetric = "grpc_server_handling_seconds"
)

// rpcMetrics holds the Prometheus collectors of the gRPC interceptors, and
// their children by method and code, resolved on first use and cached (as
// the HTTP side caches them per route), so that a call does no label
// hashing or lookup in the vectors.
type rpcMetrics struct {
	handled *prometheus.CounterVec
	latency *prometheus.HistogramVec

	// methods maps a full method name to its children. It is replaced,
	// never changed, under mu: reading it takes no lock.
	methods atomic.Pointer[map[string]*rpcMethodMetrics]
	mu      sync.Mutex
}

// rpcMethodMetrics holds one method's metric children for each code
// grpc-go defines, filled in on first use.
type rpcMethodMetrics struct {
	byCode [maxCode + 1]atomic.Pointer[rpcObserverChildren]
}

// maxCode is the highest status code grpc-go defines (Unauthenticated).
// Calls that end with a higher one are counted without the cache.
const maxCode = codes.Unauthenticated

// rpcObserverChildren are the metric children of one (method, code).
type rpcObserverChildren struct {
	handled prometheus.Counter
	latency prometheus.Observer
}

// newRPCMetrics creates the gRPC collectors and registers them on reg. If a
// collector with the same description is already registered (two servers
// sharing one registry), the existing one is reused.
func newRPCMetrics(reg prometheus.Registerer) (*rpcMetrics, error) {
	handled := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: RPCHandledMetric,
		Help: "gRPC calls completed on the server, by method and status code.",
	}, []string{"method", "code"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    RPCLatencyMetric,
		Help:    "Latency of gRPC calls handled by the server in seconds, by method and status code.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"method", "code"})
	var err error
	if handled, err = registerOrReuse(reg, "gRPC", handled); err != nil {
		return nil, err
	}
	if latency, err = registerOrReuse(reg, "gRPC", latency); err != nil {
		return nil, err
	}
	return &rpcMetrics{handled: handled, latency: latency}, nil
}

// observe records one finished call.
func (m *rpcMetrics) observe(method string, code codes.Code, elapsed time.Duration) {
	var mm *rpcMethodMetrics
	if code <= maxCode {
		mm = m.method(method)
	}
	if mm == nil {
		c := code.String()
		m.handled.WithLabelValues(method, c).Inc()
		m.latency.WithLabelValues(method, c).Observe(elapsed.Seconds())
		return
	}
	slot := &mm.byCode[code]
	o := slot.Load()
	if o == nil {
		c := code.String()
		o = &rpcObserverChildren{
			handled: m.handled.WithLabelValues(method, c),
			latency: m.latency.WithLabelValues(method, c),
		}
		slot.Store(o) // a racing store holds the same children: harmless
	}
	o.handled.Inc()
	o.latency.Observe(elapsed.Seconds())
}

// maxCachedMethods bounds the cache. Methods are those of the services
// registered on the server, so it is not reached unless a
// grpc.UnknownServiceHandler lets calls of any name through; those calls
// are still counted, without the cache.
const maxCachedMethods = 1024

// method returns the cached children of method, adding an entry for a
// method seen for the first time, or nil when the cache is full.
func (m *rpcMetrics) method(name string) *rpcMethodMetrics {
	if p := m.methods.Load(); p != nil {
		if mm, ok := (*p)[name]; ok {
			return mm
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var cur map[string]*rpcMethodMetrics
	if p := m.methods.Load(); p != nil {
		if mm, ok := (*p)[name]; ok {
			return mm
		}
		cur = *p
	}
	if len(cur) >= maxCachedMethods {
		return nil
	}
	next := make(map[string]*rpcMethodMetrics, len(cur)+1)
	maps.Copy(next, cur)
	mm := &rpcMethodMetrics{}
	next[name] = mm
	m.methods.Store(&next)
	return mm
}
