package kafka

import (
	"errors"
	"fmt"

	"github.com/IBM/sarama"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// checkTopic returns an error wrapping pubsub.ErrTopicNotFound if the
// brokers do not know topic.
func checkTopic(c sarama.Client, topic string) error {
	if _, err := c.Partitions(topic); err != nil {
		if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			return fmt.Errorf("topic %q: %w (%w)", topic, pubsub.ErrTopicNotFound, err)
		}
		return fmt.Errorf("topic %q: %w", topic, err)
	}
	return nil
}

// fatal reports whether err ends a subscriber rather than being retried,
// and wraps the pubsub sentinel that names it.
func fatal(err error) (error, bool) {
	switch {
	case errors.Is(err, sarama.ErrUnknownTopicOrPartition), errors.Is(err, sarama.ErrInvalidTopic):
		return fmt.Errorf("%w: %w: %w", pubsub.ErrSubscriptionNotFound, pubsub.ErrTopicNotFound, err), true
	case errors.Is(err, sarama.ErrTopicAuthorizationFailed), errors.Is(err, sarama.ErrGroupAuthorizationFailed),
		errors.Is(err, sarama.ErrClusterAuthorizationFailed), errors.Is(err, sarama.ErrSASLAuthenticationFailed):
		return fmt.Errorf("%w: %w", pubsub.ErrAccessDenied, err), true
	case errors.Is(err, sarama.ErrInvalidGroupId), errors.Is(err, sarama.ErrInvalidSessionTimeout),
		errors.Is(err, sarama.ErrUnsupportedVersion), errors.Is(err, sarama.ErrInconsistentGroupProtocol):
		return err, true
	}
	var ce sarama.ConfigurationError
	if errors.As(err, &ce) {
		return err, true
	}
	return err, false
}
