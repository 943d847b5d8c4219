package mem

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

var (
	// ErrAlreadyExists is wrapped by the error [Broker.CreateTopic] and
	// [Broker.CreateSubscription] return for a name that is already taken.
	ErrAlreadyExists = errors.New("mem: already exists")
	// ErrBacklogFull is wrapped by the error a publish returns when a
	// subscription of the topic already holds its
	// [SubscriptionConfig].MaxBacklog unacknowledged messages. Nothing of
	// that publish was delivered anywhere.
	ErrBacklogFull = errors.New("mem: subscription backlog full")
)

// Defaults of a [Broker] and its subscriptions.
const (
	// DefaultAckDeadline is the ack deadline of a subscription whose
	// [SubscriptionConfig] leaves AckDeadline zero. It equals
	// [pubsub.DefaultLease].
	DefaultAckDeadline = pubsub.DefaultLease
	// DefaultDeduplicationWindow is how long a topic remembers a
	// deduplication ID, as SQS FIFO does.
	DefaultDeduplicationWindow = 5 * time.Minute
)

// Broker is an in-memory publish/subscribe broker with the delivery
// semantics of the pubsub contract; see the package doc.
//
// A Broker is safe for concurrent use. Its zero value is not usable; call
// [NewBroker].
type Broker struct {
	logger      *slog.Logger
	maxBytes    int
	maxAttrs    int
	dedupWindow time.Duration
	start       time.Time // base of the monotonic clock used for deadlines
	seq         atomic.Uint64
	closed      atomic.Bool

	mu     sync.Mutex
	topics map[string]*topic
	subs   map[string]*subscription
}

// Option configures a [Broker].
type Option func(*Broker)

// WithLogger sets the logger the broker reports redeliveries and drain
// timeouts to. The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(b *Broker) {
		if l != nil {
			b.logger = l
		}
	}
}

// WithMaxMessageBytes makes a publish fail with an error wrapping
// [pubsub.ErrTooLarge] when the message's payload, key, attribute names and
// values together exceed n bytes. Zero, the default, means no limit. It
// lets a program run locally against the limits of the backend it will
// use in production (SQS: 1 MiB).
func WithMaxMessageBytes(n int) Option {
	return func(b *Broker) { b.maxBytes = max(n, 0) }
}

// WithMaxAttributes makes a publish fail with an error wrapping
// [pubsub.ErrTooLarge] when the message has more than n attributes. Zero,
// the default, means no limit.
func WithMaxAttributes(n int) Option {
	return func(b *Broker) { b.maxAttrs = max(n, 0) }
}

// WithDeduplicationWindow sets how long a topic remembers a deduplication
// ID ([pubsub.WithDeduplicationID]); a message published again with the
// same ID within the window is accepted but not delivered. The default is
// [DefaultDeduplicationWindow].
func WithDeduplicationWindow(d time.Duration) Option {
	return func(b *Broker) { b.dedupWindow = max(d, 0) }
}

// NewBroker returns an empty broker.
func NewBroker(opts ...Option) *Broker {
	b := &Broker{
		logger:      slog.New(slog.DiscardHandler),
		dedupWindow: DefaultDeduplicationWindow,
		start:       time.Now(),
		topics:      make(map[string]*topic),
		subs:        make(map[string]*subscription),
	}
	for _, opt := range opts {
		if opt != nil {
			opt(b)
		}
	}
	return b
}

// SubscriptionConfig configures a subscription created with
// [Broker.CreateSubscription].
type SubscriptionConfig struct {
	// AckDeadline is how long a delivery may stay unsettled before the
	// message is delivered again. Zero means [DefaultAckDeadline].
	AckDeadline time.Duration
	// OrderedKeys makes delivery ordered per non-empty key: while a message
	// with key K is outstanding (delivered or prefetched and not yet Done),
	// no later message with key K is handed to any subscriber of the
	// subscription, so messages with one key are processed in publish order
	// even when some are Nacked or redelivered. Messages with an empty key
	// are not ordered.
	OrderedKeys bool
	// LeaseAtFetch starts a delivery's lease when its subscriber fetches
	// it, as SQS starts the visibility timeout at ReceiveMessage, instead
	// of when the application receives it. A prefetched message then uses
	// up its lease while it waits; one with less than half its lease left
	// is handed back rather than delivered.
	LeaseAtFetch bool
	// MaxBacklog bounds the messages the subscription holds that are not
	// yet acknowledged, delivered ones included. A publish that would go
	// past it fails, for every subscription of the topic, with an error
	// wrapping [ErrBacklogFull]. Zero means no bound: memory is the limit.
	MaxBacklog int
}

// now returns the broker's monotonic clock in nanoseconds.
func (b *Broker) now() int64 { return int64(time.Since(b.start)) }

func (b *Broker) closedErr() error {
	return fmt.Errorf("mem: broker closed: %w", pubsub.ErrClosed)
}

// CreateTopic creates the topic name. It returns an error wrapping
// [ErrAlreadyExists] if the topic exists, and one wrapping
// [pubsub.ErrClosed] after [Broker.Close].
func (b *Broker) CreateTopic(name string) error {
	if name == "" {
		return errors.New("mem: create topic: empty topic name")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return b.closedErr()
	}
	if _, ok := b.topics[name]; ok {
		return fmt.Errorf("mem: create topic %q: %w", name, ErrAlreadyExists)
	}
	t := &topic{name: name, b: b}
	t.subs.Store(&[]*subscription{})
	b.topics[name] = t
	return nil
}

// DeleteTopic deletes the topic name. Its subscriptions keep their backlog
// but receive no new messages; publishers of the topic get errors wrapping
// [pubsub.ErrTopicNotFound]. Deleting a missing topic returns an error
// wrapping [pubsub.ErrTopicNotFound].
func (b *Broker) DeleteTopic(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.topics[name]
	if !ok {
		return fmt.Errorf("mem: delete topic %q: %w", name, pubsub.ErrTopicNotFound)
	}
	delete(b.topics, name)
	t.deleted.Store(true)
	t.subs.Store(&[]*subscription{})
	return nil
}

// CreateSubscription creates the subscription name on topic. It receives
// every message published to the topic from now on. It returns an error
// wrapping [pubsub.ErrTopicNotFound] if the topic does not exist and one
// wrapping [ErrAlreadyExists] if the subscription does.
func (b *Broker) CreateSubscription(name, topicName string, cfg SubscriptionConfig) error {
	if name == "" {
		return errors.New("mem: create subscription: empty subscription name")
	}
	if cfg.AckDeadline < 0 {
		return fmt.Errorf("mem: create subscription %q: negative AckDeadline %v", name, cfg.AckDeadline)
	}
	if cfg.MaxBacklog < 0 {
		return fmt.Errorf("mem: create subscription %q: negative MaxBacklog %d", name, cfg.MaxBacklog)
	}
	if cfg.AckDeadline == 0 {
		cfg.AckDeadline = DefaultAckDeadline
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return b.closedErr()
	}
	t, ok := b.topics[topicName]
	if !ok {
		return fmt.Errorf("mem: create subscription %q: topic %q: %w", name, topicName, pubsub.ErrTopicNotFound)
	}
	if _, ok := b.subs[name]; ok {
		return fmt.Errorf("mem: create subscription %q: %w", name, ErrAlreadyExists)
	}
	s := newSubscription(b, name, cfg)
	b.subs[name] = s
	old := *t.subs.Load()
	subs := make([]*subscription, len(old), len(old)+1)
	copy(subs, old)
	t.subs.Store(ptr(append(subs, s)))
	go s.scan()
	return nil
}

// DeleteSubscription deletes the subscription name and its backlog. Its
// subscribers close their channels, and their Err reports an error wrapping
// [pubsub.ErrSubscriptionNotFound]. Deleting a missing subscription returns
// an error wrapping [pubsub.ErrSubscriptionNotFound].
func (b *Broker) DeleteSubscription(name string) error {
	b.mu.Lock()
	s, ok := b.subs[name]
	if !ok {
		b.mu.Unlock()
		return fmt.Errorf("mem: delete subscription %q: %w", name, pubsub.ErrSubscriptionNotFound)
	}
	delete(b.subs, name)
	for _, t := range b.topics {
		old := *t.subs.Load()
		subs := make([]*subscription, 0, len(old))
		for _, x := range old {
			if x != s {
				subs = append(subs, x)
			}
		}
		t.subs.Store(&subs)
	}
	b.mu.Unlock()
	s.terminate(fmt.Errorf("mem: subscription %q deleted: %w", name, pubsub.ErrSubscriptionNotFound))
	return nil
}

// NewPublisher returns a publisher for topic. It returns an error wrapping
// [pubsub.ErrTopicNotFound] if the topic does not exist; if the topic is
// deleted later, publishing fails with such an error.
func (b *Broker) NewPublisher(topicName string) (*Publisher, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return nil, b.closedErr()
	}
	t, ok := b.topics[topicName]
	if !ok {
		return nil, fmt.Errorf("mem: new publisher: topic %q: %w", topicName, pubsub.ErrTopicNotFound)
	}
	return &Publisher{t: t}, nil
}

// NewSubscriber returns a subscriber of the subscription name. It returns an
// error wrapping [pubsub.ErrSubscriptionNotFound] if the subscription does not
// exist. Several subscribers of one subscription compete for its messages.
func (b *Broker) NewSubscriber(name string, opts ...SubscriberOption) (*Subscriber, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return nil, b.closedErr()
	}
	s, ok := b.subs[name]
	if !ok {
		return nil, fmt.Errorf("mem: new subscriber: subscription %q: %w", name, pubsub.ErrSubscriptionNotFound)
	}
	return newSubscriber(s, opts)
}

// Close shuts the broker down: publishing fails with an error wrapping
// [pubsub.ErrClosed], and every subscriber closes its channel with Err
// reporting such an error. Messages not yet Done are lost. Close is
// idempotent and returns nil.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed.Swap(true) {
		b.mu.Unlock()
		return nil
	}
	subs := maps.Clone(b.subs)
	clear(b.subs)
	for _, t := range b.topics {
		t.subs.Store(&[]*subscription{})
	}
	b.mu.Unlock()
	for _, s := range subs {
		s.terminate(b.closedErr())
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
