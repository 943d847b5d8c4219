package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/mem"
)

// order is the message body.
type order struct {
	ID       int    `json:"id"`
	Customer string `json:"customer"`
	Amount   int    `json:"amount_cents"`
}

// summary is what run observed.
type summary struct {
	Published   int
	Customers   int
	Concurrency int
	Processed   int
	Retried     int
	ByCustomer  map[string][]int // order IDs in the order they were processed
	DeadLetters []deadLetter
}

type deadLetter struct {
	Order    int
	Key      string
	Attempts int
	Error    string
}

// customers is how many customers the orders are spread over.
const customers = 5

// errFlaky stands for a dependency that fails now and then.
var errFlaky = errors.New("payment service unavailable")

// run publishes cfg.Orders orders and consumes them until each is either
// processed or dead-lettered.
func run(ctx context.Context, cfg config, logger *slog.Logger, out io.Writer) error {
	broker := mem.NewBroker(mem.WithLogger(logger))
	defer broker.Close()
	for _, t := range []string{"orders", "orders-dead-letter"} {
		if err := broker.CreateTopic(t); err != nil {
			return err
		}
	}
	if err := broker.CreateSubscription("billing", "orders", mem.SubscriptionConfig{AckDeadline: 10 * time.Second}); err != nil {
		return err
	}
	if err := broker.CreateSubscription("dead-letter-audit", "orders-dead-letter", mem.SubscriptionConfig{}); err != nil {
		return err
	}
	pub, err := broker.NewPublisher("orders")
	if err != nil {
		return err
	}
	defer pub.Close()
	dlq, err := broker.NewPublisher("orders-dead-letter")
	if err != nil {
		return err
	}
	defer dlq.Close()
	sub, err := broker.NewSubscriber("billing")
	if err != nil {
		return err
	}

	// Every tenth order is malformed and can never succeed; every seventh
	// hits the flaky dependency on its first attempt.
	batch := make([]pubsub.Message, cfg.Orders)
	malformed := 0
	for i := range batch {
		customer := "customer-" + strconv.Itoa(i%customers)
		body, _ := json.Marshal(order{ID: i, Customer: customer, Amount: 100 * (i + 1)})
		if i%10 == 9 {
			body, malformed = []byte(`{"id": "not a number"`), malformed+1
		}
		batch[i] = pubsub.Message{Key: customer, Payload: body, Attributes: map[string]string{"order-id": strconv.Itoa(i)}}
	}
	if err := pub.PublishBatch(ctx, batch); err != nil {
		return fmt.Errorf("publish orders: %w", err)
	}

	var processed, retried atomic.Int64
	var attempts sync.Map // message ID -> attempts so far
	var mu sync.Mutex
	byCustomer := map[string][]int{}
	settled := make(chan struct{}, cfg.Orders)
	handler := func(ctx context.Context, m pubsub.SubscriberMessage) error {
		n, _ := attempts.LoadOrStore(m.ID(), new(atomic.Int64))
		attempt := n.(*atomic.Int64).Add(1)
		var o order
		if err := json.Unmarshal(m.Message(), &o); err != nil {
			settled <- struct{}{} // it will be dead-lettered without retries
			return pubsub.Permanent(fmt.Errorf("malformed order: %w", err))
		}
		if o.ID%7 == 0 && attempt == 1 {
			return errFlaky
		}
		if attempt > 1 {
			retried.Add(1)
		}
		mu.Lock()
		byCustomer[m.Key()] = append(byCustomer[m.Key()], o.ID)
		mu.Unlock()
		processed.Add(1)
		settled <- struct{}{}
		return nil
	}

	consumeCtx, stopConsumer := context.WithCancel(ctx)
	defer stopConsumer()
	consumed := make(chan error, 1)
	go func() {
		consumed <- pubsub.Consume(consumeCtx, sub, handler,
			pubsub.WithConcurrency(cfg.Concurrency),
			pubsub.WithOrderedKeys(),
			pubsub.WithRetry(pubsub.RetryPolicy{MaxAttempts: 3, InitialBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}),
			pubsub.WithDeadLetter(dlq),
			pubsub.WithLogger(logger),
		)
	}()

	for range cfg.Orders {
		select {
		case <-settled:
		case <-ctx.Done():
			return fmt.Errorf("waiting for orders: %w", ctx.Err())
		}
	}
	stopConsumer()
	if err := <-consumed; err != nil {
		return fmt.Errorf("consumer: %w", err)
	}

	dead, err := drainDeadLetters(ctx, broker, malformed)
	if err != nil {
		return err
	}
	report(out, summary{
		Published: cfg.Orders, Customers: customers, Concurrency: cfg.Concurrency,
		Processed: int(processed.Load()), Retried: int(retried.Load()),
		ByCustomer: byCustomer, DeadLetters: dead,
	})
	return nil
}

// drainDeadLetters reads want messages from the dead-letter subscription.
func drainDeadLetters(ctx context.Context, broker *mem.Broker, want int) ([]deadLetter, error) {
	sub, err := broker.NewSubscriber("dead-letter-audit")
	if err != nil {
		return nil, err
	}
	defer sub.Stop(context.WithoutCancel(ctx))
	var out []deadLetter
	ch := sub.Start()
	for len(out) < want {
		select {
		case m, ok := <-ch:
			if !ok {
				return nil, fmt.Errorf("dead-letter subscriber closed: %v", sub.Err())
			}
			info, _, err := pubsub.ParseDeadLetter(m.Attributes())
			if err != nil {
				return nil, err
			}
			id, _ := strconv.Atoi(m.Attributes()["order-id"])
			out = append(out, deadLetter{Order: id, Key: m.Key(), Attempts: info.Attempts, Error: info.Error})
			if err := m.Done(); err != nil {
				return nil, err
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for dead letters: %w", ctx.Err())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Order < out[j].Order })
	return out, nil
}
