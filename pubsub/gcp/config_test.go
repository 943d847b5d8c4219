package gcp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/config"
)

// TestDefaultConfigMatchesTags holds DefaultConfig to the struct tags that
// config.Defaults applies, so that a Config filled by hand and one loaded
// by package config start alike.
func TestDefaultConfigMatchesTags(t *testing.T) {
	var loaded Config
	if err := config.Load(context.Background(), &loaded, config.Defaults(), setProject{}); err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.ProjectID = "p"
	if !reflect.DeepEqual(loaded, want) {
		t.Errorf("config.Defaults gives\n%+v\nDefaultConfig gives\n%+v", loaded, want)
	}
}

// setProject is a config source that sets the one required field.
type setProject struct{}

func (setProject) Name() string { return "test" }
func (setProject) Load(_ context.Context, v any) error {
	v.(*Config).ProjectID = "p"
	return nil
}

// TestConfigLoad loads a Config the way a service does: defaults, a JSON
// file, then the environment, including the bare PUBSUB_EMULATOR_HOST
// that the Google client libraries read.
func TestConfigLoad(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pubsub.json")
	doc := `{
		"project_id": "from-file",
		"topic": "orders",
		"subscription": "billing",
		"publish": {"ordering": true, "delay_threshold": "25ms"},
		"receive": {"lease": "45s", "exactly_once": true},
		"create": {"subscription": true, "topic": true, "filter": "attributes.kind = \"order\"", "dead_letter_topic": "orders-dead"}
	}`
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SVC_PROJECT_ID", "from-env")
	t.Setenv("SVC_RECEIVE_MAX_OUTSTANDING_MESSAGES", "250")
	t.Setenv("SVC_RECEIVE_NUM_GOROUTINES", "4")
	t.Setenv("SVC_PUBLISH_COUNT_THRESHOLD", "500")
	t.Setenv("SVC_CREATE_MAX_DELIVERY_ATTEMPTS", "7")
	t.Setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085")

	var cfg Config
	err := config.Load(context.Background(), &cfg, config.Defaults(), config.File(file), config.Env("SVC"))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.ProjectID = "from-env"
	want.Topic, want.Subscription = "orders", "billing"
	want.EmulatorHost = "127.0.0.1:8085"
	want.Publish.Ordering = true
	want.Publish.DelayThreshold = 25 * time.Millisecond
	want.Publish.CountThreshold = 500
	want.Receive.Lease = 45 * time.Second
	want.Receive.ExactlyOnce = true
	want.Receive.MaxOutstandingMessages = 250
	want.Receive.NumGoroutines = 4
	want.Create.Topic, want.Create.Subscription = true, true
	want.Create.Filter = `attributes.kind = "order"`
	want.Create.DeadLetterTopic = "orders-dead"
	want.Create.MaxDeliveryAttempts = 7
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("loaded\n%+v\nwant\n%+v", cfg, want)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		field string
		edit  func(*Config)
	}{
		{"ProjectID", func(c *Config) { c.ProjectID = "" }},
		{"Publish.DelayThreshold", func(c *Config) { c.Publish.DelayThreshold = 0 }},
		{"Publish.CountThreshold", func(c *Config) { c.Publish.CountThreshold = 1001 }},
		{"Publish.ByteThreshold", func(c *Config) { c.Publish.ByteThreshold = 0 }},
		{"Publish.Timeout", func(c *Config) { c.Publish.Timeout = -time.Second }},
		{"Publish.NumGoroutines", func(c *Config) { c.Publish.NumGoroutines = -1 }},
		{"Publish.MaxOutstandingMessages", func(c *Config) { c.Publish.MaxOutstandingMessages = 0 }},
		{"Publish.MaxOutstandingBytes", func(c *Config) { c.Publish.MaxOutstandingBytes = 0 }},
		{"Publish.LimitExceeded", func(c *Config) { c.Publish.LimitExceeded = "drop" }},
		{"Publish.MaxMessageBytes", func(c *Config) { c.Publish.MaxMessageBytes = MaxRequestBytes + 1 }},
		{"Receive.MaxOutstandingMessages", func(c *Config) { c.Receive.MaxOutstandingMessages = 0 }},
		{"Receive.MaxOutstandingBytes", func(c *Config) { c.Receive.MaxOutstandingBytes = -2 }},
		{"Receive.NumGoroutines", func(c *Config) { c.Receive.NumGoroutines = 0 }},
		{"Receive.MaxExtension", func(c *Config) { c.Receive.MaxExtension = 0 }},
		{"Receive.MinDurationPerAckExtension", func(c *Config) { c.Receive.MinDurationPerAckExtension = 11 * time.Minute }},
		{"Receive.MaxDurationPerAckExtension", func(c *Config) { c.Receive.MaxDurationPerAckExtension = time.Millisecond }},
		{"Receive.MinDurationPerAckExtension", func(c *Config) {
			c.Receive.MinDurationPerAckExtension, c.Receive.MaxDurationPerAckExtension = time.Minute, 30*time.Second
		}},
		{"Receive.Lease", func(c *Config) { c.Receive.Lease = 2 * time.Hour }},
		{"Receive.Lease", func(c *Config) { c.Receive.Lease = time.Millisecond }},
		{"Create.AckDeadline", func(c *Config) { c.Create.AckDeadline = 0 }},
		{"Create.MaxDeliveryAttempts", func(c *Config) { c.Create.DeadLetterTopic, c.Create.MaxDeliveryAttempts = "dead", 4 }},
		{"Subscription", func(c *Config) { c.Create.Subscription, c.Topic = true, "t" }},
		{"Topic", func(c *Config) { c.Create.Subscription, c.Subscription = true, "s" }},
		{"Topic", func(c *Config) { c.Create.Topic = true }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.ProjectID = "p"
			tc.edit(&cfg)
			err := cfg.Validate()
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.field+" ") {
				t.Fatalf("Validate = %v, want an ErrConfig naming %s", err, tc.field)
			}
			// Through package config, the error names the field too.
			err = config.Load(context.Background(), &cfg)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("config.Load = %v, want it to name %s", err, tc.field)
			}
		})
	}
	good := DefaultConfig()
	good.ProjectID = "p"
	if err := good.Validate(); err != nil {
		t.Errorf("Validate of the defaults with a project = %v", err)
	}
}

// TestCredentialsAreSecret checks that the key in CredentialsJSON never
// shows in a printed configuration or in the error of a client that
// refuses it.
func TestCredentialsAreSecret(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ProjectID = "p"
	cfg.Topic = "t"
	cfg.CredentialsJSON = `{"type": "service_account", "private_key": "TOP-SECRET-KEY"}`
	if s := fmt.Sprintf("%+v", config.Redact(cfg)); strings.Contains(s, "TOP-SECRET-KEY") {
		t.Errorf("config.Redact shows the credentials: %s", s)
	}
	_, err := NewPublisher(t.Context(), cfg)
	if err == nil {
		t.Fatal("NewPublisher accepted a service-account key without a valid private key")
	}
	if strings.Contains(err.Error(), "TOP-SECRET-KEY") {
		t.Errorf("the error shows the credentials: %v", err)
	}
}

func TestNewRequiresNames(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ProjectID = "p"
	if _, err := NewPublisher(t.Context(), cfg); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "Topic") {
		t.Errorf("NewPublisher without a topic = %v, want an error naming Topic", err)
	}
	if _, err := NewSubscriber(t.Context(), cfg); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "Subscription") {
		t.Errorf("NewSubscriber without a subscription = %v, want an error naming Subscription", err)
	}
}
