// Package server runs HTTP and gRPC services with the observability and
// lifecycle a production service needs, and nothing global.
//
// # SimpleServer
//
// [SimpleServer] serves [Service] values on a gorilla/mux router. A
// service declares a path prefix, its own middleware and an ordered list of
// [Endpoint]s; [JSONEndpoint] handlers return (status, body, error) and are
// rendered with package web. Registering the same method and path template
// twice is an error. [SimpleServer.Router] is the escape hatch to the
// router itself. Requests are routed exactly as gorilla/mux routes them;
// until Router is called, the server does it from its own copy of the
// route list, which tests whole-segment templates such as /users/{id}
// without mux's regular expressions and builds the mux.Vars map only
// when a handler asks for it.
//
// Every request goes through the default middleware, outermost first:
//
//  1. panic recovery: a 500 application/problem+json answer (or, once the
//     response has started, an aborted connection), the stack in the log;
//  2. request ID: a valid incoming X-Request-Id (1-128 bytes of letters,
//     digits and -_.:+/=@) is kept, otherwise one is generated; it is set
//     on the response and returned by [RequestID];
//  3. an access log line through the [WithLogger] logger: method, route
//     template, path, status, bytes, duration, request ID, trace ID
//     (health, readiness and metrics endpoints log at Debug);
//  4. Prometheus RED metrics ([HTTPRequestsMetric], [HTTPDurationMetric],
//     [HTTPInFlightMetric]) labelled by method, route template and status
//     class; every unmatched path shares the [UnmatchedRoute] label;
//  5. OpenTelemetry, off until [WithTracerProvider] or [WithPropagator] is
//     given: the propagator (W3C traceparent and tracestate by default)
//     extracts the incoming trace context, and the provider (a no-op by
//     default) starts a server span named "METHOD /route/{template}". The
//     otel globals are never read.
//
// The body limit (Config.MaxBodyBytes, 413 problem+json) applies to every
// request. Server-wide middleware added with [WithMiddleware] ([CORS],
// [NoCache], [Gzip] or your own) runs next, then routing, then the
// service's middleware, then the endpoint.
//
// Built-in endpoints: Config.HealthPath (liveness), Config.ReadyPath
// (readiness: checks added with [SimpleServer.AddReadinessCheck]; fails as
// soon as shutdown starts), Config.MetricsPath, and with Config.EnablePprof
// the net/http/pprof handlers under /debug/pprof/. Unknown paths and methods
// get JSON 404 and 405 answers.
//
// # Lifecycle
//
// [SimpleServer.Run] returns at once when it cannot listen, and otherwise
// serves until its context is done (see [SignalContext]). Shutdown then
// follows one sequence: readiness fails, Config.DrainDelay passes while the
// listener still accepts, http.Server.Shutdown waits for in-flight requests
// up to Config.ShutdownTimeout, and whatever is left is closed.
//
// # Known limits
//
// Importing this package links net/http/pprof, whose init registers its
// handlers on http.DefaultServeMux. The servers here never serve
// DefaultServeMux, but a program that does will expose pprof there.
package server
