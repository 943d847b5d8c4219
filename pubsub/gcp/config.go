package gcp

import (
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/pubsub/v2"
)

// Pub/Sub's own limits, which a publisher checks before sending.
const (
	// MaxRequestBytes is the largest publish request Pub/Sub accepts, and
	// the default and upper bound of [PublishConfig].MaxMessageBytes.
	MaxRequestBytes = 10_000_000
	// MaxAttributes is the most attributes a Pub/Sub message may carry,
	// counting the ones gizmo adds (see the package doc).
	MaxAttributes = 100
	// MaxAttributeNameBytes bounds the length of an attribute name.
	MaxAttributeNameBytes = 256
	// MaxAttributeValueBytes bounds the length of an attribute value, and
	// so of a key, which travels as one.
	MaxAttributeValueBytes = 1024
	// MaxOrderingKeyBytes bounds the length of an ordering key.
	MaxOrderingKeyBytes = 1024
)

// Config configures a [Publisher] and a [Subscriber]. Load it with package
// config (config.Load with config.Defaults first), or fill it by hand and
// start from [DefaultConfig]. Field names in errors are the Go field paths
// (Receive.MaxExtension).
//
// In the environment, with prefix APP: APP_PROJECT_ID, APP_TOPIC,
// APP_SUBSCRIPTION, APP_PUBLISH_COUNT_THRESHOLD,
// APP_RECEIVE_MAX_OUTSTANDING_MESSAGES, APP_CREATE_FILTER and so on. The
// emulator address is also read from the bare PUBSUB_EMULATOR_HOST, the
// variable the Google client libraries use.
type Config struct {
	// ProjectID is the Google Cloud project that holds the topic and the
	// subscription. Any ID works against an emulator. Required.
	ProjectID string `json:"project_id" split_words:"true"`
	// Topic is the topic ID ("orders") or full name
	// ("projects/p/topics/orders") that a Publisher publishes to and
	// that Create makes subscriptions on.
	Topic string `json:"topic" split_words:"true"`
	// Subscription is the subscription ID or full name a Subscriber
	// receives from.
	Subscription string `json:"subscription" split_words:"true"`
	// EmulatorHost is the host:port of a Pub/Sub emulator (pstest, the
	// gcloud emulator). When set, the client connects to it in plain text
	// and without credentials. When empty, the client libraries still
	// honour PUBSUB_EMULATOR_HOST in the environment themselves.
	EmulatorHost string `json:"emulator_host" envconfig:"PUBSUB_EMULATOR_HOST"`
	// Endpoint overrides the Pub/Sub endpoint (a regional one, or a
	// private service connection). Empty means the default.
	Endpoint string `json:"endpoint" split_words:"true"`
	// CredentialsFile is the path of a service-account key file. Empty
	// means Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS,
	// the metadata server).
	CredentialsFile string `json:"credentials_file" split_words:"true"`
	// CredentialsJSON is a service-account key itself, for deployments
	// that hand secrets over as values. It takes precedence over
	// CredentialsFile.
	CredentialsJSON string `json:"credentials_json" split_words:"true" secret:"true"`

	// Publish configures publishers.
	Publish PublishConfig `json:"publish" envconfig:"PUBLISH"`
	// Receive configures subscribers.
	Receive ReceiveConfig `json:"receive" envconfig:"RECEIVE"`
	// Create makes the topic and subscription when they do not exist, for
	// development and tests. Production topics and subscriptions are
	// better made by infrastructure code.
	Create CreateConfig `json:"create" envconfig:"CREATE"`
}

// PublishConfig configures batching and flow control of a [Publisher]. The
// client sends a batch when it holds CountThreshold messages or
// ByteThreshold bytes, or DelayThreshold after its first message,
// whichever comes first.
type PublishConfig struct {
	// Ordering publishes every message with its key as the ordering key
	// too, so that a subscription with message ordering delivers a key's
	// messages in publish order. The key travels as the gizmo-key
	// attribute either way.
	Ordering bool `json:"ordering"`
	// DelayThreshold is how long a batch waits for more messages.
	DelayThreshold time.Duration `json:"delay_threshold" split_words:"true" default:"10ms"`
	// CountThreshold sends a batch once it holds this many messages, at
	// most 1000.
	CountThreshold int `json:"count_threshold" split_words:"true" default:"100"`
	// ByteThreshold sends a batch once it holds this many bytes.
	ByteThreshold int `json:"byte_threshold" split_words:"true" default:"1000000"`
	// Timeout bounds the client's attempts, retries included, to publish
	// one batch.
	Timeout time.Duration `json:"timeout" default:"60s"`
	// NumGoroutines is the number of batches the client sends at once.
	// Zero means the client's default, 25 per CPU.
	NumGoroutines int `json:"num_goroutines" split_words:"true"`
	// MaxOutstandingMessages is the flow control limit on messages
	// published and not yet sent, applied as LimitExceeded says.
	MaxOutstandingMessages int `json:"max_outstanding_messages" split_words:"true" default:"1000"`
	// MaxOutstandingBytes is the same limit in bytes; -1 means none.
	MaxOutstandingBytes int `json:"max_outstanding_bytes" split_words:"true" default:"-1"`
	// LimitExceeded says what a publish does when flow control is full:
	// "ignore" (flow control is off), "block" (wait for room) or "error"
	// (fail the publish).
	LimitExceeded string `json:"limit_exceeded" split_words:"true" default:"ignore"`
	// MaxMessageBytes is the largest message a publisher sends, counted
	// as Pub/Sub counts the publish request that carries it alone: data,
	// attributes, ordering key and topic name. A larger message fails with
	// an error wrapping pubsub.ErrTooLarge before anything is sent.
	// Pub/Sub accepts up to MaxRequestBytes; pstest only 4 MiB (the gRPC
	// default).
	MaxMessageBytes int `json:"max_message_bytes" split_words:"true" default:"10000000"`
}

// ReceiveConfig configures a [Subscriber]: the client's receive settings,
// the lease of a delivery, and exactly-once acknowledgements.
type ReceiveConfig struct {
	// MaxOutstandingMessages caps the messages the client holds, delivered
	// or waiting to be; -1 means no limit.
	MaxOutstandingMessages int `json:"max_outstanding_messages" split_words:"true" default:"1000"`
	// MaxOutstandingBytes is the same cap in bytes of data; -1 means no
	// limit.
	MaxOutstandingBytes int `json:"max_outstanding_bytes" split_words:"true" default:"1000000000"`
	// NumGoroutines is the number of StreamingPull streams.
	NumGoroutines int `json:"num_goroutines" split_words:"true" default:"1"`
	// MaxExtension is the longest a delivery may hold its message: the
	// client keeps extending the ack deadline until the message is settled,
	// and the subscriber hands the message back once MaxExtension has
	// passed since it was delivered. ExtendDoneDeadline cannot go past it.
	MaxExtension time.Duration `json:"max_extension" split_words:"true" default:"60m"`
	// MinDurationPerAckExtension and MaxDurationPerAckExtension bound each
	// ack-deadline extension the client sends (it picks the 99th
	// percentile of its ack latency, 10s at least). The maximum is also the
	// ack deadline of the stream, which is how long a message Pub/Sub sent
	// as a stream closed waits before it is delivered again. Zero means the
	// client's default (no minimum; 60s for the stream). Pub/Sub accepts
	// 10s to 600s; only an emulator takes less.
	MinDurationPerAckExtension time.Duration `json:"min_duration_per_ack_extension" split_words:"true"`
	// MaxDurationPerAckExtension: see MinDurationPerAckExtension.
	MaxDurationPerAckExtension time.Duration `json:"max_duration_per_ack_extension" split_words:"true"`
	// Lease is how long a delivery holds its message unless
	// ExtendDoneDeadline extends it: a message not settled by then is
	// handed back (Nacked) and settling it later fails with
	// pubsub.ErrLeaseLost. Zero means MaxExtension, the client's own
	// behaviour.
	Lease time.Duration `json:"lease"`
	// ExactlyOnce makes Done acknowledge with AckWithResult and return
	// Pub/Sub's answer, for subscriptions with exactly-once delivery.
	// Without it Done returns as soon as the client holds the ack.
	ExactlyOnce bool `json:"exactly_once" split_words:"true"`
}

// CreateConfig makes the topic and the subscription of a [Config] when
// they do not exist, with the settings below. Existing ones are used as
// they are.
type CreateConfig struct {
	// Topic creates Config.Topic, and DeadLetterTopic if set.
	Topic bool `json:"topic"`
	// Subscription creates Config.Subscription on Config.Topic.
	Subscription bool `json:"subscription"`
	// Ordering enables message ordering on the subscription.
	Ordering bool `json:"ordering"`
	// AckDeadline is the subscription's ack deadline: how long Pub/Sub
	// waits for a receipt before delivering a message again. The client
	// extends it by itself after receipt.
	AckDeadline time.Duration `json:"ack_deadline" split_words:"true" default:"10s"`
	// DeadLetterTopic, if set, gives the subscription a dead-letter
	// policy: after MaxDeliveryAttempts deliveries a message goes there.
	DeadLetterTopic string `json:"dead_letter_topic" split_words:"true"`
	// MaxDeliveryAttempts is the dead-letter policy's limit, 5 to 100.
	MaxDeliveryAttempts int `json:"max_delivery_attempts" split_words:"true" default:"5"`
	// Filter is the subscription's filter on attributes, such as
	// `attributes.kind = "order"`. It sees the attributes as they travel
	// (see the package doc).
	Filter string `json:"filter"`
	// ExactlyOnce enables exactly-once delivery on the subscription.
	ExactlyOnce bool `json:"exactly_once" split_words:"true"`
}

// DefaultConfig returns a Config with every default of its struct tags
// applied, for programs that fill a Config by hand.
func DefaultConfig() Config {
	return Config{
		Publish: PublishConfig{
			DelayThreshold:         10 * time.Millisecond,
			CountThreshold:         100,
			ByteThreshold:          1_000_000,
			Timeout:                60 * time.Second,
			MaxOutstandingMessages: 1000,
			MaxOutstandingBytes:    -1,
			LimitExceeded:          "ignore",
			MaxMessageBytes:        MaxRequestBytes,
		},
		Receive: ReceiveConfig{
			MaxOutstandingMessages: 1000,
			MaxOutstandingBytes:    1_000_000_000,
			NumGoroutines:          1,
			MaxExtension:           60 * time.Minute,
		},
		Create: CreateConfig{
			AckDeadline:         10 * time.Second,
			MaxDeliveryAttempts: 5,
		},
	}
}

// Validate reports the first field that holds a value the adapter cannot
// use, naming it. Topic and Subscription are checked where they are
// needed, by NewPublisher and NewSubscriber.
func (c Config) Validate() error {
	if c.ProjectID == "" {
		return fieldErr("ProjectID", "is empty: set the Google Cloud project (any ID works against an emulator)")
	}
	if err := c.Publish.validate(); err != nil {
		return err
	}
	if err := c.Receive.validate(); err != nil {
		return err
	}
	return c.Create.validate(c)
}

func (p PublishConfig) validate() error {
	switch {
	case p.DelayThreshold <= 0:
		return fieldErr("Publish.DelayThreshold", "is %v: want more than zero", p.DelayThreshold)
	case p.CountThreshold < 1 || p.CountThreshold > pubsub.MaxPublishRequestCount:
		return fieldErr("Publish.CountThreshold", "is %d: want 1 to %d", p.CountThreshold, pubsub.MaxPublishRequestCount)
	case p.ByteThreshold < 1:
		return fieldErr("Publish.ByteThreshold", "is %d: want at least 1", p.ByteThreshold)
	case p.Timeout <= 0:
		return fieldErr("Publish.Timeout", "is %v: want more than zero", p.Timeout)
	case p.NumGoroutines < 0:
		return fieldErr("Publish.NumGoroutines", "is %d: want 0 (the client's default) or more", p.NumGoroutines)
	case p.MaxOutstandingMessages < 1:
		return fieldErr("Publish.MaxOutstandingMessages", "is %d: want at least 1", p.MaxOutstandingMessages)
	case p.MaxOutstandingBytes < 1 && p.MaxOutstandingBytes != -1:
		return fieldErr("Publish.MaxOutstandingBytes", "is %d: want at least 1, or -1 for no limit", p.MaxOutstandingBytes)
	case p.MaxMessageBytes < 1 || p.MaxMessageBytes > MaxRequestBytes:
		return fieldErr("Publish.MaxMessageBytes", "is %d: want 1 to %d", p.MaxMessageBytes, MaxRequestBytes)
	}
	if _, err := limitBehavior(p.LimitExceeded); err != nil {
		return err
	}
	return nil
}

func limitBehavior(s string) (pubsub.LimitExceededBehavior, error) {
	switch s {
	case "ignore", "":
		return pubsub.FlowControlIgnore, nil
	case "block":
		return pubsub.FlowControlBlock, nil
	case "error":
		return pubsub.FlowControlSignalError, nil
	}
	return 0, fieldErr("Publish.LimitExceeded", "is %q: want ignore, block or error", s)
}

// maxAckExtension is the longest ack deadline Pub/Sub accepts.
const maxAckExtension = 600 * time.Second

func (r ReceiveConfig) validate() error {
	switch {
	case r.MaxOutstandingMessages < 1 && r.MaxOutstandingMessages != -1:
		return fieldErr("Receive.MaxOutstandingMessages", "is %d: want at least 1, or -1 for no limit", r.MaxOutstandingMessages)
	case r.MaxOutstandingBytes < 1 && r.MaxOutstandingBytes != -1:
		return fieldErr("Receive.MaxOutstandingBytes", "is %d: want at least 1, or -1 for no limit", r.MaxOutstandingBytes)
	case r.NumGoroutines < 1:
		return fieldErr("Receive.NumGoroutines", "is %d: want at least 1", r.NumGoroutines)
	case r.MaxExtension <= 0:
		return fieldErr("Receive.MaxExtension", "is %v: want more than zero", r.MaxExtension)
	case r.MinDurationPerAckExtension != 0 && (r.MinDurationPerAckExtension < time.Second || r.MinDurationPerAckExtension > maxAckExtension):
		return fieldErr("Receive.MinDurationPerAckExtension", "is %v: want 0, or 1s to 10m (Pub/Sub itself takes 10s at least)", r.MinDurationPerAckExtension)
	case r.MaxDurationPerAckExtension != 0 && (r.MaxDurationPerAckExtension < time.Second || r.MaxDurationPerAckExtension > maxAckExtension):
		return fieldErr("Receive.MaxDurationPerAckExtension", "is %v: want 0, or 1s to 10m (Pub/Sub itself takes 10s at least)", r.MaxDurationPerAckExtension)
	case r.MaxDurationPerAckExtension != 0 && r.MinDurationPerAckExtension > r.MaxDurationPerAckExtension:
		return fieldErr("Receive.MinDurationPerAckExtension", "is %v, more than Receive.MaxDurationPerAckExtension (%v)", r.MinDurationPerAckExtension, r.MaxDurationPerAckExtension)
	case r.Lease < 0 || r.Lease > r.MaxExtension:
		return fieldErr("Receive.Lease", "is %v: want 0 (MaxExtension) up to Receive.MaxExtension (%v)", r.Lease, r.MaxExtension)
	case r.Lease != 0 && r.Lease < time.Second:
		return fieldErr("Receive.Lease", "is %v: want 0 or at least 1s", r.Lease)
	}
	return nil
}

func (c CreateConfig) validate(cfg Config) error {
	switch {
	case c.AckDeadline < time.Second || c.AckDeadline > maxAckExtension:
		return fieldErr("Create.AckDeadline", "is %v: want 1s to 10m (Pub/Sub itself takes 10s at least)", c.AckDeadline)
	case c.DeadLetterTopic != "" && (c.MaxDeliveryAttempts < 5 || c.MaxDeliveryAttempts > 100):
		return fieldErr("Create.MaxDeliveryAttempts", "is %d: want 5 to 100", c.MaxDeliveryAttempts)
	case c.Subscription && cfg.Subscription == "":
		return fieldErr("Subscription", "is empty, but Create.Subscription asks to create it")
	case c.Subscription && cfg.Topic == "":
		return fieldErr("Topic", "is empty, but Create.Subscription needs the topic to create the subscription on")
	case c.Topic && cfg.Topic == "":
		return fieldErr("Topic", "is empty, but Create.Topic asks to create it")
	}
	return nil
}

// ErrConfig is wrapped by the errors of [Config.Validate].
var ErrConfig = errors.New("gcp: invalid config")

func fieldErr(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s %s", ErrConfig, field, fmt.Sprintf(format, args...))
}
