// Package gcp is gizmo's pubsub adapter for Google Cloud Pub/Sub, on the
// v2 client library (cloud.google.com/go/pubsub/v2). [Publisher] publishes
// through the client's batching publisher, [Subscriber] receives with its
// StreamingPull Receive, and [Message] is one delivery; together they keep
// the contract of package pubsub. Both are made from a [Config], which
// package config can load, and connect to an emulator when
// Config.EmulatorHost or PUBSUB_EMULATOR_HOST is set.
//
// # Publishing
//
//   - Publish and PublishRaw return once Pub/Sub has accepted the message.
//     The client batches messages (Publish.CountThreshold, ByteThreshold,
//     DelayThreshold), so a lone publish-and-wait takes DelayThreshold;
//     concurrent publishes share requests. PublishBatch hands the client
//     every message before waiting, then asks it to send at once.
//   - The key travels as the gizmo-key attribute. With Publish.Ordering it
//     is also the message's ordering key, and a subscription with message
//     ordering delivers a key's messages in publish order. Without it, a
//     key orders nothing on Pub/Sub.
//   - PublishBatch keeps the contract's key rule (see [Publisher.PublishBatch]).
//     After a publish of an ordering key fails, the client pauses the key;
//     the next publish of that key resumes it, as the contract says.
//   - The client retries what is worth retrying (Unavailable,
//     DeadlineExceeded, ResourceExhausted, ...) for up to Publish.Timeout. A
//     missing topic fails with an error wrapping pubsub.ErrTopicNotFound,
//     a refusal with one wrapping [ErrPermissionDenied].
//   - Pub/Sub does not deduplicate on publish: WithDeduplicationID fails
//     with an error wrapping pubsub.ErrNotSupported.
//   - [Publisher.PublishMessage] publishes a client-library message as it
//     is, without gizmo's wire encoding, for consumers outside gizmo. An
//     ordering key on a publisher without Publish.Ordering fails there
//     with [ErrOrderingNotEnabled] rather than being dropped.
//   - Close sends what the client holds, waits for it, and stops the
//     client's publisher.
//
// # Messages on the wire and limits
//
// Pub/Sub carries any payload and UTF-8 attributes as they are, with two
// exceptions that the wire encoding of package pubsub handles: an empty
// payload travels as "=" flagged by gizmo-enc (Pub/Sub refuses a message
// with neither data nor attributes), and an attribute whose name starts
// with "goog" (reserved by Pub/Sub) travels under an escaped gizmo-x-
// name. Subscribers undo both. Subscription filters see the attributes as
// they travel: the key as gizmo-key, and any other user attribute under
// its own name unless it starts with "goog".
//
// A publish is checked against Pub/Sub's limits before anything is sent,
// and fails with an error wrapping pubsub.ErrTooLarge past them: at most
// [MaxAttributes] attributes on the wire (so 99 of the caller's when the
// message has a key, since gizmo-key counts, as does gizmo-enc), names of at most
// [MaxAttributeNameBytes] bytes and values of at most
// [MaxAttributeValueBytes] as they travel, keys and ordering keys of at
// most 1024 bytes, and a message of at most Publish.MaxMessageBytes
// (10,000,000 by default, Pub/Sub's request limit) counted as the publish
// request that carries it.
//
// # Receiving
//
// Delivery is at-least-once. The subscriber hands messages to the
// application one at a time on an unbuffered channel. The client fetches
// ahead, up to Receive.MaxOutstandingMessages and MaxOutstandingBytes over
// Receive.NumGoroutines streams, and those limits count every message
// from its fetch until it is settled. Settling is independent per message.
//
//   - Done acknowledges. Without Receive.ExactlyOnce it returns once the
//     client holds the acknowledgement, which the client sends within a
//     tenth of a second, and Pub/Sub does not confirm it; DoneWait then
//     fails with an error wrapping pubsub.ErrNotSupported and leaves the
//     message unsettled. With Receive.ExactlyOnce, on a subscription with
//     exactly-once delivery, Done acknowledges with AckWithResult and
//     returns Pub/Sub's answer: nil, an error wrapping
//     pubsub.ErrLeaseLost for an acknowledgement Pub/Sub refused (the
//     message comes again), or one wrapping [ErrPermissionDenied].
//     DoneWait does the same under a context.
//   - Nack hands the message back for prompt redelivery (Pub/Sub applies
//     the subscription's retry policy, if any).
//   - DeliveryAttempt is Pub/Sub's count on a subscription with a
//     dead-letter policy, and 0 elsewhere.
//   - ID is Pub/Sub's message ID, the same on every delivery.
//
// # Leases
//
// The client extends the ack deadline of every message it holds, by
// itself, with ModifyAckDeadline calls; the subscriber only decides when a
// delivery lets go. A delivery holds its message for Receive.Lease from
// the moment the application takes it (Receive.MaxExtension when Lease is
// zero, which is how the client behaves on its own). When the lease ends
// unsettled, the subscriber hands the message back (a Nack) and Pub/Sub
// delivers it again; Done, Nack and ExtendDoneDeadline on that delivery
// then return an error wrapping pubsub.ErrLeaseLost. The same holds when
// the client's stream fails with an error that ends its Receive: the
// client can no longer acknowledge what that stream delivered.
//
// ExtendDoneDeadline(d) sends nothing to Pub/Sub: the client is already
// extending the ack deadline. It moves the end of the lease to d from now
// (never earlier than it was) and returns nil. A lease ends
// Receive.MaxExtension after the delivery at the latest: asked for more,
// ExtendDoneDeadline extends to that point and returns an error wrapping
// [ErrExtensionLimit]. ExtendDoneDeadline(0) hands the message back, like
// Nack. The subscriber reports its lease (pubsub.LeaseReporter), so
// pubsub.Consume extends in time. Consume extends by a whole lease, so
// with Receive.Lease at its default (MaxExtension) it asks for more than
// is left once a handler has run for a quarter of MaxExtension, and logs
// the ErrExtensionLimit it gets; a Receive.Lease well under MaxExtension
// (a minute, say) lets it keep leases quietly until MaxExtension.
//
// # Ordering
//
// On a subscription with message ordering, the client hands the
// subscriber one message of a key at a time, and the subscriber offers
// the next one only once the previous one is settled or its lease ended.
// So the first deliveries of a key arrive in publish order. Pub/Sub
// redelivers a Nacked or lapsed message of a key, and the ones after it
// that it had already sent; the client may hand over a later message it
// already holds before that redelivery. This is the contract's ordering
// rule; pubsub.WithOrderedKeys makes Consume keep it through retries.
//
// # Stopping
//
// Stop stops fetching at once: it half-closes the client's StreamingPull
// streams, through a stream interceptor of the subscriber's own client
// that keeps the client unaware of it, because the client sends
// acknowledgements only while its streams live. Messages that were
// already on their way still arrive; they, and every message fetched but
// not delivered, are handed back (Nacked) at once. Stop then waits for
// delivered messages to be settled, until its context ends, and hands
// back those still unsettled (its error wraps pubsub.ErrDrainTimeout;
// settling one of them afterwards returns an error wrapping
// pubsub.ErrStopped and pubsub.ErrLeaseLost). Last, it ends the client's
// Receive, which sends the last acknowledgements and Nacks, closes the
// channel and closes the client; if its context has ended, it does not
// wait for that last step, which finishes in the background. A message
// put on a stream in the instant the stream closes can be lost in
// transit: pstest delivers it again only after the stream's ack deadline
// (Receive.MaxDurationPerAckExtension, 60s by default).
//
// # Failures
//
// The client retries what is worth retrying on its stream (Unavailable,
// a dropped connection, a server restart), and the subscriber calls
// Receive again, with backoff from 1s to 30s, after any other error that
// ends it, except the unrecoverable ones: a missing subscription (Err
// wraps pubsub.ErrSubscriptionNotFound), denied access or invalid
// credentials ([ErrPermissionDenied]), and a malformed name or a
// subscription that cannot be pulled from (InvalidArgument,
// FailedPrecondition). Those close the channel and Err reports them.
//
// # Emulators
//
// pstest, the emulator that ships with the client, is what the tests run
// against (scripts/testenv start pubsub). It has no snapshots or Seek,
// ignores retry-policy backoff, accepts stale ack IDs (so an exactly-once
// acknowledgement never fails there), applies no flow control of its own,
// accepts requests of 4 MiB only (set Publish.MaxMessageBytes to match)
// and keeps everything in memory.
package gcp
