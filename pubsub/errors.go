package pubsub

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNotSupported is wrapped by errors for operations a backend cannot
	// perform, such as Nack on a backend with no per-message redelivery.
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
