package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// Position is where a [Reader] starts: [Oldest], [Newest], [AtOffset] or
// [AtTime].
type Position struct {
	offset int64     // an offset, or sarama.OffsetOldest / OffsetNewest
	at     time.Time // if not zero, the first record at or after it
}

var (
	// Oldest is the oldest record the partition keeps.
	Oldest = Position{offset: sarama.OffsetOldest}
	// Newest is the next record produced to the partition.
	Newest = Position{offset: sarama.OffsetNewest}
)

// AtOffset starts at the record with offset off (or, if the partition no
// longer keeps it, fails).
func AtOffset(off int64) Position { return Position{offset: off} }

// AtTime starts at the first record whose timestamp is at or after t; if
// there is none, at the next record produced.
func AtTime(t time.Time) Position { return Position{at: t} }

// String describes the position.
func (p Position) String() string {
	switch {
	case !p.at.IsZero():
		return "time " + p.at.Format(time.RFC3339Nano)
	case p.offset == sarama.OffsetOldest:
		return "oldest"
	case p.offset == sarama.OffsetNewest:
		return "newest"
	}
	return fmt.Sprintf("offset %d", p.offset)
}

// Reader reads one partition of the topic cfg.Topics names, outside any
// consumer group: for replays and backfills. It implements
// [pubsub.Subscriber] and [pubsub.NackReporter] and hands out
// [*Message]s, so [pubsub.Consume] runs over it as over a [Subscriber].
// It commits nothing: Done moves [Reader.Resume], the offset to start from
// to carry on, and Nack delivers the message again. Records are delivered
// in offset order. If the topic is deleted, or sarama's partition consumer
// stops for another reason, the channel closes and Err says why (wrapping
// [pubsub.ErrTopicNotFound] for a deleted topic).
type Reader struct {
	*core
	topic     string
	partition int32
	start     int64
	client    sarama.Client
	consumer  sarama.Consumer
	pc        sarama.PartitionConsumer
	ep        *epoch
	runDone   chan struct{}
	lastErr   atomic.Pointer[error] // the partition consumer's last error
	ctx       context.Context       // cancelled when the topic is found deleted
	cancel    context.CancelFunc
}

var (
	_ pubsub.Subscriber   = (*Reader)(nil)
	_ pubsub.NackReporter = (*Reader)(nil)
)

// NewReader connects to cfg.Brokers and opens partition of the topic
// cfg.Topics names (exactly one) at from. A missing topic or partition
// fails it with an error wrapping [pubsub.ErrTopicNotFound].
func NewReader(ctx context.Context, cfg Config, partition int32, from Position, opts ...Option) (*Reader, error) {
	cfg, err := prepare(cfg)
	if err != nil {
		return nil, err
	}
	if len(cfg.Topics) != 1 {
		return nil, fmt.Errorf("kafka: KAFKA_TOPICS: a reader needs exactly one topic, got %d", len(cfg.Topics))
	}
	topic := cfg.Topics[0]
	o := applyOptions(opts)
	client, _, err := connect(ctx, cfg, o)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Reader, error) {
		_ = client.Close()
		return nil, fmt.Errorf("kafka: reader of %s/%d from %s: %w", topic, partition, from, err)
	}
	if err := checkTopic(client, topic); err != nil {
		return fail(err)
	}
	parts, err := client.Partitions(topic)
	if err != nil {
		return fail(err)
	}
	if int(partition) >= len(parts) || partition < 0 {
		return fail(fmt.Errorf("the topic has %d partitions: %w", len(parts), pubsub.ErrTopicNotFound))
	}
	start := from.offset
	if !from.at.IsZero() {
		start, err = client.GetOffset(topic, partition, from.at.UnixMilli())
		if err != nil {
			return fail(err)
		}
		if start < 0 {
			start = sarama.OffsetNewest
		}
	}
	if start < 0 {
		if start, err = client.GetOffset(topic, partition, start); err != nil {
			return fail(err)
		}
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return fail(err)
	}
	pc, err := consumer.ConsumePartition(topic, partition, start)
	if err != nil {
		_ = consumer.Close()
		return fail(err)
	}
	r := &Reader{
		core:  newCore(fmt.Sprintf("reader of %s/%d", topic, partition), o.logger),
		topic: topic, partition: partition, start: start,
		client: client, consumer: consumer, pc: pc,
		runDone: make(chan struct{}),
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.ep = newEpoch(topic, partition, cfg.MaxUnsettled, nil, pc.HighWaterMarkOffset, r.onIdle)
	r.register(r.ep)
	return r, nil
}

// Start begins delivering and returns the channel, which buffers a few
// dozen messages; Stop takes back those not yet received.
func (r *Reader) Start() <-chan pubsub.SubscriberMessage {
	r.startOnce.Do(func() {
		go func() {
			for cerr := range r.pc.Errors() {
				var err error = cerr
				r.lastErr.Store(&err)
				r.log.LogAttrs(context.Background(), slog.LevelWarn, "kafka: reader error", slog.String("reader", r.name), slog.Any("error", err))
				// sarama retries a deleted topic's fetches for ever.
				if errors.Is(err, sarama.ErrUnknownTopicOrPartition) && errors.Is(r.client.RefreshMetadata(r.topic), sarama.ErrUnknownTopicOrPartition) {
					r.cancel()
				}
			}
		}()
		go func() {
			stopping := r.deliver(r.ep, r.pc.Messages(), r.ctx, nil)
			close(r.runDone)
			if !stopping {
				r.fail()
			}
		}()
	})
	return r.out
}

// fail ends the Reader after sarama's partition consumer stopped on its
// own (the offset fell out of the partition's range, the topic was
// deleted): the channel closes and Err says why.
func (r *Reader) fail() {
	r.stopOnce.Do(func() {
		err := fmt.Errorf("kafka: %s: the partition consumer stopped", r.name)
		if last := r.lastErr.Load(); last != nil {
			err = fmt.Errorf("kafka: %s: the partition consumer stopped: %w", r.name, *last)
			if errors.Is(*last, sarama.ErrUnknownTopicOrPartition) {
				err = fmt.Errorf("kafka: %s: %w: %w", r.name, pubsub.ErrTopicNotFound, *last)
			}
		}
		r.log.LogAttrs(context.Background(), slog.LevelError, "kafka: reader failed", slog.String("reader", r.name), slog.Any("error", err))
		r.takeBack()
		r.ep.close(true)
		_ = r.pc.Close()
		_ = r.consumer.Close()
		_ = r.client.Close()
		r.finish(err, nil)
	})
}

// CanNack reports true: Nack delivers the message again.
func (r *Reader) CanNack() bool { return true }

// Resume returns the offset to start from to carry on where the Reader
// is: that of the oldest record read and not Done, or, if all are, of the
// next one.
func (r *Reader) Resume() int64 {
	w, _, _ := r.ep.watermark()
	if w < 0 {
		return r.start
	}
	return w
}

// Lag returns the partition's lag.
func (r *Reader) Lag() PartitionLag { return r.ep.lag() }

// Stop stops delivering, waits until delivered messages are settled or ctx
// is done (its error then wraps [pubsub.ErrDrainTimeout]), and closes the
// channel. Stop is safe to call more than once.
func (r *Reader) Stop(ctx context.Context) error {
	r.stopOnce.Do(func() {
		r.startOnce.Do(func() { close(r.runDone) })
		derr := r.drain(ctx)
		<-r.runDone
		r.cancel()
		var cerr error
		if err := r.pc.Close(); err != nil {
			cerr = err
		}
		if err := r.consumer.Close(); err != nil && cerr == nil {
			cerr = err
		}
		if err := r.client.Close(); err != nil && !errors.Is(err, sarama.ErrClosedClient) && cerr == nil {
			cerr = err
		}
		if cerr != nil {
			r.log.LogAttrs(context.Background(), slog.LevelWarn, "kafka: closing reader", slog.String("reader", r.name), slog.Any("error", cerr))
		}
		r.finish(nil, derr)
	})
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopErr
}
