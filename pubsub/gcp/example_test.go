package gcp_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"

	"github.com/seed8104ecd5/gizmo/config"
	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/gcp"
)

// Example publishes three messages and consumes them with pubsub.Consume,
// against pstest, the emulator that ships with the client library, run in
// this process. Config.Create makes the topic and the subscription.
func Example() {
	srv := pstest.NewServerWithAddress("127.0.0.1:0")
	defer srv.Close()

	cfg := gcp.DefaultConfig()
	cfg.ProjectID = "example"
	cfg.EmulatorHost = srv.Addr
	cfg.Topic, cfg.Subscription = "orders", "billing"
	cfg.Create.Topic, cfg.Create.Subscription = true, true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The subscriber first: a subscription receives what is published
	// after it exists.
	sub, err := gcp.NewSubscriber(ctx, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	pub, err := gcp.NewPublisher(ctx, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pub.Close()
	batch := []pubsub.Message{
		{Key: "customer-7", Payload: []byte("apple"), Attributes: map[string]string{"line": "1"}},
		{Key: "customer-7", Payload: []byte("pear"), Attributes: map[string]string{"line": "2"}},
		{Key: "customer-9", Payload: []byte("plum"), Attributes: map[string]string{"line": "1"}},
	}
	if err := pub.PublishBatch(ctx, batch); err != nil {
		fmt.Println(err)
		return
	}

	var mu sync.Mutex
	var got []string
	err = pubsub.Consume(ctx, sub, func(_ context.Context, m pubsub.SubscriberMessage) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, fmt.Sprintf("%s: %s (line %s)", m.Key(), m.Message(), m.Attributes()["line"]))
		if len(got) == len(batch) {
			cancel()
		}
		return nil
	}, pubsub.WithDrainTimeout(5*time.Second))
	fmt.Println("Consume:", err)
	slices.Sort(got)
	for _, line := range got {
		fmt.Println(line)
	}
	// Output:
	// Consume: <nil>
	// customer-7: apple (line 1)
	// customer-7: pear (line 2)
	// customer-9: plum (line 1)
}

// ExampleConfig loads a Config with package config: the defaults from the
// struct tags, then a JSON file, then the environment under a prefix.
func ExampleConfig() {
	dir, err := os.MkdirTemp("", "gcp-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "pubsub.json")
	doc := `{"project_id": "shop", "topic": "orders", "subscription": "billing",
	         "publish": {"ordering": true},
	         "receive": {"max_outstanding_messages": 100, "lease": "2m"}}`
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		fmt.Println(err)
		return
	}
	var cfg gcp.Config
	err = config.Load(context.Background(), &cfg,
		config.Defaults(),
		config.File(file),
		config.Env("EXAMPLE_PUBSUB")) // EXAMPLE_PUBSUB_TOPIC=... and so on
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.ProjectID, cfg.Topic, cfg.Subscription)
	fmt.Println("ordering:", cfg.Publish.Ordering, "batch delay:", cfg.Publish.DelayThreshold)
	fmt.Println("outstanding:", cfg.Receive.MaxOutstandingMessages, "lease:", cfg.Receive.Lease, "max extension:", cfg.Receive.MaxExtension)

	cfg.Receive.Lease = 2 * time.Hour
	fmt.Println(cfg.Validate())
	// Output:
	// shop orders billing
	// ordering: true batch delay: 10ms
	// outstanding: 100 lease: 2m0s max extension: 1h0m0s
	// gcp: invalid config: Receive.Lease is 2h0m0s: want 0 (MaxExtension) up to Receive.MaxExtension (1h0m0s)
}
