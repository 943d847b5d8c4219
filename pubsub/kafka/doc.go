// Package kafka will hold gizmo's pubsub adapter for Kafka, on IBM/sarama, with consumer groups.
//
// It is not implemented yet: this package exports nothing, so nothing can
// depend on it by mistake. When it lands it will have the shape every adapter
// has (config.go, publisher.go, subscriber.go), state its delivery semantics
// here, and pass the shared conformance suite in pubsub/pubsubtest against a
// real server started by scripts/testenv.
package kafka
