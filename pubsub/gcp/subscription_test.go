package gcp

import (
	"context"
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	gizmo "github.com/seed8104ecd5/gizmo/pubsub"
)

// createdConfig returns a config whose Create part makes a fresh topic and
// subscription, deleted when the test ends.
func (f *fixture) createdConfig() Config {
	cfg := f.config(f.res.name("topics"), f.res.name("subscriptions"))
	cfg.Create.Topic, cfg.Create.Subscription = true, true
	f.t.Cleanup(func() {
		ctx := context.Background()
		_ = f.res.admin.SubscriptionAdminClient.DeleteSubscription(ctx, &pubsubpb.DeleteSubscriptionRequest{Subscription: cfg.Subscription})
		_ = f.res.admin.TopicAdminClient.DeleteTopic(ctx, &pubsubpb.DeleteTopicRequest{Topic: cfg.Topic})
		if cfg.Create.DeadLetterTopic != "" {
			_ = f.res.admin.TopicAdminClient.DeleteTopic(ctx, &pubsubpb.DeleteTopicRequest{Topic: cfg.Create.DeadLetterTopic})
		}
	})
	return cfg
}

// TestDeadLetterPolicy makes, through Config.Create, a subscription whose
// dead-letter policy allows 5 deliveries. A message Nacked every time is
// seen with delivery attempts 1 to 5 and then arrives on the dead-letter
// topic with its key and attributes; a subscription without the policy
// reports attempt 0.
func TestDeadLetterPolicy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.createdConfig()
	cfg.Create.DeadLetterTopic = f.res.name("topics")
	cfg.Create.MaxDeliveryAttempts = 5
	r := f.subscriber(cfg) // creates the topics and the subscription
	deadSub := f.res.sub(t, cfg.Create.DeadLetterTopic, nil)
	plainSub := f.res.sub(t, cfg.Topic, nil)
	p := f.publisher(cfg)
	f.publish(p, "poison-key", "poison", gizmo.WithAttribute("kind", "poison"))

	ch := r.Start()
	for want := 1; want <= 5; want++ {
		m := recv(t, ch, fmt.Sprintf("delivery %d", want))
		if got := m.DeliveryAttempt(); got != want {
			t.Errorf("delivery %d reports attempt %d", want, got)
		}
		if err := m.Nack(); err != nil {
			t.Fatalf("Nack: %v", err)
		}
	}
	dead := recv(t, f.subscriber(f.config("", deadSub)).Start(), "the message on the dead-letter topic")
	if string(dead.Message()) != "poison" || dead.Key() != "poison-key" || dead.Attributes()["kind"] != "poison" {
		t.Errorf("dead letter: payload %q key %q attributes %q, want the poison message", dead.Message(), dead.Key(), dead.Attributes())
	}
	_ = dead.Done()
	expectNone(t, ch, 2*time.Second, "the dead-lettered message came back to its subscription")

	plain := recv(t, f.subscriber(f.config("", plainSub)).Start(), "the message on a subscription without a dead-letter policy")
	if got := plain.DeliveryAttempt(); got != 0 {
		t.Errorf("DeliveryAttempt without a dead-letter policy = %d, want 0", got)
	}
	_ = plain.Done()
}

// TestFilter makes, through Config.Create, a subscription with a filter on
// a user attribute: only matching messages are delivered.
func TestFilter(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.createdConfig()
	cfg.Create.Filter = `attributes.kind = "keep"`
	r := f.subscriber(cfg)
	p := f.publisher(cfg)
	want := make(map[string]bool)
	for i := range 10 {
		kind := "drop"
		if i%2 == 0 {
			kind = "keep"
		}
		payload := fmt.Sprintf("%s-%d", kind, i)
		if kind == "keep" {
			want[payload] = true
		}
		f.publish(p, "k", payload, gizmo.WithAttribute("kind", kind))
	}
	ch := r.Start()
	for len(want) > 0 {
		m := recv(t, ch, fmt.Sprintf("the matching messages (%d missing)", len(want)))
		if !want[string(m.Message())] {
			t.Errorf("delivered %q, which the filter excludes", m.Message())
		}
		delete(want, string(m.Message()))
		_ = m.Done()
	}
	expectNone(t, ch, 2*time.Second, "a message the filter excludes was delivered")
}
