package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/IBM/sarama"
)

// Option configures a [Publisher], [Subscriber] or [Reader].
type Option func(*options)

type options struct {
	logger *slog.Logger
	tune   []func(*sarama.Config)
}

// WithLogger sets the logger for rebalances, retried broker errors and
// settles that fail. The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithSaramaConfig lets fn adjust the sarama configuration built from the
// Config before the client connects: for settings Config does not cover.
// Changing what the adapter relies on (Producer.Return.Successes,
// Consumer.Offsets.AutoCommit, Net.MaxOpenRequests) breaks its guarantees.
func WithSaramaConfig(fn func(*sarama.Config)) Option {
	return func(o *options) {
		if fn != nil {
			o.tune = append(o.tune, fn)
		}
	}
}

func applyOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// connect builds the sarama configuration and connects a client, giving up
// when ctx ends. A client that connects after that is closed.
func connect(ctx context.Context, cfg Config, o options) (sarama.Client, *sarama.Config, error) {
	sc, err := cfg.saramaConfig()
	if err != nil {
		return nil, nil, err
	}
	for _, fn := range o.tune {
		fn(sc)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("kafka: connect to %s: %w", strings.Join(cfg.Brokers, ","), err)
	}
	type result struct {
		c   sarama.Client
		err error
	}
	res := make(chan result, 1)
	go func() {
		c, err := sarama.NewClient(cfg.Brokers, sc)
		res <- result{c, err}
	}()
	select {
	case r := <-res:
		if r.err != nil {
			return nil, nil, fmt.Errorf("kafka: connect to %s: %w", strings.Join(cfg.Brokers, ","), r.err)
		}
		return r.c, sc, nil
	case <-ctx.Done():
		go func() {
			if r := <-res; r.c != nil {
				_ = r.c.Close()
			}
		}()
		return nil, nil, fmt.Errorf("kafka: connect to %s: %w", strings.Join(cfg.Brokers, ","), ctx.Err())
	}
}
