package pubsub

import (
	"context"
	"time"
)

// Outcome is what [Consume] did after one handler attempt.
type Outcome int

// The outcomes of a handler attempt.
const (
	// OutcomeDone: the attempt succeeded and the message was acknowledged
	// (or the handler settled it itself and returned nil).
	OutcomeDone Outcome = iota + 1
	// OutcomeRetried: the attempt failed and another one is scheduled.
	OutcomeRetried
	// OutcomeDeadLettered: the last attempt failed and the message went
	// to the dead-letter publisher.
	OutcomeDeadLettered
	// OutcomeGivenUp: the last attempt failed and, with no dead-letter
	// publisher (or a failed dead-letter publish), the message was handed
	// back after the hold or discarded, as the [GiveUpPolicy] says.
	OutcomeGivenUp
	// OutcomeAbandoned: the attempt failed and Consume stopped there
	// because it is stopping, the lease was lost, or the handler settled
	// the message itself; the broker, or the handler's settle, decides
	// what happens to it.
	OutcomeAbandoned
)

// String returns the outcome's name as metrics label it: done, retried,
// dead_lettered, given_up or abandoned.
func (o Outcome) String() string {
	switch o {
	case OutcomeDone:
		return "done"
	case OutcomeRetried:
		return "retried"
	case OutcomeDeadLettered:
		return "dead_lettered"
	case OutcomeGivenUp:
		return "given_up"
	case OutcomeAbandoned:
		return "abandoned"
	}
	return "unknown"
}

// ConsumeHooks are functions [Consume] calls as it works, for metrics,
// tracing and logging (package pubsub/observe builds them for Prometheus
// and OpenTelemetry). Any of them may be nil. They are called from
// Consume's goroutines, concurrently, and must not block. Like
// net/http/httptrace.ClientTrace, the struct may gain fields; set them by
// name.
type ConsumeHooks struct {
	// Received is called once for each message Consume takes from the
	// subscriber to handle.
	Received func(m SubscriberMessage)
	// AttemptStart is called before each handler attempt (1 for the first
	// of this delivery's budget, counted as the retry policy counts). The
	// context it returns is the handler's; return ctx to leave it.
	AttemptStart func(ctx context.Context, m SubscriberMessage, attempt int) context.Context
	// AttemptEnd is called when the handler returns, with its error (a
	// *PanicError if it panicked) and how long it ran. ctx is the one
	// AttemptStart returned.
	AttemptEnd func(ctx context.Context, m SubscriberMessage, err error, elapsed time.Duration)
	// Outcome is called once per attempt, after AttemptEnd, when Consume
	// has acted on the result (acknowledged, scheduled a retry,
	// dead-lettered, ...). ctx is the one AttemptStart returned.
	Outcome func(ctx context.Context, m SubscriberMessage, o Outcome)
	// Backoff is called before each wait between two attempts.
	Backoff func(m SubscriberMessage, d time.Duration)
	// LeaseExtended is called after Consume extended a held message's
	// lease; LeaseLost when an extension found it lost.
	LeaseExtended func(m SubscriberMessage)
	// LeaseLost is called when an extension, or the acknowledgement,
	// reports the lease lost.
	LeaseLost func(m SubscriberMessage)
}

// WithHooks adds hooks to Consume. It may be given more than once; every
// set is called, in the order given.
func WithHooks(h *ConsumeHooks) ConsumeOption {
	return func(c *consumeConfig) {
		if h != nil {
			c.hooks = append(c.hooks, h)
		}
	}
}

// BacklogReporter is implemented by subscribers that can tell how far
// behind the consumer is: the messages of the subscription not yet
// acknowledged (a queue's depth, a Kafka group's lag). Metrics read it on
// each scrape.
type BacklogReporter interface {
	// Backlog returns the number of messages waiting or in flight.
	Backlog(ctx context.Context) (int64, error)
}

// AttrRequestID is the attribute that carries the ID of the request that
// published a message, when the publisher is given one (see package
// pubsub/observe). [Consume] adds it to the log lines it writes about the
// message as request_id.
const AttrRequestID = "x-request-id"

// hookSet is the hooks of one Consume, called in order.
type hookSet []*ConsumeHooks

func (hs hookSet) received(m SubscriberMessage) {
	for _, h := range hs {
		if h.Received != nil {
			h.Received(m)
		}
	}
}

func (hs hookSet) attemptStart(ctx context.Context, m SubscriberMessage, attempt int) context.Context {
	for _, h := range hs {
		if h.AttemptStart != nil {
			ctx = h.AttemptStart(ctx, m, attempt)
		}
	}
	return ctx
}

func (hs hookSet) attemptEnd(ctx context.Context, m SubscriberMessage, err error, d time.Duration) {
	for _, h := range hs {
		if h.AttemptEnd != nil {
			h.AttemptEnd(ctx, m, err, d)
		}
	}
}

func (hs hookSet) outcome(ctx context.Context, m SubscriberMessage, o Outcome) {
	for _, h := range hs {
		if h.Outcome != nil {
			h.Outcome(ctx, m, o)
		}
	}
}

func (hs hookSet) backoff(m SubscriberMessage, d time.Duration) {
	for _, h := range hs {
		if h.Backoff != nil {
			h.Backoff(m, d)
		}
	}
}

func (hs hookSet) leaseExtended(m SubscriberMessage) {
	for _, h := range hs {
		if h.LeaseExtended != nil {
			h.LeaseExtended(m)
		}
	}
}

func (hs hookSet) leaseLost(m SubscriberMessage) {
	for _, h := range hs {
		if h.LeaseLost != nil {
			h.LeaseLost(m)
		}
	}
}
