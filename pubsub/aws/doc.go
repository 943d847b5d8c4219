// Package aws is gizmo's pubsub adapter for Amazon SNS and SQS, on
// aws-sdk-go-v2. [SNSPublisher] publishes to a topic, [SQSPublisher] sends
// to a queue, and [Subscriber] receives from a queue, whether SNS delivers
// to it (raw or in its JSON envelope) or producers send to it directly.
// [Config] configures all three and loads with package config; the
// Ensure helpers create queues, topics and subscriptions for development
// and tests.
//
// # Delivery
//
// Delivery is at-least-once. A received message is invisible to other
// consumers for the visibility timeout (Config.VisibilityTimeout, asked
// for on every receive: the lease). It comes back if it is not deleted
// before that ends: after Nack (at once, or after Config.NackDelay), after
// its lease lapses, or after the consumer stops or crashes. The subscriber
// keeps the lease of every message it holds with a heartbeat
// (ChangeMessageVisibilityBatch every Config.Heartbeat), for prefetched
// messages until they are delivered and for delivered ones until they are
// settled or Config.MaxExtension has passed. ExtendDoneDeadline extends
// one message by hand, rounded up to whole seconds; it makes no call when
// the lease already lasts long enough.
//
// Settling a message whose lease is gone (Done, Nack, ExtendDoneDeadline)
// returns an error wrapping [pubsub.ErrLeaseLost]. The subscriber knows a
// lease is gone when its visibility timeout has passed by this process's
// clock (counted from the start of the receive, an early bound), when SQS
// rejects the receipt handle, or when SQS delivers the same message again
// while the earlier delivery is held: the redelivery is proof even when
// SQS's clock ran ahead of ours.
//
// Done deletes. Deletes go in batches (DeleteMessageBatch) of up to ten,
// sent when full or Config.DeleteDelay after the first Done, with as many
// calls in flight as there are receivers (at least four), so that deletes
// keep pace with receives. Done returns once the delete is queued;
// [Message.DoneWait] (see [pubsub.DoneWait]) waits for SQS to confirm it.
// The heartbeat keeps the message's lease until then. A batch entry or
// call that fails is retried for about three seconds; a delete that still
// fails is logged at Error and counted ([Stats].DeleteFailures, also a
// Prometheus counter with [WithRegisterer]), and its message comes back
// when its visibility ends. Nothing is dropped silently.
//
// # Receiving
//
// Start runs Config.Receivers long polls at once, each for up to
// Config.BatchSize messages and Config.WaitTime, and one goroutine that
// hands the messages, in the order received, to the unbuffered channel.
// At most Config.MaxInFlight messages are in flight in the subscriber at
// once, from their receive until their delete (or hand-back). SQS
// counts a lease from the receive, so a prefetched message is kept alive
// by the heartbeat and is never delivered with less than half its lease
// left. Receive errors are retried with a jittered backoff of up to three
// seconds; only a missing queue (the error wraps
// [pubsub.ErrSubscriptionNotFound]) or denied access ([ErrAccessDenied])
// ends the subscriber, through Err.
//
// Stop(ctx) stops receiving and hands the prefetched messages back at once
// (visibility 0). It waits until the delivered messages are settled or ctx
// is done, hands back those still unsettled (its error then wraps
// [pubsub.ErrDrainTimeout]), sends the last deletes and closes the channel;
// a second call waits for the first. A long poll in flight is not cut
// short: SQS would still take messages for a dropped request and hide
// them for a whole visibility timeout. It ends within WaitTime, after Stop
// has returned, and hands back at once whatever it got. Each such hand-back
// counts as a receive in ApproximateReceiveCount, so a redrive policy's
// maxReceiveCount should leave room for it.
//
// # Ordering
//
// A standard queue keeps no order. A FIFO queue (a name ending in
// ".fifo") delivers each message group in order and holds back a group
// while one of its messages is in flight, so the contract's ordering rule
// holds per key: first deliveries arrive in publish order, and a Nacked
// message comes back before the later ones of its key. [pubsub.Consume]
// with WithOrderedKeys keeps that order through its concurrency and
// retries.
//
// # Messages on the wire
//
// A payload that is non-empty UTF-8 of the characters SQS accepts goes
// as the body as it is; any other (binary, empty) goes in base64 with the
// attribute gizmo-enc, by package pubsub's wire rules. Attributes become
// String message attributes; a name or value SQS cannot carry travels
// under an escaped name. The key travels as the attribute gizmo-key. The
// subscriber undoes all of it, so Attributes holds exactly what was
// published. It unwraps an SNS envelope (a JSON body with Type
// "Notification" and no SQS message attributes of its own) and takes the
// attributes from it; raw delivery carries them as SQS attributes.
// Attributes of other producers with the Binary data type are given in
// standard base64. A message whose encoding is malformed is delivered
// with its body as the payload and [Message.DecodeError] set.
//
// The ID is the SNS MessageId when the message came in an envelope, and
// the SQS MessageId otherwise; both survive redelivery. DeliveryAttempt is
// SQS's ApproximateReceiveCount.
//
// On a FIFO queue or topic the key is also the MessageGroupId. A key that
// cannot be one (more than 128 characters, or characters other than
// printable ASCII) is hashed into one, and a message with no key gets a
// group of its own, so it is not ordered with others. The deduplication ID
// is the one given with [pubsub.WithDeduplicationID] (hashed if SQS would
// refuse it), or else a SHA-256 of the key, payload and attributes, so
// that only an identical message is dropped within SQS's five-minute
// window. A deduplication ID on a standard queue or topic fails with an
// error wrapping [pubsub.ErrNotSupported].
//
// # Limits
//
// A message may carry at most ten attributes on the wire, gizmo's key
// and encoding flag included: eight of its own with a key and a binary
// payload. Its size, counted as AWS does (the body plus each attribute's
// name, data type and value), may be at most 1 MiB on SQS and 256 KiB on
// SNS, or Config.MaxMessageBytes if lower; an escaped attribute name may
// be at most 256 bytes. Anything over a limit fails before it is sent,
// with an error wrapping [pubsub.ErrTooLarge].
//
// # Publishing
//
// Publish and PublishRaw return once SQS or SNS has accepted the message.
// PublishBatch sends ten messages per SendMessageBatch or PublishBatch
// call (and at most 1 MiB or 256 KiB), calls one after another in order.
// It reports an error per message, retries entries that failed for a
// reason worth retrying (a server fault, throttling) up to three times,
// and never sends a message of a key after an earlier one of that key
// failed. On a FIFO queue or topic a call holds at most one message of a
// key, so that no failure is ever followed by a later message of its key
// in the same call; a batch of one key therefore takes a call per
// message. On a standard queue, which keeps no order, messages of one key
// share calls. The SDK retries a failed call (Config.RetryMaxAttempts); a
// call that still fails is reported, and the next publish tries again.
//
// # Gizmo's format
//
// Config.GizmoCompat reads and writes the format of NYT Gizmo's AWS
// adapter, so that services can move over one at a time. Publishers then
// always send the body in base64 (still flagged with gizmo-enc, so that
// subscribers without the option read it too), and the SNS publisher
// also puts the key in the Subject, which takes at most 99 characters and
// no control characters; a key that cannot be a Subject fails with an
// error wrapping [pubsub.ErrInvalidMessage]. Subscribers read a body
// without the flag as base64, and take the key from the envelope's
// Subject when there is no gizmo-key attribute.
//
// # Underneath
//
// Constructors take a [Config] and options; they check that the queue or
// topic exists and return an error wrapping [pubsub.ErrTopicNotFound] or
// [pubsub.ErrSubscriptionNotFound] if not (a caller without permission to
// read its attributes is trusted). [Message.SQS] returns the SDK's
// message and [Message.Envelope] the SNS envelope. [WithSQSClient] and
// [WithSNSClient] share clients between publishers and subscribers.
package aws
