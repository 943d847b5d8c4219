package http

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// Message is one push request, delivered by a [Subscriber]. It implements
// [pubsub.SubscriberMessage], [pubsub.SettlementReporter],
// [pubsub.DeliveryAttempter] and [pubsub.AckWaiter].
//
// Its settlement is the answer to the request: Done answers 204, Nack
// 503. Done returns at once; DoneWait also waits until the answer is
// written.
type Message struct {
	in      incoming
	req     *http.Request
	settled atomic.Uint32 // pubsub.Settlement of the first Done or Nack
	state   atomic.Uint32 // a leaseState
	outcome chan struct{} // closed when state leaves leaseHeld

	mu       sync.Mutex
	deadline time.Time // when the lease ends
	limit    time.Time // the latest deadline an extension may set

	// Guarded by mu: whether the answer to Done is written, with what
	// error, and the channel DoneWait waits on, made on demand.
	wrote    bool
	writeErr error
	written  chan struct{}
}

var (
	_ pubsub.SubscriberMessage  = (*Message)(nil)
	_ pubsub.SettlementReporter = (*Message)(nil)
	_ pubsub.DeliveryAttempter  = (*Message)(nil)
	_ pubsub.AckWaiter          = (*Message)(nil)
)

// leaseState is what became of a delivery's lease.
type leaseState uint32

const (
	leaseHeld    leaseState = iota // delivered, unsettled
	leaseAcked                     // Done: answered 204
	leaseNacked                    // Nack: answered 503
	leaseExpired                   // the deadline passed: answered 503
	leaseStopped                   // handed back by Stop: answered 503
	leaseGone                      // the sender hung up: nothing to answer
)

// end moves the lease from held to s, and reports whether it did.
func (m *Message) end(s leaseState) bool {
	if m.state.CompareAndSwap(uint32(leaseHeld), uint32(s)) {
		close(m.outcome)
		return true
	}
	return false
}

// Message returns the payload.
func (m *Message) Message() []byte { return m.in.payload }

// Key returns the key: the raw format's gizmo-key attribute, the Pub/Sub
// ordering key (or gizmo-key attribute), or the SNS gizmo-key attribute.
func (m *Message) Key() string { return m.in.key }

// Attributes returns the attributes, without the wire attributes.
func (m *Message) Attributes() map[string]string { return m.in.attrs }

// ID returns the message ID, the same on every retry of the message.
func (m *Message) ID() string { return m.in.id }

// DeliveryAttempt returns the delivery count the sender states (the
// publisher's Gizmo-Attempt header, Pub/Sub's deliveryAttempt), or 0
// where it states none (SNS; Pub/Sub without a dead-letter policy).
func (m *Message) DeliveryAttempt() int { return m.in.attempt }

// Format returns the format the message came in.
func (m *Message) Format() Format { return m.in.format }

// Request returns the HTTP request that carries the message; its body has
// been read. Read it only until the message is settled.
func (m *Message) Request() *http.Request { return m.req }

// PubSub returns the Pub/Sub push envelope, or nil in another format.
func (m *Message) PubSub() *PubSubPush { return m.in.pubsub }

// SNS returns the SNS notification, or nil in another format.
func (m *Message) SNS() *SNSNotification { return m.in.sns }

// Settlement reports which of Done and Nack (or ExtendDoneDeadline(0))
// was called first.
func (m *Message) Settlement() pubsub.Settlement { return pubsub.Settlement(m.settled.Load()) }

// Done acknowledges the message: the request is answered 204, so the
// sender does not send it again. The first of Done and Nack wins; later
// calls return nil. If the lease already ended (the deadline passed,
// Stop handed the message back, or the sender hung up), Done returns an
// error wrapping [pubsub.ErrLeaseLost]: the sender sends it again.
func (m *Message) Done() error { return m.settle("done", pubsub.Acked, leaseAcked) }

// Nack hands the message back: the request is answered 503, and the sender
// retries it after its backoff. Errors as for Done.
func (m *Message) Nack() error { return m.settle("nack", pubsub.Nacked, leaseNacked) }

func (m *Message) settle(op string, as pubsub.Settlement, to leaseState) error {
	if !m.settled.CompareAndSwap(uint32(pubsub.Unsettled), uint32(as)) {
		return nil
	}
	if m.end(to) {
		return nil
	}
	return m.lost(op)
}

// lost returns the error for settling or extending a delivery whose lease
// ended.
func (m *Message) lost(op string) error {
	switch leaseState(m.state.Load()) {
	case leaseExpired:
		return fmt.Errorf("pubsub/http: %s message %s: its lease ended and the sender was answered 503: %w", op, m.in.id, pubsub.ErrLeaseLost)
	case leaseStopped:
		return fmt.Errorf("pubsub/http: %s message %s: the subscriber stopped and handed it back: %w: %w", op, m.in.id, pubsub.ErrStopped, pubsub.ErrLeaseLost)
	case leaseGone:
		return fmt.Errorf("pubsub/http: %s message %s: the sender hung up: %w", op, m.in.id, pubsub.ErrLeaseLost)
	}
	return fmt.Errorf("pubsub/http: %s message %s: already settled: %w", op, m.in.id, pubsub.ErrLeaseLost)
}

// DoneWait acknowledges the message like Done, then waits until the 204
// answer is written and flushed to the connection (nil), writing it
// failed, or ctx is done. If Nack came first, it returns nil at once.
func (m *Message) DoneWait(ctx context.Context) error {
	if err := m.Done(); err != nil {
		return err
	}
	if leaseState(m.state.Load()) != leaseAcked {
		return nil
	}
	m.mu.Lock()
	if m.wrote {
		err := m.writeErr
		m.mu.Unlock()
		return err
	}
	if m.written == nil {
		m.written = make(chan struct{})
	}
	ch := m.written
	m.mu.Unlock()
	select {
	case <-ch:
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.writeErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// answered records that the answer to Done was written, with err.
func (m *Message) answered(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.wrote, m.writeErr = true, err
	if m.written != nil {
		close(m.written)
	}
}

// ExtendDoneDeadline makes the lease last at least d from now: the
// request's answer waits that long. The lease cannot pass the limit set at
// the request's arrival (Config.MaxLease, and the sender's Gizmo-Timeout
// less a margin); asked for more, it extends to the limit and returns an
// error saying so. d of zero or less hands the message back, like Nack.
// After the lease ended it returns an error wrapping [pubsub.ErrLeaseLost].
func (m *Message) ExtendDoneDeadline(d time.Duration) error {
	if m.settled.Load() != uint32(pubsub.Unsettled) || leaseState(m.state.Load()) != leaseHeld {
		return m.lost("extend the deadline of")
	}
	if d <= 0 {
		if m.settled.CompareAndSwap(uint32(pubsub.Unsettled), uint32(pubsub.Nacked)) && m.end(leaseNacked) {
			return nil
		}
		return m.lost("extend the deadline of")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	want := time.Now().Add(d)
	if want.After(m.limit) {
		if m.limit.After(m.deadline) {
			m.deadline = m.limit
		}
		return fmt.Errorf("pubsub/http: extend the deadline of message %s by %v: the lease ends at the latest %v from now (Config.MaxLease, the sender's %s); extended that far",
			m.in.id, d, time.Until(m.limit).Round(time.Millisecond), HeaderTimeout)
	}
	if want.After(m.deadline) {
		m.deadline = want
	}
	return nil
}

// deadlineAt returns the lease's current deadline.
func (m *Message) deadlineAt() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.deadline
}
