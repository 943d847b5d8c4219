// Package testservers holds the small programs scripts/testenv builds to
// give gizmo's adapter tests real protocol servers on 127.0.0.1: a Kafka
// broker (franz-go's kfake) and a Google Cloud Pub/Sub emulator (pstest).
// It is a module of its own, so that these test-only dependencies stay out
// of gizmo's go.mod; nothing in gizmo imports it.
package testservers
