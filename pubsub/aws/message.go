package aws

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// Message is one delivery from an SQS queue, as a [Subscriber] hands it out.
// It implements [pubsub.SubscriberMessage], [pubsub.DeliveryAttempter],
// [pubsub.SettlementReporter] and [pubsub.AckWaiter]: Done returns once the
// delete is queued, and DoneWait waits for SQS to confirm it. [Message.SQS]
// returns the SDK's message and [Message.Envelope] the SNS envelope it came
// in, if any.
type Message struct {
	s       *Subscriber
	raw     sqstypes.Message
	handle  string
	decoded // what the body and attributes carried

	settled  atomic.Uint32 // a pubsub.Settlement
	deadline atomic.Int64  // when the visibility ends at the latest, in s.now() units
	lost     atomic.Bool   // the receipt handle no longer holds the message
	stopped  atomic.Bool   // handed back when the subscriber stopped
	vis      sync.Mutex    // orders visibility changes of this message

	// Guarded by s.mu.
	delivered   bool
	deliveredAt time.Duration
	counted     bool // delivered, unsettled, and counted in s.outstanding
	maxedOut    bool // the heartbeat reached MaxExtension

	ack    chan struct{} // closed once Done failed, or the delete is confirmed or failed for good
	ackErr error         // written before ack is closed
}

var (
	_ pubsub.SubscriberMessage  = (*Message)(nil)
	_ pubsub.DeliveryAttempter  = (*Message)(nil)
	_ pubsub.SettlementReporter = (*Message)(nil)
	_ pubsub.AckWaiter          = (*Message)(nil)
)

// Message returns the payload.
func (m *Message) Message() []byte { return m.payload }

// Key returns the key: gizmo's key attribute, or else the FIFO message
// group of a message from another producer (or, with GizmoCompat, the SNS
// Subject that NYT Gizmo put the key in).
func (m *Message) Key() string { return m.key }

// Attributes returns the message attributes without gizmo's wire
// attributes, nil if there are none. Binary attributes of other producers
// are given in standard base64.
func (m *Message) Attributes() map[string]string { return m.attrs }

// ID returns the SNS MessageId for a message that came through an SNS
// envelope, or else the SQS MessageId. Both stay the same across
// redeliveries.
func (m *Message) ID() string { return m.id }

// DeliveryAttempt returns SQS's ApproximateReceiveCount: 1 for the first
// delivery. A message the subscriber prefetched and handed back when it
// stopped counts as received too.
func (m *Message) DeliveryAttempt() int { return m.attempt }

// SQS returns the SDK's message, with its receipt handle and system
// attributes.
func (m *Message) SQS() *sqstypes.Message { return &m.raw }

// Envelope returns the SNS envelope the message came in, or nil for a
// message sent to the queue directly or with raw delivery.
func (m *Message) Envelope() *Envelope { return m.env }

// DecodeError returns why the message's wire encoding could not be undone
// (a foreign producer's malformed attributes, a bad base64 body). Such a
// message is delivered with its body as the payload and no key or
// attributes; it is nil for every message gizmo published.
func (m *Message) DecodeError() error { return m.err }

// Settlement reports which of Done and Nack (or ExtendDoneDeadline(0)) was
// called first.
func (m *Message) Settlement() pubsub.Settlement { return pubsub.Settlement(m.settled.Load()) }

// Done deletes the message. The delete is sent in a batch with others
// (DeleteMessageBatch) within DeleteDelay; Done returns once it is queued,
// and a failed batch is retried (see [Message.DoneWait] for the outcome).
// The first of Done and Nack wins; later calls return nil. If the lease was
// already lost (the visibility timeout passed, or the subscriber stopped
// and handed the message back), Done returns an error wrapping
// [pubsub.ErrLeaseLost]: the message is delivered again.
func (m *Message) Done() error {
	if !m.settled.CompareAndSwap(uint32(pubsub.Unsettled), uint32(pubsub.Acked)) {
		return nil
	}
	err := m.usable("done")
	if err == nil && m.s.del.add(m) != nil {
		err = fmt.Errorf("aws: done message %s: the subscriber has stopped: %w: %w", m.id, pubsub.ErrStopped, pubsub.ErrLeaseLost)
	}
	m.s.settled(m)
	if err != nil {
		m.s.drop(m)
		m.finishAck(err)
		return err
	}
	return nil // the deleter drops the lease once the delete is done
}

// DoneWait acknowledges the message like Done, then waits until SQS has
// confirmed the delete (nil), the delete has failed for good, or ctx is
// done. After a failed delete the message is delivered again. If Nack came
// first, DoneWait, like Done, returns nil.
func (m *Message) DoneWait(ctx context.Context) error {
	if err := m.Done(); err != nil {
		return err
	}
	if pubsub.Settlement(m.settled.Load()) != pubsub.Acked {
		return nil
	}
	select {
	case <-m.ack:
		return m.ackErr
	case <-ctx.Done():
		return fmt.Errorf("aws: waiting for the delete of message %s: %w", m.id, ctx.Err())
	}
}

func (m *Message) finishAck(err error) {
	m.ackErr = err
	close(m.ack)
}

// Nack makes the message visible again at once, or after NackDelay, with
// ChangeMessageVisibility. The first of Done and Nack wins; later calls
// return nil. It returns an error wrapping [pubsub.ErrLeaseLost] if the
// lease was already lost.
func (m *Message) Nack() error {
	if !m.settled.CompareAndSwap(uint32(pubsub.Unsettled), uint32(pubsub.Nacked)) {
		return nil
	}
	return m.handBack("nack", m.s.nackSecs)
}

// ExtendDoneDeadline makes the message stay invisible for at least d from
// now, rounded up to whole seconds (at most 12 hours, counted by SQS from
// the receive), and returns nil once SQS has done it; if the lease already
// lasts that long it returns nil without a call. ExtendDoneDeadline(0)
// hands the message back at once, like Nack. It returns an error wrapping
// [pubsub.ErrLeaseLost] if the message was settled or its lease lost.
func (m *Message) ExtendDoneDeadline(d time.Duration) error {
	if d <= 0 {
		if !m.settled.CompareAndSwap(uint32(pubsub.Unsettled), uint32(pubsub.Nacked)) {
			return fmt.Errorf("aws: extend deadline of message %s: already settled: %w", m.id, pubsub.ErrLeaseLost)
		}
		return m.handBack("extend deadline of", 0)
	}
	if pubsub.Settlement(m.settled.Load()) != pubsub.Unsettled {
		return fmt.Errorf("aws: extend deadline of message %s: already settled: %w", m.id, pubsub.ErrLeaseLost)
	}
	if err := m.usable("extend deadline of"); err != nil {
		return err
	}
	secs := int32(min((d+time.Second-1)/time.Second, maxVisibility/time.Second))
	s := m.s
	m.vis.Lock()
	defer m.vis.Unlock()
	start := s.now()
	if m.deadline.Load() >= int64(start+d) {
		return nil
	}
	err := s.changeVisibility(m, secs)
	if err != nil {
		if classify(err) == errLeaseLost {
			m.markLost()
		}
		return fmt.Errorf("aws: extend deadline of message %s: %w", m.id, wrapKind(err, classify(err), pubsub.ErrSubscriptionNotFound))
	}
	m.extendTo(start + time.Duration(secs)*time.Second)
	return nil
}

// handBack carries out Nack or ExtendDoneDeadline(0): it sets the
// message's visibility timeout to secs.
func (m *Message) handBack(op string, secs int32) error {
	s := m.s
	defer s.drop(m)
	s.settled(m)
	if err := m.usable(op); err != nil {
		return err
	}
	m.vis.Lock()
	err := s.changeVisibility(m, secs)
	m.vis.Unlock()
	if err != nil {
		kind := classify(err)
		if kind == errLeaseLost {
			m.markLost()
		}
		return fmt.Errorf("aws: %s message %s: %w", op, m.id, wrapKind(err, kind, pubsub.ErrSubscriptionNotFound))
	}
	s.stats.nacked.Add(1)
	return nil
}

// usable returns an error wrapping pubsub.ErrLeaseLost if the message's
// lease is gone: lost, lapsed, or handed back by Stop.
func (m *Message) usable(op string) error {
	switch {
	case m.stopped.Load():
		return fmt.Errorf("aws: %s message %s: the subscriber stopped and handed it back: %w: %w", op, m.id, pubsub.ErrStopped, pubsub.ErrLeaseLost)
	case m.lost.Load():
		return fmt.Errorf("aws: %s message %s: SQS no longer holds it for this delivery: %w", op, m.id, pubsub.ErrLeaseLost)
	case int64(m.s.now()) >= m.deadline.Load():
		return fmt.Errorf("aws: %s message %s: its visibility timeout passed: %w", op, m.id, pubsub.ErrLeaseLost)
	}
	return nil
}

func (m *Message) markLost() {
	if !m.lost.Swap(true) {
		m.s.stats.leasesLost.Add(1)
	}
}

// extendTo moves the known deadline to at, if that is later.
func (m *Message) extendTo(at time.Duration) {
	for {
		cur := m.deadline.Load()
		if int64(at) <= cur || m.deadline.CompareAndSwap(cur, int64(at)) {
			return
		}
	}
}

// left returns how long the lease has left at now.
func (m *Message) left(now time.Duration) time.Duration {
	return time.Duration(m.deadline.Load()) - now
}
