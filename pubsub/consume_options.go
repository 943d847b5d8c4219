package pubsub

import (
	"log/slog"
	"time"
)

// Defaults used by [Consume] when the corresponding option is not given.
const (
	// DefaultConcurrency is the number of handler goroutines. Handlers are
	// usually I/O bound, and a fixed number behaves the same on every
	// machine; tune it with [WithConcurrency].
	DefaultConcurrency = 8
	// DefaultDrainTimeout is how long in-flight handlers may keep running
	// after the context given to Consume is cancelled.
	DefaultDrainTimeout = 30 * time.Second
	// DefaultLease is the lease (ack deadline, visibility timeout) Consume
	// assumes a delivery has; see [WithLease].
	DefaultLease = 30 * time.Second
)

// ConsumeOption configures [Consume].
type ConsumeOption func(*consumeConfig)

type consumeConfig struct {
	concurrency    int
	ordered        bool
	retry          RetryPolicy
	deadLetter     Publisher
	drainTimeout   time.Duration
	handlerTimeout time.Duration
	lease          time.Duration
	logger         *slog.Logger
}

func newConsumeConfig(opts []ConsumeOption) consumeConfig {
	c := consumeConfig{
		concurrency:  DefaultConcurrency,
		retry:        DefaultRetryPolicy(),
		drainTimeout: DefaultDrainTimeout,
		lease:        DefaultLease,
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&c)
		}
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// WithConcurrency sets the number of handler goroutines, which is also the
// most messages handled at once. Values below 1 select
// [DefaultConcurrency].
func WithConcurrency(n int) ConsumeOption {
	return func(c *consumeConfig) {
		if n < 1 {
			n = DefaultConcurrency
		}
		c.concurrency = n
	}
}

// WithOrderedKeys makes Consume handle messages that share a non-empty
// [SubscriberMessage.Key] one at a time, in the order the subscriber
// delivered them, retries included. Messages are spread over the handler
// goroutines by a hash of their key, so different keys still run
// concurrently, but a slow or retrying message also holds up the other keys
// that hash to the same goroutine. Messages with an empty key carry no order
// and are spread round-robin.
//
// Consume can only keep the order it is given: the backend must deliver a
// key's messages in order too (a Kafka partition, a Pub/Sub subscription
// with message ordering, an SQS FIFO queue).
func WithOrderedKeys() ConsumeOption {
	return func(c *consumeConfig) { c.ordered = true }
}

// WithRetry sets the retry policy for failed handler attempts. See
// [RetryPolicy] for how zero fields are filled in.
func WithRetry(p RetryPolicy) ConsumeOption {
	return func(c *consumeConfig) { c.retry = p.withDefaults() }
}

// WithDeadLetter makes Consume publish a message to p, with its payload, key
// and attributes plus the failure attributes (see [AttrDeadLetterError]),
// once it has failed its last attempt, and then acknowledge it. If the
// publish fails the message is Nacked instead, so it is never lost. p may be
// nil, which disables dead-lettering.
func WithDeadLetter(p Publisher) ConsumeOption {
	return func(c *consumeConfig) { c.deadLetter = p }
}

// WithDrainTimeout sets how long in-flight handlers may keep running after
// Consume's context is cancelled (or the subscriber's channel closes) before
// their context is cancelled too. Consume still waits for them to return.
// A negative value is treated as zero: handler contexts are cancelled at
// once.
func WithDrainTimeout(d time.Duration) ConsumeOption {
	return func(c *consumeConfig) { c.drainTimeout = max(d, 0) }
}

// WithHandlerTimeout bounds each handler attempt: the handler's context is
// cancelled d after the attempt starts. Zero (the default) means no bound
// beyond the drain timeout. Setting it costs one context and timer per
// attempt.
func WithHandlerTimeout(d time.Duration) ConsumeOption {
	return func(c *consumeConfig) { c.handlerTimeout = max(d, 0) }
}

// WithLease tells Consume how long a delivery's lease (ack deadline,
// visibility timeout) is, so that it can keep the lease across retry
// backoff waits. Before a wait w that would bring the time since the first
// failure past half of d, Consume calls ExtendDoneDeadline(w+d) on the
// message, ignoring [ErrNotSupported]. Set d to the subscription's own
// lease, since extending sets the deadline and can shorten a longer one.
// Zero or less disables extension. The default is [DefaultLease].
func WithLease(d time.Duration) ConsumeOption {
	return func(c *consumeConfig) { c.lease = max(d, 0) }
}

// WithLogger sets the logger for handler failures, retries, dead-lettering
// and settle errors. The default discards everything.
func WithLogger(l *slog.Logger) ConsumeOption {
	return func(c *consumeConfig) { c.logger = l }
}
