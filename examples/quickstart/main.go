// Command quickstart runs a queue consumer on gizmo's embedded in-memory
// broker: no server to install, nothing to configure.
//
// It publishes a batch of orders to the "orders" topic and consumes them with
// pubsub.Consume: several handlers at once, per-customer order, retries with
// backoff for a flaky dependency, and a dead-letter topic for orders that can
// never succeed. When every order is settled it cancels the consumer, which
// drains and stops, and prints what happened, including the failure
// attributes on each dead-lettered message.
//
//	go run ./examples/quickstart [-orders 50] [-concurrency 4] [-v]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
)

func main() {
	var cfg config
	flag.IntVar(&cfg.Orders, "orders", 50, "number of orders to publish")
	flag.IntVar(&cfg.Concurrency, "concurrency", 4, "handlers running at once")
	verbose := flag.Bool("v", false, "log every retry and dead-letter to stderr")
	flag.Parse()

	level := slog.LevelError
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, cfg, logger, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// config holds the example's settings.
type config struct {
	Orders      int
	Concurrency int
}

// report prints the outcome.
func report(w io.Writer, s summary) {
	fmt.Fprintf(w, "published %d orders\n", s.Published)
	fmt.Fprintf(w, "processed %d orders (%d needed a retry)\n", s.Processed, s.Retried)
	fmt.Fprintf(w, "dead-lettered %d orders\n", len(s.DeadLetters))
	for _, d := range s.DeadLetters {
		fmt.Fprintf(w, "  key=%s attempts=%d error=%q\n", d.Key, d.Attempts, d.Error)
	}
}
