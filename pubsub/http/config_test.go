package http_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/config"
	pubsubhttp "github.com/seed8104ecd5/gizmo/pubsub/http"
)

// TestConfigLoad fills a Config from the default tags, a JSON file and the
// environment with package config.
func TestConfigLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "push.json")
	doc := `{"url": "https://push.example.com/in", "formats": ["raw", "sns"], "attempt_timeout": "45s",
		"sns_topic_arns": ["arn:aws:sns:us-east-1:1:a"], "sns_confirm": true}`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PUSHTEST_SECRET", "from-env")
	t.Setenv("PUSHTEST_ACK_DEADLINE", "3s")
	t.Setenv("PUSHTEST_SNS_TOPIC_ARNS", "arn:aws:sns:us-east-1:1:a,arn:aws:sns:us-east-1:1:b")
	var cfg pubsubhttp.Config
	err := config.Load(context.Background(), &cfg, config.Defaults(), config.File(path), config.Env("PUSHTEST"))
	if err != nil {
		t.Fatal(err)
	}
	want := pubsubhttp.Config{
		URL:               "https://push.example.com/in",
		Format:            pubsubhttp.FormatRaw,
		Timeout:           pubsubhttp.DefaultTimeout,
		AttemptTimeout:    45 * time.Second,
		InitialBackoff:    pubsubhttp.DefaultInitialBackoff,
		MaxBackoff:        pubsubhttp.DefaultMaxBackoff,
		Concurrency:       pubsubhttp.DefaultConcurrency,
		MaxIdleConns:      pubsubhttp.DefaultMaxIdleConns,
		Secret:            "from-env",
		SecretHeader:      pubsubhttp.DefaultSecretHeader,
		MaxPayloadBytes:   pubsubhttp.DefaultMaxPayloadBytes,
		MaxAttributes:     pubsubhttp.DefaultMaxAttributes,
		MaxAttributeBytes: pubsubhttp.DefaultMaxAttributeBytes,
		MaxBodyBytes:      pubsubhttp.DefaultMaxBodyBytes,
		AckDeadline:       3 * time.Second,
		MaxLease:          pubsubhttp.DefaultMaxLease,
		Formats:           []pubsubhttp.Format{pubsubhttp.FormatRaw, pubsubhttp.FormatSNS},
		DedupWindow:       pubsubhttp.DefaultDedupWindow,
		DedupCapacity:     pubsubhttp.DefaultDedupCapacity,
		SNSTopicARNs:      []string{"arn:aws:sns:us-east-1:1:a", "arn:aws:sns:us-east-1:1:b"},
		SNSConfirm:        true,
	}
	if !equalConfig(cfg, want) {
		t.Errorf("loaded\n%+v\nwant\n%+v", cfg, want)
	}
	if _, err := pubsubhttp.NewPublisher(t.Context(), cfg); err != nil {
		t.Errorf("NewPublisher with the loaded Config: %v", err)
	}
	if _, err := pubsubhttp.NewSubscriber(cfg); err != nil {
		t.Errorf("NewSubscriber with the loaded Config: %v", err)
	}
}

func equalConfig(a, b pubsubhttp.Config) bool {
	return reflect.DeepEqual(a, b)
}

// TestConfigLoadErrorsHideTheSecret loads an invalid Config whose secret
// is set: the error names the bad field and never shows the secret.
func TestConfigLoadErrorsHideTheSecret(t *testing.T) {
	t.Setenv("PUSHBAD_SECRET", "hunter2")
	t.Setenv("PUSHBAD_MAX_LEASE", "1s")
	var cfg pubsubhttp.Config
	err := config.Load(context.Background(), &cfg, config.Defaults(), config.Env("PUSHBAD"))
	if err == nil || !strings.Contains(err.Error(), "Config.MaxLease") {
		t.Fatalf("Load = %v, want an error naming Config.MaxLease", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error shows the secret: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := (pubsubhttp.Config{}).Validate(); err != nil {
		t.Errorf("the zero Config (all defaults) = %v, want valid", err)
	}
	for field, cfg := range map[string]pubsubhttp.Config{
		"URL":            {URL: "mailto:a@b"},
		"Format":         {Format: "sns"},
		"Timeout":        {Timeout: -time.Second},
		"MaxBackoff":     {InitialBackoff: time.Second, MaxBackoff: time.Millisecond},
		"MaxLease":       {AckDeadline: time.Minute, MaxLease: time.Second},
		"Concurrency":    {Concurrency: -1},
		"MaxBodyBytes":   {MaxBodyBytes: -1},
		"TLSCertFile":    {TLSKeyFile: "key.pem"},
		"SecretHeader":   {SecretHeader: "Bad Header"},
		"Formats":        {Formats: []pubsubhttp.Format{"raw", "xml"}},
		"SNSConfirm":     {SNSConfirm: true},
		"SNSTopicARNs":   {SNSTopicARNs: []string{"MyTopic"}},
		"DedupCapacity":  {DedupCapacity: -5},
		"AttemptTimeout": {AttemptTimeout: -1},
	} {
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "Config."+field) {
			t.Errorf("%+v: Validate = %v, want an error naming Config.%s", cfg, err, field)
		}
	}
}
