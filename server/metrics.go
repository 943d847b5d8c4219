package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seed8104ecd5/gizmo/internal/promutil"
)

// Names of the HTTP metrics SimpleServer registers. The counter and the
// histogram are labelled by "method" (GET, POST, ... or OTHER), "route" (the
// route template such as "/users/{id}", or [UnmatchedRoute]) and "status"
// (the status class: 1xx, 2xx, 3xx, 4xx, 5xx).
const (
	// HTTPRequestsMetric counts finished requests.
	HTTPRequestsMetric = "http_server_requests_total"
	// HTTPDurationMetric is a histogram of request duration in seconds.
	HTTPDurationMetric = "http_server_request_duration_seconds"
	// HTTPInFlightMetric is a gauge of requests being served.
	HTTPInFlightMetric = "http_server_requests_in_flight"
)

// UnmatchedRoute is the route label of every request no route matched
// (404 and 405 answers, and requests rejected before routing), so random
// URLs cannot create new series.
const UnmatchedRoute = "unmatched"

// The method label takes one of these values; anything else is "OTHER".
var metricMethods = [...]string{
	"OTHER", http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace,
}

var statusClasses = [...]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

func methodIndex(m string) int {
	switch m {
	case http.MethodGet:
		return 1
	case http.MethodHead:
		return 2
	case http.MethodPost:
		return 3
	case http.MethodPut:
		return 4
	case http.MethodPatch:
		return 5
	case http.MethodDelete:
		return 6
	case http.MethodOptions:
		return 7
	case http.MethodConnect:
		return 8
	case http.MethodTrace:
		return 9
	}
	return 0
}

func statusClass(code int) int {
	if c := code / 100; c >= 1 && c <= 5 {
		return c
	}
	return 0
}

// httpMetrics holds the RED collectors of the HTTP middleware.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

// routeInfo is what the middleware knows about one route: its template for
// labels, logs and span names, the level of its access log line, and the
// metric children for each (method, status class), resolved on first use so
// the hot path does no label lookup and no series exists before it is used.
type routeInfo struct {
	template string
	logLevel slog.Level
	obs      [len(metricMethods)][len(statusClasses)]atomic.Pointer[redObserver]
}

type redObserver struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func newRouteInfo(template string, level slog.Level) *routeInfo {
	return &routeInfo{template: template, logLevel: level}
}

// newHTTPMetrics creates the HTTP collectors and registers them on reg. When
// equal collectors are already registered (two servers sharing a registry),
// those are reused.
func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	labels := []string{"method", "route", "status"}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: HTTPRequestsMetric,
		Help: "HTTP requests served, by method, route template and status class.",
	}, labels)
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    HTTPDurationMetric,
		Help:    "Duration of HTTP requests in seconds, by method, route template and status class.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, labels)
	inFlight := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: HTTPInFlightMetric,
		Help: "HTTP requests being served.",
	})
	m := &httpMetrics{}
	var err error
	if m.requests, err = registerOrReuse(reg, "HTTP", requests); err != nil {
		return nil, err
	}
	if m.duration, err = registerOrReuse(reg, "HTTP", duration); err != nil {
		return nil, err
	}
	if m.inFlight, err = registerOrReuse(reg, "HTTP", inFlight); err != nil {
		return nil, err
	}
	return m, nil
}

// registerOrReuse registers c on reg, or returns the equal collector already
// registered there, so that servers sharing a registry share their metrics.
func registerOrReuse[C prometheus.Collector](reg prometheus.Registerer, what string, c C) (C, error) {
	c, err := promutil.RegisterOrReuse(reg, what, c)
	if err != nil {
		return c, fmt.Errorf("server: %w", err)
	}
	return c, nil
}

// observe records one finished request on route ri.
func (m *httpMetrics) observe(ri *routeInfo, method string, status int, d time.Duration) {
	mi, ci := methodIndex(method), statusClass(status)
	slot := &ri.obs[mi][ci]
	o := slot.Load()
	if o == nil {
		labels := prometheus.Labels{"method": metricMethods[mi], "route": ri.template, "status": statusClasses[ci]}
		o = &redObserver{
			requests: m.requests.With(labels),
			duration: m.duration.With(labels),
		}
		slot.Store(o) // a racing store holds the same children: harmless
	}
	o.requests.Inc()
	o.duration.Observe(d.Seconds())
}
