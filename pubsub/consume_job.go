package pubsub

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// job is Consume's record of a message it holds, kept by value by whoever
// holds the message: a worker's slot, a shard, or the keeper. Its holder's
// mutex guards it; seq tells it apart from the holder's other jobs.
type job struct {
	m         SubscriberMessage
	st        SettlementReporter // m, as what reports its settlement
	seq       uint64
	ext       uint32 // keeper tick of receipt or of the last extension
	lost      bool   // an extension or the Done reported ErrLeaseLost
	exhausted bool   // Consume gave up on this message before: one attempt
}

// newJob makes the job for m, just received. The message handlers see is m
// itself if it reports its settlement, or else a wrapper that does, so
// that Consume always knows whether a handler settled its message.
func newJob(m SubscriberMessage, seq uint64, now uint32, exhausted bool) job {
	j := job{m: m, seq: seq, ext: now, exhausted: exhausted}
	if sr, ok := m.(SettlementReporter); ok {
		j.st = sr
	} else {
		t := &tracked{m: m}
		j.m, j.st = t, t
	}
	return j
}

// settled reports how j's message was settled.
func (j *job) settled() Settlement { return j.st.Settlement() }

// slot is an unordered worker's holder: the job it runs, for the keeper.
type slot struct {
	mu     sync.Mutex
	j      job
	active bool   // j is the worker's to run; false once the keeper took it over
	seq    uint64 // the worker's own count, for job.seq
}

// hold records m, just received, as the slot's job, and returns it. Its
// worker reads the job's message without the lock: only the worker writes
// it, and the keeper writes only ext and lost, under the lock.
func (s *slot) hold(m SubscriberMessage, now uint32, exhausted bool) *job {
	s.mu.Lock()
	s.seq++
	s.j = newJob(m, s.seq, now, exhausted)
	s.active = true
	s.mu.Unlock()
	return &s.j
}

func (s *slot) collect(buf []heldRef) []heldRef {
	s.mu.Lock()
	if s.active && !s.j.lost {
		buf = append(buf, heldRef{h: s, j: s.j})
	}
	s.mu.Unlock()
	return buf
}

func (s *slot) update(seq uint64, ext uint32, lost bool) {
	s.mu.Lock()
	if s.j.seq == seq {
		s.j.ext = max(s.j.ext, ext)
		s.j.lost = s.j.lost || lost
	}
	s.mu.Unlock()
}

func (s *slot) isLost(seq uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.j.seq == seq && s.j.lost
}

// release gives the job up: the keeper holds it now, or it is done with.
func (s *slot) release(seq uint64) {
	s.mu.Lock()
	if s.j.seq == seq {
		s.active = false
	}
	s.mu.Unlock()
}

// tracked wraps a message whose backend cannot report its settlement, so
// that Consume knows whether a handler settled it. Wrapping costs one
// allocation per message; gizmo's backends report their settlement and are
// not wrapped.
type tracked struct {
	m     SubscriberMessage
	state atomic.Uint32 // a Settlement
}

var (
	_ SubscriberMessage  = (*tracked)(nil)
	_ SettlementReporter = (*tracked)(nil)
	_ DeliveryAttempter  = (*tracked)(nil)
	_ AckWaiter          = (*tracked)(nil)
)

// Message returns the payload.
func (w *tracked) Message() []byte { return w.m.Message() }

// Key returns the key.
func (w *tracked) Key() string { return w.m.Key() }

// Attributes returns the attributes.
func (w *tracked) Attributes() map[string]string { return w.m.Attributes() }

// ID returns the message ID.
func (w *tracked) ID() string { return w.m.ID() }

// Unwrap returns the backend's message; see [MessageAs].
func (w *tracked) Unwrap() SubscriberMessage { return w.m }

// Settlement reports which of Done and Nack came first.
func (w *tracked) Settlement() Settlement { return Settlement(w.state.Load()) }

// DeliveryAttempt returns the backend's delivery count, or 0 if it keeps
// none.
func (w *tracked) DeliveryAttempt() int {
	if da, ok := w.m.(DeliveryAttempter); ok {
		return da.DeliveryAttempt()
	}
	return 0
}

// Done acknowledges the message unless it is already settled.
func (w *tracked) Done() error { return w.settle(Acked, w.m.Done) }

// Nack hands the message back unless it is already settled.
func (w *tracked) Nack() error { return w.settle(Nacked, w.m.Nack) }

// DoneWait acknowledges the message, unless it is already settled, and
// waits for the backend's confirmation where it has one.
func (w *tracked) DoneWait(ctx context.Context) error {
	return w.settle(Acked, func() error { return DoneWait(ctx, w.m) })
}

// ExtendDoneDeadline passes the extension on; d <= 0 settles the message
// like Nack.
func (w *tracked) ExtendDoneDeadline(d time.Duration) error {
	if d <= 0 {
		return w.settle(Nacked, func() error { return w.m.ExtendDoneDeadline(d) })
	}
	return w.m.ExtendDoneDeadline(d)
}

func (w *tracked) settle(to Settlement, fn func() error) error {
	if !w.state.CompareAndSwap(uint32(Unsettled), uint32(to)) {
		return nil
	}
	return fn()
}

// isLeaseLost reports whether err says the lease is gone.
func isLeaseLost(err error) bool { return err != nil && errors.Is(err, ErrLeaseLost) }
