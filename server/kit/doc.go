// Package kit serves go-kit services over HTTP and gRPC from one set of
// endpoints, with the observability, health checks and graceful shutdown of
// package server.
//
// A [Service] writes its business logic once, as go-kit endpoint.Endpoint
// values (github.com/go-kit/kit/endpoint), and declares how each transport
// reaches them: HTTP endpoints served by go-kit's transport/http on
// gorilla/mux, and a gRPC service description plus an implementation,
// usually built with go-kit's transport/grpc. [Run] (or [NewServer] and
// [Server.Run]) serves both.
//
// # The server
//
// A [Server] is a server.RPCServer with the Service adapted to it, so
// everything package server documents applies: on HTTP, panic recovery,
// request IDs, slog access logs, Prometheus metrics by route template,
// OpenTelemetry trace propagation, body and header limits, Config.HealthPath,
// Config.ReadyPath, Config.MetricsPath and opt-in pprof; on gRPC, the same
// recovery, request IDs, tracing, metrics and logs as interceptors, plus the
// standard health service; TLS on both; and one graceful shutdown. The
// configuration is package server's [Config], environment variables
// included. Options of package server go through [WithServerOptions].
//
// # Middleware
//
// Service.Middleware is applied once to every endpoint, whichever transport
// calls it:
//
//   - on HTTP, it wraps each HTTPEndpoint's Endpoint: the request is what
//     the endpoint's Decoder returned, the response what it returns;
//   - on gRPC, it wraps every method of the service's description, unary
//     and streaming. For a unary method the request is the protobuf request
//     message and the response the protobuf response (the wrapped endpoint
//     runs the generated handler, so decoding and encoding happen inside
//     it). For a streaming method the request is the grpc.ServerStream and
//     the response is nil; a context the middleware passes on becomes the
//     stream's Context.
//
// So middleware that works with the context and the error (logging,
// metrics, authentication, rate limits, circuit breakers) behaves the same
// on both transports; middleware that inspects request values sees
// transport-specific types. The gRPC implementation must be built from the
// endpoints without Middleware, or it would run twice.
//
// The gRPC interceptors run, outermost first: package server's (recovery,
// request ID, tracing, metrics, access log), then Service.RPCUnaryInterceptors
// or RPCStreamInterceptors, then Middleware. Interceptors given in
// Service.RPCOptions as grpc.ChainUnaryInterceptor run just inside package
// server's; one given as grpc.UnaryInterceptor is accepted and runs first of
// all. Nothing panics because a service brings its own interceptors; options
// that grpc.NewServer rejects (such as grpc.UnaryInterceptor twice) make
// [NewServer] return an error.
//
// # Errors
//
// An endpoint (or decoder, encoder, interceptor) error becomes the same
// outcome on both transports. HTTP answers are application/problem+json
// documents written by web.WriteError; gRPC answers are status errors. The
// error is classified by the first rule that matches:
//
//  1. a *web.Error (found with errors.As) keeps its status and Detail; its
//     gRPC code follows the HTTP column of the table below, and its Detail
//     becomes the status message (a Field is added as a google.rpc.BadRequest
//     detail);
//  2. an error with a GRPCStatus() *status.Status method (grpc's status
//     errors; found with errors.As) keeps its code, message and details; its
//     HTTP status follows the gRPC column of the table, and the message
//     becomes the problem detail. The message of Unknown, Internal and
//     DataLoss is replaced by "internal error": downstream failures carry
//     internals in their text;
//  3. context.DeadlineExceeded: 504 and DeadlineExceeded; context.Canceled:
//     499 and Canceled;
//  4. *http.MaxBytesError: 413 and ResourceExhausted;
//  5. go-kit's StatusCoder (a StatusCode() int method): that status and its
//     code from the table, with the standard status text only;
//  6. anything else: 500 and Internal, and none of the error's text (the
//     text goes to the log at error level, with the request ID).
//
// The table, from gRPC code to HTTP status:
//
//	InvalidArgument, FailedPrecondition, OutOfRange  400
//	Unauthenticated                                  401
//	PermissionDenied                                 403
//	NotFound                                         404
//	AlreadyExists, Aborted                           409
//	ResourceExhausted                                429
//	Canceled                                         499
//	Unknown, Internal, DataLoss                      500
//	Unimplemented                                    501
//	Unavailable                                      503
//	DeadlineExceeded                                 504
//
// and from HTTP status to gRPC code:
//
//	400, 415, 422  InvalidArgument      408, 504   DeadlineExceeded
//	401            Unauthenticated      409        AlreadyExists
//	403            PermissionDenied     412        FailedPrecondition
//	404, 410       NotFound             416        OutOfRange
//	405, 501       Unimplemented        413, 429   ResourceExhausted
//	499            Canceled             502, 503   Unavailable
//	other 4xx      FailedPrecondition   other 5xx  Internal
//
// [HTTPError] and [GRPCStatus] apply these rules, for custom encoders.
// Panics are recovered by package server: 500 on HTTP and Internal on
// gRPC, the stack in the log.
//
// # Lifecycle hooks
//
// A Service may also implement [ReadinessChecker], whose checks drive
// Config.ReadyPath and the gRPC health service, and [Shutdowner], whose
// Shutdown runs after both servers have stopped, within the shutdown
// deadline.
package kit
