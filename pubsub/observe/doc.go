// Package observe makes gizmo's queue consumers and publishers observable,
// on every backend, through the pubsub contract alone: Prometheus metrics,
// OpenTelemetry traces that run from the request that published a message
// into the handler that consumed it, and the request ID carried along.
//
// Everything is passed in: the Prometheus registerer ([NewMetrics]), the
// tracer provider and propagator ([WithTracing]); the OpenTelemetry and
// Prometheus globals are never touched. Without metrics or tracing the
// hooks cost nothing.
//
//	metrics, err := observe.NewMetrics(registry)
//	...
//	pub := observe.Publisher(topic, "orders", observe.WithMetrics(metrics),
//		observe.WithTracing(tp, nil), observe.WithRequestID(server.RequestID))
//	err = pubsub.Consume(ctx, sub, handle,
//		pubsub.WithHooks(observe.Consumer("billing", sub, observe.WithMetrics(metrics),
//			observe.WithTracing(tp, nil), observe.WithRequestIDContext(server.ContextWithRequestID))))
//
// # Metrics
//
// For a consumer (label consumer): messages received, handler attempts by
// outcome (done, retried, dead_lettered, given_up, abandoned; see
// [pubsub.Outcome]), attempts that panicked, a handler duration histogram,
// handlers in flight, retry backoff waits, lease extensions and losses,
// and, for a subscriber that reports it ([pubsub.BacklogReporter]), the
// backlog, read at scrape time. For a publisher (label publisher):
// messages and batches by outcome, and call latency. Labels are the names
// the program gives and a short fixed list of outcomes, never message keys
// or IDs. The metric names are the Metric constants.
//
// # Tracing
//
// [Publisher] starts a producer span per call and puts its trace context
// into the message's attributes (W3C "traceparent" and "tracestate" by
// default, so a message gains one or two attributes). [Consumer] extracts
// it and runs each handler attempt in a consumer span that is a child of
// the producer's span, following OpenTelemetry's messaging conventions
// (messaging.system, messaging.operation.type, the subscription and the
// message ID), with the attempt number, the outcome, and the error
// recorded on failure.
//
// # Request IDs
//
// With [WithRequestID], the publisher copies the ID of the request that
// publishes into [pubsub.AttrRequestID]; Consume logs it with every line it
// writes about the message, and with [WithRequestIDContext] the handler's
// context carries it again.
package observe
