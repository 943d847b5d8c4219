package pubsub

import "maps"

// PublishOption configures a single publish call.
type PublishOption func(*PublishOptions)

// PublishOptions is the resolved set of options for one publish call. Backends
// obtain it with [ApplyPublishOptions].
type PublishOptions struct {
	// Attributes are the message attributes to send.
	Attributes map[string]string
	// DeduplicationID is the deduplication ID set with
	// [WithDeduplicationID], or empty.
	DeduplicationID string
}

// WithAttributes adds attrs to the message's attributes. It may be given more
// than once; later values win for the same key. The map is copied.
func WithAttributes(attrs map[string]string) PublishOption {
	return func(o *PublishOptions) {
		if len(attrs) == 0 {
			return
		}
		if o.Attributes == nil {
			o.Attributes = make(map[string]string, len(attrs))
		}
		maps.Copy(o.Attributes, attrs)
	}
}

// WithAttribute sets one attribute on the message.
func WithAttribute(key, value string) PublishOption {
	return func(o *PublishOptions) {
		if o.Attributes == nil {
			o.Attributes = make(map[string]string, 1)
		}
		o.Attributes[key] = value
	}
}

// WithDeduplicationID gives the message a deduplication ID: a backend that
// deduplicates on publish accepts a second message with the same ID within
// its window but delivers only the first. SQS and SNS FIFO use it as the
// MessageDeduplicationId, the HTTP publisher as the message ID (an
// idempotency key for the receiver), and the in-memory broker keeps a
// window of its own. A backend that cannot deduplicate (Kafka, Pub/Sub)
// fails the publish with an error wrapping [ErrNotSupported] rather than
// ignore the ID. Each package doc states its window.
func WithDeduplicationID(id string) PublishOption {
	return func(o *PublishOptions) { o.DeduplicationID = id }
}

// ApplyPublishOptions resolves opts into a PublishOptions value.
func ApplyPublishOptions(opts ...PublishOption) PublishOptions {
	var o PublishOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}
