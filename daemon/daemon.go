// Package daemon runs queue consumers under a server's lifecycle, so that a
// queue-consumer daemon has what an API daemon has: liveness and readiness
// endpoints, Prometheus metrics, trace propagation and draining on
// SIGTERM, on one small admin listener, and a program that serves an API
// and consumes a queue gets one lifecycle and one /metrics for both.
//
// The server is a [server.SimpleServer] (or the HTTP half of a
// [server.RPCServer], from its HTTPServer method): for a consumer alone it
// has no services and is just the admin listener. [AddConsumer] adds a
// consumer as one of its workers, wired to the server's registry, tracer
// provider, propagator and logger through package pubsub/observe;
// [Publisher] wraps a publisher the same way, so that a request's trace and
// request ID reach the consumer that handles what it published.
//
//	srv, err := server.NewSimpleServer(cfg.Server, server.WithLogger(logger))
//	...
//	err = daemon.AddConsumer(srv, daemon.Consumer{Name: "billing", Subscriber: sub, Handler: handle})
//	...
//	ctx, stop := server.SignalContext(context.Background())
//	defer stop()
//	err = srv.Run(ctx)
//
// On SIGTERM the server's lifecycle runs as usual: readiness fails first,
// the drain delay passes, then the listeners shut down and the consumers'
// contexts are cancelled together, and everything finishes within the
// server's ShutdownTimeout. A consumer gets a drain timeout of nine tenths
// of it, so that its handlers stop in time. A consumer whose subscriber
// fails for good (a deleted subscription, denied access) makes the
// liveness endpoint fail, so that an orchestrator restarts the process;
// the API, if any, keeps serving meanwhile.
//
// This package imports both server and pubsub, so that neither imports the
// other.
package daemon

import (
	"context"
	"fmt"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/observe"
	"github.com/seed8104ecd5/gizmo/server"
)

// Consumer is a queue consumer for [AddConsumer].
type Consumer struct {
	// Name names the worker and labels the consumer's metrics, spans and
	// log lines: use the subscription's name. Required.
	Name string
	// Subscriber is the subscription to consume. Required.
	Subscriber pubsub.Subscriber
	// Handler handles each message. Required.
	Handler pubsub.Handler
	// Options are passed to pubsub.Consume after the ones AddConsumer sets
	// (logger, hooks, drain timeout), so that they win.
	Options []pubsub.ConsumeOption
	// System names the messaging system in spans ("kafka", "aws_sqs",
	// ...). Empty means "gizmo".
	System string
}

// AddConsumer adds c to srv as a worker that runs [pubsub.Consume] for as
// long as the server runs. Metrics go to srv's registry, spans to its
// tracer provider (when it has one), and Consume logs to its logger; a
// handler's context carries the request ID of the request that published
// its message, where one travelled with it (see [Publisher]). It must be
// called before srv.Run.
func AddConsumer(srv *server.SimpleServer, c Consumer) error {
	if c.Name == "" || c.Subscriber == nil || c.Handler == nil {
		return fmt.Errorf("daemon: AddConsumer: a consumer needs a Name, a Subscriber and a Handler")
	}
	opts, err := observeOptions(srv, c.System)
	if err != nil {
		return err
	}
	opts = append(opts, observe.WithRequestIDContext(server.ContextWithRequestID))
	consumeOpts := append([]pubsub.ConsumeOption{
		pubsub.WithLogger(srv.Logger().With("consumer", c.Name)),
		pubsub.WithDrainTimeout(srv.Config().ShutdownTimeout * 9 / 10),
		pubsub.WithHooks(observe.Consumer(c.Name, c.Subscriber, opts...)),
	}, c.Options...)
	return srv.AddWorker("consumer "+c.Name, func(ctx context.Context) error {
		return pubsub.Consume(ctx, c.Subscriber, c.Handler, consumeOpts...)
	})
}

// Publisher wraps p so that what it publishes is observed with srv's
// registry and tracer provider, and carries the ID of the request that
// publishes it ([pubsub.AttrRequestID]). name labels its metrics and spans:
// use the topic's name.
func Publisher(srv *server.SimpleServer, p pubsub.Publisher, name string) (*observe.ObservedPublisher, error) {
	opts, err := observeOptions(srv, "")
	if err != nil {
		return nil, err
	}
	opts = append(opts, observe.WithRequestID(server.RequestID))
	return observe.Publisher(p, name, opts...), nil
}

// observeOptions are the observe options for srv's registry and tracing.
func observeOptions(srv *server.SimpleServer, system string) ([]observe.Option, error) {
	m, err := observe.NewMetrics(srv.Registry())
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	opts := []observe.Option{observe.WithMetrics(m), observe.WithSystem(system)}
	if tp, prop := srv.Tracing(); tp != nil {
		opts = append(opts, observe.WithTracing(tp, prop))
	}
	return opts, nil
}
