package mem

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

type entryState uint8

const (
	stateReady   entryState = iota // in the ready queue
	stateWaiting                   // queued behind an outstanding message with the same ordered key
	stateLeased                    // prefetched or delivered, not settled
	stateAcked                     // Done; gone for good
)

// entry is one message's state in one subscription. All fields except gen
// are guarded by the subscription mutex; gen is also read without it by
// subscribers checking whether a prefetched lease is still theirs.
type entry struct {
	msg      *message
	gen      atomic.Uint32 // bumped whenever a lease ends without Done
	state    entryState
	attempts int32 // deliveries so far
	owner    *Subscriber
	deadline int64 // broker clock, valid while leased
	prev     *entry
	next     *entry
	inList   bool
	heapIdx  int
}

// lease is a subscriber's claim on an entry, valid while the entry is leased
// with the same generation.
type lease struct {
	e       *entry
	gen     uint32
	attempt int32
}

// subscription is a competing-consumer group: its ready messages go to
// whichever subscriber fetches them first.
type subscription struct {
	b       *Broker
	name    string
	cfg     SubscriptionConfig
	ackNano int64
	quit    chan struct{} // closed by terminate
	backlog atomic.Int64  // unacknowledged messages, counted when MaxBacklog > 0

	mu          sync.Mutex
	ready       deque
	keys        map[string]*deque // ordered key -> messages waiting behind its outstanding one
	leased      leaseList
	extended    deadlineHeap
	waiters     []*Subscriber // subscribers blocked on an empty ready queue
	subscribers map[*Subscriber]struct{}
	unacked     int   // messages added and not yet Done
	err         error // terminal error, set by terminate
}

func newSubscription(b *Broker, name string, cfg SubscriptionConfig) *subscription {
	s := &subscription{
		b:           b,
		name:        name,
		cfg:         cfg,
		ackNano:     int64(cfg.AckDeadline),
		quit:        make(chan struct{}),
		subscribers: make(map[*Subscriber]struct{}),
	}
	if cfg.OrderedKeys {
		s.keys = make(map[string]*deque)
	}
	return s
}

// reserve takes a place in a bounded backlog for a message about to be
// published, reporting false if the backlog is full.
func (s *subscription) reserve() bool {
	limit := int64(s.cfg.MaxBacklog)
	if limit == 0 {
		return true
	}
	for {
		n := s.backlog.Load()
		if n >= limit {
			return false
		}
		if s.backlog.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// unreserve gives back n places in a bounded backlog.
func (s *subscription) unreserve(n int) {
	if s.cfg.MaxBacklog > 0 {
		s.backlog.Add(-int64(n))
	}
}

// add puts a new entry on the ready queue, or behind the outstanding
// message with the same key. s.mu must be held.
func (s *subscription) add(e *entry) {
	s.unacked++
	if s.keys != nil && e.msg.key != "" {
		q, busy := s.keys[e.msg.key]
		if busy {
			if q == nil {
				q = &deque{}
				s.keys[e.msg.key] = q
			}
			e.state = stateWaiting
			q.pushBack(e)
			return
		}
		s.keys[e.msg.key] = nil
	}
	e.state = stateReady
	s.ready.pushBack(e)
}

func (s *subscription) enqueue(e *entry) {
	s.mu.Lock()
	if s.err == nil {
		s.add(e)
		s.wake(1)
	}
	s.mu.Unlock()
}

func (s *subscription) enqueueBatch(ms []*message) {
	es := make([]entry, len(ms))
	s.mu.Lock()
	if s.err == nil {
		for i, m := range ms {
			es[i].msg = m
			s.add(&es[i])
		}
		s.wake(len(ms))
	}
	s.mu.Unlock()
}

// wake signals up to n subscribers waiting for ready messages. s.mu must be
// held.
func (s *subscription) wake(n int) {
	for ; n > 0 && len(s.waiters) > 0; n-- {
		w := s.waiters[len(s.waiters)-1]
		s.waiters = s.waiters[:len(s.waiters)-1]
		w.inWaiters = false
		w.signal()
	}
}

// leaseTo moves up to n ready entries to r, appending the leases to out.
// s.mu must be held.
func (s *subscription) leaseTo(r *Subscriber, n int, now int64, out []lease) []lease {
	for ; n > 0 && s.ready.len() > 0; n-- {
		e := s.ready.popFront()
		e.state = stateLeased
		e.owner = r
		e.attempts++
		e.deadline = now + s.ackNano
		s.leased.pushBack(e)
		r.outstanding++
		out = append(out, lease{e: e, gen: e.gen.Load(), attempt: e.attempts})
	}
	return out
}

// delivered restarts the ack deadline of leases that were just handed to the
// application, unless they were settled or extended meanwhile, or the lease
// runs from the fetch. s.mu must be held.
func (s *subscription) delivered(sent []lease, now int64) {
	if s.cfg.LeaseAtFetch {
		return
	}
	for _, l := range sent {
		e := l.e
		if e.state != stateLeased || e.gen.Load() != l.gen || !e.inList {
			continue
		}
		s.leased.remove(e)
		e.deadline = now + s.ackNano
		s.leased.pushBack(e)
	}
}

// current reports whether l still holds its entry. s.mu must be held.
func (s *subscription) current(l lease) bool {
	return l.e.state == stateLeased && l.e.gen.Load() == l.gen
}

// release ends e's lease: it leaves the deadline structures and its owner's
// count. s.mu must be held.
func (s *subscription) release(e *entry) {
	if e.inList {
		s.leased.remove(e)
	} else if e.heapIdx > 0 {
		s.extended.remove(e)
	}
	r := e.owner
	e.owner = nil
	if r != nil {
		r.released()
	}
}

// ack settles e for good and, for an ordered key, makes the next message
// with that key ready. s.mu must be held.
func (s *subscription) ack(e *entry) {
	s.release(e)
	e.state = stateAcked
	s.unacked--
	s.unreserve(1)
	if s.keys == nil || e.msg.key == "" {
		return
	}
	q := s.keys[e.msg.key]
	if q == nil || q.len() == 0 {
		delete(s.keys, e.msg.key)
		return
	}
	next := q.popFront()
	next.state = stateReady
	s.ready.pushBack(next)
	s.wake(1)
}

// leftAt reports how much of l's lease is left at now. s.mu must be held.
func (s *subscription) leftAt(l lease, now int64) int64 {
	if !s.current(l) {
		return 0
	}
	return l.e.deadline - now
}

// requeue ends e's lease without settling it and makes it ready again at the
// front of the queue. An entry keeps its place as its key's outstanding
// message, so per-key order survives redelivery. s.mu must be held.
func (s *subscription) requeue(e *entry) {
	s.release(e)
	e.gen.Add(1)
	e.state = stateReady
	s.ready.pushFront(e)
	s.wake(1)
}

// extend sets e's deadline to d from now. s.mu must be held.
func (s *subscription) extend(e *entry, d time.Duration) {
	if e.inList {
		s.leased.remove(e)
	}
	e.deadline = s.b.now() + int64(d)
	if e.heapIdx > 0 {
		s.extended.fix(e)
	} else {
		s.extended.push(e)
	}
}

// scanPeriod is how often the deadline scan runs: a tenth of the ack
// deadline, between 5ms and one second.
func (s *subscription) scanPeriod() time.Duration {
	return min(max(s.cfg.AckDeadline/10, 5*time.Millisecond), time.Second)
}

// scan redelivers messages whose deadline lapsed, until the subscription is
// terminated. One goroutine per subscription does this for all its leases.
func (s *subscription) scan() {
	t := time.NewTicker(s.scanPeriod())
	defer t.Stop()
	var expired []*entry
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		}
		s.mu.Lock()
		now := s.b.now()
		expired = expired[:0]
		for e := s.leased.head; e != nil && e.deadline <= now; e = e.next {
			expired = append(expired, e)
		}
		for _, e := range s.extended {
			if e.deadline <= now {
				expired = append(expired, e)
			}
		}
		// Requeue in reverse so that the oldest ends up first.
		for i := len(expired) - 1; i >= 0; i-- {
			s.requeue(expired[i])
		}
		s.mu.Unlock()
		if len(expired) > 0 {
			s.b.logger.LogAttrs(context.Background(), slog.LevelDebug, "mem: ack deadline lapsed, redelivering",
				slog.String("subscription", s.name), slog.Int("messages", len(expired)))
			clear(expired)
		}
	}
}

// terminate ends the subscription with err: its subscribers close their
// channels and report err, and its backlog is dropped.
func (s *subscription) terminate(err error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.err = err
	close(s.quit)
	s.ready = deque{}
	s.keys = nil
	s.leased = leaseList{}
	s.extended = nil
	s.waiters = nil
	s.mu.Unlock()
}
