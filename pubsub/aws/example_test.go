package aws_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/seed8104ecd5/gizmo/config"
	"github.com/seed8104ecd5/gizmo/pubsub"
	gaws "github.com/seed8104ecd5/gizmo/pubsub/aws"
)

func setenv(k, v string) { _ = os.Setenv(k, v) }
func unsetenv(k string)  { _ = os.Unsetenv(k) }

// Example is a queue-consumer daemon on AWS: an SNS topic fans out to an
// SQS queue, a publisher sends to the topic, and pubsub.Consume handles the
// queue until SIGTERM. It needs AWS (or an emulator: set
// ORDERS_AWS_ENDPOINT), so it is compiled but not run.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))

	var cfg gaws.Config
	if err := config.Load(ctx, &cfg, config.Defaults(), config.Env("ORDERS_AWS")); err != nil {
		log.Error("configuration", "error", err)
		return
	}

	// For development: make the topic, the queue and the subscription.
	sqsc, err := gaws.NewSQSClient(ctx, cfg)
	if err != nil {
		log.Error("sqs client", "error", err)
		return
	}
	snsc, err := gaws.NewSNSClient(ctx, cfg)
	if err != nil {
		log.Error("sns client", "error", err)
		return
	}
	topic, err := gaws.EnsureTopic(ctx, snsc, "orders", gaws.TopicOptions{})
	if err != nil {
		log.Error("topic", "error", err)
		return
	}
	queue, err := gaws.EnsureQueue(ctx, sqsc, "orders-billing", gaws.QueueOptions{})
	if err != nil {
		log.Error("queue", "error", err)
		return
	}
	if _, err := gaws.EnsureSubscription(ctx, snsc, sqsc, topic, queue, gaws.SubscriptionOptions{RawDelivery: true}); err != nil {
		log.Error("subscription", "error", err)
		return
	}

	pcfg := cfg
	pcfg.Topic = topic
	pub, err := gaws.NewSNSPublisher(ctx, pcfg, gaws.WithSNSClient(snsc), gaws.WithLogger(log))
	if err != nil {
		log.Error("publisher", "error", err)
		return
	}
	defer pub.Close()
	if err := pub.PublishRaw(ctx, "customer-7", []byte(`{"order":42}`), pubsub.WithAttribute("type", "created")); err != nil {
		log.Error("publish", "error", err)
		return
	}

	scfg := cfg
	scfg.Queue = queue
	sub, err := gaws.NewSubscriber(ctx, scfg, gaws.WithSQSClient(sqsc), gaws.WithLogger(log))
	if err != nil {
		log.Error("subscriber", "error", err)
		return
	}
	err = pubsub.Consume(ctx, sub, func(ctx context.Context, m pubsub.SubscriberMessage) error {
		fmt.Printf("%s %s: %s\n", m.Key(), m.Attributes()["type"], m.Message())
		return nil
	}, pubsub.WithLogger(log), pubsub.WithDrainTimeout(20*time.Second))
	if err != nil {
		log.Error("consume", "error", err)
	}
}
