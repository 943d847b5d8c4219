package pubsubtest

import (
	"context"
	"slices"
	"sync"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// TestSubscriber is a [pubsub.Subscriber] that delivers a scripted list of
// [TestMessage] values, in order, on an unbuffered channel, so a message
// counts as delivered once the consumer has received it. Messages can be
// added while it runs ([TestSubscriber.Add]), and a terminal failure can be
// simulated with [TestSubscriber.Fail].
//
// Unlike the [Broker]'s subscribers it does not redeliver, and Stop does not
// wait for delivered messages to be settled. It is safe for concurrent use.
type TestSubscriber struct {
	ch      chan pubsub.SubscriberMessage
	wake    chan struct{} // capacity 1: pending messages were added
	quit    chan struct{} // closed by Stop or Fail
	fedDone chan struct{} // closed when the feeding goroutine has closed ch

	mu       sync.Mutex
	pending  []*TestMessage
	all      []*TestMessage
	started  bool
	quitting bool
	stops    int
	err      error
}

var _ pubsub.Subscriber = (*TestSubscriber)(nil)

// NewTestSubscriber returns a subscriber that will deliver msgs, in order,
// once started.
func NewTestSubscriber(msgs ...*TestMessage) *TestSubscriber {
	s := &TestSubscriber{
		ch:      make(chan pubsub.SubscriberMessage),
		wake:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		fedDone: make(chan struct{}),
	}
	s.Add(msgs...)
	return s
}

// Add queues msgs for delivery after those already queued. Messages added
// after Stop or Fail are never delivered; they stay in Pending.
func (s *TestSubscriber) Add(msgs ...*TestMessage) {
	s.mu.Lock()
	s.pending = append(s.pending, msgs...)
	s.all = append(s.all, msgs...)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Start begins delivering and returns the channel. Later calls return the
// same channel.
func (s *TestSubscriber) Start() <-chan pubsub.SubscriberMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.started = true
		if s.quitting {
			// Stopped before it started: nothing will ever be sent.
			close(s.ch)
			close(s.fedDone)
		} else {
			go s.feed()
		}
	}
	return s.ch
}

func (s *TestSubscriber) feed() {
	defer close(s.fedDone)
	defer close(s.ch)
	for {
		s.mu.Lock()
		if len(s.pending) == 0 {
			s.mu.Unlock()
			select {
			case <-s.wake:
				continue
			case <-s.quit:
				return
			}
		}
		m := s.pending[0]
		s.mu.Unlock()
		select {
		case s.ch <- m:
			s.mu.Lock()
			s.pending = s.pending[1:]
			s.mu.Unlock()
		case <-s.quit:
			return
		}
	}
}

// Stop stops delivering and closes the channel; undelivered messages stay
// in Pending. It does not wait for delivered messages to be settled, so ctx
// is not used. It returns nil and is safe to call more than once.
func (s *TestSubscriber) Stop(context.Context) error {
	s.shutdown(nil)
	return nil
}

// Fail makes the subscriber fail with err, as if its broker connection
// broke: delivery stops, the channel is closed, and Err returns err.
func (s *TestSubscriber) Fail(err error) {
	s.shutdown(err)
}

func (s *TestSubscriber) shutdown(err error) {
	s.mu.Lock()
	if err == nil {
		s.stops++
	}
	first := !s.quitting
	if first {
		s.quitting = true
		s.err = err
		close(s.quit)
	}
	started := s.started
	s.mu.Unlock()
	if started {
		<-s.fedDone
	}
}

// Err returns the error given to Fail, or nil.
func (s *TestSubscriber) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// StopCount returns how many times Stop was called.
func (s *TestSubscriber) StopCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stops
}

// Pending returns the messages not delivered yet, in order.
func (s *TestSubscriber) Pending() []*TestMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.pending)
}

// Messages returns every message given to NewTestSubscriber or Add, in
// order.
func (s *TestSubscriber) Messages() []*TestMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.all)
}

// WaitSettled waits until every message added so far is settled, or ctx is
// done.
func (s *TestSubscriber) WaitSettled(ctx context.Context) error {
	for _, m := range s.Messages() {
		if err := m.WaitSettled(ctx); err != nil {
			return err
		}
	}
	return nil
}
