// Package mem is gizmo's in-memory publish/subscribe broker: the embedded
// default backend of the examples and of local runs, and a real backend for
// tests of code that publishes and consumes. It lives in the process and
// needs nothing else; [Broker] is the whole server, and [Publisher],
// [Subscriber] and [Message] implement the pubsub contract on it.
//
// # Semantics
//
//   - A topic fans each message out to every subscription it has at publish
//     time. A subscription keeps its own backlog, so messages published
//     before a subscriber starts are not lost. The subscribers of one
//     subscription compete for its messages.
//   - Publishing is synchronous. When PublishRaw returns nil, every
//     subscription holds the message. Payload and attributes are copied, so
//     callers may reuse their buffers. Keys and attributes follow the
//     contract's rules (valid UTF-8, the reserved prefix); the broker needs
//     no wire encoding, so every valid message round-trips as is.
//   - Delivery is at-least-once. Every delivery has a lease that ends after
//     the subscription's ack deadline, counted from the moment the
//     application receives the message (or from the fetch, with
//     [SubscriptionConfig].LeaseAtFetch, as SQS counts). A message whose
//     lease ends without Done is delivered again, with the same ID and a
//     higher [pubsub.DeliveryAttempter] count. Nack and
//     ExtendDoneDeadline(0) hand the message back at once, to the front of
//     the queue. ExtendDoneDeadline(d) moves the deadline to d from now.
//     Settling or extending a delivery whose lease already ended changes
//     nothing and returns an error wrapping [pubsub.ErrLeaseLost].
//   - Acknowledgements are independent and synchronous: Done of one message
//     says nothing about another, and when it returns nil the message is
//     gone.
//   - Messages are delivered in publish order. Nacked and lapsed messages
//     jump the queue, so without OrderedKeys the order is best effort. With
//     [SubscriptionConfig].OrderedKeys, a message with key K is not handed
//     to any subscriber while an earlier message with key K is outstanding.
//     Per-key order therefore holds across Nacks, lapsed deadlines and
//     subscribers.
//   - A subscriber leases up to [WithPrefetch] messages at a time, ahead of
//     the application, and holds at most [WithMaxOutstanding] unsettled
//     ones. Its channel is unbuffered. Stop(ctx) stops fetching and hands
//     the prefetched messages back at once. It then waits until delivered
//     messages are settled or ctx is done, hands back any that are not
//     (its error then wraps [pubsub.ErrDrainTimeout]), and closes the
//     channel. After that, settling one of its deliveries returns an error
//     wrapping [pubsub.ErrStopped]. Err is nil after Stop. After
//     [Broker.DeleteSubscription] it wraps [pubsub.ErrSubscriptionNotFound];
//     after [Broker.Close] it wraps [pubsub.ErrClosed].
//   - A publish with [pubsub.WithDeduplicationID] is delivered once per ID
//     within the topic's deduplication window ([WithDeduplicationWindow],
//     five minutes by default); a duplicate is accepted and dropped.
//   - Missing topics and subscriptions are reported when the publisher or
//     subscriber is created, with errors wrapping [pubsub.ErrTopicNotFound]
//     and [pubsub.ErrSubscriptionNotFound].
//
// # Limits
//
// Nothing is persisted: everything is lost when the process ends or the
// broker is closed. A subscription's backlog is unbounded unless
// [SubscriptionConfig].MaxBacklog is set; a publish past that bound fails
// with an error wrapping [ErrBacklogFull], for every subscription at once,
// and a slow consumer then pushes back on its publishers instead of
// filling memory. Messages have no size limit unless [WithMaxMessageBytes]
// or [WithMaxAttributes] sets one, for instance to match the backend used in
// production; a message over it fails with [pubsub.ErrTooLarge].
//
// # Cost
//
// The broker has no per-message goroutine or timer. Each subscription has
// one mutex and one goroutine that scans lease deadlines every tenth of the
// ack deadline, between 5ms and 1s. A lapsed message therefore comes back
// that much after its deadline at most. Leases sit in a list kept in
// deadline order, and extended ones in a heap. Throughput is in
// docs/benchmarks.md.
package mem
