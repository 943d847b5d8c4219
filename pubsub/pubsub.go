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
//
// A message whose key or attributes break the rules in the package doc (the
// reserved prefix, valid UTF-8) fails with an error naming the problem. A
// message over the backend's size limits fails with an error wrapping
// [ErrTooLarge]; it is never truncated.
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
// failed. Once a message with key K fails, no later message with key K in the
// same call is sent: each fails too, with an error wrapping [ErrKeyBlocked]
// where it was not the cause. Retrying exactly the failed messages, in their
// order, therefore keeps the order of every key.
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
	// Stop stops fetching, hands prefetched-but-undelivered messages back to
	// the broker at once, waits until delivered messages are settled or ctx
	// is done, and closes the channel. Messages still unsettled when ctx is
	// done are handed back for redelivery, and Stop returns an error
	// wrapping [ErrDrainTimeout]. Stop is safe to call more than once; a
	// later call waits for the first to finish.
	Stop(ctx context.Context) error
}

// SubscriberMessage is one delivery of a message.
//
// Exactly one of Done or Nack settles a delivery; the first call wins and
// later calls return nil without effect. A delivery that is never settled is
// redelivered after its lease ends.
type SubscriberMessage interface {
	// Message returns the payload. The slice must not be modified.
	Message() []byte
	// Key returns the message key (Kafka key, Pub/Sub ordering key, SQS
	// message group or [AttrKey]); it may be empty.
	Key() string
	// Attributes returns the message attributes, without the wire
	// attributes gizmo adds (see the package doc). The map must not be
	// modified; it may be nil when there are none.
	Attributes() map[string]string
	// ID returns the broker-assigned message ID. Redeliveries of the same
	// message keep the same ID where the backend allows it.
	ID() string
	// Done acknowledges the message so that it is not delivered again. It
	// may return before the broker has recorded the acknowledgement; see
	// [DoneWait]. After the lease was lost it returns an error wrapping
	// [ErrLeaseLost].
	Done() error
	// Nack hands the message back to the broker for prompt redelivery.
	Nack() error
	// ExtendDoneDeadline makes the lease last at least d from now, rounded
	// up to the backend's unit, and returns nil once it does. d of zero
	// hands the message back at once, like Nack. It returns an error
	// wrapping [ErrLeaseLost] if the lease already ended, and one wrapping
	// [ErrNotSupported] on a backend whose leases cannot be extended.
	ExtendDoneDeadline(d time.Duration) error
}

// Settlement says how a delivery was settled: which of Done and Nack was
// called first, if either was.
type Settlement uint32

// The settlements of a delivery.
const (
	// Unsettled means neither Done nor Nack has been called.
	Unsettled Settlement = iota
	// Acked means Done was called first.
	Acked
	// Nacked means Nack, or ExtendDoneDeadline(0), was called first.
	Nacked
)

// SettlementReporter is implemented by messages that know whether, and how,
// they were settled. Every gizmo backend's messages do. [Consume] hands such
// a message to its handler as it is, and uses Settlement to leave alone a
// message the handler settled itself; a message without it is handed over
// in a wrapper that keeps track, at the cost of an allocation.
type SettlementReporter interface {
	// Settlement reports which of Done and Nack was called first.
	Settlement() Settlement
}

// DeliveryAttempter is implemented by messages whose backend counts
// deliveries. DeliveryAttempt returns 1 for the first delivery, 2 for the
// first redelivery, and so on; 0 means unknown. [Consume] uses it so that a
// message redelivered after a crash does not get a fresh retry budget.
type DeliveryAttempter interface {
	// DeliveryAttempt returns the 1-based delivery count, or 0 if unknown.
	DeliveryAttempt() int
}

// AckWaiter is implemented by messages whose Done may return before the
// broker has recorded the acknowledgement (batched deletes, asynchronous
// acks, offset commits). Callers that need the confirmation use [DoneWait].
type AckWaiter interface {
	// DoneWait acknowledges the message like Done, then waits until the
	// backend confirms the acknowledgement (nil), reports its failure, or
	// ctx is done.
	DoneWait(ctx context.Context) error
}

// DoneWait acknowledges m and, where the backend confirms acknowledgements
// asynchronously ([AckWaiter]), waits for the confirmation or for ctx.
// Elsewhere Done is already synchronous and DoneWait is Done.
func DoneWait(ctx context.Context, m SubscriberMessage) error {
	if w, ok := m.(AckWaiter); ok {
		return w.DoneWait(ctx)
	}
	return m.Done()
}

// LeaseReporter is implemented by subscribers that know how long the lease
// of a delivery lasts (the ack deadline, the visibility timeout). [Consume]
// uses it to keep leases alive when [WithLease] is not given.
type LeaseReporter interface {
	// Lease returns the lease a delivery starts with.
	Lease() time.Duration
}

// NackReporter is implemented by subscribers that can say whether Nack
// hands back one message for redelivery. A subscriber that does not
// implement it is taken to support Nack. [Consume] refuses to run over a
// subscriber whose CanNack is false unless it has somewhere to put a message
// that has failed for good ([WithDeadLetter] or [GiveUpDiscard]).
type NackReporter interface {
	// CanNack reports whether Nack redelivers a single message.
	CanNack() bool
}

// MessageAs returns m, or the message m wraps, as a T: the concrete message
// type of a backend, which gives access to the SDK's own message:
//
//	if km, ok := pubsub.MessageAs[*kafka.Message](m); ok { ... }
//
// A plain type assertion works on the messages gizmo's backends deliver,
// but MessageAs also sees through wrappers ([Consume] wraps messages that
// are not a [SettlementReporter]; middleware may wrap too), which expose
// what they wrap through an Unwrap() SubscriberMessage method.
func MessageAs[T SubscriberMessage](m SubscriberMessage) (T, bool) {
	for m != nil {
		if t, ok := m.(T); ok {
			return t, true
		}
		u, ok := m.(interface{ Unwrap() SubscriberMessage })
		if !ok {
			break
		}
		m = u.Unwrap()
	}
	var zero T
	return zero, false
}

// Message is an outgoing message for [MultiPublisher.PublishBatch].
type Message struct {
	// Key is the message key; it may be empty.
	Key string
	// Payload is the message body.
	Payload []byte
	// Attributes are optional string attributes.
	Attributes map[string]string
	// DeduplicationID, if set, is the message's deduplication ID, as for
	// [WithDeduplicationID].
	DeduplicationID string
}
