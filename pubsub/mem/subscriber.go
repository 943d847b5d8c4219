package mem

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// Defaults for the options of [Broker.NewSubscriber].
const (
	// DefaultPrefetch is how many messages a subscriber leases at a time.
	DefaultPrefetch = 16
	// DefaultMaxOutstanding caps a subscriber's unsettled messages.
	DefaultMaxOutstanding = 1000
)

// SubscriberOption configures a subscriber returned by [Broker.NewSubscriber].
type SubscriberOption func(*subscriberOptions)

type subscriberOptions struct {
	prefetch       int
	maxOutstanding int
}

// WithPrefetch sets how many messages the subscriber leases from the
// subscription at a time, ahead of the application receiving them. Prefetched
// messages are handed back at once by Stop. The default is [DefaultPrefetch].
func WithPrefetch(n int) SubscriberOption {
	return func(o *subscriberOptions) { o.prefetch = n }
}

// WithMaxOutstanding caps the messages leased to the subscriber and not yet
// settled, prefetched ones included; the subscriber fetches no more until
// some are settled. The default is [DefaultMaxOutstanding].
func WithMaxOutstanding(n int) SubscriberOption {
	return func(o *subscriberOptions) { o.maxOutstanding = n }
}

// Subscriber receives the messages of one subscription of a [Broker]. It
// implements [pubsub.Subscriber], [pubsub.LeaseReporter] and
// [pubsub.NackReporter]. One goroutine, started by Start, leases batches
// from the subscription and hands them out one by one on an unbuffered
// channel.
type Subscriber struct {
	s       *subscription
	opts    subscriberOptions
	ch      chan pubsub.SubscriberMessage
	wakeCh  chan struct{} // capacity 1: a wake-up is never lost
	stopCh  chan struct{}
	drained chan struct{} // capacity 1: outstanding reached zero while stopping
	done    chan struct{} // closed once ch is closed and err, stopErr are final
	stopReq atomic.Bool
	stopCtx context.Context // set by Stop before stopCh is closed

	startOnce sync.Once
	stopOnce  sync.Once
	err       error
	stopErr   error

	// Guarded by s.mu.
	outstanding   int
	inWaiters     bool
	creditBlocked bool
	stopping      bool
	gone          bool
}

var (
	_ pubsub.Subscriber      = (*Subscriber)(nil)
	_ pubsub.LeaseReporter   = (*Subscriber)(nil)
	_ pubsub.NackReporter    = (*Subscriber)(nil)
	_ pubsub.BacklogReporter = (*Subscriber)(nil)
)

func newSubscriber(s *subscription, opts []SubscriberOption) (*Subscriber, error) {
	o := subscriberOptions{prefetch: DefaultPrefetch, maxOutstanding: DefaultMaxOutstanding}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	switch {
	case o.prefetch < 1:
		return nil, fmt.Errorf("mem: new subscriber of %q: prefetch %d, want at least 1", s.name, o.prefetch)
	case o.maxOutstanding < 1:
		return nil, fmt.Errorf("mem: new subscriber of %q: max outstanding %d, want at least 1", s.name, o.maxOutstanding)
	}
	return &Subscriber{
		s:       s,
		opts:    o,
		ch:      make(chan pubsub.SubscriberMessage),
		wakeCh:  make(chan struct{}, 1),
		stopCh:  make(chan struct{}),
		drained: make(chan struct{}, 1),
		done:    make(chan struct{}),
	}, nil
}

// Start starts delivering and returns the unbuffered delivery channel.
func (r *Subscriber) Start() <-chan pubsub.SubscriberMessage {
	r.startOnce.Do(func() {
		go func() {
			r.run()
			close(r.done)
		}()
	})
	return r.ch
}

// Err returns the terminal error once the channel is closed: nil after Stop,
// an error wrapping pubsub.ErrSubscriptionNotFound after the subscription was
// deleted, one wrapping pubsub.ErrClosed after the broker was closed.
func (r *Subscriber) Err() error {
	// r.err is set under the lock before the channel is closed (see
	// terminated), so a receiver that has seen the close reads the final
	// value here; r.done is closed only later, when run returns.
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return r.err
}

// Lease returns the subscription's ack deadline: the lease every delivery
// starts with.
func (r *Subscriber) Lease() time.Duration { return r.s.cfg.AckDeadline }

// CanNack reports true: Nack hands one message back.
func (r *Subscriber) CanNack() bool { return true }

// Backlog returns the number of messages of the subscription not yet
// acknowledged, delivered ones included. It implements
// [pubsub.BacklogReporter].
func (r *Subscriber) Backlog(context.Context) (int64, error) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.s.err != nil {
		return 0, r.s.err
	}
	return int64(r.s.unacked), nil
}

// Stop hands prefetched messages back, waits until delivered ones are
// settled or ctx is done, hands back the rest and closes the channel. It
// returns an error wrapping [pubsub.ErrDrainTimeout] if ctx cut the wait
// short. Later calls wait for the first to finish and return its result.
func (r *Subscriber) Stop(ctx context.Context) error {
	r.stopOnce.Do(func() {
		r.stopCtx = ctx
		r.stopReq.Store(true)
		close(r.stopCh)
		r.startOnce.Do(func() {
			r.s.mu.Lock()
			r.gone = true
			r.s.mu.Unlock()
			close(r.ch)
			close(r.done)
		})
	})
	<-r.done
	return r.stopErr
}

func (r *Subscriber) signal() {
	select {
	case r.wakeCh <- struct{}{}:
	default:
	}
}

// released is called when one of r's leases ends. r.s.mu must be held.
func (r *Subscriber) released() {
	r.outstanding--
	if r.creditBlocked && r.outstanding < r.opts.maxOutstanding {
		r.creditBlocked = false
		r.signal()
	}
	if r.stopping && r.outstanding == 0 {
		select {
		case r.drained <- struct{}{}:
		default:
		}
	}
}

func (r *Subscriber) run() {
	s := r.s
	var pending, sent []lease
	for {
		s.mu.Lock()
		if s.err != nil {
			s.mu.Unlock()
			r.terminated()
			return
		}
		now := s.b.now()
		s.delivered(sent, now)
		sent = sent[:0]
		if r.stopReq.Load() {
			s.mu.Unlock()
			r.stop(nil, nil)
			return
		}
		n := min(r.opts.prefetch, r.opts.maxOutstanding-r.outstanding)
		pending = s.leaseTo(r, n, now, pending[:0])
		if len(pending) == 0 {
			if n <= 0 {
				r.creditBlocked = true
			} else if !r.inWaiters {
				r.inWaiters = true
				s.waiters = append(s.waiters, r)
			}
			s.mu.Unlock()
			select {
			case <-r.wakeCh:
				continue
			case <-r.stopCh:
				r.stop(nil, nil)
			case <-s.quit:
				r.terminated()
			}
			return
		}
		s.mu.Unlock()
		for i, l := range pending {
			if l.e.gen.Load() != l.gen {
				continue // the lease lapsed while prefetched; the message is ready again
			}
			if r.stopReq.Load() {
				r.stop(sent, pending[i:])
				return
			}
			var timer *time.Timer // LeaseAtFetch: fires when the lease is half gone
			var fresh <-chan time.Time
			if s.cfg.LeaseAtFetch {
				left := r.leaseLeft(l)
				if left <= 0 {
					continue
				}
				timer = time.NewTimer(left)
				fresh = timer.C
			}
			d := &Message{l: l, r: r}
			select {
			case r.ch <- d:
				sent = append(sent, l)
				stopTimer(timer)
				continue
			default:
			}
			// The application is busy: start the deadlines of what it
			// already has before waiting for it.
			if len(sent) > 0 {
				s.mu.Lock()
				if s.err == nil {
					s.delivered(sent, s.b.now())
				}
				s.mu.Unlock()
				sent = sent[:0]
			}
			select {
			case r.ch <- d:
				sent = append(sent, l)
			case <-fresh:
				r.handBackStale(l)
			case <-r.stopCh:
				stopTimer(timer)
				r.stop(sent, pending[i:])
				return
			case <-s.quit:
				stopTimer(timer)
				r.terminated()
				return
			}
			stopTimer(timer)
		}
	}
}

// leaseLeft returns how long the prefetched lease l may still wait for the
// application before less than half of it is left (LeaseAtFetch). If that
// time has already passed, it hands l back and returns 0.
func (r *Subscriber) leaseLeft(l lease) time.Duration {
	s := r.s
	s.mu.Lock()
	left := time.Duration(s.leftAt(l, s.b.now()) - s.ackNano/2)
	s.mu.Unlock()
	if left <= 0 {
		r.handBackStale(l)
	}
	return left
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

// handBackStale returns a prefetched lease that waited too long, as if it
// had never been fetched.
func (r *Subscriber) handBackStale(l lease) {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil && s.current(l) && l.e.owner == r {
		l.e.attempts--
		s.requeue(l.e)
	}
}

// stop carries out Stop: sent are leases delivered whose deadline has not
// been restarted yet, rest are prefetched leases never delivered.
func (r *Subscriber) stop(sent, rest []lease) {
	s := r.s
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		r.terminated()
		return
	}
	s.delivered(sent, s.b.now())
	for i := len(rest) - 1; i >= 0; i-- {
		if l := rest[i]; s.current(l) && l.e.owner == r {
			l.e.attempts-- // never delivered
			s.requeue(l.e)
		}
	}
	if r.inWaiters {
		for i, w := range s.waiters {
			if w == r {
				s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
				break
			}
		}
		r.inWaiters = false
	}
	r.stopping = true
	wait := r.outstanding > 0
	s.mu.Unlock()

	if wait {
		select {
		case <-r.drained:
		case <-r.stopCtx.Done():
		case <-s.quit:
		}
	}

	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		r.terminated()
		return
	}
	if n := r.outstanding; n > 0 {
		var mine []*entry
		for e := s.leased.head; e != nil; e = e.next {
			if e.owner == r {
				mine = append(mine, e)
			}
		}
		for _, e := range s.extended {
			if e.owner == r {
				mine = append(mine, e)
			}
		}
		for i := len(mine) - 1; i >= 0; i-- {
			s.requeue(mine[i])
		}
		r.stopErr = fmt.Errorf("mem: subscriber of %q: %d messages were handed back for redelivery: %w (%w)", s.name, n, pubsub.ErrDrainTimeout, context.Cause(r.stopCtx))
		s.b.logger.LogAttrs(context.Background(), slog.LevelWarn, "mem: messages not settled before the drain deadline",
			slog.String("subscription", s.name), slog.Int("unsettled", n))
	}
	r.gone = true
	s.mu.Unlock()
	close(r.ch)
}

// terminated closes the channel after the subscription ended.
func (r *Subscriber) terminated() {
	r.s.mu.Lock()
	r.err = r.s.err
	r.gone = true
	r.s.mu.Unlock()
	close(r.ch)
}
