package aws

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// Receive errors are retried after a backoff that doubles from
// receiveBackoff up to receiveMaxBackoff, with jitter.
const (
	receiveBackoff    = 100 * time.Millisecond
	receiveMaxBackoff = 3 * time.Second
	// stopFlushTimeout bounds the wait for the last deletes in Stop, after
	// its own context has ended.
	stopFlushTimeout = 10 * time.Second
)

// Subscriber receives the messages of one SQS queue. It implements
// [pubsub.Subscriber], [pubsub.LeaseReporter] and [pubsub.NackReporter].
//
// Start runs Receivers goroutines that long-poll the queue and one that
// hands the received messages, in order, to the unbuffered channel. A
// heartbeat keeps every message it holds invisible, and a deleter sends
// the deletes of Done in batches. See the package doc for the semantics.
type Subscriber struct {
	client   *sqs.Client
	q        queueInfo
	cfg      Config
	vt       time.Duration
	slow     time.Duration // a receive that took longer has its leases confirmed
	nackSecs int32
	log      *slog.Logger
	stats    stats
	base     time.Time
	del      *deleter

	ch        chan pubsub.SubscriberMessage
	stopCh    chan struct{} // closed by Stop
	failCh    chan struct{} // closed when the subscriber fails for good
	done      chan struct{} // closed after ch, once Err and Stop's result are final
	startOnce sync.Once
	stopOnce  sync.Once
	stopCtx   context.Context // set before stopCh is closed
	stopErr   error           // written before done is closed

	mu          sync.Mutex
	queue       []*Message            // received, not yet delivered, in order
	wake        chan struct{}         // capacity 1: the queue got messages
	credits     int                   // room left under MaxInFlight
	creditCh    chan struct{}         // closed when credits come back
	held        map[*Message]struct{} // every message whose lease the subscriber keeps
	outstanding int                   // messages delivered and not yet settled (Message.counted)
	drained     chan struct{}         // closed when outstanding reaches zero in Stop
	stopping    bool
	failed      bool
	err         error
}

var (
	_ pubsub.Subscriber    = (*Subscriber)(nil)
	_ pubsub.LeaseReporter = (*Subscriber)(nil)
	_ pubsub.NackReporter  = (*Subscriber)(nil)
)

// NewSubscriber returns a subscriber of cfg.Queue, a queue name or URL. It
// checks that the queue exists and returns an error wrapping
// [pubsub.ErrSubscriptionNotFound] if it does not. Nothing is received
// until Start.
func NewSubscriber(ctx context.Context, cfg Config, opts ...Option) (*Subscriber, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := newOptions(opts)
	c, err := o.sqsClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	q, err := resolveQueue(ctx, c, cfg.Queue, pubsub.ErrSubscriptionNotFound)
	if err != nil {
		return nil, err
	}
	s := &Subscriber{
		client:   c,
		q:        q,
		cfg:      cfg,
		vt:       cfg.VisibilityTimeout,
		slow:     min(time.Second, cfg.VisibilityTimeout/10),
		nackSecs: int32((cfg.NackDelay + time.Second - 1) / time.Second),
		log:      o.logger,
		base:     time.Now(),
		ch:       make(chan pubsub.SubscriberMessage),
		stopCh:   make(chan struct{}),
		failCh:   make(chan struct{}),
		done:     make(chan struct{}),
		wake:     make(chan struct{}, 1),
		credits:  cfg.MaxInFlight,
		held:     make(map[*Message]struct{}),
	}
	if o.reg != nil {
		if err := o.reg.Register(newCollector(&s.stats, q.name)); err != nil {
			return nil, fmt.Errorf("aws: subscriber of queue %q: register metrics: %w", q.name, err)
		}
	}
	return s, nil
}

// now is the subscriber's monotonic clock.
func (s *Subscriber) now() time.Duration { return time.Since(s.base) }

// QueueURL returns the URL of the queue.
func (s *Subscriber) QueueURL() string { return s.q.url }

// Lease returns the visibility timeout every message is received with.
func (s *Subscriber) Lease() time.Duration { return s.vt }

// CanNack reports true: Nack hands one message back.
func (s *Subscriber) CanNack() bool { return true }

// Stats returns the subscriber's counters.
func (s *Subscriber) Stats() Stats { return s.stats.snapshot() }

// Start starts receiving and returns the unbuffered delivery channel. Later
// calls return the same channel.
func (s *Subscriber) Start() <-chan pubsub.SubscriberMessage {
	s.startOnce.Do(func() { go s.run() })
	return s.ch
}

// Err returns the terminal error once the channel is closed: nil after
// Stop, or an error wrapping [pubsub.ErrSubscriptionNotFound] (the queue
// was deleted) or [ErrAccessDenied].
func (s *Subscriber) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Stop stops receiving and hands the prefetched messages back at once
// (visibility 0). It waits until the delivered messages are settled or ctx
// is done, hands back those still unsettled (its error then wraps
// [pubsub.ErrDrainTimeout]), sends the last deletes, and closes the
// channel. A receive in flight is not cut short, since SQS would still
// take messages for it: it ends within WaitTime, after Stop returns, and
// hands back what it got. Later calls wait for the first and return its
// result.
func (s *Subscriber) Stop(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	s.stopOnce.Do(func() {
		s.stopCtx = ctx
		s.mu.Lock()
		s.stopping = true
		s.mu.Unlock()
		close(s.stopCh)
		s.startOnce.Do(func() {
			close(s.ch)
			close(s.done)
		})
	})
	<-s.done
	return s.stopErr
}

func (s *Subscriber) run() {
	s.del = newDeleter(s)
	quit, beat := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(beat)
		s.heartbeat(quit)
	}()
	for range s.cfg.Receivers {
		go s.receive()
	}
	s.deliver()
	s.mu.Lock()
	failed := s.failed
	s.mu.Unlock()
	if failed {
		s.finishFailed()
	} else {
		s.finishStop()
	}
	close(quit)
	<-beat
	close(s.ch)
	close(s.done)
}

// fail ends the subscriber with err, unless it is stopping already.
func (s *Subscriber) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed || s.stopping {
		return
	}
	s.failed, s.err = true, err
	close(s.failCh)
	s.log.LogAttrs(context.Background(), slog.LevelError, "aws: subscriber failed", slog.String("queue", s.q.name), slog.Any("error", err))
}

// ended reports whether the subscriber is stopping or has failed. s.mu is
// held.
func (s *Subscriber) ended() bool { return s.stopping || s.failed }

// pause waits d, returning false early if the subscriber ends.
func (s *Subscriber) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.stopCh:
	case <-s.failCh:
	}
	return false
}

// receive is one receiver: it takes room for up to BatchSize messages,
// long-polls, and queues what it gets, until the subscriber ends.
func (s *Subscriber) receive() {
	backoff := receiveBackoff
	failing := false
	for {
		n := s.takeCredits()
		if n == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WaitTime+callTimeout)
		start := s.now()
		out, err := s.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    &s.q.url,
			MaxNumberOfMessages:         int32(n),
			WaitTimeSeconds:             int32(s.cfg.WaitTime / time.Second),
			VisibilityTimeout:           int32(s.vt / time.Second),
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		cancel()
		if err != nil {
			s.returnCredits(n)
			kind := classify(err)
			if kind == errNotFound || kind == errDenied {
				s.fail(fmt.Errorf("aws: receive from queue %q: %w", s.q.name, wrapKind(err, kind, pubsub.ErrSubscriptionNotFound)))
				return
			}
			s.stats.receiveErrors.Add(1)
			d := backoff/2 + rand.N(backoff/2+1)
			s.log.LogAttrs(context.Background(), slog.LevelWarn, "aws: receive failed; retrying",
				slog.String("queue", s.q.name), slog.Duration("backoff", d), slog.Any("error", err))
			failing = true
			if !s.pause(d) {
				return
			}
			backoff = min(2*backoff, receiveMaxBackoff)
			continue
		}
		if failing {
			s.log.LogAttrs(context.Background(), slog.LevelInfo, "aws: receiving again", slog.String("queue", s.q.name))
			failing, backoff = false, receiveBackoff
		}
		s.accept(out.Messages, n, start)
	}
}

// takeCredits waits for room for a batch (BatchSize messages, or
// MaxInFlight if that is smaller) and takes up to BatchSize. It returns 0
// once the subscriber ends. The room comes back when a message leaves the
// subscriber (drop).
func (s *Subscriber) takeCredits() int {
	need := min(s.cfg.BatchSize, s.cfg.MaxInFlight)
	s.mu.Lock()
	for {
		if s.ended() {
			s.mu.Unlock()
			return 0
		}
		if s.credits >= need {
			n := min(s.credits, s.cfg.BatchSize)
			s.credits -= n
			s.mu.Unlock()
			return n
		}
		if s.creditCh == nil {
			s.creditCh = make(chan struct{})
		}
		ch := s.creditCh
		s.mu.Unlock()
		select {
		case <-ch:
		case <-s.stopCh:
		case <-s.failCh:
		}
		s.mu.Lock()
	}
}

func (s *Subscriber) returnCredits(n int) {
	s.mu.Lock()
	s.addCredits(n)
	s.mu.Unlock()
}

// addCredits gives back room for n messages. s.mu is held.
func (s *Subscriber) addCredits(n int) {
	s.credits += n
	if s.creditCh != nil && s.credits >= min(s.cfg.BatchSize, s.cfg.MaxInFlight) {
		close(s.creditCh)
		s.creditCh = nil
	}
}

// accept queues the messages of a receive that started at start and asked
// for n, or hands them straight back if the subscriber is ending.
//
// SQS starts a message's lease when it takes the message for the receive,
// some time between the request and the response, and says nothing of
// when. The start of the request is a safe lower bound, and a close one for
// a receive that answered at once. A receive that took longer (a long poll
// that waited, a slow response) has its leases confirmed with one
// ChangeMessageVisibilityBatch, which also catches a lease that ended on
// the way.
func (s *Subscriber) accept(raws []sqstypes.Message, n int, start time.Duration) {
	ms := make([]*Message, len(raws))
	for i := range raws {
		ms[i] = s.newMessage(&raws[i], start+s.vt)
	}
	s.stats.received.Add(uint64(len(ms)))
	if len(ms) > 0 && s.now()-start > s.slow {
		s.confirm(ms)
	}
	s.mu.Lock()
	if s.ended() {
		s.mu.Unlock()
		s.handBackAll(ms, "received while the subscriber was stopping")
		return
	}
	s.addCredits(n - len(ms))
	for _, m := range ms {
		s.held[m] = struct{}{}
	}
	s.queue = append(s.queue, ms...)
	s.mu.Unlock()
	if len(ms) > 0 {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// confirm renews the leases of freshly received messages, ten to a call,
// and marks lost those SQS no longer holds for them. If a call fails, the
// messages keep the lower bound of their lease; the heartbeat or the
// deliverer extends them in time.
func (s *Subscriber) confirm(ms []*Message) {
	for len(ms) > 0 {
		chunk := ms[:min(len(ms), maxBatchEntries)]
		ms = ms[len(chunk):]
		start := s.now()
		res, err := s.visibilityBatch(chunk, int32(s.vt/time.Second))
		if err != nil {
			continue
		}
		for i, m := range chunk {
			switch {
			case res[i].err == nil:
				m.extendTo(start + s.vt)
			case res[i].kind == errLeaseLost:
				m.markLost()
			}
		}
	}
}

func (s *Subscriber) newMessage(raw *sqstypes.Message, deadline time.Duration) *Message {
	d := decodeMessage(raw, s.cfg.GizmoCompat)
	m := &Message{
		s: s, raw: *raw, handle: *raw.ReceiptHandle,
		payload: d.payload, key: d.key, attrs: d.attrs, id: d.id, attempt: d.attempt, env: d.env, decErr: d.err,
		ack: make(chan struct{}),
	}
	m.deadline.Store(int64(deadline))
	if d.err != nil {
		s.stats.decodeErrors.Add(1)
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "aws: delivering a message whose encoding is malformed as it is",
			slog.String("queue", s.q.name), slog.String("message_id", d.id), slog.Any("error", d.err))
	}
	return m
}

// deliver hands the queued messages to the application one by one, until
// the subscriber ends.
func (s *Subscriber) deliver() {
	for {
		m := s.next()
		if m == nil {
			return
		}
		if m.left(s.now()) < s.vt/2 && !s.refresh(m) {
			continue
		}
		select {
		case s.ch <- m:
		case <-s.stopCh:
			s.requeue(m)
			return
		case <-s.failCh:
			s.requeue(m)
			return
		}
		s.stats.delivered.Add(1)
		s.mu.Lock()
		m.delivered, m.deliveredAt = true, s.now()
		if m.Settlement() == pubsub.Unsettled { // the application may have settled it already
			m.counted = true
			s.outstanding++
		}
		s.mu.Unlock()
	}
}

// next takes the next queued message whose lease is not lost, waiting for
// one. It returns nil once the subscriber ends.
func (s *Subscriber) next() *Message {
	s.mu.Lock()
	for {
		if s.ended() {
			s.mu.Unlock()
			return nil
		}
		for len(s.queue) > 0 {
			m := s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			if m.lost.Load() {
				s.dropLocked(m)
				continue
			}
			s.mu.Unlock()
			return m
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-s.stopCh:
		case <-s.failCh:
		}
		s.mu.Lock()
	}
}

// requeue puts back at the front a message the deliverer took but could not
// deliver.
func (s *Subscriber) requeue(m *Message) {
	s.mu.Lock()
	s.queue = append([]*Message{m}, s.queue...)
	s.mu.Unlock()
}

// refresh extends a queued message whose lease has less than half left
// (the heartbeat fell behind), so that it is not delivered so late. It
// reports false, and lets the message go, if that fails.
func (s *Subscriber) refresh(m *Message) bool {
	m.vis.Lock()
	start := s.now()
	err := s.changeVisibility(m, int32(s.vt/time.Second))
	m.vis.Unlock()
	if err == nil {
		m.extendTo(start + s.vt)
		return true
	}
	if classify(err) == errLeaseLost {
		m.markLost()
	}
	s.drop(m)
	s.log.LogAttrs(context.Background(), slog.LevelWarn, "aws: a prefetched message's lease ran low and could not be extended; it comes back when its visibility ends",
		slog.String("queue", s.q.name), slog.String("message_id", m.id), slog.Any("error", err))
	return false
}

// settled records that the application settled m: it no longer counts as
// outstanding. Its lease may still be kept (a Done's delete is pending).
func (s *Subscriber) settled(m *Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !m.counted {
		return
	}
	m.counted = false
	s.outstanding--
	if s.outstanding == 0 && s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
}

// drop forgets m's lease: it was deleted, handed back or lost. Its room
// under MaxInFlight comes back.
func (s *Subscriber) drop(m *Message) {
	s.mu.Lock()
	s.dropLocked(m)
	s.mu.Unlock()
}

// dropLocked is drop with s.mu held.
func (s *Subscriber) dropLocked(m *Message) {
	if _, ok := s.held[m]; ok {
		delete(s.held, m)
		s.addCredits(1)
	}
}

// finishStop carries out Stop once the deliverer has returned.
func (s *Subscriber) finishStop() {
	ctx := s.stopCtx
	s.mu.Lock()
	prefetched := s.takeQueue()
	var drained chan struct{}
	if s.outstanding > 0 {
		drained = make(chan struct{})
		s.drained = drained
	}
	s.mu.Unlock()
	s.handBackAll(prefetched, "prefetched when the subscriber stopped")

	if drained != nil {
		select {
		case <-drained:
		case <-ctx.Done():
		}
	}
	s.mu.Lock()
	unsettled := s.outstanding
	var rest []*Message
	for m := range s.held {
		if !m.counted {
			continue // settled: a Done waiting for its delete
		}
		m.counted = false
		m.stopped.Store(true)
		delete(s.held, m)
		if !m.lost.Load() {
			rest = append(rest, m)
		}
	}
	s.outstanding, s.drained = 0, nil
	s.mu.Unlock()
	if unsettled > 0 {
		s.handBackAll(rest, "not settled before the drain deadline")
		s.stopErr = fmt.Errorf("aws: subscriber of queue %q: %d messages were not settled and were handed back for redelivery: %w (%w)",
			s.q.name, unsettled, pubsub.ErrDrainTimeout, context.Cause(ctx))
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "aws: messages not settled before the drain deadline",
			slog.String("queue", s.q.name), slog.Int("unsettled", unsettled))
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopFlushTimeout)
	defer cancel()
	s.del.close(fctx)
	s.mu.Lock()
	clear(s.held)
	s.mu.Unlock()
}

// takeQueue empties the queue and returns the messages whose leases are
// not lost. s.mu is held.
func (s *Subscriber) takeQueue() []*Message {
	var out []*Message
	for _, m := range s.queue {
		delete(s.held, m)
		if !m.lost.Load() {
			out = append(out, m)
		}
	}
	s.queue = nil
	return out
}

// finishFailed shuts down after a terminal error: the queue is gone or
// access was denied, so nothing can be handed back; held messages lapse.
func (s *Subscriber) finishFailed() {
	s.mu.Lock()
	s.takeQueue()
	for m := range s.held {
		m.counted = false
		if m.Settlement() == pubsub.Unsettled {
			m.stopped.Store(true)
		}
	}
	s.outstanding, s.drained = 0, nil
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s.del.close(ctx)
	s.mu.Lock()
	clear(s.held)
	s.mu.Unlock()
}
