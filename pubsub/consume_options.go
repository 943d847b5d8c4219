package pubsub

import (
	"log/slog"
	"strconv"
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
	// DefaultLease is the lease Consume assumes a delivery has when neither
	// [WithLease] is given nor the subscriber reports its own
	// ([LeaseReporter]). It equals the in-memory broker's default ack
	// deadline and Pub/Sub's, and is shorter than SQS's default visibility
	// timeout (30s), which is safe: Consume extends a lease well before a
	// third of it has passed, and extending sets the deadline.
	DefaultLease = 10 * time.Second
)

// GiveUpPolicy says what [Consume] does with a message that has used up its
// attempts (or failed with a [Permanent] error) when no dead-letter
// publisher is set.
type GiveUpPolicy int

const (
	// GiveUpRedeliver hands the message back to the broker, but first holds
	// it (keeping its lease) until [RetryPolicy].MaxBackoff has passed since
	// its last attempt, so that a message that keeps failing is attempted at
	// most once per MaxBackoff across redeliveries, and the broker's own
	// redrive policy (an SQS redrive policy, a Pub/Sub dead-letter topic)
	// may apply. It is the default, and needs a subscriber that can Nack a
	// single message (see [NackReporter]).
	GiveUpRedeliver GiveUpPolicy = iota + 1
	// GiveUpDiscard acknowledges the message, so that it is gone for good,
	// and logs it at Error with its ID, key, attempts and last error. Pick
	// it explicitly for a subscriber that cannot Nack, or where losing a
	// poison message is better than retrying it forever.
	GiveUpDiscard
)

// String returns the policy's name.
func (p GiveUpPolicy) String() string {
	switch p {
	case GiveUpRedeliver:
		return "redeliver"
	case GiveUpDiscard:
		return "discard"
	}
	return "GiveUpPolicy(" + strconv.Itoa(int(p)) + ")"
}

// ConsumeOption configures [Consume].
type ConsumeOption func(*consumeConfig)

type consumeConfig struct {
	concurrency    int
	ordered        bool
	retry          RetryPolicy
	deadLetter     Publisher
	giveUp         GiveUpPolicy // zero: not chosen
	drainTimeout   time.Duration
	handlerTimeout time.Duration
	lease          time.Duration
	leaseSet       bool
	logger         *slog.Logger
	hooks          hookSet
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
// When a message of key K leaves Consume without being acknowledged (it is
// Nacked, handed back after its last attempt, or its lease is lost), the
// later messages of K that Consume holds are handed back too, and K's
// messages that arrive before the handed-back one comes again wait for it
// (for at most twice the lease plus MaxBackoff, in case it went to another
// consumer). So a message of K never runs before an earlier one has been
// settled, even on backends that do not hold a key while its message is out.
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
// and attributes plus [AttrDeadLetter], once it has failed its last attempt,
// and then acknowledge it. If the publish fails the message is handed back
// as with [GiveUpRedeliver], so it is never lost. p may be nil, which
// disables dead-lettering.
func WithDeadLetter(p Publisher) ConsumeOption {
	return func(c *consumeConfig) { c.deadLetter = p }
}

// WithGiveUp sets what happens to a message that has failed for good when
// there is no dead-letter publisher. The default is [GiveUpRedeliver]. With
// a dead-letter publisher the policy is not used.
func WithGiveUp(p GiveUpPolicy) ConsumeOption {
	return func(c *consumeConfig) { c.giveUp = p }
}

// WithDrainTimeout sets how long in-flight handlers may keep running after
// Consume's context is cancelled (or the subscriber's channel closes). It is
// the deadline of the context Consume passes to [Subscriber.Stop], and the
// moment handler contexts are cancelled; Consume still waits for handlers
// to return. A negative value is treated as zero.
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
// visibility timeout) lasts, so that it can keep the lease of every message
// it holds alive: queued behind its key, running, waiting for a retry, or
// held before a hand-back. From the moment a message is received, Consume
// calls ExtendDoneDeadline(d) on it once it has held it for between an
// eighth and a quarter of d, and again every quarter of d, until it is
// settled. A message that is settled sooner costs nothing. If an extension
// fails with [ErrLeaseLost], Consume stops retrying the message (the broker
// delivers it again); [ErrNotSupported] turns extension off.
//
// Without this option Consume uses the subscriber's [LeaseReporter], or else
// [DefaultLease]. Zero or less disables extension.
func WithLease(d time.Duration) ConsumeOption {
	return func(c *consumeConfig) { c.lease, c.leaseSet = max(d, 0), true }
}

// WithLogger sets the logger for handler failures, retries, give-ups and
// settle errors. The default discards everything.
func WithLogger(l *slog.Logger) ConsumeOption {
	return func(c *consumeConfig) { c.logger = l }
}
