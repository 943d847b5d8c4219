package gcp

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	gizmo "github.com/seed8104ecd5/gizmo/pubsub"
)

// The test binary doubles as the consumer process that TestKillConsumer
// kills: with these variables set it consumes instead of testing.
const (
	helperSubEnv  = "GIZMO_GCP_TEST_CONSUMER_SUBSCRIPTION"
	helperAddrEnv = "GIZMO_GCP_TEST_CONSUMER_ADDR"
)

func TestMain(m *testing.M) {
	if sub := os.Getenv(helperSubEnv); sub != "" {
		os.Exit(runHelperConsumer(os.Getenv(helperAddrEnv), sub))
	}
	os.Exit(m.Run())
}

// runHelperConsumer consumes sub with Consume, writing "handled PAYLOAD"
// to stdout before each handler returns (and Consume acknowledges), until
// it is killed, or after two minutes at most.
func runHelperConsumer(addr, sub string) int {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelT()
	cfg := testConfig(addr)
	cfg.Subscription = sub
	r, err := NewSubscriber(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	err = gizmo.Consume(ctx, r, func(_ context.Context, m gizmo.SubscriberMessage) error {
		mu.Lock()
		fmt.Fprintf(out, "handled %s\n", m.Message())
		err := out.Flush()
		mu.Unlock()
		if err != nil {
			return err
		}
		time.Sleep(5 * time.Millisecond) // a handler that takes a moment
		return nil
	}, gizmo.WithConcurrency(4))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
