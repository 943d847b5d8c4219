// Command quickstart runs a queue consumer on gizmo's embedded in-memory
// broker: no server to install, nothing to configure.
//
// It publishes a batch of orders to the "orders" topic and consumes them with
// pubsub.Consume: several handlers at once, per-customer order, retries with
// backoff for a flaky dependency, and a dead-letter topic for orders that can
// never succeed. Both kinds of failure are planted on purpose: every seventh
// order meets a payment service that fails once, and every tenth is
// malformed JSON. When every order is settled it cancels the consumer, which
// drains and stops, and prints what happened: the retries, the order in
// which each customer's orders were processed, and what the dead-letter
// topic received.
//
//	go run ./examples/quickstart [-orders 50] [-concurrency 4] [-v]
//
// -v logs what the consumer does (each retry and dead letter) to stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	var cfg config
	flag.IntVar(&cfg.Orders, "orders", 50, "number of orders to publish")
	flag.IntVar(&cfg.Concurrency, "concurrency", 4, "handlers running at once")
	verbose := flag.Bool("v", false, "log every retry and dead-letter to stderr")
	flag.Parse()
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		flag.Usage()
		os.Exit(2)
	}

	// The planted failures are the point, and the report explains them;
	// -v shows the consumer's own log lines about them.
	level := slog.LevelError + 4
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

// Bounds of the flags.
const (
	maxOrders      = 100_000
	maxConcurrency = 1024
)

// validate names the flag that is out of range.
func (c config) validate() error {
	if c.Orders < 1 || c.Orders > maxOrders {
		return fmt.Errorf("-orders %d: want a number from 1 to %d", c.Orders, maxOrders)
	}
	if c.Concurrency < 1 || c.Concurrency > maxConcurrency {
		return fmt.Errorf("-concurrency %d: want a number from 1 to %d", c.Concurrency, maxConcurrency)
	}
	return nil
}

// report prints the outcome.
func report(w io.Writer, s summary) {
	fmt.Fprintf(w, "published %d orders for %d customers; %d handlers, each customer's orders in order\n",
		s.Published, s.Customers, s.Concurrency)
	fmt.Fprintln(w, "planted on purpose: every 7th order meets a flaky payment service once, every 10th is malformed")
	fmt.Fprintf(w, "processed %d orders; %d of them succeeded on a retry after the flaky failure\n", s.Processed, s.Retried)
	names := make([]string, 0, len(s.ByCustomer))
	for c := range s.ByCustomer {
		names = append(names, c)
	}
	sort.Strings(names)
	for _, c := range names {
		ids := s.ByCustomer[c]
		verdict := "in publish order"
		if !sort.IntsAreSorted(ids) {
			verdict = "OUT OF ORDER"
		}
		fmt.Fprintf(w, "  %s: orders %s (%s)\n", c, joinInts(ids), verdict)
	}
	fmt.Fprintf(w, "dead-lettered %d malformed orders, without retries (a malformed payload cannot succeed):\n", len(s.DeadLetters))
	for _, d := range s.DeadLetters {
		fmt.Fprintf(w, "  order %d (%s): %d attempt, error %q\n", d.Order, d.Key, d.Attempts, d.Error)
	}
}

func joinInts(ids []int) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.Itoa(id)
	}
	return strings.Join(parts, " ")
}
