package gcp

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gizmo "github.com/seed8104ecd5/gizmo/pubsub"
)

var (
	// ErrPermissionDenied is wrapped by errors for a call Pub/Sub refused
	// for want of permission or of valid credentials (PermissionDenied,
	// Unauthenticated). A subscriber that gets it ends, with Err wrapping
	// it. It wraps the portable [gizmo.ErrAccessDenied], which code that
	// runs on any backend checks.
	ErrPermissionDenied = fmt.Errorf("gcp: permission denied: %w", gizmo.ErrAccessDenied)
	// ErrExtensionLimit is wrapped by the error of ExtendDoneDeadline when
	// the lease asked for would end after Receive.MaxExtension from the
	// delivery. The lease was extended as far as it goes.
	ErrExtensionLimit = errors.New("gcp: lease cannot be extended past Receive.MaxExtension")
	// ErrOrderingNotEnabled is wrapped by the error of
	// [Publisher.PublishMessage] for a message with an ordering key on a
	// publisher made without Publish.Ordering: the client would not send
	// it, and sending it without the key would lose its order silently.
	ErrOrderingNotEnabled = errors.New("gcp: ordering key on a publisher without message ordering (set Publish.Ordering)")
)

// terminal reports whether a Receive error ends the subscriber, and the
// error Err then reports. Anything else is retried.
func terminal(sub string, err error) (error, bool) {
	st, ok := status.FromError(err)
	if !ok {
		return nil, false
	}
	switch st.Code() {
	case codes.NotFound:
		return fmt.Errorf("gcp: receive from %q: %w: %w", sub, gizmo.ErrSubscriptionNotFound, err), true
	case codes.PermissionDenied, codes.Unauthenticated:
		return fmt.Errorf("gcp: receive from %q: %w: %w", sub, ErrPermissionDenied, err), true
	case codes.InvalidArgument, codes.FailedPrecondition, codes.Unimplemented:
		// A malformed name, a detached or push subscription: retrying
		// cannot help.
		return fmt.Errorf("gcp: receive from %q: %w", sub, err), true
	}
	return nil, false
}

// publishErr turns a publish result's error into the contract's.
func publishErr(topic string, err error) error {
	var paused pubsub.ErrPublishingPaused
	switch {
	case errors.Is(err, pubsub.ErrPublisherStopped):
		return fmt.Errorf("gcp: publish to %q: %w: %w", topic, gizmo.ErrClosed, err)
	case errors.As(err, &paused):
		return fmt.Errorf("gcp: publish to %q: %w: %w", topic, gizmo.ErrKeyBlocked, err)
	case errors.Is(err, pubsub.ErrOversizedMessage):
		return fmt.Errorf("gcp: publish to %q: %w: %w", topic, gizmo.ErrTooLarge, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("gcp: publish to %q: %w", topic, err)
	}
	switch status.Code(err) {
	case codes.NotFound:
		return fmt.Errorf("gcp: publish to %q: %w: %w", topic, gizmo.ErrTopicNotFound, err)
	case codes.PermissionDenied, codes.Unauthenticated:
		return fmt.Errorf("gcp: publish to %q: %w: %w", topic, ErrPermissionDenied, err)
	}
	return fmt.Errorf("gcp: publish to %q: %w", topic, err)
}

// ackErr turns the outcome of an exactly-once acknowledgement into the
// contract's error: nil for success.
func ackErr(id string, res pubsub.AcknowledgeStatus, err error) error {
	switch res {
	case pubsub.AcknowledgeStatusSuccess:
		if err == nil {
			return nil
		}
	case pubsub.AcknowledgeStatusInvalidAckID, pubsub.AcknowledgeStatusFailedPrecondition:
		return fmt.Errorf("gcp: done message %s: Pub/Sub refused the acknowledgement (%v), and delivers the message again: %w", id, err, gizmo.ErrLeaseLost)
	case pubsub.AcknowledgeStatusPermissionDenied:
		return fmt.Errorf("gcp: done message %s: %w: %w", id, ErrPermissionDenied, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("gcp: done message %s: waiting for Pub/Sub's answer: %w", id, err)
	}
	return fmt.Errorf("gcp: done message %s: acknowledgement failed, and the message may be delivered again: %w", id, err)
}
