// Package http is gizmo's pubsub backend over plain HTTP, with no broker:
// a [Publisher] POSTs each message to a URL, and a [Subscriber] is the
// [net/http.Handler] at that URL, which delivers the message on its
// channel and answers the request once the message is settled. The
// subscriber also takes Google Cloud Pub/Sub push requests and Amazon SNS
// HTTP(S) notifications, so a service can consume push subscriptions and
// webhooks with [pubsub.Consume]. Import it under another name, such as
// pubsubhttp.
//
// # Mounting
//
// On a plain mux, with the delivery channel consumed by pubsub.Consume:
//
//	sub, err := pubsubhttp.NewSubscriber(cfg)
//	mux := http.NewServeMux()
//	mux.Handle("POST /push", sub)
//	go http.Serve(ln, mux)
//	err = pubsub.Consume(ctx, sub, handle)
//
// On a server.SimpleServer, as one endpoint of a service, with the
// subscriber's readiness in the server's:
//
//	srv.Register(pushService{sub}) // Endpoints: {Method: "POST", Path: "", Handler: sub}
//	srv.AddReadinessCheck("push", sub.Ready)
//	go srv.Run(ctx)
//	err = pubsub.Consume(ctx, sub, handle)
//
// The package example shows both in full.
//
// # The exchange
//
// A publish is one request, retried until the subscriber accepts it:
//
//   - The subscriber answers 204 once the consumer calls Done. Publish
//     returns only then, so "accepted" means handled: the sender learns
//     the outcome, not merely receipt.
//   - Nack, a lease that lapses (Config.AckDeadline, counted from the
//     request's arrival), a subscriber that stops with the message
//     unsettled, or no consumer taking the message within half its lease,
//     answer 503, and the publisher sends the message again, with the same
//     ID, after a backoff. Where the message had reached a consumer the
//     answer carries the header Gizmo-Delivered, and the next attempt
//     counts as a redelivery ([Message.DeliveryAttempt]).
//   - ExtendDoneDeadline moves the deadline, up to Config.MaxLease from
//     the request's arrival and never past the sender's own patience,
//     which the publisher announces in Gizmo-Timeout.
//
// Other answers: 405 for a method other than POST, 401 for a missing or
// wrong secret or bearer token, 413 for a body over Config.MaxBodyBytes or
// too many or too large attributes, 415 for a format not in
// Config.Formats, 400 with the reason for a request that does not decode,
// 403 for an SNS message with a bad signature or from a topic not allowed,
// and 503 before Start and after Stop. Every refusal is an
// application/problem+json document.
//
// The publisher retries network errors, 429 and 5xx, with exponential
// backoff and jitter (Config.InitialBackoff, MaxBackoff), waiting at least
// as long as a Retry-After header asks. It gives up when the next try
// would start after the publish's deadline: the caller's context or
// Config.Timeout, whichever ends first; each attempt is bounded by
// Config.AttemptTimeout. Any other answer is a permanent error, a
// *[StatusError] naming the status and the start of the body; 404 and 410
// wrap [pubsub.ErrTopicNotFound], 413 wraps [pubsub.ErrTooLarge]. A
// redirect is not followed. Connections are kept alive and reused.
//
// # The raw format
//
// The body is the payload, as is. Headers carry the rest:
//
//	Gizmo-Id: 3f1c…-1k            the message ID (required)
//	Gizmo-Attr-NAME: VALUE         one per wire attribute
//	Gizmo-Attempt: 2               the delivery attempt
//	Gizmo-Timeout: 29999           how long the sender waits, in ms
//
// Header names are case-insensitive, so an attribute name travels as is
// only if it is lower-case letters, digits and '-', and a value only if it
// is printable ASCII without spaces at either end. Any other attribute
// travels under an escaped name, gizmo-x- and the base32hex of its name,
// with its value in base64, and the key as the attribute gizmo-key (see
// package pubsub's doc). The subscriber undoes all of it: Attributes holds
// exactly what was published.
//
// # The Pub/Sub push format
//
// With Config.Format "pubsub" the publisher sends what a Pub/Sub push
// subscription sends:
//
//	{"message": {"data": BASE64, "attributes": {...}, "messageId": ID,
//	  "orderingKey": KEY, "publishTime": TIME},
//	 "subscription": NAME, "deliveryAttempt": N}
//
// The subscriber takes the key from orderingKey, or from the gizmo-key
// attribute where there is none (a topic without ordering, published by
// gizmo's gcp adapter). A Pub/Sub push subscription authenticates with an
// OIDC token: check it with [WithTokenVerifier].
//
// # SNS
//
// With "sns" in Config.Formats the subscriber takes SNS notifications.
// It checks each message's signature against the signing certificate,
// which it fetches only from an SNS host over https ([CheckSNSURL]), unless
// Config.SNSSkipVerify; accepts only the topics in Config.SNSTopicARNs
// when that is set; and answers a SubscriptionConfirmation by visiting its
// SubscribeURL only when Config.SNSConfirm is set and the topic is listed.
// Otherwise a confirmation gets 403 and its SubscribeURL is logged, for a
// person to visit. Message attributes become attributes (Binary ones
// decoded, and refused unless UTF-8); the key is the gizmo-key attribute.
// Raw message delivery is refused: it is neither signed nor carries
// attributes. SNS gives up on an endpoint after about 15 seconds, so keep
// Config.MaxLease below that for SNS.
//
// # The contract on this backend
//
//   - Delivery is at-least-once. A message comes back after Nack, after
//     its lease lapses, after a Stop that did not see it settled, and when
//     the answer to Done is lost (the sender then retries). The
//     subscriber remembers the IDs it acknowledged for Config.DedupWindow
//     (five minutes by default, Config.DedupCapacity at most) and answers
//     a repeat with 204 without delivering it, which removes most of those
//     duplicates; subscribers behind one URL share that memory only
//     through a common [Deduplicator].
//   - Redeliveries keep the message ID, which the publisher makes per
//     message, or takes from pubsub.WithDeduplicationID. A second publish
//     with a deduplication ID the subscriber acknowledged within its
//     window is answered 204 and not delivered.
//   - There is no backlog: a message exists only while its publisher is
//     trying to send it, and Publish blocks until a subscriber settles it
//     (or the publish's deadline passes). Messages published while no
//     subscriber runs wait in their publishers' retries.
//   - A topic is a URL: one endpoint, with no fan-out to several
//     subscriptions. Replicas behind one URL (a load balancer) are
//     competing consumers.
//   - Order: Publish returns only once the message was settled, so the
//     messages one goroutine publishes arrive in order, each after the one
//     before was Done, even across Nacks and redeliveries. PublishBatch
//     sends the messages of one key one after another, and keeps the
//     batch key-order rule (pubsub.ErrKeyBlocked). Concurrent publishes
//     have no order between them.
//   - Acknowledgements are independent: each message is its own request.
//     Done returns before the answer is written; [Message.DoneWait] waits
//     until it is flushed to the connection.
//   - Leases: see the exchange above. The subscriber reports
//     Config.AckDeadline as its lease ([pubsub.LeaseReporter]), and Nack
//     redelivers one message ([pubsub.NackReporter]). Settling after the
//     lease ended returns an error wrapping [pubsub.ErrLeaseLost].
//   - Stop answers 503 at once to new requests and to messages no consumer
//     has taken (the prefetched ones), waits for delivered ones to be
//     settled and answered until its context ends, then hands the rest
//     back with 503 ([pubsub.ErrDrainTimeout]), and closes the channel.
//     Err is always nil: there is no broker to lose.
//   - The subscriber's message gives access to the HTTP request
//     ([Message.Request]) and the parsed envelope ([Message.PubSub],
//     [Message.SNS]).
//
// # Limits
//
// The publisher refuses, with an error wrapping [pubsub.ErrTooLarge] and
// before sending anything, a payload over Config.MaxPayloadBytes (1 MiB),
// more than Config.MaxAttributes attributes (100), and a key and
// attributes over Config.MaxAttributeBytes (64 KiB) as sent, escapes
// included; the subscriber applies the last two, and Config.MaxBodyBytes
// (2 MiB) to the body. Servers and proxies in between have limits of
// their own: server.Config's MaxBodyBytes is 4 MiB and its write timeout
// 30 seconds, which bounds Config.MaxLease, and many proxies refuse
// headers over 8 KiB. A message ID is at most 256 printable ASCII
// characters.
//
// # Security
//
// Config.Secret makes the publisher send a shared secret in
// Config.SecretHeader and the subscriber require it (compared in constant
// time); [WithBearerToken] and [WithHeaders] add headers such as
// Authorization on the publisher, [WithTokenVerifier] checks a bearer
// token on the subscriber. Use https for anything that leaves the host:
// Config.TLSCAFile, TLSCertFile and TLSKeyFile, or [WithTLSConfig], set up
// the publisher's side; the server that mounts the subscriber terminates
// TLS.
package http
