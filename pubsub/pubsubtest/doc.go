// Package pubsubtest helps test code built on package pubsub: fakes for unit
// tests, and the conformance suite every pubsub backend must pass. The
// in-memory broker it once held is package mem; pubsubtest is only for
// tests, since it imports package testing.
//
// # Fakes
//
// [TestPublisher] records what code under test publishes and can be told to
// fail; it refuses what a real backend refuses (the reserved attribute
// prefix, invalid UTF-8) and keeps the batch key-order rule.
// [TestSubscriber] delivers a scripted list of [TestMessage] values, which
// record how they were settled. They have no broker behind them: use them
// to unit-test a handler or a publishing path, for instance with
// [pubsub.Consume] over a TestSubscriber. For a test that needs real
// redelivery and leases, use a mem.Broker.
//
// # Conformance suite
//
// [RunConformance] checks a backend against the contract in package pubsub's
// doc. A backend plugs in through a [Harness], which creates topics and
// subscriptions and builds publishers and subscribers against the real
// server. Its [Capabilities] give the ack deadline to expect and the limits
// to test right at (payload bytes, attribute count); a harness whose server
// can be restarted implements [Restarter]. Features the backend cannot
// provide are declared as gaps with a reason ([Feature]); only the cases
// for a declared gap are skipped. A backend without a broker (HTTP push)
// declares [FeatureBacklog]: its Publish returns only once a subscriber
// has settled the message, so the cases then publish in the background,
// keeping each key's publish order, while they subscribe.
//
// The cases cover the round trip of keys, attributes and payloads that
// need the wire encoding, the contract's rules and limits, fan-out,
// competing consumers, batches and their key order, deduplication, Nack,
// lease expiry and extension, independent acknowledgement, per-key order,
// every part of Stop, the error sentinels, a server restart, and a Consume
// part that runs the consumer runner over the backend: retries and a
// dead-letter topic, ordered keys with failures, draining on cancel, and a
// consumer restart that loses nothing.
//
// Each case is a subtest with a stable name, runs in parallel with the
// others, and bounds every wait. Many cases wait for something not to
// happen, so the suite runs faster with a higher -parallel than the default
// GOMAXPROCS; scripts/test passes -parallel 16. [NewMemHarness] runs the
// suite against package mem, under the race detector; the package's own
// tests check that the suite fails brokers whose Nack does nothing or that
// drop attributes.
package pubsubtest
