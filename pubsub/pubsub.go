package pubsub

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"
)

// Publisher sends messages to a topic.
//
// Publish and PublishRaw return once the broker has accepted the message, or
// with an error; a message is never dropped silently. Implementations are safe
// for concurrent use. Close flushes anything buffered and releases resources;
// after Close, publishing returns an error wrapping [ErrClosed].
type Publisher interface {
	// Publish marshals msg with protobuf and publishes it under key.
	Publish(ctx context.Context, key string, msg proto.Message, opts ...PublishOption) error
	// PublishRaw publishes payload as is under key.
	PublishRaw(ctx context.Context, key string, payload []byte, opts ...PublishOption) error
	// Close flushes pending messages and releases the publisher.
	Close() error
}

// MultiPublisher is a [Publisher] that can send a batch in one call.
//
// PublishBatch attempts every message. It returns nil when all were accepted,
// or a *[BatchError] whose Errs slice holds one entry per input message (nil
// for the ones that were accepted), so a caller can retry exactly the ones that
// failed.
type MultiPublisher interface {
	Publisher
	// PublishBatch publishes msgs, reporting an error per message.
	PublishBatch(ctx context.Context, msgs []Message) error
}

// Subscriber receives messages from a subscription (an SQS queue, a Pub/Sub
// subscription, a Kafka consumer group, an HTTP push endpoint).
//
// Most programs do not use a Subscriber directly but hand it to [Consume].
type Subscriber interface {
	// Start begins fetching and returns the channel messages are delivered
	// on. The channel is closed after Stop, or when the subscriber fails
	// terminally (see Err). Calling Start again returns the same channel.
	Start() <-chan SubscriberMessage
	// Err returns the terminal error once the channel is closed: nil after a
	// clean Stop.
	Err() error
	// Stop stops fetching, returns prefetched-but-undelivered messages to the
	// broker, waits up to the backend's drain deadline for delivered messages
	// to be settled, and closes the channel. It is safe to call twice.
	Stop() error
}

// SubscriberMessage is one delivery of a message.
//
// Exactly one of Done or Nack settles a delivery; the first call wins and
// later calls return nil without effect. A delivery that is never settled is
// redelivered after its deadline.
type SubscriberMessage interface {
	// Message returns the payload. The slice must not be modified.
	Message() []byte
	// Key returns the message key (Kafka key, Pub/Sub ordering key, SQS
	// message group or attribute); it may be empty.
	Key() string
	// Attributes returns the message attributes. The map must not be
	// modified; it may be nil when there are none.
	Attributes() map[string]string
	// ID returns the broker-assigned message ID. Redeliveries of the same
	// message keep the same ID where the backend allows it.
	ID() string
	// Done acknowledges the message so that it is not delivered again.
	Done() error
	// Nack hands the message back to the broker for prompt redelivery.
	Nack() error
	// ExtendDoneDeadline sets the message's deadline to d from now, so that
	// a slow handler keeps its lease.
	ExtendDoneDeadline(d time.Duration) error
}

// DeliveryAttempter is implemented by messages whose backend counts
// deliveries. DeliveryAttempt returns 1 for the first delivery, 2 for the
// first redelivery, and so on; 0 means unknown. [Consume] uses it so that a
// message redelivered after a crash does not get a fresh retry budget.
type DeliveryAttempter interface {
	// DeliveryAttempt returns the 1-based delivery count, or 0 if unknown.
	DeliveryAttempt() int
}

// Message is an outgoing message for [MultiPublisher.PublishBatch].
type Message struct {
	// Key is the message key; it may be empty.
	Key string
	// Payload is the message body.
	Payload []byte
	// Attributes are optional string attributes.
	Attributes map[string]string
}
