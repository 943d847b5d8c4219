package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// Subscriber is a member of a Kafka consumer group over one or more
// topics. It implements [pubsub.Subscriber], [pubsub.LeaseReporter] and
// [pubsub.NackReporter], and hands out [*Message]s.
//
// Each partition it is assigned is read by a goroutine of its own, so
// partitions are delivered concurrently; within a partition, records are
// delivered in offset order. A Done marks the partition's watermark (the
// oldest record not yet Done), which is committed every
// Config.CommitInterval, so the committed offset never passes a record
// that is not Done.
type Subscriber struct {
	*core
	cfg    Config
	sc     *sarama.Config
	client sarama.Client
	group  sarama.ConsumerGroup

	ctx          context.Context // the group's; cancelled once Stop's drain is over
	cancel       context.CancelFunc
	runDone      chan struct{}
	neverStarted bool                  // Stop came before Start
	gone         atomic.Pointer[error] // a subscribed topic was deleted: the terminal error
}

var (
	_ pubsub.Subscriber    = (*Subscriber)(nil)
	_ pubsub.LeaseReporter = (*Subscriber)(nil)
	_ pubsub.NackReporter  = (*Subscriber)(nil)
)

// NewSubscriber connects to cfg.Brokers and returns a member of the group
// cfg.Group over cfg.Topics; it joins the group when Start is called. A
// topic that does not exist fails it with an error wrapping
// [pubsub.ErrSubscriptionNotFound] and [pubsub.ErrTopicNotFound].
func NewSubscriber(ctx context.Context, cfg Config, opts ...Option) (*Subscriber, error) {
	cfg, err := prepare(cfg)
	if err != nil {
		return nil, err
	}
	if len(cfg.Topics) == 0 {
		return nil, errors.New("kafka: KAFKA_TOPICS: a subscriber needs at least one topic")
	}
	if cfg.Group == "" {
		return nil, errors.New("kafka: KAFKA_GROUP: a subscriber needs a consumer group")
	}
	o := applyOptions(opts)
	client, sc, err := connect(ctx, cfg, o)
	if err != nil {
		return nil, err
	}
	for _, t := range cfg.Topics {
		if err := checkTopic(client, t); err != nil {
			_ = client.Close()
			if errors.Is(err, pubsub.ErrTopicNotFound) {
				return nil, fmt.Errorf("kafka: subscriber of group %q: %w: %w", cfg.Group, pubsub.ErrSubscriptionNotFound, err)
			}
			return nil, fmt.Errorf("kafka: subscriber of group %q: %w", cfg.Group, err)
		}
	}
	group, err := sarama.NewConsumerGroupFromClient(cfg.Group, client)
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("kafka: subscriber of group %q: %w", cfg.Group, err)
	}
	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Subscriber{
		core:    newCore(fmt.Sprintf("group %q on %s", cfg.Group, strings.Join(cfg.Topics, ",")), o.logger),
		cfg:     cfg,
		sc:      sc,
		client:  client,
		group:   group,
		ctx:     gctx,
		cancel:  cancel,
		runDone: make(chan struct{}),
	}
	return s, nil
}

// Client returns the sarama client underneath.
func (s *Subscriber) Client() sarama.Client { return s.client }

// Start joins the group and returns the channel messages are delivered
// on. It buffers a few dozen messages, which Stop takes back if they were
// not received; sarama reads further ahead.
func (s *Subscriber) Start() <-chan pubsub.SubscriberMessage {
	s.startOnce.Do(func() {
		go s.logErrors()
		go func() {
			err := s.run()
			close(s.runDone)
			if err != nil {
				s.fail(err)
			}
		}()
	})
	return s.out
}

// Lease returns Config.RevokeTimeout. A delivery has no deadline of its
// own: it is held until it is settled or its partition is revoked, and a
// revoked partition's deliveries can still be settled for RevokeTimeout.
// Consume uses it to check, every quarter of it, that the partition of a
// message it holds is still this subscriber's.
func (s *Subscriber) Lease() time.Duration { return s.cfg.RevokeTimeout }

// CanNack reports true: Nack redelivers the one message.
func (s *Subscriber) CanNack() bool { return true }

// Lag returns the lag of every partition the subscriber owns now.
func (s *Subscriber) Lag() []PartitionLag { return s.lags() }

// run consumes group sessions until Stop, retrying what can be retried.
// It returns the error that ends the subscriber, or nil after Stop.
func (s *Subscriber) run() error {
	h := &groupHandler{s: s}
	retries := 0
	for {
		err := s.group.Consume(s.ctx, s.cfg.Topics, h)
		if g := s.gone.Load(); g != nil {
			return *g
		}
		if s.ctx.Err() != nil || errors.Is(err, sarama.ErrClosedConsumerGroup) {
			return nil
		}
		if err == nil {
			retries = 0
			continue
		}
		if ferr, ok := fatal(err); ok {
			s.log.LogAttrs(context.Background(), slog.LevelError, "kafka: subscriber failed", slog.String("subscriber", s.name), slog.Any("error", ferr))
			return fmt.Errorf("kafka: %s: %w", s.name, ferr)
		}
		d := backoff(s.cfg.RetryBackoff, retries)
		retries++
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "kafka: group session failed; retrying",
			slog.String("subscriber", s.name), slog.Duration("backoff", d), slog.Any("error", err))
		if !s.sleep(d) {
			return nil
		}
	}
}

// fail ends the subscriber with err, unless Stop came first. The group's
// sessions are over: run has returned.
func (s *Subscriber) fail(err error) {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.drained = true
		s.mu.Unlock()
		s.takeBack() // the sessions are over: nothing sends any more
		_ = s.group.Close()
		_ = s.client.Close()
		s.finish(err, nil)
	})
}

// logErrors logs what the group reports, and ends the subscriber if a
// subscribed topic was deleted: sarama would otherwise retry its fetches
// until the next metadata check, minutes later.
func (s *Subscriber) logErrors() {
	for err := range s.group.Errors() {
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "kafka: consumer group error", slog.String("subscriber", s.name), slog.Any("error", err))
		if errors.Is(err, sarama.ErrUnknownTopicOrPartition) && s.gone.Load() == nil {
			for _, t := range s.cfg.Topics {
				if err := s.client.RefreshMetadata(t); errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
					gone := fmt.Errorf("kafka: %s: topic %q was deleted: %w: %w: %w", s.name, t, pubsub.ErrSubscriptionNotFound, pubsub.ErrTopicNotFound, err)
					if s.gone.CompareAndSwap(nil, &gone) {
						s.log.LogAttrs(context.Background(), slog.LevelError, "kafka: subscriber failed", slog.String("subscriber", s.name), slog.Any("error", gone))
						s.cancel()
					}
					break
				}
			}
		}
	}
}

// Stop stops delivering, waits until the delivered messages are settled or
// ctx is done, commits what is Done, leaves the group, and closes the
// channel. Records read ahead are never delivered; they, and any message
// still unsettled when ctx ends (Stop's error then wraps
// [pubsub.ErrDrainTimeout]), are delivered again to the partitions' next
// owner, which gets them when this member leaves. The final commit and the
// LeaveGroup run after ctx is done if need be, bounded by
// Config.ReadTimeout. Stop is safe to call more than once; later calls
// wait for the first.
func (s *Subscriber) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.startOnce.Do(func() { s.neverStarted = true })
		derr := s.drain(ctx)
		s.cancel()
		if !s.neverStarted {
			<-s.runDone
		}
		if err := s.group.Close(); err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) {
			s.log.LogAttrs(context.Background(), slog.LevelWarn, "kafka: leaving the group", slog.String("subscriber", s.name), slog.Any("error", err))
		}
		_ = s.client.Close()
		s.finish(nil, derr)
	})
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopErr
}

// groupHandler is sarama's view of a Subscriber.
type groupHandler struct{ s *Subscriber }

func (h *groupHandler) Setup(sess sarama.ConsumerGroupSession) error {
	h.s.log.LogAttrs(context.Background(), slog.LevelInfo, "kafka: joined group",
		slog.String("subscriber", h.s.name), slog.Int("generation", int(sess.GenerationID())), slog.Any("claims", sess.Claims()))
	return nil
}

func (h *groupHandler) Cleanup(sess sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim delivers one partition for one session.
func (h *groupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	s := h.s
	topic, part := claim.Topic(), claim.Partition()
	ep := newEpoch(topic, part, s.cfg.MaxUnsettled,
		func(off int64) { sess.MarkOffset(topic, part, off, "") },
		claim.HighWaterMarkOffset, s.onIdle)
	ep.commit = sess.Commit
	if !s.register(ep) {
		ep.close(true)
		return nil
	}
	defer s.unregister(ep)
	stopping := s.deliver(ep, claim.Messages(), sess.Context(), s)
	if !stopping && sess.Context().Err() != nil {
		s.takeBackRevoked()
	}
	if !stopping {
		s.log.LogAttrs(context.Background(), slog.LevelInfo, "kafka: partition revoked; waiting for its delivered messages",
			slog.String("subscriber", s.name), slog.String("topic", topic), slog.Int("partition", int(part)),
			slog.Duration("revoke_timeout", s.cfg.RevokeTimeout))
	}
	if n := s.release(ep, stopping, s.cfg.RevokeTimeout); n > 0 && !stopping {
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "kafka: partition revoked with messages unsettled; they are delivered again",
			slog.String("subscriber", s.name), slog.String("topic", topic), slog.Int("partition", int(part)), slog.Int("unsettled", n))
	}
	return nil
}

// waitCommitted waits until ep's watermark reaches off, then commits and
// checks with the coordinator that the group's committed offset did.
func (s *Subscriber) waitCommitted(ctx context.Context, ep *epoch, off int64) error {
	for {
		w, ch, closed := ep.watermark()
		if w >= off {
			break
		}
		if closed {
			return fmt.Errorf("kafka: done-wait %s/%d/%d: the partition was revoked before the offset could be committed: %w", ep.topic, ep.partition, off-1, pubsub.ErrLeaseLost)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("kafka: done-wait %s/%d/%d: %w", ep.topic, ep.partition, off-1, ctx.Err())
		}
	}
	for attempt := 0; ; attempt++ {
		_, _, closed := ep.watermark()
		if !closed && ep.commit != nil {
			ep.commit()
		}
		committed, err := s.committed(ep.topic, ep.partition)
		if err == nil && committed >= off {
			return nil
		}
		if closed {
			if err == nil {
				err = fmt.Errorf("committed offset %d", committed)
			}
			return fmt.Errorf("kafka: done-wait %s/%d/%d: the partition was revoked before the commit was confirmed (%v): %w", ep.topic, ep.partition, off-1, err, pubsub.ErrLeaseLost)
		}
		d := backoff(s.cfg.RetryBackoff, attempt)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("kafka: done-wait %s/%d/%d: %w (last: %v)", ep.topic, ep.partition, off-1, ctx.Err(), err)
		}
	}
}

// committed asks the group coordinator for the committed offset of a
// partition.
func (s *Subscriber) committed(topic string, partition int32) (int64, error) {
	return fetchCommitted(s.client, s.sc, s.cfg.Group, topic, partition)
}

func fetchCommitted(client sarama.Client, sc *sarama.Config, group, topic string, partition int32) (int64, error) {
	coord, err := client.Coordinator(group)
	if err != nil {
		return -1, err
	}
	req := sarama.NewOffsetFetchRequest(sc.Version, group, map[string][]int32{topic: {partition}})
	resp, err := coord.FetchOffset(req)
	if err != nil {
		_ = client.RefreshCoordinator(group)
		return -1, err
	}
	if errors.Is(resp.Err, sarama.ErrGroupIDNotFound) {
		return -1, nil // a group that never committed (Kafka answers -1; kfake, this)
	}
	b := resp.GetBlock(topic, partition)
	if b == nil {
		return -1, fmt.Errorf("no offset for %s/%d in the response", topic, partition)
	}
	if !errors.Is(b.Err, sarama.ErrNoError) {
		return -1, b.Err
	}
	return b.Offset, nil
}
