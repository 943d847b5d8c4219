package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/IBM/sarama"
)

// Defaults of [Config], as its default tags state them.
const (
	// DefaultVersion is the Kafka protocol version spoken (sarama's default).
	DefaultVersion = "2.8.0"
	// DefaultClientID names the client to the brokers.
	DefaultClientID = "gizmo"
	// DefaultMaxMessageBytes bounds a record, as sarama counts it.
	DefaultMaxMessageBytes = 1000000
	// DefaultRevokeTimeout is how long a revoked partition's deliveries
	// may still be settled.
	DefaultRevokeTimeout = 10 * time.Second
	// DefaultCommitInterval is how often marked offsets are committed.
	DefaultCommitInterval = time.Second
	// DefaultMaxUnsettled bounds the records a partition holds from its
	// oldest unsettled one on.
	DefaultMaxUnsettled = 10000
	// DefaultSessionTimeout is the group session timeout.
	DefaultSessionTimeout = 10 * time.Second
	// DefaultHeartbeatInterval is how often a member heartbeats.
	DefaultHeartbeatInterval = 3 * time.Second
	// DefaultRebalanceTimeout is how long a rebalance waits for members.
	DefaultRebalanceTimeout = 60 * time.Second
)

// Config configures publishers, subscribers and readers. Load it with
// package config (the envconfig names are given; nest it under a prefix to
// configure several clients), or fill it by hand and call
// [Config.WithDefaults]. The constructors apply the defaults and call
// [Config.Validate] themselves.
//
// Durations use time.ParseDuration syntax ("250ms") in the environment and
// in JSON read by package config.
type Config struct {
	// Brokers are the bootstrap brokers, host:port. Required.
	Brokers []string `envconfig:"KAFKA_BROKERS" json:"brokers"`
	// Topics are the topics a subscriber's group consumes; a publisher
	// publishes to the only one, and a Reader reads the only one.
	Topics []string `envconfig:"KAFKA_TOPICS" json:"topics"`
	// Group is the consumer group of a subscriber. Required for one.
	Group string `envconfig:"KAFKA_GROUP" json:"group"`
	// Version is the Kafka protocol version to speak, such as "2.8.0"; it
	// must not be newer than the brokers'.
	Version string `envconfig:"KAFKA_VERSION" json:"version" default:"2.8.0"`
	// ClientID names this client in the brokers' logs and quotas.
	ClientID string `envconfig:"KAFKA_CLIENT_ID" json:"client_id" default:"gizmo"`

	// Acks is how many replicas must have a record before a publish
	// returns: "all" (every in-sync replica), "leader" or "none".
	Acks string `envconfig:"KAFKA_ACKS" json:"acks" default:"all"`
	// Idempotent turns on the idempotent producer: a retried produce is
	// written once. It needs Acks "all" and Retries of at least 1.
	Idempotent bool `envconfig:"KAFKA_IDEMPOTENT" json:"idempotent"`
	// Compression is the codec of produced batches: "none", "gzip",
	// "snappy", "lz4" or "zstd".
	Compression string `envconfig:"KAFKA_COMPRESSION" json:"compression" default:"none"`
	// Partitioner picks a keyed record's partition: "hash" (sarama's
	// FNV-1a), "murmur2" (the Java client's default, so that both put a key
	// on the same partition) or "crc32" (librdkafka's consistent
	// partitioner). A record with no key goes to a random partition.
	Partitioner string `envconfig:"KAFKA_PARTITIONER" json:"partitioner" default:"murmur2"`
	// MaxMessageBytes bounds one record as sarama measures it (key, value,
	// headers and a 36-byte record overhead). A bigger one fails with
	// pubsub.ErrTooLarge before it is sent. Keep it at or below the
	// topic's max.message.bytes.
	MaxMessageBytes int `envconfig:"KAFKA_MAX_MESSAGE_BYTES" json:"max_message_bytes" default:"1000000"`
	// Linger turns on throughput mode when positive: the producer waits up
	// to this long to fill a batch, so that many concurrent publishes share
	// one request. Each publish still returns once its own record is
	// acknowledged. Zero sends every record as soon as it can.
	Linger time.Duration `envconfig:"KAFKA_LINGER" json:"linger"`
	// BatchMessages, with Linger, sends a batch as soon as it holds this
	// many records. Zero means 1000.
	BatchMessages int `envconfig:"KAFKA_BATCH_MESSAGES" json:"batch_messages"`
	// Retries is how often a failed produce or metadata request is retried
	// before the error is returned.
	Retries int `envconfig:"KAFKA_RETRIES" json:"retries" default:"5"`
	// RetryBackoff is the wait before the first retry; later waits double,
	// up to 10 seconds. Subscribers retry a failed group session with the
	// same backoff, without limit.
	RetryBackoff time.Duration `envconfig:"KAFKA_RETRY_BACKOFF" json:"retry_backoff" default:"250ms"`

	// InitialOffset is where a group starts on a partition it has no
	// committed offset for: "newest" (records produced from then on) or
	// "oldest" (everything the topic keeps). See also [InitGroup].
	InitialOffset string `envconfig:"KAFKA_INITIAL_OFFSET" json:"initial_offset" default:"newest"`
	// Balance is the partition assignment strategy: "range",
	// "roundrobin" or "sticky".
	Balance string `envconfig:"KAFKA_BALANCE" json:"balance" default:"range"`
	// SessionTimeout is how long the group coordinator waits for a
	// member's heartbeat before it gives the member's partitions away.
	SessionTimeout time.Duration `envconfig:"KAFKA_SESSION_TIMEOUT" json:"session_timeout" default:"10s"`
	// HeartbeatInterval is how often a member heartbeats; it is also how
	// soon it learns of a rebalance.
	HeartbeatInterval time.Duration `envconfig:"KAFKA_HEARTBEAT_INTERVAL" json:"heartbeat_interval" default:"3s"`
	// RebalanceTimeout is how long the coordinator waits for every member
	// to rejoin during a rebalance. It must exceed RevokeTimeout.
	RebalanceTimeout time.Duration `envconfig:"KAFKA_REBALANCE_TIMEOUT" json:"rebalance_timeout" default:"60s"`
	// RevokeTimeout is how long a revoked partition's delivered messages
	// may still be settled before the member lets the partition go; later
	// settles return pubsub.ErrLeaseLost.
	RevokeTimeout time.Duration `envconfig:"KAFKA_REVOKE_TIMEOUT" json:"revoke_timeout" default:"10s"`
	// CommitInterval is how often marked offsets are committed.
	CommitInterval time.Duration `envconfig:"KAFKA_COMMIT_INTERVAL" json:"commit_interval" default:"1s"`
	// MaxUnsettled bounds, per partition, the span of delivered messages
	// from the oldest unsettled one to the newest: when it is reached, the
	// partition delivers no more until the oldest is settled.
	MaxUnsettled int `envconfig:"KAFKA_MAX_UNSETTLED" json:"max_unsettled" default:"10000"`

	// AutoCreateTopics lets this client's metadata requests create a
	// missing topic, where the broker allows it. Off by default, so that a
	// misspelt topic fails with pubsub.ErrTopicNotFound.
	AutoCreateTopics bool `envconfig:"KAFKA_AUTO_CREATE_TOPICS" json:"auto_create_topics"`
	// DialTimeout bounds connecting to a broker (and the SASL handshake).
	DialTimeout time.Duration `envconfig:"KAFKA_DIAL_TIMEOUT" json:"dial_timeout" default:"10s"`
	// ReadTimeout bounds the wait for one request's response.
	ReadTimeout time.Duration `envconfig:"KAFKA_READ_TIMEOUT" json:"read_timeout" default:"30s"`
	// WriteTimeout bounds sending one request.
	WriteTimeout time.Duration `envconfig:"KAFKA_WRITE_TIMEOUT" json:"write_timeout" default:"30s"`

	// TLS turns on TLS to the brokers, verified against the system roots
	// or TLSCAFile.
	TLS bool `envconfig:"KAFKA_TLS" json:"tls"`
	// TLSCAFile is a PEM file of the CAs to trust instead of the system's.
	TLSCAFile string `envconfig:"KAFKA_TLS_CA_FILE" json:"tls_ca_file"`
	// TLSCertFile is a PEM client certificate, for brokers that
	// authenticate clients by certificate; with TLSKeyFile.
	TLSCertFile string `envconfig:"KAFKA_TLS_CERT_FILE" json:"tls_cert_file"`
	// TLSKeyFile is the PEM key of TLSCertFile. Set both or neither.
	TLSKeyFile string `envconfig:"KAFKA_TLS_KEY_FILE" json:"tls_key_file"`
	// TLSServerName overrides the name checked in the brokers'
	// certificates.
	TLSServerName string `envconfig:"KAFKA_TLS_SERVER_NAME" json:"tls_server_name"`
	// TLSInsecureSkipVerify accepts any broker certificate. For tests only.
	TLSInsecureSkipVerify bool `envconfig:"KAFKA_TLS_INSECURE_SKIP_VERIFY" json:"tls_insecure_skip_verify"`

	// SASLMechanism turns on SASL: "PLAIN", "SCRAM-SHA-256" or
	// "SCRAM-SHA-512". Empty means no SASL. Use it with TLS: PLAIN sends
	// the password as is.
	SASLMechanism string `envconfig:"KAFKA_SASL_MECHANISM" json:"sasl_mechanism"`
	// SASLUser is the SASL user name.
	SASLUser string `envconfig:"KAFKA_SASL_USER" json:"sasl_user"`
	// SASLPassword is the SASL password; package config never shows it.
	SASLPassword string `envconfig:"KAFKA_SASL_PASSWORD" json:"sasl_password" secret:"true"`
}

// WithDefaults returns c with every zero field that has a default set to it.
func (c Config) WithDefaults() Config {
	set := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	setD := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&c.Version, DefaultVersion)
	set(&c.ClientID, DefaultClientID)
	set(&c.Acks, "all")
	set(&c.Compression, "none")
	set(&c.Partitioner, "murmur2")
	set(&c.InitialOffset, "newest")
	set(&c.Balance, "range")
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.Retries == 0 {
		c.Retries = 5
	}
	if c.MaxUnsettled == 0 {
		c.MaxUnsettled = DefaultMaxUnsettled
	}
	setD(&c.RetryBackoff, 250*time.Millisecond)
	setD(&c.SessionTimeout, DefaultSessionTimeout)
	setD(&c.HeartbeatInterval, DefaultHeartbeatInterval)
	setD(&c.RebalanceTimeout, DefaultRebalanceTimeout)
	setD(&c.RevokeTimeout, DefaultRevokeTimeout)
	setD(&c.CommitInterval, DefaultCommitInterval)
	setD(&c.DialTimeout, 10*time.Second)
	setD(&c.ReadTimeout, 30*time.Second)
	setD(&c.WriteTimeout, 30*time.Second)
	return c
}

// Validate checks c, as filled (it does not apply defaults), and reports
// every problem, each naming its field by its environment variable.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("kafka: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if len(c.Brokers) == 0 {
		bad("KAFKA_BROKERS", "no broker given; want host:port[,host:port...]")
	}
	for _, b := range c.Brokers {
		if i := strings.LastIndexByte(b, ':'); i <= 0 || i == len(b)-1 || strings.TrimSpace(b) != b {
			bad("KAFKA_BROKERS", "%q is not host:port", b)
		}
	}
	for _, t := range c.Topics {
		if err := checkTopicName(t); err != nil {
			bad("KAFKA_TOPICS", "%v", err)
		}
	}
	if _, err := sarama.ParseKafkaVersion(c.Version); err != nil {
		bad("KAFKA_VERSION", "%q is not a Kafka version such as %q", c.Version, DefaultVersion)
	}
	if c.ClientID == "" {
		bad("KAFKA_CLIENT_ID", "empty")
	}
	if _, err := parseAcks(c.Acks); err != nil {
		bad("KAFKA_ACKS", "%v", err)
	}
	if c.Idempotent {
		if c.Acks != "all" {
			bad("KAFKA_IDEMPOTENT", "the idempotent producer needs KAFKA_ACKS=all, not %q", c.Acks)
		}
		if c.Retries < 1 {
			bad("KAFKA_IDEMPOTENT", "the idempotent producer needs KAFKA_RETRIES of at least 1, not %d", c.Retries)
		}
	}
	if _, err := parseCompression(c.Compression); err != nil {
		bad("KAFKA_COMPRESSION", "%v", err)
	}
	if _, err := parsePartitioner(c.Partitioner); err != nil {
		bad("KAFKA_PARTITIONER", "%v", err)
	}
	if c.MaxMessageBytes <= maxRecordOverhead || c.MaxMessageBytes >= int(sarama.MaxRequestSize) {
		bad("KAFKA_MAX_MESSAGE_BYTES", "%d is not between %d and %d", c.MaxMessageBytes, maxRecordOverhead+1, sarama.MaxRequestSize-1)
	}
	if c.Linger < 0 {
		bad("KAFKA_LINGER", "%s is negative", c.Linger)
	}
	if c.BatchMessages < 0 {
		bad("KAFKA_BATCH_MESSAGES", "%d is negative", c.BatchMessages)
	}
	if c.Retries < 0 {
		bad("KAFKA_RETRIES", "%d is negative", c.Retries)
	}
	if _, err := parseInitialOffset(c.InitialOffset); err != nil {
		bad("KAFKA_INITIAL_OFFSET", "%v", err)
	}
	if _, err := parseBalance(c.Balance); err != nil {
		bad("KAFKA_BALANCE", "%v", err)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"KAFKA_RETRY_BACKOFF", c.RetryBackoff},
		{"KAFKA_SESSION_TIMEOUT", c.SessionTimeout},
		{"KAFKA_HEARTBEAT_INTERVAL", c.HeartbeatInterval},
		{"KAFKA_REBALANCE_TIMEOUT", c.RebalanceTimeout},
		{"KAFKA_REVOKE_TIMEOUT", c.RevokeTimeout},
		{"KAFKA_COMMIT_INTERVAL", c.CommitInterval},
		{"KAFKA_DIAL_TIMEOUT", c.DialTimeout},
		{"KAFKA_READ_TIMEOUT", c.ReadTimeout},
		{"KAFKA_WRITE_TIMEOUT", c.WriteTimeout},
	} {
		if d.v <= 0 {
			bad(d.field, "%s is not positive", d.v)
		}
	}
	if c.HeartbeatInterval > 0 && c.SessionTimeout > 0 && c.HeartbeatInterval >= c.SessionTimeout {
		bad("KAFKA_HEARTBEAT_INTERVAL", "%s is not below KAFKA_SESSION_TIMEOUT (%s)", c.HeartbeatInterval, c.SessionTimeout)
	}
	if c.RevokeTimeout > 0 && c.RebalanceTimeout > 0 && c.RevokeTimeout >= c.RebalanceTimeout {
		bad("KAFKA_REVOKE_TIMEOUT", "%s is not below KAFKA_REBALANCE_TIMEOUT (%s): the coordinator would drop the member while it drains", c.RevokeTimeout, c.RebalanceTimeout)
	}
	if c.MaxUnsettled < 1 {
		bad("KAFKA_MAX_UNSETTLED", "%d is below 1", c.MaxUnsettled)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		if c.TLSCertFile == "" {
			bad("KAFKA_TLS_CERT_FILE", "empty while KAFKA_TLS_KEY_FILE is set; set both or neither")
		} else {
			bad("KAFKA_TLS_KEY_FILE", "empty while KAFKA_TLS_CERT_FILE is set; set both or neither")
		}
	}
	if !c.TLS && (c.TLSCAFile != "" || c.TLSCertFile != "" || c.TLSServerName != "" || c.TLSInsecureSkipVerify) {
		bad("KAFKA_TLS", "false while other KAFKA_TLS_* settings are given; set KAFKA_TLS=true")
	}
	switch c.SASLMechanism {
	case "":
		if c.SASLUser != "" || c.SASLPassword != "" {
			bad("KAFKA_SASL_MECHANISM", "empty while KAFKA_SASL_USER or KAFKA_SASL_PASSWORD is set")
		}
	case sarama.SASLTypePlaintext, sarama.SASLTypeSCRAMSHA256, sarama.SASLTypeSCRAMSHA512:
		if c.SASLUser == "" {
			bad("KAFKA_SASL_USER", "empty while KAFKA_SASL_MECHANISM is %s", c.SASLMechanism)
		}
		if c.SASLPassword == "" {
			bad("KAFKA_SASL_PASSWORD", "empty while KAFKA_SASL_MECHANISM is %s", c.SASLMechanism)
		}
	default:
		bad("KAFKA_SASL_MECHANISM", "%q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASLMechanism)
	}
	return errors.Join(errs...)
}

// checkTopicName applies Kafka's rules for topic names.
func checkTopicName(t string) error {
	if t == "" || t == "." || t == ".." || len(t) > 249 {
		return fmt.Errorf("%q is not a valid topic name", t)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("topic %q: character %q is not allowed (only A-Z, a-z, 0-9, '.', '_', '-')", t, c)
		}
	}
	return nil
}

func parseAcks(s string) (sarama.RequiredAcks, error) {
	switch s {
	case "all":
		return sarama.WaitForAll, nil
	case "leader":
		return sarama.WaitForLocal, nil
	case "none":
		return sarama.NoResponse, nil
	}
	return 0, fmt.Errorf("%q is not all, leader or none", s)
}

func parseCompression(s string) (sarama.CompressionCodec, error) {
	switch s {
	case "none":
		return sarama.CompressionNone, nil
	case "gzip":
		return sarama.CompressionGZIP, nil
	case "snappy":
		return sarama.CompressionSnappy, nil
	case "lz4":
		return sarama.CompressionLZ4, nil
	case "zstd":
		return sarama.CompressionZSTD, nil
	}
	return 0, fmt.Errorf("%q is not none, gzip, snappy, lz4 or zstd", s)
}

func parsePartitioner(s string) (sarama.PartitionerConstructor, error) {
	switch s {
	case "hash":
		return sarama.NewHashPartitioner, nil
	case "murmur2":
		return sarama.NewMurmur2Partitioner, nil
	case "crc32":
		return sarama.NewConsistentCRCHashPartitioner, nil
	}
	return nil, fmt.Errorf("%q is not hash, murmur2 or crc32", s)
}

func parseInitialOffset(s string) (int64, error) {
	switch s {
	case "newest":
		return sarama.OffsetNewest, nil
	case "oldest":
		return sarama.OffsetOldest, nil
	}
	return 0, fmt.Errorf("%q is not newest or oldest", s)
}

func parseBalance(s string) (sarama.BalanceStrategy, error) {
	switch s {
	case "range":
		return sarama.NewBalanceStrategyRange(), nil
	case "roundrobin":
		return sarama.NewBalanceStrategyRoundRobin(), nil
	case "sticky":
		return sarama.NewBalanceStrategySticky(), nil
	}
	return nil, fmt.Errorf("%q is not range, roundrobin or sticky", s)
}

// saramaConfig builds the sarama configuration for c, which has its
// defaults and passed Validate. Every client gets a configuration of its
// own.
func (c Config) saramaConfig() (*sarama.Config, error) {
	sc := sarama.NewConfig()
	sc.Version, _ = sarama.ParseKafkaVersion(c.Version)
	sc.ClientID = c.ClientID
	sc.Net.DialTimeout = c.DialTimeout
	sc.Net.ReadTimeout = c.ReadTimeout
	sc.Net.WriteTimeout = c.WriteTimeout
	// One request in flight per broker connection: a retried produce can
	// then never overtake a later one, so a partition keeps its order
	// (and the idempotent producer requires it).
	sc.Net.MaxOpenRequests = 1
	sc.Metadata.AllowAutoTopicCreation = c.AutoCreateTopics
	sc.Metadata.Retry.Max = c.Retries
	sc.Metadata.Retry.Backoff = c.RetryBackoff

	sc.Producer.RequiredAcks, _ = parseAcks(c.Acks)
	sc.Producer.Idempotent = c.Idempotent
	sc.Producer.Compression, _ = parseCompression(c.Compression)
	sc.Producer.Partitioner, _ = parsePartitioner(c.Partitioner)
	sc.Producer.MaxMessageBytes = c.MaxMessageBytes
	sc.Producer.Retry.Max = c.Retries
	sc.Producer.Retry.BackoffFunc = backoffFunc(c.RetryBackoff)
	sc.Producer.Return.Successes = true
	sc.Producer.Return.Errors = true
	if c.Linger > 0 {
		sc.Producer.Flush.Frequency = c.Linger
		sc.Producer.Flush.Messages = c.BatchMessages
		if sc.Producer.Flush.Messages == 0 {
			sc.Producer.Flush.Messages = 1000
		}
	}

	sc.Consumer.Return.Errors = true
	sc.Consumer.Offsets.Initial, _ = parseInitialOffset(c.InitialOffset)
	sc.Consumer.Offsets.AutoCommit.Enable = true
	sc.Consumer.Offsets.AutoCommit.Interval = c.CommitInterval
	sc.Consumer.Offsets.Retry.Max = c.Retries
	sc.Consumer.Retry.BackoffFunc = func(retries int) time.Duration { return backoffFunc(c.RetryBackoff)(retries, 0) }
	sc.Consumer.Group.Session.Timeout = c.SessionTimeout
	sc.Consumer.Group.Heartbeat.Interval = c.HeartbeatInterval
	sc.Consumer.Group.Rebalance.Timeout = c.RebalanceTimeout
	sc.Consumer.Group.Rebalance.Retry.Backoff = c.RetryBackoff
	bs, _ := parseBalance(c.Balance)
	sc.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{bs}

	if c.TLS {
		tc, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		sc.Net.TLS.Enable = true
		sc.Net.TLS.Config = tc
	}
	if c.SASLMechanism != "" {
		sc.Net.SASL.Enable = true
		sc.Net.SASL.Mechanism = sarama.SASLMechanism(c.SASLMechanism)
		sc.Net.SASL.User = c.SASLUser
		sc.Net.SASL.Password = c.SASLPassword
		switch c.SASLMechanism {
		case sarama.SASLTypeSCRAMSHA256:
			sc.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return newSCRAMClient(scramSHA256) }
		case sarama.SASLTypeSCRAMSHA512:
			sc.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return newSCRAMClient(scramSHA512) }
		}
	}
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("kafka: configuration: %w", err)
	}
	return sc, nil
}

// tlsConfig builds the TLS configuration, reading the files it names.
func (c Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.TLSServerName,
		InsecureSkipVerify: c.TLSInsecureSkipVerify, //nolint:gosec // opt-in, documented as for tests
	}
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: KAFKA_TLS_CA_FILE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka: KAFKA_TLS_CA_FILE: %s holds no PEM certificate", c.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	if c.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: KAFKA_TLS_CERT_FILE, KAFKA_TLS_KEY_FILE: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// maxBackoff caps the doubling retry backoff.
const maxBackoff = 10 * time.Second

// backoffFunc doubles base per retry, up to maxBackoff.
func backoffFunc(base time.Duration) func(retries, _ int) time.Duration {
	return func(retries, _ int) time.Duration { return backoff(base, retries) }
}

func backoff(base time.Duration, retries int) time.Duration {
	d := base
	for i := 0; i < retries && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// prepare applies the defaults to c and validates it, for a constructor.
func prepare(c Config) (Config, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}
