package pubsub

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNotSupported is wrapped by errors for operations a backend cannot
	// perform, such as extending a lease on a backend without leases.
	ErrNotSupported = errors.New("pubsub: not supported by this backend")
	// ErrClosed is wrapped by errors for publishing on a closed Publisher.
	ErrClosed = errors.New("pubsub: publisher closed")
	// ErrTopicNotFound is wrapped by errors for a topic that does not exist.
	ErrTopicNotFound = errors.New("pubsub: topic not found")
	// ErrSubscriptionNotFound is wrapped by errors for a subscription (queue,
	// consumer group source) that does not exist.
	ErrSubscriptionNotFound = errors.New("pubsub: subscription not found")
	// ErrStopped is wrapped by errors for settling a message whose
	// subscriber has already finished stopping.
	ErrStopped = errors.New("pubsub: subscriber stopped")
	// ErrTooLarge is wrapped by errors for a message over a backend's
	// limits: payload size, total size, attribute count or the length of a
	// key, attribute name or value. The message is never truncated.
	ErrTooLarge = errors.New("pubsub: message too large for the backend")
	// ErrLeaseLost is wrapped by errors for settling or extending a
	// delivery that no longer holds its message: its lease ran out, it was
	// handed back, or (on Kafka) its partition was revoked. The message is,
	// or will be, delivered again.
	ErrLeaseLost = errors.New("pubsub: delivery lease lost")
	// ErrDrainTimeout is wrapped by the error [Subscriber.Stop] returns when
	// delivered messages were still unsettled when its context ended. Those
	// messages were handed back for redelivery; nothing failed.
	ErrDrainTimeout = errors.New("pubsub: messages not settled before the drain deadline")
	// ErrKeyBlocked is wrapped by the per-message error of
	// [MultiPublisher.PublishBatch] for a message that was not sent because
	// an earlier message with the same key failed in the same call.
	ErrKeyBlocked = errors.New("pubsub: not sent: an earlier message with the same key failed")
	// ErrAccessDenied is wrapped by errors for a call the broker refused
	// for want of permission or of valid credentials. Retrying will not
	// help, so it ends a subscriber: its channel closes and Err wraps it.
	ErrAccessDenied = errors.New("pubsub: access denied")
	// ErrInvalidMessage is wrapped by errors for a message that breaks the
	// contract's rules: a key or attribute that is not valid UTF-8, an empty
	// attribute name, or an attribute name with the reserved prefix.
	ErrInvalidMessage = errors.New("pubsub: invalid message")
)

// BatchError reports the outcome of [MultiPublisher.PublishBatch] when at
// least one message failed. Errs has one entry per input message, in order;
// a nil entry means that message was accepted.
type BatchError struct {
	// Errs holds one entry per input message, nil where it was accepted.
	Errs []error
}

// Failed returns the number of messages that were not accepted.
func (e *BatchError) Failed() int {
	n := 0
	for _, err := range e.Errs {
		if err != nil {
			n++
		}
	}
	return n
}

// Error summarises the failures, quoting the first one.
func (e *BatchError) Error() string {
	var first error
	idx := -1
	for i, err := range e.Errs {
		if err != nil {
			first, idx = err, i
			break
		}
	}
	if first == nil {
		return "pubsub: batch error with no failures"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pubsub: %d of %d messages failed; message %d: %v", e.Failed(), len(e.Errs), idx, first)
	return b.String()
}

// Unwrap returns the non-nil per-message errors, so that errors.Is and
// errors.As see through a BatchError.
func (e *BatchError) Unwrap() []error {
	out := make([]error, 0, len(e.Errs))
	for _, err := range e.Errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}
