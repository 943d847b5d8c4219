package kafka_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/config"
	"github.com/seed8104ecd5/gizmo/pubsub/kafka"
)

// TestConfigLoad loads a Config with package config, defaults first and
// the environment over them, the way a service does.
func TestConfigLoad(t *testing.T) {
	for k, v := range map[string]string{
		"KAFKA_BROKERS":        "k1:9092,k2:9092",
		"KAFKA_TOPICS":         "orders,refunds",
		"KAFKA_GROUP":          "billing",
		"KAFKA_VERSION":        "3.6.0",
		"KAFKA_CLIENT_ID":      "billing-7",
		"KAFKA_ACKS":           "leader",
		"KAFKA_RETRIES":        "9",
		"KAFKA_RETRY_BACKOFF":  "50ms",
		"KAFKA_INITIAL_OFFSET": "oldest",
		"KAFKA_COMPRESSION":    "zstd",
		"KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
		"KAFKA_SASL_USER":      "svc",
		"KAFKA_SASL_PASSWORD":  "s3cret",
	} {
		t.Setenv(k, v)
	}
	var cfg kafka.Config
	if err := config.Load(t.Context(), &cfg, config.Defaults(), config.Env("")); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Brokers, []string{"k1:9092", "k2:9092"}) || !slices.Equal(cfg.Topics, []string{"orders", "refunds"}) ||
		cfg.Group != "billing" || cfg.Version != "3.6.0" || cfg.ClientID != "billing-7" || cfg.Acks != "leader" ||
		cfg.Retries != 9 || cfg.RetryBackoff != 50*time.Millisecond || cfg.InitialOffset != "oldest" ||
		cfg.Compression != "zstd" || cfg.SASLMechanism != "SCRAM-SHA-512" || cfg.SASLUser != "svc" || cfg.SASLPassword != "s3cret" {
		t.Errorf("loaded %+v", cfg)
	}
	// The defaults the environment did not override.
	if cfg.RevokeTimeout != kafka.DefaultRevokeTimeout || cfg.MaxMessageBytes != kafka.DefaultMaxMessageBytes || cfg.Partitioner != "murmur2" || cfg.CommitInterval != time.Second {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if !reflect.DeepEqual(cfg.WithDefaults(), cfg) {
		t.Error("WithDefaults changed a loaded Config: the default tags and WithDefaults disagree")
	}
	if got := fmtRedacted(t, cfg); strings.Contains(got, "s3cret") {
		t.Errorf("config.Redact shows the SASL password: %s", got)
	}
}

func fmtRedacted(t *testing.T, cfg kafka.Config) string {
	t.Helper()
	b, err := jsonMarshal(config.Redact(cfg))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestConfigLoadErrors: a bad value fails Load with an error naming the
// variable, and the secret stays out of it.
func TestConfigLoadErrors(t *testing.T) {
	for _, tc := range []struct{ env, val, field string }{
		{"KAFKA_ACKS", "most", "KAFKA_ACKS"},
		{"KAFKA_COMPRESSION", "brotli", "KAFKA_COMPRESSION"},
		{"KAFKA_INITIAL_OFFSET", "middle", "KAFKA_INITIAL_OFFSET"},
		{"KAFKA_VERSION", "banana", "KAFKA_VERSION"},
		{"KAFKA_BROKERS", "nohostport", "KAFKA_BROKERS"},
		{"KAFKA_TOPICS", "bad topic", "KAFKA_TOPICS"},
		{"KAFKA_REVOKE_TIMEOUT", "2m", "KAFKA_REVOKE_TIMEOUT"},
		{"KAFKA_SASL_MECHANISM", "GSSAPI", "KAFKA_SASL_MECHANISM"},
		{"KAFKA_RETRY_BACKOFF", "soon", "KAFKA_RETRY_BACKOFF"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv("KAFKA_BROKERS", "k1:9092")
			t.Setenv("KAFKA_SASL_PASSWORD", "hunter2")
			t.Setenv(tc.env, tc.val)
			var cfg kafka.Config
			err := config.Load(t.Context(), &cfg, config.Defaults(), config.Env(""))
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Load = %v, want an error naming %s", err, tc.field)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	ok := kafka.Config{Brokers: []string{"k:9092"}}.WithDefaults()
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults with a broker: %v", err)
	}
	for name, tc := range map[string]struct {
		mod   func(*kafka.Config)
		field string
	}{
		"no broker":          {func(c *kafka.Config) { c.Brokers = nil }, "KAFKA_BROKERS"},
		"idempotent acks":    {func(c *kafka.Config) { c.Idempotent, c.Acks = true, "leader" }, "KAFKA_IDEMPOTENT"},
		"heartbeat":          {func(c *kafka.Config) { c.HeartbeatInterval = c.SessionTimeout }, "KAFKA_HEARTBEAT_INTERVAL"},
		"tls half":           {func(c *kafka.Config) { c.TLS, c.TLSCertFile = true, "c.pem" }, "KAFKA_TLS_KEY_FILE"},
		"tls off":            {func(c *kafka.Config) { c.TLSCAFile = "ca.pem" }, "KAFKA_TLS"},
		"sasl no password":   {func(c *kafka.Config) { c.SASLMechanism, c.SASLUser = "PLAIN", "u" }, "KAFKA_SASL_PASSWORD"},
		"sasl no mechanism":  {func(c *kafka.Config) { c.SASLUser = "u" }, "KAFKA_SASL_MECHANISM"},
		"max message":        {func(c *kafka.Config) { c.MaxMessageBytes = 10 }, "KAFKA_MAX_MESSAGE_BYTES"},
		"negative linger":    {func(c *kafka.Config) { c.Linger = -1 }, "KAFKA_LINGER"},
		"balance":            {func(c *kafka.Config) { c.Balance = "cooperative" }, "KAFKA_BALANCE"},
		"partitioner":        {func(c *kafka.Config) { c.Partitioner = "fnv" }, "KAFKA_PARTITIONER"},
		"max unsettled zero": {func(c *kafka.Config) { c.MaxUnsettled = -5 }, "KAFKA_MAX_UNSETTLED"},
	} {
		c := ok
		tc.mod(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: Validate = %v, want an error naming %s", name, err, tc.field)
		}
	}
}

// TestConstructorsValidate: the constructors refuse a bad Config before
// they connect, naming the field.
func TestConstructorsValidate(t *testing.T) {
	ctx := context.Background()
	bad := kafka.Config{Brokers: []string{"127.0.0.1:1"}, Topics: []string{"t"}, Acks: "most"}
	if _, err := kafka.NewPublisher(ctx, bad); err == nil || !strings.Contains(err.Error(), "KAFKA_ACKS") {
		t.Errorf("NewPublisher = %v", err)
	}
	if _, err := kafka.NewSubscriber(ctx, kafka.Config{Brokers: []string{"127.0.0.1:1"}, Topics: []string{"t"}}); err == nil || !strings.Contains(err.Error(), "KAFKA_GROUP") {
		t.Errorf("NewSubscriber without a group = %v", err)
	}
	two := kafka.Config{Brokers: []string{"127.0.0.1:1"}, Topics: []string{"a", "b"}}
	if _, err := kafka.NewPublisher(ctx, two); err == nil || !strings.Contains(err.Error(), "KAFKA_TOPICS") {
		t.Errorf("NewPublisher with two topics = %v", err)
	}
	var joined interface{ Unwrap() []error }
	if err := (kafka.Config{}).Validate(); !errors.As(err, &joined) {
		t.Errorf("Validate of a zero Config = %v, want every problem joined", err)
	}
}
