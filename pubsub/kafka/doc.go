// Package kafka is gizmo's pubsub adapter for Apache Kafka (and brokers
// that speak its protocol), on github.com/IBM/sarama. [Publisher] writes
// to a topic, [Subscriber] is a member of a consumer group over one or
// more topics, and [Reader] replays one partition outside any group. All
// take a [Config], which package config can load from KAFKA_* variables,
// JSON or Consul. Each package doc rule of pubsub maps onto Kafka as
// follows.
//
// # Publishing
//
// Publish and PublishRaw return once the record is acknowledged by the
// replicas Config.Acks names ("all" by default; "leader"; "none" returns
// once the record is sent). A failed produce is retried Config.Retries
// times with a doubling backoff; Config.Idempotent makes those retries
// write the record once. Publishes go through sarama's asynchronous
// producer with one request in flight per broker, so concurrent publishes
// share requests and a partition's records are written in the order they
// were handed over. Config.Linger turns on throughput mode: the producer
// waits up to that long (or for Config.BatchMessages records) to fill a
// batch, and every publish still waits for its own record. Config.Compression
// compresses batches. Close flushes what is buffered and waits for it.
//
// The key is the record key and picks the partition (Config.Partitioner,
// by default the Java client's murmur2, so that Java and Go producers put
// a key on the same partition); the empty key is a null key, and such a
// record goes to a random partition. Attributes are record headers; the
// payload is the record value, as is. No wire encoding is needed: Kafka
// carries any bytes, so the attribute gizmo-key and the body flag are never
// written. PublishBatch hands the whole batch to the producer at once (as
// sarama's SendMessages does) and reports an error per message; a message
// that fails validation or the size limit fails before anything is sent,
// and so do the later messages of its key ([pubsub.ErrKeyBlocked]).
//
// # Limits
//
// A record is limited to Config.MaxMessageBytes (1,000,000 by default) as
// sarama counts it: key, value, each header's name and value plus 10
// bytes, and 36 bytes of overhead. So the largest payload with no key and
// no header is 999,964 bytes. A larger record fails with
// [pubsub.ErrTooLarge] before it is sent. The number of headers is not
// limited. [pubsub.WithDeduplicationID] fails with
// [pubsub.ErrNotSupported]: Kafka deduplicates only the idempotent
// producer's own retries. A topic that does not exist fails NewPublisher
// with [pubsub.ErrTopicNotFound], unless Config.AutoCreateTopics lets the
// brokers create it.
//
// # Delivery and ordering
//
// Delivery is at-least-once. A Subscriber reads each partition it is
// assigned in a goroutine of its own, so partitions are delivered
// concurrently, and delivers a partition's records in offset order on one
// channel, which buffers 64 messages: the first delivery of each record of
// a partition (and so of a key) comes in the order the records were
// written. sarama reads ahead; what it read, and what waits in the
// channel's buffer when the subscriber stops, is never delivered by this
// subscriber, and is read again by the partition's next owner.
//
// # Acknowledgement and commits
//
// Done marks a record. Kafka keeps one committed offset per partition and
// group, so the Subscriber keeps a watermark per partition: the offset of
// the oldest record read and not yet Done. Only the watermark is marked
// (sarama's MarkOffset, which only moves forward), and marks are committed
// every Config.CommitInterval and when a partition is given up. The
// committed offset therefore never passes a record that is not Done: after
// a crash, a restart or a rebalance, a record that was not Done is always
// delivered again, and one that was Done may be, if a record before it was
// not, or if its commit had not happened yet. Acknowledgements are not
// independent: one record left unsettled (say, one that pubsub.Consume
// received just as it was stopping, and handed back) holds back the
// commit of every later record of its partition, and a restart delivers
// them all again. Done returns before the commit; [Message.DoneWait] waits
// until the coordinator has an offset past the record.
//
// Nack hands the record back inside the process: the same subscriber
// delivers it again, before newer records of its partition, and the
// watermark stays at or below it until it is Done. So a Nacked record is
// never lost and never committed past. A partition holds at most
// Config.MaxUnsettled records from its oldest unsettled one on; beyond,
// it waits.
//
// Kafka does not count deliveries: DeliveryAttempt is 0, unknown, and
// [pubsub.Consume] counts a redelivered record's attempts from 1 again. ID
// is "topic/partition/offset", the same for every delivery.
//
// # Leases and rebalances
//
// A delivery has no deadline. It is the subscriber's until it is settled
// or its partition is revoked, so ExtendDoneDeadline(d) has nothing to
// extend: it returns nil while the delivery is unsettled and its partition
// still this subscriber's, and an error wrapping [pubsub.ErrLeaseLost]
// otherwise; ExtendDoneDeadline(0) is Nack. [Subscriber.Lease] reports
// Config.RevokeTimeout, so that [pubsub.Consume] checks every few seconds
// that the partitions of the messages it holds are still the subscriber's.
//
// When a rebalance revokes a partition, the subscriber stops delivering
// it and waits up to Config.RevokeTimeout for its delivered records to be
// settled; Dones in that time are committed. Then it lets the partition
// go: settling any of its older deliveries returns an error wrapping
// [pubsub.ErrLeaseLost], and marks nothing, so it never commits on the new
// owner's behalf. Everything not committed is delivered again to the new
// owner, from the committed offset. The assignment strategy is
// Config.Balance (range, roundrobin or sticky); every rebalance revokes
// all of a member's partitions, as Kafka's eager protocol does.
//
// # Starting, stopping, failures
//
// A group with no committed offset on a partition starts at its newest
// record (Config.InitialOffset "newest") or its oldest ("oldest").
// [InitGroup] commits those offsets before any member joins, so that a new
// group receives everything produced from then on however late it starts,
// as a subscription of another backend would. [Subscriber.Lag] reports,
// per partition the member owns, the high-water mark, the marked offset
// and the lag.
//
// Stop stops delivering (what sarama read ahead is dropped and will be
// read again by the partitions' next owner), waits until the delivered
// records are settled or its context ends, then commits what is Done,
// leaves the group, and closes the channel. Unsettled records are
// delivered again to the next owner, and Stop's error then wraps
// [pubsub.ErrDrainTimeout]. The next owner gets the partitions once this
// member has left the group, after the drain. After Stop, settles return
// errors wrapping [pubsub.ErrStopped] and [pubsub.ErrLeaseLost].
//
// Broker errors worth retrying (a lost connection, a broker restart, a
// coordinator moving, a rebalance) are retried: the producer as
// Config.Retries says, the subscriber's group sessions with a doubling
// backoff from Config.RetryBackoff up to ten seconds, without limit. A
// subscribed topic that disappears ends the subscriber with an error
// wrapping [pubsub.ErrSubscriptionNotFound]; an authorisation or
// authentication failure ends it with one wrapping
// [pubsub.ErrAccessDenied], and a configuration the brokers refuse with
// their error.
// Connecting fails when no broker answers within Config.DialTimeout (per
// attempt, Config.Retries attempts) or the constructor's context ends, with
// an error naming the brokers.
//
// # Security
//
// Config.TLS turns on TLS (with a CA file, a client certificate, a server
// name). Config.SASLMechanism turns on SASL PLAIN, SCRAM-SHA-256 or
// SCRAM-SHA-512; the SCRAM client is this package's own (RFC 5802,
// without SASLprep, which is exact for ASCII passwords). Config.SASLPassword
// is a secret: package config never prints it.
package kafka
