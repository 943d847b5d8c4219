package mem_test

import (
	"testing"

	"github.com/seed8104ecd5/gizmo/pubsub/mem"
	"github.com/seed8104ecd5/gizmo/pubsub/pubsubtest"
)

func TestConformance(t *testing.T) {
	pubsubtest.RunConformance(t, pubsubtest.NewMemHarness(t, mem.SubscriptionConfig{}))
}

// TestConformanceLeaseAtFetch runs the suite, Consume part included, with
// leases that start at the fetch, as SQS's visibility timeout does.
func TestConformanceLeaseAtFetch(t *testing.T) {
	pubsubtest.RunConformance(t, pubsubtest.NewMemHarness(t, mem.SubscriptionConfig{LeaseAtFetch: true}))
}
