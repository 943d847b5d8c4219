package gcp

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"unicode/utf8"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/protobuf/proto"

	gizmo "github.com/seed8104ecd5/gizmo/pubsub"
)

// Publisher publishes to one Pub/Sub topic through the client's batching
// publisher. It implements [gizmo.MultiPublisher] and is safe for
// concurrent use.
//
// Publish and PublishRaw hand the message to the client and wait for
// Pub/Sub's answer, so a lone publish waits for Publish.DelayThreshold;
// concurrent publishes share batches. PublishBatch hands over every
// message before it waits, so that the client batches them.
type Publisher struct {
	client   *pubsub.Client
	topic    *pubsub.Publisher
	name     string
	ordering bool
	maxBytes int
	log      *slog.Logger

	mu     sync.RWMutex // held for reading while handing messages to the client
	closed bool

	pausedMu sync.Mutex
	paused   map[string]struct{} // ordering keys whose last publish failed
}

var _ gizmo.MultiPublisher = (*Publisher)(nil)

// NewPublisher connects as cfg says and returns a publisher for cfg.Topic.
// With cfg.Create.Topic it creates the topic (and the dead-letter topic)
// if missing. It does not check that the topic exists, which would need
// more than publish permission: publishing to a missing topic fails with
// an error wrapping [gizmo.ErrTopicNotFound].
func NewPublisher(ctx context.Context, cfg Config, opts ...Option) (*Publisher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Topic == "" {
		return nil, fieldErr("Topic", "is empty: a publisher needs a topic")
	}
	o := newOptions(opts)
	client, err := connect(ctx, cfg, o)
	if err != nil {
		return nil, err
	}
	if err := ensureTopics(ctx, client, cfg); err != nil {
		_ = client.Close()
		return nil, err
	}
	name := fullName(client.Project(), "topics", cfg.Topic)
	t := client.Publisher(name)
	pc := cfg.Publish
	behavior, _ := limitBehavior(pc.LimitExceeded)
	t.PublishSettings = pubsub.PublishSettings{
		DelayThreshold: pc.DelayThreshold,
		CountThreshold: pc.CountThreshold,
		ByteThreshold:  pc.ByteThreshold,
		NumGoroutines:  pc.NumGoroutines,
		Timeout:        pc.Timeout,
		FlowControlSettings: pubsub.FlowControlSettings{
			MaxOutstandingMessages: pc.MaxOutstandingMessages,
			MaxOutstandingBytes:    pc.MaxOutstandingBytes,
			LimitExceededBehavior:  behavior,
		},
		CompressionBytesThreshold: pubsub.DefaultPublishSettings.CompressionBytesThreshold,
	}
	t.EnableMessageOrdering = pc.Ordering
	return &Publisher{
		client:   client,
		topic:    t,
		name:     name,
		ordering: pc.Ordering,
		maxBytes: pc.MaxMessageBytes,
		log:      o.logger,
	}, nil
}

// Topic returns the full name of the topic.
func (p *Publisher) Topic() string { return p.name }

// Client returns the client library's client the publisher uses.
func (p *Publisher) Client() *pubsub.Client { return p.client }

// Publish marshals msg with protobuf and publishes it under key.
func (p *Publisher) Publish(ctx context.Context, key string, msg proto.Message, opts ...gizmo.PublishOption) error {
	return gizmo.PublishProto(ctx, p.PublishRaw, key, msg, opts...)
}

// PublishRaw publishes payload under key and waits until Pub/Sub has
// accepted it. The key travels as the gizmo-key attribute and, with
// Publish.Ordering, as the ordering key. [gizmo.WithDeduplicationID] fails
// with an error wrapping [gizmo.ErrNotSupported]: Pub/Sub does not
// deduplicate on publish. After a failed publish of an ordering key, the
// next publish of that key resumes it. If ctx ends while PublishRaw waits,
// it returns ctx's error, and the client may still send the message.
func (p *Publisher) PublishRaw(ctx context.Context, key string, payload []byte, opts ...gizmo.PublishOption) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("gcp: publish to %q: %w", p.name, err)
	}
	var o gizmo.PublishOptions
	if len(opts) > 0 {
		o = gizmo.ApplyPublishOptions(opts...)
	}
	if o.DeduplicationID != "" {
		return p.errNoDedup()
	}
	m, err := encode(p.name, p.ordering, p.maxBytes, key, payload, o.Attributes)
	if err != nil {
		return err
	}
	res, err := p.send(ctx, m, nil)
	if err != nil {
		return err
	}
	if _, err := res.Get(ctx); err != nil {
		p.failed(m.OrderingKey)
		return publishErr(p.name, err)
	}
	return nil
}

// PublishMessage publishes m as it is, without gizmo's wire encoding (no
// gizmo-key attribute, no escaping), and returns the message ID Pub/Sub
// gave it. It is for publishing exactly what a consumer outside gizmo
// expects, such as an ordering key that is not the message's key. The
// attributes must be valid UTF-8; m must fit Pub/Sub's limits (an error
// wrapping [gizmo.ErrTooLarge] otherwise), and may carry an ordering key
// only on a publisher with Publish.Ordering ([ErrOrderingNotEnabled]).
// The client may keep m until it is sent; do not modify it.
func (p *Publisher) PublishMessage(ctx context.Context, m *pubsub.Message) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("gcp: publish to %q: %w", p.name, err)
	}
	if m.OrderingKey != "" && !p.ordering {
		return "", fmt.Errorf("gcp: publish to %q: message has ordering key %q: %w", p.name, m.OrderingKey, ErrOrderingNotEnabled)
	}
	if err := validateRaw(m); err != nil {
		return "", fmt.Errorf("gcp: publish to %q: %w", p.name, err)
	}
	if err := checkLimits(p.name, p.maxBytes, m); err != nil {
		return "", err
	}
	res, err := p.send(ctx, m, nil)
	if err != nil {
		return "", err
	}
	id, err := res.Get(ctx)
	if err != nil {
		p.failed(m.OrderingKey)
		return "", publishErr(p.name, err)
	}
	return id, nil
}

// send hands m to the client, first resuming its ordering key if an
// earlier publish of it failed. resumed, if not nil, records the keys
// this call resumed already, so that a batch resumes a key only before
// its first message of that key.
func (p *Publisher) send(ctx context.Context, m *pubsub.Message, resumed map[string]struct{}) (*pubsub.PublishResult, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return nil, fmt.Errorf("gcp: publish to %q: %w", p.name, gizmo.ErrClosed)
	}
	if k := m.OrderingKey; k != "" {
		if _, done := resumed[k]; !done {
			p.resume(k)
			if resumed != nil {
				resumed[k] = struct{}{}
			}
		}
	}
	return p.topic.Publish(ctx, m), nil
}

// failed records that a publish of ordering key k failed: the client
// pauses the key, and the next publish resumes it.
func (p *Publisher) failed(k string) {
	if k == "" {
		return
	}
	p.pausedMu.Lock()
	defer p.pausedMu.Unlock()
	if p.paused == nil {
		p.paused = make(map[string]struct{})
	}
	p.paused[k] = struct{}{}
}

func (p *Publisher) resume(k string) {
	p.pausedMu.Lock()
	_, ok := p.paused[k]
	delete(p.paused, k)
	p.pausedMu.Unlock()
	if ok {
		p.topic.ResumePublish(k)
		p.log.LogAttrs(context.Background(), slog.LevelDebug, "gcp: resumed ordering key after a failed publish",
			slog.String("topic", p.name), slog.String("key", k))
	}
}

func (p *Publisher) errNoDedup() error {
	return fmt.Errorf("gcp: publish to %q: Pub/Sub does not deduplicate on publish, so WithDeduplicationID cannot be honoured: %w", p.name, gizmo.ErrNotSupported)
}

// Close publishes what the client still holds, waits for it, and closes
// the client. Later publishes fail with an error
// wrapping [gizmo.ErrClosed]. Close is idempotent.
func (p *Publisher) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.topic.Stop()
	if err := p.client.Close(); err != nil {
		return fmt.Errorf("gcp: close publisher of %q: %w", p.name, err)
	}
	return nil
}

// validateRaw checks what the client would otherwise fail on late: the
// attributes of a message travel as protobuf strings, which must be UTF-8.
func validateRaw(m *pubsub.Message) error {
	if len(m.Data) == 0 && len(m.Attributes) == 0 {
		return fmt.Errorf("%w: Pub/Sub refuses a message with neither data nor attributes", gizmo.ErrInvalidMessage)
	}
	for name, v := range m.Attributes {
		if name == "" || !utf8.ValidString(name) || !utf8.ValidString(v) {
			return fmt.Errorf("%w: attribute %q: names must be non-empty, names and values valid UTF-8", gizmo.ErrInvalidMessage, name)
		}
		if hasGoogPrefix(name) {
			return fmt.Errorf("%w: attribute %q: Pub/Sub reserves names that start with goog", gizmo.ErrInvalidMessage, name)
		}
	}
	if !utf8.ValidString(m.OrderingKey) {
		return fmt.Errorf("%w: ordering key %q is not valid UTF-8", gizmo.ErrInvalidMessage, m.OrderingKey)
	}
	return nil
}
