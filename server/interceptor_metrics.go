package server

import (
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

// rpcMetrics holds the Prometheus collectors of the gRPC interceptors.
type rpcMetrics struct {
	handled *prometheus.CounterVec
	latency *prometheus.HistogramVec
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
	c := code.String()
	m.handled.WithLabelValues(method, c).Inc()
	m.latency.WithLabelValues(method, c).Observe(elapsed.Seconds())
}
