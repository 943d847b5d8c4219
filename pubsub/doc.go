// Package pubsub is gizmo's portable publish/subscribe contract.
//
// It defines the interfaces every backend implements ([Publisher],
// [MultiPublisher], [Subscriber] and [SubscriberMessage]), the message
// semantics they share, and [Consume], the context-based consumer runner that
// turns any [Subscriber] into a well-behaved queue-consumer daemon. The package
// imports no cloud SDK; backends live in the sub-packages aws, gcp, kafka and
// http, and the in-memory broker, fakes and conformance suite live in
// pubsubtest.
//
// # Delivery semantics
//
// Delivery is at-least-once on every backend. A message that is not
// acknowledged with [SubscriberMessage.Done] comes back: after
// [SubscriberMessage.Nack], after its deadline (visibility timeout, ack
// deadline), after the consumer restarts, or after a rebalance. Done
// acknowledges that one message alone and is idempotent. Handlers must
// therefore be idempotent, or deduplicate by [SubscriberMessage.ID].
//
// Keys and attributes round-trip on every backend. A backend that cannot do
// something a caller asks for returns an error wrapping [ErrNotSupported]; it
// never silently ignores the request.
//
// # Consuming
//
// [Consume] runs a [Handler] over a Subscriber's messages until its context
// is cancelled. A nil result acknowledges the message. An error is retried
// in-process with exponential backoff and jitter ([RetryPolicy]); after the
// last attempt the message goes to the dead-letter [Publisher] given with
// [WithDeadLetter], with attributes naming the failure, or is Nacked when
// there is none, so it is never dropped. Retrying in-process, rather than
// by Nack, keeps per-key order ([WithOrderedKeys]) and exact attempt counts
// on every backend, Kafka included. A panic in a handler counts as a failed
// attempt. Cancelling the context stops fetching, Nacks what was received
// but not started, lets running handlers finish within the drain timeout,
// stops the subscriber and returns its terminal error.
//
// # Stopping
//
// [Subscriber.Stop] stops fetching, hands messages that were prefetched but
// not yet delivered back to the broker at once, waits (up to a backend-defined
// deadline) for delivered messages to be Done or Nacked, and then closes the
// channel returned by [Subscriber.Start]. It is safe to call more than once.
// [Subscriber.Err] is nil after a clean stop and holds the terminal error
// otherwise.
package pubsub
