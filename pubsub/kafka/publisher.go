package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/IBM/sarama"
	"google.golang.org/protobuf/proto"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/internal/wire"
)

// maxRecordOverhead is what sarama adds to a record's key, value and
// headers when it checks Producer.MaxMessageBytes (record batch v2).
const maxRecordOverhead = 36

// Publisher publishes to one Kafka topic through sarama's asynchronous
// producer. It implements [pubsub.MultiPublisher]. Every publish waits for
// its own record's acknowledgement (Config.Acks), so concurrent publishes
// share produce requests while each still returns only once its record is
// written; Config.Linger makes the batches bigger. It is safe for
// concurrent use.
type Publisher struct {
	topic    string
	maxBytes int
	recVer   int // record format: 2 from Kafka 0.11 on
	client   sarama.Client
	prod     sarama.AsyncProducer
	log      *slog.Logger

	mu       sync.RWMutex // held for reading while sending on prod.Input; Close takes it
	closed   atomic.Bool
	closeErr error
	once     sync.Once
	wg       sync.WaitGroup // the result dispatchers
}

var _ pubsub.MultiPublisher = (*Publisher)(nil)

// NewPublisher connects to cfg.Brokers and returns a publisher to the
// topic cfg.Topics names (exactly one). It fails with an error wrapping
// [pubsub.ErrTopicNotFound] if the topic does not exist (and
// Config.AutoCreateTopics is off), and with one naming the brokers if none
// answers before ctx ends or Config.DialTimeout passes for each.
func NewPublisher(ctx context.Context, cfg Config, opts ...Option) (*Publisher, error) {
	cfg, err := prepare(cfg)
	if err != nil {
		return nil, err
	}
	if len(cfg.Topics) != 1 {
		return nil, fmt.Errorf("kafka: KAFKA_TOPICS: a publisher needs exactly one topic, got %d", len(cfg.Topics))
	}
	o := applyOptions(opts)
	client, sc, err := connect(ctx, cfg, o)
	if err != nil {
		return nil, err
	}
	topic := cfg.Topics[0]
	if err := checkTopic(client, topic); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("kafka: publisher: %w", err)
	}
	prod, err := sarama.NewAsyncProducerFromClient(client)
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("kafka: publisher for %q: %w", topic, err)
	}
	p := &Publisher{topic: topic, maxBytes: sc.Producer.MaxMessageBytes, recVer: 1, client: client, prod: prod, log: o.logger}
	if sc.Version.IsAtLeast(sarama.V0_11_0_0) {
		p.recVer = 2
	}
	p.wg.Go(func() {
		for m := range prod.Successes() {
			m.Metadata.(*pending).finish(nil)
		}
	})
	p.wg.Go(func() {
		for e := range prod.Errors() {
			e.Msg.Metadata.(*pending).finish(e.Err)
		}
	})
	return p, nil
}

// Producer returns the sarama producer underneath. Sending on it directly
// bypasses the publisher's checks and acknowledgements.
func (p *Publisher) Producer() sarama.AsyncProducer { return p.prod }

// pending is one record's wait for its acknowledgement.
type pending struct {
	ch chan error
}

var pendingPool = sync.Pool{New: func() any { return &pending{ch: make(chan error, 1)} }}

func (w *pending) finish(err error) { w.ch <- err }

// Publish marshals msg with protobuf and publishes it under key.
func (p *Publisher) Publish(ctx context.Context, key string, msg proto.Message, opts ...pubsub.PublishOption) error {
	return pubsub.PublishProto(ctx, p.PublishRaw, key, msg, opts...)
}

// PublishRaw publishes payload under key, with the attributes of opts as
// record headers, and returns once the record is acknowledged. The key
// picks the partition; an empty key is a null key, for a random partition.
// payload is copied. If ctx ends first, PublishRaw returns ctx's error,
// and the record may still be written.
func (p *Publisher) PublishRaw(ctx context.Context, key string, payload []byte, opts ...pubsub.PublishOption) error {
	if err := p.check(ctx); err != nil {
		return err
	}
	var o pubsub.PublishOptions
	if len(opts) > 0 {
		o = pubsub.ApplyPublishOptions(opts...)
	}
	msg, err := p.build(key, payload, o.Attributes, o.DeduplicationID)
	if err != nil {
		return err
	}
	w := pendingPool.Get().(*pending)
	msg.Metadata = w
	if err := p.send(ctx, msg); err != nil {
		pendingPool.Put(w)
		return err
	}
	done := ctx.Done()
	if done == nil { // a context that never ends: no select needed
		err := <-w.ch
		pendingPool.Put(w)
		return p.produceErr(err)
	}
	select {
	case err := <-w.ch:
		pendingPool.Put(w)
		return p.produceErr(err)
	case <-done:
		return fmt.Errorf("kafka: publish to %q: %w (the record may still be written)", p.topic, ctx.Err())
	}
}

func (p *Publisher) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kafka: publish to %q: %w", p.topic, err)
	}
	if p.closed.Load() {
		return fmt.Errorf("kafka: publish to %q: %w", p.topic, pubsub.ErrClosed)
	}
	return nil
}

// build validates a message and makes its record.
func (p *Publisher) build(key string, payload []byte, attrs map[string]string, dedupID string) (*sarama.ProducerMessage, error) {
	if dedupID != "" {
		return nil, fmt.Errorf("kafka: publish to %q: deduplication ID %q: Kafka does not deduplicate by ID (Config.Idempotent removes the duplicates of retried produces): %w", p.topic, dedupID, pubsub.ErrNotSupported)
	}
	if err := wire.Validate(key, attrs); err != nil {
		return nil, fmt.Errorf("kafka: publish to %q: %w", p.topic, err)
	}
	msg := &sarama.ProducerMessage{Topic: p.topic, Value: sarama.ByteEncoder(append([]byte(nil), payload...))}
	if key != "" {
		msg.Key = sarama.StringEncoder(key)
	}
	if len(attrs) > 0 {
		msg.Headers = make([]sarama.RecordHeader, 0, len(attrs))
		for k, v := range attrs {
			msg.Headers = append(msg.Headers, sarama.RecordHeader{Key: []byte(k), Value: []byte(v)})
		}
	}
	if n := msg.ByteSize(p.recVer); n > p.maxBytes {
		return nil, fmt.Errorf("kafka: publish to %q: record of %d bytes (key, value, %d headers and overhead), KAFKA_MAX_MESSAGE_BYTES is %d: %w",
			p.topic, n, len(attrs), p.maxBytes, pubsub.ErrTooLarge)
	}
	return msg, nil
}

// send hands msg to the producer.
func (p *Publisher) send(ctx context.Context, msg *sarama.ProducerMessage) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed.Load() {
		return fmt.Errorf("kafka: publish to %q: %w", p.topic, pubsub.ErrClosed)
	}
	select {
	case p.prod.Input() <- msg:
		return nil
	default:
	}
	select {
	case p.prod.Input() <- msg:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("kafka: publish to %q: %w", p.topic, ctx.Err())
	}
}

// produceErr turns the producer's error into the publisher's.
func (p *Publisher) produceErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sarama.ErrUnknownTopicOrPartition):
		return fmt.Errorf("kafka: publish to %q: %w (%w)", p.topic, pubsub.ErrTopicNotFound, err)
	case errors.Is(err, sarama.ErrMessageSizeTooLarge), errors.Is(err, sarama.ErrMessageTooLarge):
		return fmt.Errorf("kafka: publish to %q: %w (%w)", p.topic, pubsub.ErrTooLarge, err)
	case errors.Is(err, sarama.ErrShuttingDown):
		return fmt.Errorf("kafka: publish to %q: %w (%w)", p.topic, pubsub.ErrClosed, err)
	}
	return fmt.Errorf("kafka: publish to %q: %w", p.topic, err)
}

// PublishBatch publishes msgs in one go, as sarama's SendMessages does,
// and waits for every record's acknowledgement. It returns nil if all were
// written, or a *[pubsub.BatchError] with an error per message. A message
// that breaks the rules or the size limit fails before anything is sent,
// and so do the later messages of its key ([pubsub.ErrKeyBlocked]). Records
// of one key share a partition, and the producer writes a partition's
// records in order with one request in flight, so a record the broker
// refuses fails, in practice, with every later record of its partition
// that was sent with it. The exception, which the rule cannot cover: a
// broker that fails one request past all retries and then accepts the next.
// PublishBatch logs it at Error when it sees it.
func (p *Publisher) PublishBatch(ctx context.Context, msgs []pubsub.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	errs := make([]error, len(msgs))
	if err := p.check(ctx); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return &pubsub.BatchError{Errs: errs}
	}
	var gate wire.KeyGate
	waits := make([]*pending, len(msgs))
	failed := false
	for i, in := range msgs {
		err := gate.Check(in.Key)
		var rec *sarama.ProducerMessage
		if err == nil {
			rec, err = p.build(in.Key, in.Payload, in.Attributes, in.DeduplicationID)
		}
		if err == nil {
			w := pendingPool.Get().(*pending)
			rec.Metadata = w
			if err = p.send(ctx, rec); err == nil {
				waits[i] = w
			} else {
				pendingPool.Put(w)
			}
		}
		if err != nil {
			errs[i], failed = err, true
			gate.Fail(in.Key)
		}
	}
	var ctxErr error
	for i, w := range waits {
		if w == nil {
			continue
		}
		if ctxErr == nil {
			select {
			case err := <-w.ch:
				pendingPool.Put(w)
				errs[i] = p.produceErr(err)
			case <-ctx.Done():
				ctxErr = fmt.Errorf("kafka: publish to %q: %w (the record may still be written)", p.topic, ctx.Err())
			}
		}
		if ctxErr != nil {
			errs[i] = ctxErr
		}
		if errs[i] != nil {
			failed = true
		}
	}
	if !failed {
		return nil
	}
	p.checkKeyOrder(msgs, errs)
	return &pubsub.BatchError{Errs: errs}
}

// checkKeyOrder logs a key whose later message was written after an
// earlier one failed at the broker.
func (p *Publisher) checkKeyOrder(msgs []pubsub.Message, errs []error) {
	failedKeys := make(map[string]int)
	for i, err := range errs {
		k := msgs[i].Key
		if k == "" {
			continue
		}
		if err != nil {
			if _, seen := failedKeys[k]; !seen {
				failedKeys[k] = i
			}
			continue
		}
		if first, ok := failedKeys[k]; ok {
			p.log.LogAttrs(context.Background(), slog.LevelError, "kafka: a batch wrote a record after an earlier record of its key failed; retrying the failed one breaks the key's order",
				slog.String("topic", p.topic), slog.String("key", k), slog.Int("failed", first), slog.Int("written", i))
		}
	}
}

// Close flushes the records still buffered, waits for their
// acknowledgements, and closes the connections. Publishing afterwards
// fails with an error wrapping [pubsub.ErrClosed]. Close is idempotent.
func (p *Publisher) Close() error {
	p.once.Do(func() {
		p.closed.Store(true)
		p.mu.Lock() // no send is under way after this
		p.prod.AsyncClose()
		p.mu.Unlock()
		p.wg.Wait()
		if err := p.client.Close(); err != nil && !errors.Is(err, sarama.ErrClosedClient) {
			p.closeErr = fmt.Errorf("kafka: close publisher of %q: %w", p.topic, err)
		}
	})
	return p.closeErr
}
