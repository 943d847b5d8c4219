package gcp

import (
	"testing"

	"github.com/seed8104ecd5/gizmo/pubsub/pubsubtest"
)

// TestConformance runs the pubsub conformance suite, the Consume part
// included, against pstest.
func TestConformance(t *testing.T) {
	pubsubtest.RunConformance(t, newHarness(t))
}
