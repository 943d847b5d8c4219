package aws

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Defaults of [Config], applied by [Config.WithDefaults] (and so by every
// constructor) to zero fields, and by the `default` tags when the Config is
// loaded with package config.
const (
	// DefaultReceivers is the number of concurrent long polls.
	DefaultReceivers = 4
	// DefaultBatchSize is the most messages one receive asks for.
	DefaultBatchSize = 10
	// DefaultWaitTime is how long a receive waits for messages.
	DefaultWaitTime = 20 * time.Second
	// DefaultVisibilityTimeout is the lease a received message starts with.
	DefaultVisibilityTimeout = 30 * time.Second
	// DefaultMaxExtension is how long the heartbeat keeps a delivered,
	// unsettled message invisible.
	DefaultMaxExtension = 30 * time.Minute
	// DefaultDeleteDelay is the longest a Done waits for its batch.
	DefaultDeleteDelay = 50 * time.Millisecond
	// DefaultRoleSessionName names the session of an assumed role.
	DefaultRoleSessionName = "gizmo"
	// DefaultRetryMaxAttempts is how often the SDK tries a call.
	DefaultRetryMaxAttempts = 3
)

// AWS limits the adapter checks before sending.
const (
	// MaxSQSMessageBytes is the largest SQS message: the body plus every
	// attribute's name, data type and value.
	MaxSQSMessageBytes = 1 << 20
	// MaxSNSMessageBytes is the largest SNS message, counted the same way.
	MaxSNSMessageBytes = 256 << 10
	// MaxAttributes is the most message attributes SQS takes, gizmo's own
	// (the key, the body encoding) included. SNS takes more, but no more
	// reach an SQS queue with raw delivery, so the SNS publisher keeps to it.
	MaxAttributes = 10
	// MaxAttributeNameBytes is the longest attribute name.
	MaxAttributeNameBytes = 256
	// maxBatchEntries is the most entries of an SQS or SNS batch call.
	maxBatchEntries = 10
	// maxVisibility is SQS's longest visibility timeout: 12 hours.
	maxVisibility = 12 * time.Hour
)

// Config configures the publishers and the subscriber of this package. It
// can be filled by hand, from JSON (the json tags) or from the environment
// with package config, which also applies the `default` tags:
//
//	var cfg aws.Config
//	err := config.Load(ctx, &cfg, config.Defaults(), config.Env("ORDERS_SQS"))
//
// reads ORDERS_SQS_QUEUE, ORDERS_SQS_REGION and so on. Zero values mean
// the defaults above. Durations are written "30s", "1m30s".
//
// # Connection
//
// Region, Endpoint and the credential fields build the aws.Config the SDK
// clients use (see [Config.AWSConfig]). Without static keys the SDK's
// default credential chain applies (environment, shared files, web
// identity, the instance or task role); with RoleARN, those credentials
// assume the role. [WithAWSConfig], [WithSQSClient] and [WithSNSClient]
// replace all of this with the caller's own.
//
// # Subscriber
//
// Receivers long-poll concurrently, each asking for up to BatchSize
// messages and waiting up to WaitTime. At most MaxInFlight messages are in
// flight at once (received and not yet deleted or handed back), prefetched
// ones included. Every message the subscriber holds
// is received with VisibilityTimeout and kept invisible by a heartbeat
// every Heartbeat, until it is settled or, once delivered, for at most
// MaxExtension.
type Config struct {
	// Region is the AWS region, such as "eu-west-1". Empty means the
	// SDK's default (AWS_REGION, the shared config file).
	Region string `envconfig:"REGION" json:"region"`
	// Endpoint replaces the AWS endpoint of every service, for an
	// emulator such as fauxqs or LocalStack: "http://127.0.0.1:4566".
	Endpoint string `envconfig:"ENDPOINT" json:"endpoint"`
	// AccessKeyID and SecretAccessKey are static credentials. Leave both
	// empty for the default credential chain.
	AccessKeyID string `envconfig:"ACCESS_KEY_ID" json:"access_key_id"`
	// SecretAccessKey goes with AccessKeyID.
	SecretAccessKey string `envconfig:"SECRET_ACCESS_KEY" json:"secret_access_key" secret:"true"`
	// SessionToken goes with temporary static credentials.
	SessionToken string `envconfig:"SESSION_TOKEN" json:"session_token" secret:"true"`
	// RoleARN, if set, is a role assumed with the credentials above.
	RoleARN string `envconfig:"ROLE_ARN" json:"role_arn"`
	// RoleSessionName names the assumed role's session.
	RoleSessionName string `envconfig:"ROLE_SESSION_NAME" json:"role_session_name" default:"gizmo"`
	// ExternalID is the external ID the role's trust policy may require.
	ExternalID string `envconfig:"EXTERNAL_ID" json:"external_id"`
	// AccountID is the account that owns the topic, used to turn a topic
	// name into its ARN. Empty means the caller's own account, asked of
	// STS once.
	AccountID string `envconfig:"ACCOUNT_ID" json:"account_id"`
	// RetryMaxAttempts is how often the SDK tries one call before the
	// adapter sees its error (the adapter's own retries come on top).
	RetryMaxAttempts int `envconfig:"RETRY_MAX_ATTEMPTS" json:"retry_max_attempts" default:"3"`

	// Queue is the SQS queue to receive from or publish to: its name or
	// its URL.
	Queue string `envconfig:"QUEUE" json:"queue"`
	// Topic is the SNS topic to publish to: its name or its ARN.
	Topic string `envconfig:"TOPIC" json:"topic"`
	// GizmoCompat reads and writes the NYT Gizmo format: the body is
	// always base64, and the SNS publisher puts the key in the Subject.
	// See the package doc.
	GizmoCompat bool `envconfig:"GIZMO_COMPAT" json:"gizmo_compat"`
	// MaxMessageBytes caps a message (body plus attributes), checked before
	// sending. Zero means AWS's limit: MaxSQSMessageBytes for a queue,
	// MaxSNSMessageBytes for a topic. Set it to a queue's
	// MaximumMessageSize when that is lower.
	MaxMessageBytes int `envconfig:"MAX_MESSAGE_BYTES" json:"max_message_bytes"`

	// Receivers is the number of concurrent long-poll receivers.
	Receivers int `envconfig:"RECEIVERS" json:"receivers" default:"4"`
	// BatchSize is the most messages one receive asks for, 1 to 10.
	BatchSize int `envconfig:"BATCH_SIZE" json:"batch_size" default:"10"`
	// WaitTime is how long a receive waits for messages: 1s to 20s, in
	// whole seconds.
	WaitTime time.Duration `envconfig:"WAIT_TIME" json:"wait_time" default:"20s"`
	// VisibilityTimeout is the lease a received message starts with, in
	// whole seconds, up to 12h. Every receive asks for it, whatever the
	// queue's own setting.
	VisibilityTimeout time.Duration `envconfig:"VISIBILITY_TIMEOUT" json:"visibility_timeout" default:"30s"`
	// Heartbeat is how often the subscriber extends the visibility of the
	// messages it holds. Zero means a quarter of VisibilityTimeout; it may
	// be at most half of it.
	Heartbeat time.Duration `envconfig:"HEARTBEAT" json:"heartbeat"`
	// MaxExtension is how long after its delivery the heartbeat keeps a
	// message that the application has not settled invisible. A negative
	// value stops the heartbeat at delivery (prefetched messages are
	// always kept alive). ExtendDoneDeadline is not bound by it.
	MaxExtension time.Duration `envconfig:"MAX_EXTENSION" json:"max_extension" default:"30m"`
	// MaxInFlight caps the messages the subscriber has in flight: received
	// and not yet deleted or handed back, whether they wait to be delivered
	// (prefetched), are with the application, or wait for their delete.
	// Receivers do not poll while it is reached. Zero means Receivers
	// times BatchSize, plus one batch so that a receiver can poll again
	// while the last batches are handled and deleted.
	MaxInFlight int `envconfig:"MAX_IN_FLIGHT" json:"max_in_flight"`
	// NackDelay is the visibility timeout Nack sets: zero redelivers at
	// once. It is rounded up to whole seconds.
	NackDelay time.Duration `envconfig:"NACK_DELAY" json:"nack_delay"`
	// DeleteDelay is the longest a Done waits to be sent in a batch of
	// deletes; a batch of ten goes at once.
	DeleteDelay time.Duration `envconfig:"DELETE_DELAY" json:"delete_delay" default:"50ms"`
}

// WithDefaults returns a copy of c with every zero field that has a default
// set to it. Heartbeat and MaxInFlight, whose defaults depend on other fields,
// are set too.
func (c Config) WithDefaults() Config {
	setDefault(&c.RoleSessionName, DefaultRoleSessionName)
	setDefault(&c.RetryMaxAttempts, DefaultRetryMaxAttempts)
	setDefault(&c.Receivers, DefaultReceivers)
	setDefault(&c.BatchSize, DefaultBatchSize)
	setDefault(&c.WaitTime, DefaultWaitTime)
	setDefault(&c.VisibilityTimeout, DefaultVisibilityTimeout)
	setDefault(&c.MaxExtension, DefaultMaxExtension)
	setDefault(&c.DeleteDelay, DefaultDeleteDelay)
	setDefault(&c.Heartbeat, c.VisibilityTimeout/4)
	setDefault(&c.MaxInFlight, (c.Receivers+1)*c.BatchSize)
	return c
}

func setDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// Validate reports every invalid field of c, joined with errors.Join. Each
// message names the field by its environment variable, as in
// "aws: BATCH_SIZE: 11 is out of range 1..10". Zero values are valid: they
// mean the default.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("aws: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("ENDPOINT", "%q is not an http or https URL", c.Endpoint)
		}
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		bad("SECRET_ACCESS_KEY", "static credentials need both ACCESS_KEY_ID and SECRET_ACCESS_KEY")
	}
	if c.SessionToken != "" && c.AccessKeyID == "" {
		bad("SESSION_TOKEN", "a session token needs ACCESS_KEY_ID and SECRET_ACCESS_KEY")
	}
	if c.RoleARN != "" && !strings.HasPrefix(c.RoleARN, "arn:") {
		bad("ROLE_ARN", "%q is not an ARN", c.RoleARN)
	}
	if c.RetryMaxAttempts < 0 {
		bad("RETRY_MAX_ATTEMPTS", "%d is negative", c.RetryMaxAttempts)
	}
	if c.Queue != "" {
		if err := checkQueue(c.Queue); err != nil {
			bad("QUEUE", "%v", err)
		}
	}
	if c.Topic != "" {
		if err := checkTopic(c.Topic); err != nil {
			bad("TOPIC", "%v", err)
		}
	}
	if c.MaxMessageBytes < 0 || c.MaxMessageBytes > MaxSQSMessageBytes {
		bad("MAX_MESSAGE_BYTES", "%d is out of range 0..%d", c.MaxMessageBytes, MaxSQSMessageBytes)
	}
	if c.Receivers < 0 || c.Receivers > 1000 {
		bad("RECEIVERS", "%d is out of range 1..1000", c.Receivers)
	}
	if c.BatchSize < 0 || c.BatchSize > maxBatchEntries {
		bad("BATCH_SIZE", "%d is out of range 1..%d", c.BatchSize, maxBatchEntries)
	}
	if c.MaxInFlight < 0 {
		bad("MAX_IN_FLIGHT", "%d is negative", c.MaxInFlight)
	}
	seconds := func(field string, d, lo, hi time.Duration) {
		switch {
		case d == 0:
		case d < lo || d > hi:
			bad(field, "%v is out of range %v..%v", d, lo, hi)
		case d%time.Second != 0:
			bad(field, "%v is not a whole number of seconds", d)
		}
	}
	seconds("WAIT_TIME", c.WaitTime, time.Second, 20*time.Second)
	seconds("VISIBILITY_TIMEOUT", c.VisibilityTimeout, time.Second, maxVisibility)
	if c.NackDelay < 0 || c.NackDelay > maxVisibility {
		bad("NACK_DELAY", "%v is out of range 0..%v", c.NackDelay, maxVisibility)
	}
	vt := c.VisibilityTimeout
	if vt == 0 {
		vt = DefaultVisibilityTimeout
	}
	if c.Heartbeat < 0 || c.Heartbeat > vt/2 {
		bad("HEARTBEAT", "%v is out of range 0..%v (half of VISIBILITY_TIMEOUT)", c.Heartbeat, vt/2)
	}
	if c.DeleteDelay < 0 {
		bad("DELETE_DELAY", "%v is negative", c.DeleteDelay)
	}
	return errors.Join(errs...)
}

// checkQueue accepts a queue URL or a queue name.
func checkQueue(q string) error {
	if isURL(q) {
		u, err := url.Parse(q)
		if err != nil || u.Host == "" || queueName(q) == "" {
			return fmt.Errorf("%q is not a queue URL", q)
		}
		return nil
	}
	if !validName(strings.TrimSuffix(q, ".fifo"), 80-len(".fifo")) {
		return fmt.Errorf("%q is neither a queue URL nor a queue name (1 to 80 of A-Z a-z 0-9 - _, and .fifo for a FIFO queue)", q)
	}
	return nil
}

// checkTopic accepts a topic ARN or a topic name.
func checkTopic(t string) error {
	if strings.HasPrefix(t, "arn:") {
		if len(strings.Split(t, ":")) != 6 || topicName(t) == "" {
			return fmt.Errorf("%q is not a topic ARN", t)
		}
		return nil
	}
	if !validName(strings.TrimSuffix(t, ".fifo"), 256-len(".fifo")) {
		return fmt.Errorf("%q is neither a topic ARN nor a topic name (1 to 256 of A-Z a-z 0-9 - _, and .fifo for a FIFO topic)", t)
	}
	return nil
}

func isURL(s string) bool { return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") }

// validName reports whether s is 1 to max characters of A-Z a-z 0-9 - _.
func validName(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// queueName returns the last path element of a queue URL.
func queueName(u string) string {
	u = strings.TrimRight(u, "/")
	return u[strings.LastIndexByte(u, '/')+1:]
}

// topicName returns the name part of a topic ARN.
func topicName(arn string) string { return arn[strings.LastIndexByte(arn, ':')+1:] }

func isFIFOName(name string) bool { return strings.HasSuffix(name, ".fifo") }
