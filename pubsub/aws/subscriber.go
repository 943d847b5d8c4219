package aws

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// stopFlushTimeout bounds the wait for the last deletes in Stop, after its
// own context has ended.
const stopFlushTimeout = 10 * time.Second

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
	heldByID    map[string]*Message   // the latest held delivery of each SQS message ID
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
		heldByID: make(map[string]*Message),
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
		s.unhold(m)
		s.addCredits(1)
	}
}

// hold keeps m's lease. s.mu is held.
//
// If an earlier delivery of the same SQS message is still held, SQS has
// handed the message out again, so the earlier receipt no longer holds it:
// it is marked lost, and settling it reports pubsub.ErrLeaseLost. The
// deadline the earlier delivery keeps is a bound measured by this
// process's clock; SQS expires leases by its own, so when a deadline ends
// only the redelivery says for certain that the lease is gone.
func (s *Subscriber) hold(m *Message) {
	s.held[m] = struct{}{}
	id := awssdk.ToString(m.raw.MessageId)
	if id == "" {
		return
	}
	if old := s.heldByID[id]; old != nil && old != m {
		old.markLost()
	}
	s.heldByID[id] = m
}

// unhold forgets m's lease without giving its room back. s.mu is held.
func (s *Subscriber) unhold(m *Message) {
	delete(s.held, m)
	if id := awssdk.ToString(m.raw.MessageId); s.heldByID[id] == m {
		delete(s.heldByID, id)
	}
}

// unholdAll forgets every lease. s.mu is held.
func (s *Subscriber) unholdAll() {
	clear(s.held)
	clear(s.heldByID)
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
		s.unhold(m)
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
	s.unholdAll()
	s.mu.Unlock()
}

// takeQueue empties the queue and returns the messages whose leases are
// not lost. s.mu is held.
func (s *Subscriber) takeQueue() []*Message {
	var out []*Message
	for _, m := range s.queue {
		s.unhold(m)
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
	s.unholdAll()
	s.mu.Unlock()
}
