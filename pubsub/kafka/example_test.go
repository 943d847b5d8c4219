package kafka_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/seed8104ecd5/gizmo/config"
	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/kafka"
)

// Example is a queue-consumer daemon on Kafka: it loads its Config from
// KAFKA_* variables, makes sure its group receives everything published
// from now on, and runs pubsub.Consume over a group member until SIGTERM,
// with per-key order and a dead-letter topic. It needs a broker, so it is
// compiled but not run by go test.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))

	var cfg kafka.Config // KAFKA_BROKERS=k1:9092 KAFKA_TOPICS=orders KAFKA_GROUP=billing ...
	if err := config.Load(ctx, &cfg, config.Defaults(), config.Env("")); err != nil {
		log.Error("config", "error", err)
		return
	}
	if err := kafka.InitGroup(ctx, cfg); err != nil {
		log.Error("init group", "error", err)
		return
	}
	dlCfg := cfg
	dlCfg.Topics = []string{cfg.Topics[0] + ".dead-letter"}
	deadLetters, err := kafka.NewPublisher(ctx, dlCfg, kafka.WithLogger(log))
	if err != nil {
		log.Error("dead-letter publisher", "error", err)
		return
	}
	defer deadLetters.Close()
	sub, err := kafka.NewSubscriber(ctx, cfg, kafka.WithLogger(log))
	if err != nil {
		log.Error("subscriber", "error", err)
		return
	}
	err = pubsub.Consume(ctx, sub, func(ctx context.Context, m pubsub.SubscriberMessage) error {
		km, _ := pubsub.MessageAs[*kafka.Message](m)
		log.Info("order", "key", m.Key(), "partition", km.Record().Partition, "offset", km.Record().Offset)
		return nil
	}, pubsub.WithOrderedKeys(), pubsub.WithDeadLetter(deadLetters), pubsub.WithLogger(log))
	log.Info("consumer stopped", "error", err)
}

// ExampleConfig loads a Config the way a service does: the defaults from
// the struct tags, then the environment.
func ExampleConfig() {
	os.Setenv("KAFKA_BROKERS", "k1:9092,k2:9092")
	os.Setenv("KAFKA_TOPICS", "orders")
	os.Setenv("KAFKA_GROUP", "billing")
	os.Setenv("KAFKA_COMPRESSION", "zstd")
	os.Setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
	os.Setenv("KAFKA_SASL_USER", "billing")
	os.Setenv("KAFKA_SASL_PASSWORD", "s3cret")
	defer func() {
		for _, k := range []string{"BROKERS", "TOPICS", "GROUP", "COMPRESSION", "SASL_MECHANISM", "SASL_USER", "SASL_PASSWORD"} {
			os.Unsetenv("KAFKA_" + k)
		}
	}()

	var cfg kafka.Config
	if err := config.Load(context.Background(), &cfg, config.Defaults(), config.Env("")); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("brokers:", cfg.Brokers, "group:", cfg.Group, "topics:", cfg.Topics)
	fmt.Println("acks:", cfg.Acks, "compression:", cfg.Compression, "initial offset:", cfg.InitialOffset)
	fmt.Println("revoke timeout:", cfg.RevokeTimeout, "commit interval:", cfg.CommitInterval)
	fmt.Println("to log:", config.Redact(cfg).(kafka.Config).SASLPassword)

	cfg.Acks = "most"
	fmt.Println(cfg.Validate())

	// Output:
	// brokers: [k1:9092 k2:9092] group: billing topics: [orders]
	// acks: all compression: zstd initial offset: newest
	// revoke timeout: 10s commit interval: 1s
	// to log: [REDACTED]
	// kafka: KAFKA_ACKS: "most" is not all, leader or none
}
