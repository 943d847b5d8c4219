// Command events runs an API daemon and a queue consumer in one process,
// on gizmo's embedded in-memory broker.
//
// POST /v1/events accepts {"user": "ann", "kind": "click"} and publishes it
// to the "events" topic, keyed by user. A pubsub.Consume loop in the same
// process reads the "counter" subscription and counts events per user and
// kind, in order per user. GET /v1/users/{user}/counts shows the counts.
//
// Both halves share one lifecycle: SIGINT or SIGTERM (or either half
// failing) stops both. The HTTP server flips readiness, drains and shuts
// down; the consumer stops fetching, lets in-flight handlers finish, and
// hands unprocessed messages back to the broker. With a real broker those
// are delivered to the next instance; the in-memory one forgets them on
// exit.
//
//	go run ./examples/events
//	curl -s localhost:8080/v1/events -H 'Content-Type: application/json' -d '{"user":"ann","kind":"click"}'
//	curl -s localhost:8080/v1/users/ann/counts
//
// Settings: EVENTS_SERVER_HTTP_PORT (or HTTP_PORT), EVENTS_CONCURRENCY and
// the rest of server.Config under EVENTS_SERVER_.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/seed8104ecd5/gizmo/config"
	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/mem"
	"github.com/seed8104ecd5/gizmo/server"
	"golang.org/x/sync/errgroup"
)

// Config is the whole configuration of the daemon.
type Config struct {
	Server      server.Config `json:"server" envconfig:"SERVER"`
	Concurrency int           `json:"concurrency" envconfig:"CONCURRENCY" default:"4"`
}

func main() {
	ctx, stop := server.SignalContext(context.Background())
	defer stop()
	var cfg Config
	if err := config.Load(ctx, &cfg, config.Defaults(), config.Env("EVENTS")); err != nil {
		fmt.Fprintln(os.Stderr, "events:", err)
		os.Exit(1)
	}
	logger, err := cfg.Server.Logger(os.Stderr)
	if err == nil {
		err = run(ctx, cfg, logger)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "events:", err)
		os.Exit(1)
	}
}

// run serves HTTP and consumes events until ctx is cancelled or either half
// fails, then stops both and returns the first error. opts are passed to
// the server (tests give it a listener).
func run(ctx context.Context, cfg Config, logger *slog.Logger, opts ...server.Option) error {
	broker := mem.NewBroker(mem.WithLogger(logger))
	defer broker.Close()
	for _, t := range []string{"events", "events-dead-letter"} {
		if err := broker.CreateTopic(t); err != nil {
			return err
		}
	}
	if err := broker.CreateSubscription("counter", "events", mem.SubscriptionConfig{}); err != nil {
		return err
	}
	pub, err := broker.NewPublisher("events")
	if err != nil {
		return err
	}
	defer pub.Close()
	dlq, err := broker.NewPublisher("events-dead-letter")
	if err != nil {
		return err
	}
	defer dlq.Close()
	sub, err := broker.NewSubscriber("counter")
	if err != nil {
		return err
	}

	counts := newCounts()
	srv, err := server.NewSimpleServer(cfg.Server, append([]server.Option{server.WithLogger(logger)}, opts...)...)
	if err != nil {
		return err
	}
	if err := srv.Register(&api{pub: pub, counts: counts}); err != nil {
		return err
	}
	consuming := make(chan struct{})
	srv.AddReadinessCheck("consumer", func(context.Context) error {
		select {
		case <-consuming:
			return fmt.Errorf("the consumer has stopped")
		default:
			return nil
		}
	})

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Run(gctx) })
	g.Go(func() error {
		defer close(consuming)
		return pubsub.Consume(gctx, sub, counts.handle,
			pubsub.WithConcurrency(cfg.Concurrency),
			pubsub.WithOrderedKeys(),
			pubsub.WithDeadLetter(dlq),
			pubsub.WithLogger(logger))
	})
	return g.Wait()
}
