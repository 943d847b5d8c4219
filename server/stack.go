package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
	"unsafe"

	"github.com/seed8104ecd5/gizmo/web"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// stack is the default middleware of SimpleServer, written as one handler
// rather than five so that all layers share a single response-writer
// wrapper (reqState) and a single request copy. Outermost first, it does:
//
//  1. panic recovery: 500 problem+json (or an aborted connection when the
//     response had started), stack trace in the log;
//  2. request ID: keep a valid incoming X-Request-Id or make one, set it on
//     the response and in the context (RequestID);
//  3. the access log line (method, route template, status, bytes,
//     duration, request ID, trace ID);
//  4. RED metrics by method, route template and status class;
//  5. W3C trace-context extraction and a server span, when tracing is
//     configured (WithTracerProvider or WithPropagator);
//
// plus the request body limit (413). next is the user middleware wrapped
// around the router.
type stack struct {
	next      http.Handler
	logger    *slog.Logger
	metrics   *httpMetrics
	maxBody   int64
	unmatched *routeInfo

	tracing    bool
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator

	logSite logSite // the access log line's source position
}

const tracerName = "github.com/seed8104ecd5/gizmo/server"

func newStack(next http.Handler, o *options, m *httpMetrics, maxBody int64) *stack {
	on, tp, prop := o.tracing()
	return &stack{
		next:       next,
		logger:     o.logger,
		metrics:    m,
		maxBody:    maxBody,
		unmatched:  newRouteInfo(UnmatchedRoute, slog.LevelInfo),
		tracing:    on,
		tracer:     tp.Tracer(tracerName),
		propagator: prop,
	}
}

// ServeHTTP implements http.Handler.
func (h *stack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := &reqState{w: w}
	// r.Header's keys are canonical, as is RequestIDHeader: index it
	// rather than canonicalize the key again in Header.Get.
	if ids := r.Header[RequestIDHeader]; len(ids) > 0 && validRequestID(ids[0]) {
		st.idHeader[0] = ids[0]
	} else {
		// The ID's bytes live in st, which is never reused and outlives
		// every reference to the string; they are not written again.
		fillRequestID(&st.idBuf)
		st.idHeader[0] = unsafe.String(&st.idBuf[0], len(st.idBuf))
	}
	w.Header()[RequestIDHeader] = st.idHeader[:]

	ctx := r.Context()
	var span trace.Span
	if h.tracing {
		ctx = h.propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
		ctx, span = h.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer))
	}
	st.Context = ctx
	// The copy WithContext makes does not escape (it is inlined), so the
	// request the handlers get is stored in st rather than allocated.
	st.req = *r.WithContext(st)
	r = &st.req
	h.metrics.inFlight.Inc()

	defer func() {
		h.finish(st, r, start, span, recover())
	}()

	if h.maxBody > 0 && r.Body != nil && r.Body != http.NoBody {
		if r.ContentLength > h.maxBody {
			// Do not read a body we already know is too large; close the
			// connection after answering rather than drain it.
			st.Header().Set("Connection", "close")
			web.WriteError(st, r, bodyTooLarge(h.maxBody))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
	}
	h.next.ServeHTTP(st, r)
}

// bodyTooLarge is the 413 error for a body over limit bytes. Its wording
// matches web.DecodeJSON's, which sees the same limit through the
// http.MaxBytesReader installed by the stack.
func bodyTooLarge(limit int64) *web.Error {
	return &web.Error{
		Status: http.StatusRequestEntityTooLarge,
		Detail: fmt.Sprintf("request body is larger than %d bytes", limit),
	}
}

// finish runs after the handler, panicking or not: it recovers, then
// records metrics, the span and the access log.
func (h *stack) finish(st *reqState, r *http.Request, start time.Time, span trace.Span, panicked any) {
	abort := false
	if panicked != nil {
		abort = h.recovered(st, r, panicked)
	}
	status := int(st.status)
	switch {
	case panicked != nil:
		status = http.StatusInternalServerError
	case status == 0:
		status = http.StatusOK // net/http sends 200 when the handler wrote nothing
	}
	route := st.route
	if route == nil {
		route = h.unmatched
	}
	d := time.Since(start) // one clock reading: the monotonic one
	h.metrics.inFlight.Dec()
	h.metrics.observe(route, r.Method, status, d)

	var sc trace.SpanContext
	if span != nil {
		sc = span.SpanContext()
		if span.IsRecording() {
			span.SetName(r.Method + " " + route.template)
			span.SetAttributes(
				attribute.String("http.request.method", r.Method),
				attribute.String("http.route", route.template),
				attribute.Int("http.response.status_code", status),
				attribute.String("request.id", st.requestID()),
			)
			if status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
		}
		span.End()
	} else if h.tracing {
		sc = trace.SpanContextFromContext(st.Context)
	}

	if h.logger.Enabled(st, route.logLevel) {
		// The record is built here rather than by Logger.LogAttrs, which
		// would read the clock again and unwind the stack for the source
		// position on every request; the position is always this line, and
		// the time is the end of the request.
		rec := slog.NewRecord(start.Add(d), route.logLevel, "http request", h.logSite.pc())
		rec.AddAttrs(
			slog.String("method", r.Method),
			slog.String("route", route.template),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.Int64("bytes", st.bytes),
			slog.Float64("duration_seconds", d.Seconds()),
			slog.String("request_id", st.requestID()),
		)
		if sc.HasTraceID() {
			rec.AddAttrs(slog.String("trace_id", sc.TraceID().String()))
		}
		if st.err != nil {
			rec.AddAttrs(slog.String("error", st.err.Error()))
		}
		_ = h.logger.Handler().Handle(st, rec)
	}
	if abort {
		// Tell net/http to drop the connection without logging again.
		panic(http.ErrAbortHandler)
	}
}

// recovered handles a handler panic and reports whether the connection
// must be aborted (the response had already started, or the handler asked
// for it with http.ErrAbortHandler).
func (h *stack) recovered(st *reqState, r *http.Request, v any) (abort bool) {
	if v == http.ErrAbortHandler {
		return true
	}
	h.logger.LogAttrs(st, slog.LevelError, "http handler panic",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("request_id", st.requestID()),
		slog.Any("panic", v),
		slog.String("stack", string(debug.Stack())),
	)
	if st.wroteHeader || st.hijacked {
		return true
	}
	// Headers set by the handler before it panicked are not ours to send.
	hdr := st.Header()
	for k := range hdr {
		delete(hdr, k)
	}
	hdr[RequestIDHeader] = st.idHeader[:]
	web.WriteError(st, r, fmt.Errorf("server: handler panic: %v", v))
	return false
}
