// Package pubsub is gizmo's portable publish/subscribe contract.
//
// It defines the interfaces every backend implements ([Publisher],
// [MultiPublisher], [Subscriber] and [SubscriberMessage]), the message
// semantics they share, and [Consume], the context-based consumer runner that
// turns any [Subscriber] into a well-behaved queue-consumer daemon. The
// package imports no cloud SDK. Backends live in the sub-packages aws, gcp,
// kafka and http; mem is the in-memory broker that examples and local runs
// use by default; pubsubtest has the fakes for unit tests and the
// conformance suite that checks every rule below against every backend.
//
// # Delivery
//
// Delivery is at-least-once on every backend. A message that is not
// acknowledged with [SubscriberMessage.Done] comes back: after
// [SubscriberMessage.Nack], after its lease ends, after the consumer
// restarts, or after a rebalance. Handlers must therefore be idempotent, or
// deduplicate by [SubscriberMessage.ID]. A backend that cannot do something a
// caller asks for returns an error wrapping [ErrNotSupported]; it never
// silently ignores the request.
//
// # Messages on the wire
//
// Keys and attributes round-trip on every backend, and a message looks the
// same whichever backend carried it:
//
//   - Keys, attribute names and attribute values are valid UTF-8; names are
//     not empty. The prefix [ReservedPrefix] ("gizmo-") belongs to gizmo: a
//     publish whose attributes use it fails with [ErrInvalidMessage], except
//     for [AttrDeadLetter], which [Consume] sets and consumers read.
//   - Where a backend has no key field (SNS, SQS standard queues, Pub/Sub
//     without ordering, HTTP), the key travels as the attribute [AttrKey].
//     On a FIFO queue or topic the key is also the MessageGroupId, on Kafka
//     the record key (the empty key is a null key), and on an ordered
//     Pub/Sub topic the ordering key.
//   - A payload the backend cannot carry as is (SQS and SNS take only
//     non-empty text) travels as base64, flagged by the attribute
//     "gizmo-enc". An attribute whose name or value the backend cannot
//     carry (SQS allows only [A-Za-z0-9_.-] in names and no empty values;
//     HTTP headers lose case) travels under an escaped name. Adapters undo
//     both on receive and remove every wire attribute, so Attributes holds
//     exactly what was published.
//   - A message over a backend's limits (payload, total size, attribute
//     count, name or value length) fails with an error wrapping
//     [ErrTooLarge]. It is never truncated. Each adapter's package doc
//     states its limits.
//
// # Publishing
//
// Publish returns once the broker has accepted the message. PublishBatch
// reports an error per message ([BatchError]) and never sends a message of
// key K after an earlier message of K in the same call failed: those fail
// too, wrapping [ErrKeyBlocked], so retrying exactly the failed messages in
// order keeps every key's order. After a failure for key K, the next
// publish of K resumes the key (Pub/Sub needs this; other backends need
// nothing); a caller that cares about order retries the failed messages
// before publishing new ones of that key. [WithDeduplicationID] names a
// message for backends that deduplicate on publish.
//
// # Ordering
//
// A backend that orders by key (a Kafka partition, a Pub/Sub subscription
// with ordering, an SQS FIFO queue, a mem subscription with OrderedKeys)
// keeps this rule: the first deliveries of a key's messages arrive in
// publish order, and a redelivery may be followed by repeats of later
// messages of that key (Pub/Sub redelivers what followed a Nacked
// message). [WithOrderedKeys] makes Consume keep that order through its
// concurrency and retries.
//
// # Leases
//
// A delivery holds its message for a lease (ack deadline, visibility
// timeout). ExtendDoneDeadline(d) returns nil once the lease lasts at least
// d from now, rounded up to the backend's unit (SQS counts whole seconds);
// ExtendDoneDeadline(0) hands the message back. A backend that only extends
// leases by itself (the Pub/Sub client) says in its package doc what a call
// does, and never reports an extension it did not make. Settling or
// extending a delivery whose lease ended, or whose Kafka partition was
// revoked, returns an error wrapping [ErrLeaseLost]: the message is
// delivered again. A subscriber whose lease starts when it fetches (SQS)
// keeps prefetched messages alive, or hands them back, so that it never
// delivers a message with less than half its lease left. Subscribers that
// know their lease report it ([LeaseReporter]) so that Consume extends in
// time.
//
// # Acknowledgement
//
// Done settles one message, and is idempotent. On Kafka, Done is durable
// once every earlier offset of its partition is settled: the committed
// offset never passes a message that is not yet Done, so after a restart a
// message may come back although it was Done, but one that was not Done
// always does. Everywhere else acknowledgements are independent. Done may
// return before the broker has recorded the acknowledgement (batched
// deletes, asynchronous acks, periodic commits); [DoneWait] waits for the
// backend's confirmation where it has one ([AckWaiter]).
//
// # Failures
//
// An adapter retries the broker errors that are worth retrying (a dropped
// connection, throttling, a broker restart) on its own, with backoff, for
// both publishing and receiving. Only an unrecoverable error (a missing
// subscription, denied access) ends a subscriber: its channel closes and
// [Subscriber.Err] reports the error, wrapping [ErrSubscriptionNotFound]
// or [ErrAccessDenied].
//
// # Backends underneath
//
// Each adapter's constructors return its concrete exported types, and its
// message type gives access to the SDK's own message. Consume hands a
// handler the backend's message itself, so a type assertion (or
// [MessageAs], which also sees through wrappers) reaches it. Every gizmo
// backend's messages report how they were settled ([SettlementReporter]);
// Consume wraps a message that cannot, to keep the first settle final.
//
// # Consuming
//
// [Consume] runs a [Handler] over a Subscriber's messages until its context
// is cancelled. A nil result acknowledges the message. An error is retried
// in-process with exponential backoff and jitter ([RetryPolicy]); after the
// last attempt the message goes to the dead-letter [Publisher] given with
// [WithDeadLetter], or is handed back under the [GiveUpPolicy], so it is
// never dropped by accident. Consume keeps the lease of every message it
// holds alive, treats a panic or runtime.Goexit in a handler as a failed
// attempt, and on cancel stops receiving, hands back what has not started,
// and drains the rest under one deadline shared with [Subscriber.Stop].
//
// # Stopping
//
// [Subscriber.Stop] stops fetching, hands messages that were prefetched but
// not yet delivered back to the broker at once, waits until delivered
// messages are Done or Nacked or its context ends, hands back what is still
// unsettled (its error then wraps [ErrDrainTimeout]), and closes the channel
// returned by [Subscriber.Start]. It is safe to call more than once.
// [Subscriber.Err] is nil after a clean stop and holds the terminal error
// otherwise.
package pubsub
