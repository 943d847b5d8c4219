package http

import (
	"errors"
	"fmt"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Format is a body format: what a request carries and how.
type Format string

// The formats. The publisher sends FormatRaw or FormatPubSub; the
// subscriber accepts any of the three it is configured for.
const (
	// FormatRaw is the payload as the body, with the message ID, key and
	// attributes in headers (see the package doc).
	FormatRaw Format = "raw"
	// FormatPubSub is a Google Cloud Pub/Sub push request: a JSON envelope
	// holding the base64 payload, the attributes, the message ID and the
	// ordering key.
	FormatPubSub Format = "pubsub"
	// FormatSNS is an Amazon SNS HTTP(S) notification: a signed JSON
	// document. The subscriber accepts it; the publisher does not send it.
	FormatSNS Format = "sns"
)

// Defaults of [Config], applied to zero fields by the constructors and by
// package config's Defaults source.
const (
	// DefaultTimeout bounds a whole publish, retries included.
	DefaultTimeout = 2 * time.Minute
	// DefaultAttemptTimeout bounds one attempt; it is above
	// DefaultMaxLease, so that a publisher outwaits a subscriber's longest
	// lease.
	DefaultAttemptTimeout = 30 * time.Second
	// DefaultInitialBackoff is the wait before the first retry.
	DefaultInitialBackoff = 100 * time.Millisecond
	// DefaultMaxBackoff caps the wait between retries.
	DefaultMaxBackoff = 10 * time.Second
	// DefaultConcurrency is PublishBatch's bound on requests in flight.
	DefaultConcurrency = 16
	// DefaultMaxIdleConns is how many idle connections the publisher keeps.
	DefaultMaxIdleConns = 64
	// DefaultSecretHeader carries Config.Secret.
	DefaultSecretHeader = "Gizmo-Secret"
	// DefaultMaxPayloadBytes is the largest payload published (1 MiB).
	DefaultMaxPayloadBytes = 1 << 20
	// DefaultMaxAttributes is the most attributes a message may have.
	DefaultMaxAttributes = 100
	// DefaultMaxAttributeBytes bounds a message's key and attributes as
	// sent (64 KiB).
	DefaultMaxAttributeBytes = 64 << 10
	// DefaultMaxBodyBytes is the largest body the subscriber reads (2 MiB):
	// a 1 MiB payload in base64 in a Pub/Sub envelope, with room for
	// attributes.
	DefaultMaxBodyBytes = 2 << 20
	// DefaultAckDeadline is a delivery's lease (Pub/Sub's default too).
	DefaultAckDeadline = 10 * time.Second
	// DefaultMaxLease caps an extended lease, under server.Config's
	// default 30s write timeout.
	DefaultMaxLease = 25 * time.Second
	// DefaultDedupWindow is how long acknowledged IDs are remembered.
	DefaultDedupWindow = 5 * time.Minute
	// DefaultDedupCapacity is how many acknowledged IDs are remembered.
	DefaultDedupCapacity = 100_000
)

// Config configures a [Publisher] (NewPublisher) and a [Subscriber]
// (NewSubscriber). Each reads the fields of its part and the shared ones;
// a zero field means its default. Load it with package config
// (config.Defaults, a JSON file, config.Env) or fill it by hand.
//
// Durations are written "1m30s" in the environment and in JSON read by
// package config.
type Config struct {
	// URL is where the publisher POSTs messages, http or https: the push
	// subscriber's endpoint. NewPublisher requires it.
	URL string `envconfig:"URL" json:"url"`
	// Format is the body the publisher sends: raw (the default) or pubsub.
	Format Format `envconfig:"FORMAT" json:"format" default:"raw"`
	// Subscription fills the "subscription" member of the Pub/Sub push
	// envelopes the publisher sends.
	Subscription string `envconfig:"SUBSCRIPTION" json:"subscription"`
	// Timeout bounds a whole publish, every retry included, on top of the
	// caller's context.
	Timeout time.Duration `envconfig:"TIMEOUT" json:"timeout" default:"2m"`
	// AttemptTimeout bounds one attempt: the request and the receiver's
	// wait for the consumer to settle the message. Keep it above the
	// receiver's MaxLease, or the publisher gives up on a message the
	// consumer is still working on.
	AttemptTimeout time.Duration `envconfig:"ATTEMPT_TIMEOUT" json:"attempt_timeout" default:"30s"`
	// InitialBackoff is the wait before the first retry. Waits double up
	// to MaxBackoff, with jitter; a Retry-After answer can ask for more.
	InitialBackoff time.Duration `envconfig:"INITIAL_BACKOFF" json:"initial_backoff" default:"100ms"`
	// MaxBackoff caps the wait between attempts (Retry-After aside).
	MaxBackoff time.Duration `envconfig:"MAX_BACKOFF" json:"max_backoff" default:"10s"`
	// Concurrency is how many requests one PublishBatch call has in flight
	// at most.
	Concurrency int `envconfig:"CONCURRENCY" json:"concurrency" default:"16"`
	// MaxIdleConns is how many idle keep-alive connections to the URL's
	// host the publisher keeps for reuse. Set it to at least the number of
	// concurrent publishes.
	MaxIdleConns int `envconfig:"MAX_IDLE_CONNS" json:"max_idle_conns" default:"64"`
	// TLSCAFile is a PEM file of the CAs the publisher trusts for an https
	// URL, instead of the system's.
	TLSCAFile string `envconfig:"TLS_CA_FILE" json:"tls_ca_file"`
	// TLSCertFile is the publisher's PEM client certificate, for mutual
	// TLS. Set it with TLSKeyFile.
	TLSCertFile string `envconfig:"TLS_CERT_FILE" json:"tls_cert_file"`
	// TLSKeyFile is the PEM private key of TLSCertFile.
	TLSKeyFile string `envconfig:"TLS_KEY_FILE" json:"tls_key_file"`

	// Secret, if set, is a shared secret: the publisher sends it in the
	// SecretHeader header, and the subscriber refuses (401) a request
	// that does not carry it.
	Secret string `envconfig:"SECRET" json:"secret" secret:"true"`
	// SecretHeader is the header that carries Secret.
	SecretHeader string `envconfig:"SECRET_HEADER" json:"secret_header" default:"Gizmo-Secret"`
	// MaxPayloadBytes is the largest payload the publisher sends. A larger
	// one fails with pubsub.ErrTooLarge before anything is sent.
	MaxPayloadBytes int `envconfig:"MAX_PAYLOAD_BYTES" json:"max_payload_bytes" default:"1048576"`
	// MaxAttributes is the most attributes a message may have, on both
	// sides.
	MaxAttributes int `envconfig:"MAX_ATTRIBUTES" json:"max_attributes" default:"100"`
	// MaxAttributeBytes bounds the bytes of a message's attribute names
	// and values and its key, as sent (escaped where needed), on both
	// sides. Servers and proxies limit header sizes: keep it below theirs.
	MaxAttributeBytes int `envconfig:"MAX_ATTRIBUTE_BYTES" json:"max_attribute_bytes" default:"65536"`

	// MaxBodyBytes is the largest request body the subscriber reads; a
	// larger one gets 413.
	MaxBodyBytes int64 `envconfig:"MAX_BODY_BYTES" json:"max_body_bytes" default:"2097152"`
	// AckDeadline is the lease of a delivery, counted from the request's
	// arrival: the subscriber answers 503, and the sender retries, if the
	// message is not settled by then. A request waits at most half of it
	// for a consumer to take the message.
	AckDeadline time.Duration `envconfig:"ACK_DEADLINE" json:"ack_deadline" default:"10s"`
	// MaxLease caps how far ExtendDoneDeadline may push the deadline,
	// counted from the request's arrival. The sender's patience (the
	// publisher's AttemptTimeout, which it announces) and the server's
	// write timeout cap it too.
	MaxLease time.Duration `envconfig:"MAX_LEASE" json:"max_lease" default:"25s"`
	// Formats lists the formats the subscriber accepts: raw, pubsub, sns.
	Formats []Format `envconfig:"FORMATS" json:"formats" default:"raw,pubsub"`
	// DedupWindow is how long the subscriber remembers the IDs of the
	// messages it acknowledged, answering a request that repeats one with
	// 204 and delivering nothing. Negative turns deduplication off.
	DedupWindow time.Duration `envconfig:"DEDUP_WINDOW" json:"dedup_window" default:"5m"`
	// DedupCapacity caps how many IDs the subscriber remembers; the oldest
	// go first.
	DedupCapacity int `envconfig:"DEDUP_CAPACITY" json:"dedup_capacity" default:"100000"`
	// SNSTopicARNs lists the SNS topics the subscriber accepts
	// notifications from. Empty accepts every topic, but confirms none.
	SNSTopicARNs []string `envconfig:"SNS_TOPIC_ARNS" json:"sns_topic_arns"`
	// SNSConfirm makes the subscriber answer an SNS SubscriptionConfirmation
	// for a topic in SNSTopicARNs by visiting its SubscribeURL. Off, a
	// confirmation gets 403 and is logged.
	SNSConfirm bool `envconfig:"SNS_CONFIRM" json:"sns_confirm"`
	// SNSSkipVerify turns off the check of SNS message signatures. Leave it
	// off unless something else authenticates the sender.
	SNSSkipVerify bool `envconfig:"SNS_SKIP_VERIFY" json:"sns_skip_verify"`
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	setInt := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	if c.Format == "" {
		c.Format = FormatRaw
	}
	set(&c.Timeout, DefaultTimeout)
	set(&c.AttemptTimeout, DefaultAttemptTimeout)
	set(&c.InitialBackoff, DefaultInitialBackoff)
	set(&c.MaxBackoff, DefaultMaxBackoff)
	setInt(&c.Concurrency, DefaultConcurrency)
	setInt(&c.MaxIdleConns, DefaultMaxIdleConns)
	if c.SecretHeader == "" {
		c.SecretHeader = DefaultSecretHeader
	}
	setInt(&c.MaxPayloadBytes, DefaultMaxPayloadBytes)
	setInt(&c.MaxAttributes, DefaultMaxAttributes)
	setInt(&c.MaxAttributeBytes, DefaultMaxAttributeBytes)
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	set(&c.AckDeadline, DefaultAckDeadline)
	set(&c.MaxLease, DefaultMaxLease)
	if len(c.Formats) == 0 {
		c.Formats = []Format{FormatRaw, FormatPubSub}
	}
	set(&c.DedupWindow, DefaultDedupWindow)
	setInt(&c.DedupCapacity, DefaultDedupCapacity)
	return c
}

// Validate reports every field that is out of range, naming it; zero
// fields stand for their defaults and are valid. A publisher also needs
// URL, which NewPublisher checks.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("pubsub/http: Config.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.URL != "" {
		if err := checkURL(c.URL); err != nil {
			bad("URL", "%v", err)
		}
	}
	if c.Format != FormatRaw && c.Format != FormatPubSub {
		bad("Format", "%q is not one of raw, pubsub", c.Format)
	}
	for name, d := range map[string]time.Duration{
		"Timeout": c.Timeout, "AttemptTimeout": c.AttemptTimeout, "InitialBackoff": c.InitialBackoff,
		"MaxBackoff": c.MaxBackoff, "AckDeadline": c.AckDeadline, "MaxLease": c.MaxLease,
	} {
		if d < 0 {
			bad(name, "%v is negative", d)
		}
	}
	if c.MaxBackoff < c.InitialBackoff {
		bad("MaxBackoff", "%v is less than InitialBackoff %v", c.MaxBackoff, c.InitialBackoff)
	}
	if c.MaxLease < c.AckDeadline {
		bad("MaxLease", "%v is less than AckDeadline %v", c.MaxLease, c.AckDeadline)
	}
	for name, n := range map[string]int{
		"Concurrency": c.Concurrency, "MaxIdleConns": c.MaxIdleConns, "MaxPayloadBytes": c.MaxPayloadBytes,
		"MaxAttributes": c.MaxAttributes, "MaxAttributeBytes": c.MaxAttributeBytes, "DedupCapacity": c.DedupCapacity,
	} {
		if n < 0 {
			bad(name, "%d is negative", n)
		}
	}
	if c.MaxBodyBytes < 0 {
		bad("MaxBodyBytes", "%d is negative", c.MaxBodyBytes)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		bad("TLSCertFile", "TLSCertFile and TLSKeyFile go together; set both or neither")
	}
	if !validHeaderName(c.SecretHeader) {
		bad("SecretHeader", "%q is not a valid header name", c.SecretHeader)
	}
	for _, f := range c.Formats {
		if f != FormatRaw && f != FormatPubSub && f != FormatSNS {
			bad("Formats", "%q is not one of raw, pubsub, sns", f)
		}
	}
	if c.SNSConfirm && len(c.SNSTopicARNs) == 0 {
		bad("SNSConfirm", "set, but SNSTopicARNs names no topic to confirm")
	}
	for _, arn := range c.SNSTopicARNs {
		if !strings.HasPrefix(arn, "arn:") {
			bad("SNSTopicARNs", "%q is not an ARN", arn)
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// checkURL accepts an absolute http or https URL with a host.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: the scheme must be http or https", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", raw)
	}
	return nil
}

// validHeaderName reports whether s is an HTTP field name (an RFC 9110
// token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return textproto.CanonicalMIMEHeaderKey(s) != ""
}
