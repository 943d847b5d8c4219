package kafka

import (
	"errors"
	"fmt"
	"testing"

	"github.com/IBM/sarama"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// TestFatalSortsBrokerErrors checks which broker errors end a subscriber
// and which portable sentinel each one carries, so that code written
// against package pubsub can tell them apart on Kafka too.
func TestFatalSortsBrokerErrors(t *testing.T) {
	for _, c := range []struct {
		err   error
		fatal bool
		want  error
	}{
		{sarama.ErrTopicAuthorizationFailed, true, pubsub.ErrAccessDenied},
		{sarama.ErrGroupAuthorizationFailed, true, pubsub.ErrAccessDenied},
		{fmt.Errorf("join: %w", sarama.ErrSASLAuthenticationFailed), true, pubsub.ErrAccessDenied},
		{sarama.ErrUnknownTopicOrPartition, true, pubsub.ErrSubscriptionNotFound},
		{sarama.ErrInvalidSessionTimeout, true, sarama.ErrInvalidSessionTimeout},
		{sarama.ErrNotCoordinatorForConsumer, false, sarama.ErrNotCoordinatorForConsumer},
		{sarama.ErrOutOfBrokers, false, sarama.ErrOutOfBrokers},
	} {
		err, fatal := fatal(c.err)
		if fatal != c.fatal || !errors.Is(err, c.want) || !errors.Is(err, c.err) {
			t.Errorf("fatal(%v) = %v, %v; want fatal=%v wrapping %v", c.err, err, fatal, c.fatal, c.want)
		}
	}
}
