// Package pubsubtest provides what code built on package pubsub needs to run
// and be tested without a cloud broker: fakes for unit tests, an in-memory
// broker, and the conformance suite every pubsub backend must pass.
//
// # Fakes
//
// [TestPublisher] records what code under test publishes and can be told to
// fail. [TestSubscriber] delivers a scripted list of [TestMessage] values,
// which record how they were settled. They have no broker behind them: use
// them to unit-test a handler or a publishing path, for instance with
// [pubsub.Consume] over a TestSubscriber.
//
// # In-memory broker
//
// [Broker] is a real backend that lives in the process. Examples use it as
// their default, and a service can run against it locally. It keeps the
// pubsub contract:
//
//   - A topic fans each message out to every subscription it has at publish
//     time. A subscription keeps its own backlog, so messages published
//     before a subscriber starts are not lost. The subscribers of one
//     subscription compete for its messages.
//   - Publishing is synchronous. When PublishRaw returns nil, every
//     subscription holds the message. Payload and attributes are copied, so
//     callers may reuse their buffers. Nothing is buffered in the publisher,
//     and backlogs are unbounded: memory is the only limit.
//   - Delivery is at-least-once. Every delivery has a lease that ends after
//     the subscription's ack deadline, counted from the moment the
//     application received the message. A message whose lease ends without
//     Done is delivered again, with the same ID and a higher
//     [pubsub.DeliveryAttempter] count. Nack and ExtendDoneDeadline(0) hand
//     the message back at once, to the front of the queue.
//     ExtendDoneDeadline(d) moves the deadline to d from now. Settling a
//     delivery whose lease already ended has no effect (the message comes
//     again), except that ExtendDoneDeadline then reports [ErrLeaseExpired].
//   - Messages are delivered in publish order. Nacked and lapsed messages
//     jump the queue, so without OrderedKeys the order is best effort. With
//     [SubscriptionConfig].OrderedKeys, a message with key K is not handed
//     to any subscriber while an earlier message with key K is outstanding.
//     Per-key order therefore holds across Nacks, lapsed deadlines and
//     subscribers.
//   - A subscriber leases up to [WithPrefetch] messages at a time, ahead of
//     the application, and holds at most [WithMaxOutstanding] unsettled
//     ones. Its channel is unbuffered. Stop stops fetching and hands the
//     prefetched messages back at once. It then waits up to
//     [WithDrainTimeout] for delivered messages to be settled, hands back
//     any that are not (and reports their number in its error), and closes
//     the channel. After that, settling one of its deliveries returns an
//     error wrapping [pubsub.ErrStopped]. Err is nil after Stop. After
//     [Broker.DeleteSubscription] it wraps [pubsub.ErrSubscriptionNotFound];
//     after [Broker.Close] it wraps [pubsub.ErrClosed].
//   - Missing topics and subscriptions are reported when the publisher or
//     subscriber is created, with errors wrapping [pubsub.ErrTopicNotFound]
//     and [pubsub.ErrSubscriptionNotFound].
//
// The broker has no per-message goroutine or timer. Each subscription has
// one mutex and one goroutine that scans lease deadlines every tenth of the
// ack deadline, between 5ms and 1s. A lapsed message therefore comes back
// that much after its deadline at most. Leases sit in a list kept in
// deadline order, and extended ones in a heap. Throughput is in
// docs/benchmarks.md.
//
// # Conformance suite
//
// [RunConformance] checks a backend against the contract. A backend plugs
// in through a [Harness], which creates topics and subscriptions and builds
// publishers and subscribers. Its [Capabilities] tell the suite the ack
// deadline and drain timeout to expect. Features the backend cannot provide
// are declared as gaps with a reason; only the cases for a declared gap are
// skipped. Each case is a subtest with a stable name, runs in parallel with
// the others, and bounds every wait. The suite passes against Broker under
// the race detector. It fails on purpose-broken brokers whose Nack does
// nothing or that drop attributes; the package's own tests check this.
package pubsubtest
