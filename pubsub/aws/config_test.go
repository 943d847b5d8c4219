package aws_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/config"
	gaws "github.com/seed8104ecd5/gizmo/pubsub/aws"
)

func TestConfigLoadsFromEnvironment(t *testing.T) {
	t.Setenv("ORDERS_SQS_QUEUE", "orders.fifo")
	t.Setenv("ORDERS_SQS_TOPIC", "arn:aws:sns:eu-west-1:123456789012:orders.fifo")
	t.Setenv("ORDERS_SQS_REGION", "eu-west-1")
	t.Setenv("ORDERS_SQS_ENDPOINT", "http://127.0.0.1:4566")
	t.Setenv("ORDERS_SQS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("ORDERS_SQS_SECRET_ACCESS_KEY", "very-secret")
	t.Setenv("ORDERS_SQS_RECEIVERS", "16")
	t.Setenv("ORDERS_SQS_VISIBILITY_TIMEOUT", "2m")
	t.Setenv("ORDERS_SQS_HEARTBEAT", "20s")
	t.Setenv("ORDERS_SQS_GIZMO_COMPAT", "true")
	var cfg gaws.Config
	if err := config.Load(t.Context(), &cfg, config.Defaults(), config.Env("ORDERS_SQS")); err != nil {
		t.Fatal(err)
	}
	want := gaws.Config{
		Region: "eu-west-1", Endpoint: "http://127.0.0.1:4566",
		AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "very-secret",
		RoleSessionName: "gizmo", RetryMaxAttempts: 3,
		Queue: "orders.fifo", Topic: "arn:aws:sns:eu-west-1:123456789012:orders.fifo", GizmoCompat: true,
		Receivers: 16, BatchSize: 10, WaitTime: 20 * time.Second, VisibilityTimeout: 2 * time.Minute,
		Heartbeat: 20 * time.Second, MaxExtension: 30 * time.Minute, DeleteDelay: 50 * time.Millisecond,
	}
	if cfg != want {
		t.Errorf("loaded\n%+v\nwant\n%+v", cfg, want)
	}
	if s := fmt.Sprint(config.Redact(cfg)); strings.Contains(s, "very-secret") {
		t.Errorf("config.Redact shows the secret key: %s", s)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		env, value, field string
	}{
		{"BATCH_SIZE", "11", "BATCH_SIZE"},
		{"WAIT_TIME", "21s", "WAIT_TIME"},
		{"WAIT_TIME", "1500ms", "WAIT_TIME"},
		{"VISIBILITY_TIMEOUT", "13h", "VISIBILITY_TIMEOUT"},
		{"VISIBILITY_TIMEOUT", "2.5s", "VISIBILITY_TIMEOUT"},
		{"HEARTBEAT", "20s", "HEARTBEAT"}, // more than half of the default 30s
		{"QUEUE", "not a queue", "QUEUE"},
		{"QUEUE", "https://", "QUEUE"},
		{"TOPIC", "arn:aws:sns:x", "TOPIC"},
		{"ENDPOINT", "localhost:4566", "ENDPOINT"},
		{"ACCESS_KEY_ID", "AKID", "SECRET_ACCESS_KEY"},
		{"ROLE_ARN", "admin", "ROLE_ARN"},
		{"MAX_MESSAGE_BYTES", "2000000", "MAX_MESSAGE_BYTES"},
		{"RECEIVERS", "-1", "RECEIVERS"},
	} {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			t.Setenv("SVC_"+tc.env, tc.value)
			var cfg gaws.Config
			err := config.Load(t.Context(), &cfg, config.Defaults(), config.Env("SVC"))
			var ce *config.Error
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Load = %v, want a *config.Error naming %s", err, tc.field)
			}
		})
	}
}

func TestConfigZeroValueMeansDefaults(t *testing.T) {
	var zero gaws.Config
	if err := zero.Validate(); err != nil {
		t.Fatalf("the zero Config: %v", err)
	}
	d := zero.WithDefaults()
	if d.Receivers != gaws.DefaultReceivers || d.BatchSize != 10 || d.WaitTime != 20*time.Second ||
		d.VisibilityTimeout != 30*time.Second || d.Heartbeat != 30*time.Second/4 || d.MaxInFlight != (d.Receivers+1)*d.BatchSize {
		t.Errorf("WithDefaults of the zero Config = %+v", d)
	}
	// Defaults that depend on other fields follow them.
	d = gaws.Config{VisibilityTimeout: 8 * time.Second, Receivers: 2, BatchSize: 5}.WithDefaults()
	if d.Heartbeat != 2*time.Second || d.MaxInFlight != 15 {
		t.Errorf("Heartbeat %v, MaxInFlight %d; want 2s (a quarter of the lease) and 15 (a batch more than receivers times batch)", d.Heartbeat, d.MaxInFlight)
	}
}

func TestConstructorsValidate(t *testing.T) {
	ctx := t.Context()
	bad := gaws.Config{Queue: "q", Topic: "t", BatchSize: 50}
	if _, err := gaws.NewSubscriber(ctx, bad); err == nil || !strings.Contains(err.Error(), "BATCH_SIZE") {
		t.Errorf("NewSubscriber with a bad Config = %v, want an error naming BATCH_SIZE", err)
	}
	if _, err := gaws.NewSQSPublisher(ctx, bad); err == nil || !strings.Contains(err.Error(), "BATCH_SIZE") {
		t.Errorf("NewSQSPublisher with a bad Config = %v, want an error naming BATCH_SIZE", err)
	}
	if _, err := gaws.NewSNSPublisher(ctx, bad); err == nil || !strings.Contains(err.Error(), "BATCH_SIZE") {
		t.Errorf("NewSNSPublisher with a bad Config = %v, want an error naming BATCH_SIZE", err)
	}
	noQueue := gaws.Config{Region: "us-east-1", Endpoint: "http://127.0.0.1:1", AccessKeyID: "a", SecretAccessKey: "b"}
	if _, err := gaws.NewSubscriber(ctx, noQueue); err == nil || !strings.Contains(err.Error(), "QUEUE") {
		t.Errorf("NewSubscriber without a queue = %v, want an error naming QUEUE", err)
	}
}

// ExampleConfig loads the adapter's configuration with package config:
// defaults from the struct tags, then the environment under a prefix.
func ExampleConfig() {
	// In a real service these come from the deployment.
	env := map[string]string{
		"BILLING_SQS_REGION":             "eu-west-1",
		"BILLING_SQS_QUEUE":              "billing-events",
		"BILLING_SQS_RECEIVERS":          "8",
		"BILLING_SQS_VISIBILITY_TIMEOUT": "1m",
	}
	for k, v := range env {
		setenv(k, v)
	}
	defer func() {
		for k := range env {
			unsetenv(k)
		}
	}()

	var cfg gaws.Config
	err := config.Load(context.Background(), &cfg, config.Defaults(), config.Env("BILLING_SQS"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("queue:", cfg.Queue, "in", cfg.Region)
	fmt.Println("receivers:", cfg.Receivers, "batch:", cfg.BatchSize, "wait:", cfg.WaitTime)
	fmt.Println("lease:", cfg.VisibilityTimeout, "heartbeat:", cfg.WithDefaults().Heartbeat)

	// Output:
	// queue: billing-events in eu-west-1
	// receivers: 8 batch: 10 wait: 20s
	// lease: 1m0s heartbeat: 15s
}
