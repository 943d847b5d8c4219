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
// when a handler asks for it. [web.RouteVar] and web's Var getters read a
// variable without the map.
//
// Every request goes through the default middleware, outermost first:
//
//  1. panic recovery: a 500 application/problem+json answer (or, once the
//     response has started, an aborted connection), the stack in the log;
//  2. request ID: a valid incoming X-Request-Id (1-128 bytes of letters,
//     digits and -_.:+/=@) is kept, otherwise one is generated; it is set
//     on the response and returned by [RequestID];
//  3. an access log line through the [WithLogger] logger: method, route
//     template, path, status, bytes, duration_seconds (a float, in
//     seconds), request ID, trace ID (health, readiness and metrics
//     endpoints log at Debug);
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
// Built-in endpoints: Config.HealthPath (liveness: checks added with
// [SimpleServer.AddLivenessCheck], and every worker's health; shutdown does
// not fail it), Config.ReadyPath (readiness: checks added with
// [SimpleServer.AddReadinessCheck]; fails as soon as shutdown starts),
// Config.MetricsPath, and with Config.EnablePprof
// the pprof endpoints under /debug/pprof/ (index, named profiles, cmdline,
// profile, symbol, trace, with net/http/pprof's parameters, except that
// delta profiles, ?seconds=N on a named profile, answer 400). Unknown paths
// and methods get JSON 404 and 405 answers.
//
// A request for a non-canonical path ("/a//b", "/a/../b") is redirected
// with 301 to the clean path, and the Location is always that path alone
// (with the query), relative to this server: an absolute-form request
// target such as "GET http://evil.example//x" cannot make it name another
// host. TestCleanPathRedirectStaysOnServer holds this.
//
// # Timeouts
//
// Config.HTTPReadTimeout, HTTPReadHeaderTimeout, HTTPWriteTimeout and
// HTTPIdleTimeout (on by default) are http.Server's, which applies them as
// connection deadlines and moves those several times per request. The
// server's listener keeps that from costing a runtime timer operation each
// time: a deadline more than a tick away is only recorded, and a watchdog
// that runs every tick while connections are open sets it on the socket
// once it has passed. The tick is a fiftieth of the shortest timeout,
// between 10ms and 100ms (100ms with the defaults), so a timeout fires up
// to a tick late, never early. Deadlines within a tick of now, and past
// ones (which interrupt a blocked read or write), are set on the socket at
// once; deadlines a handler sets with http.ResponseController follow the
// same rules. A handler that hijacks its connection gets the *net.TCPConn
// itself, with exact deadlines. docs/benchmarks.md has the figures behind
// this choice.
//
// # Workers
//
// [SimpleServer.AddWorker] runs a long-running task beside the listeners
// under the same lifecycle (package daemon uses it for queue consumers):
// its context is cancelled when the listeners start their graceful
// shutdown, after readiness has failed and the drain delay has passed, and
// Run waits for it within Config.ShutdownTimeout. A worker that fails while
// the server runs makes the liveness endpoint fail, naming it, and does not
// stop the server.
//
// # gRPC status codes
//
// The metrics, access log and span of an RPCServer call record the code
// grpc-go sends the client: the status the handler's error carries (also
// when wrapped), else Canceled or DeadlineExceeded when the error is or
// wraps context.Canceled or context.DeadlineExceeded (a handler returning
// ctx.Err() after the client cancelled or its deadline passed, as
// [google.golang.org/grpc/status.FromContextError] maps it), else Unknown.
// The access log line is at Error level for codes that mean a server fault
// (Unknown, Internal, DataLoss, Unimplemented) and at Info otherwise, so a
// call the client gave up on is an Info line, as on the HTTP side, where
// every request is logged at its route's level whatever became of the
// client; health checks are at Debug on both.
//
// # Nothing global
//
// Importing this package has no side effects: it has no init functions and
// no package-level variables. In particular it adds nothing to
// http.DefaultServeMux: the pprof endpoints are built here from
// runtime/pprof and runtime/trace, not taken from net/http/pprof, whose
// init registers them there in every program that links it.
// TestImportLeavesDefaultServeMuxEmpty probes DefaultServeMux in a program
// that links this package and everything it imports; the one registration
// it finds is not ours (see Known limits).
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
// The Prometheus client library, which this package needs, imports expvar,
// whose init registers GET /debug/vars (the command line and memory
// statistics) on http.DefaultServeMux. The servers here never serve
// DefaultServeMux, but a program that does exposes that endpoint there.
package server
