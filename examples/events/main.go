// Command events runs an API daemon and a queue consumer in one process,
// on gizmo's embedded in-memory broker.
//
// POST /v1/events accepts {"user": "ann", "kind": "click"} and publishes it
// to the "events" topic, keyed by user. A consumer in the same process reads
// the "counter" subscription and counts events per user and kind, in order
// per user. GET /v1/users/{user}/counts shows the counts.
//
// Both halves run under one lifecycle (package daemon): one listener serves
// the API, /healthz, /readyz and one /metrics for both; a request's trace and
// request ID follow each event into the consumer. On SIGINT or SIGTERM the
// server flips readiness, drains and shuts down, and the consumer stops
// fetching, lets in-flight handlers finish and hands unprocessed messages
// back to the broker. With a real broker those are delivered to the next
// instance; the in-memory one forgets them on exit.
//
//	go run ./examples/events
//	curl -s 127.0.0.1:8080/v1/events -H 'Content-Type: application/json' -d '{"user":"ann","kind":"click"}'
//	curl -s 127.0.0.1:8080/v1/users/ann/counts
//
// It listens on 127.0.0.1 unless EVENTS_SERVER_HTTP_ADDR says otherwise.
// Settings: EVENTS_SERVER_HTTP_PORT (or HTTP_PORT), EVENTS_CONCURRENCY and
// the rest of server.Config under EVENTS_SERVER_. Ctrl-C in the terminal
// stops it gracefully; under `go run` a SIGTERM reaches only the go command,
// so to see SIGTERM handling build it first (go build -o events
// ./examples/events) and signal the binary.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"

	"github.com/seed8104ecd5/gizmo/config"
	"github.com/seed8104ecd5/gizmo/daemon"
	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/mem"
	"github.com/seed8104ecd5/gizmo/server"
)

// Config is the whole configuration of the daemon.
type Config struct {
	Server      server.Config `json:"server" envconfig:"SERVER"`
	Concurrency int           `json:"concurrency" envconfig:"CONCURRENCY" default:"4"`
}

// Validate implements config.Validator: config.Load calls it last, so that
// a bad setting is reported with its full variable name.
func (c Config) Validate() error {
	if c.Concurrency < 1 {
		return fmt.Errorf("EVENTS_CONCURRENCY: %d, want at least 1", c.Concurrency)
	}
	return c.Server.ValidateAs("EVENTS_SERVER")
}

func main() {
	ctx, stop := server.SignalContext(context.Background())
	defer stop()
	cfg := Config{Server: server.Config{HTTPAddr: "127.0.0.1"}}
	if err := config.Load(ctx, &cfg, config.Defaults(), config.Env("EVENTS")); err != nil {
		fmt.Fprintln(os.Stderr, "events:", err)
		os.Exit(1)
	}
	logger, err := cfg.Server.Logger(os.Stderr)
	if err == nil {
		err = run(ctx, cfg, logger, os.Stdout, nil)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "events:", err)
		os.Exit(1)
	}
}

// run serves the API and consumes events until ctx is cancelled. It listens
// on ln, or on the configured address when ln is nil, and says where on out.
func run(ctx context.Context, cfg Config, logger *slog.Logger, out io.Writer, ln net.Listener) error {
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
	rawPub, err := broker.NewPublisher("events")
	if err != nil {
		return err
	}
	defer rawPub.Close()
	dlq, err := broker.NewPublisher("events-dead-letter")
	if err != nil {
		return err
	}
	defer dlq.Close()
	sub, err := broker.NewSubscriber("counter")
	if err != nil {
		return err
	}

	if ln == nil {
		ln, err = net.Listen("tcp", net.JoinHostPort(cfg.Server.HTTPAddr, strconv.Itoa(cfg.Server.WithDefaults().HTTPPort)))
		if err != nil {
			return err
		}
	}
	srv, err := server.NewSimpleServer(cfg.Server, server.WithLogger(logger), server.WithListener(ln))
	if err != nil {
		_ = ln.Close()
		return err
	}
	pub, err := daemon.Publisher(srv, rawPub, "events")
	if err != nil {
		return err
	}
	counts := newCounts()
	if err := srv.Register(&api{pub: pub, counts: counts}); err != nil {
		return err
	}
	if err := daemon.AddConsumer(srv, daemon.Consumer{
		Name:       "counter",
		Subscriber: sub,
		Handler:    counts.handle,
		Options: []pubsub.ConsumeOption{
			pubsub.WithConcurrency(cfg.Concurrency),
			pubsub.WithOrderedKeys(),
			pubsub.WithDeadLetter(dlq),
		},
	}); err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "events: listening on %s (metrics on %s%s)\n", base, base, srv.Config().MetricsPath)
	fmt.Fprintf(out, "try: curl -s %s/v1/events -H 'Content-Type: application/json' -d '{\"user\":\"ann\",\"kind\":\"click\"}'\n", base)
	fmt.Fprintf(out, "     curl -s %s/v1/users/ann/counts\n", base)
	return srv.Run(ctx)
}
