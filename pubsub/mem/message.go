package mem

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// Message is one delivery of a broker message, as a [Subscriber] hands it
// out. It implements [pubsub.SubscriberMessage],
// [pubsub.DeliveryAttempter] and [pubsub.SettlementReporter]. Done is
// synchronous: when it returns nil the message is gone from the
// subscription.
type Message struct {
	l       lease
	r       *Subscriber
	settled atomic.Uint32 // a pubsub.Settlement
}

var (
	_ pubsub.SubscriberMessage  = (*Message)(nil)
	_ pubsub.DeliveryAttempter  = (*Message)(nil)
	_ pubsub.SettlementReporter = (*Message)(nil)
)

// Message returns the payload.
func (d *Message) Message() []byte { return d.l.e.msg.payload }

// Key returns the message key.
func (d *Message) Key() string { return d.l.e.msg.key }

// Attributes returns the message attributes, nil if there are none.
func (d *Message) Attributes() map[string]string { return d.l.e.msg.attrs }

// ID returns the broker-assigned ID, the same for every delivery of the
// message.
func (d *Message) ID() string { return strconv.FormatUint(d.l.e.msg.id, 10) }

// DeliveryAttempt returns 1 for the first delivery, 2 for the second, and so
// on.
func (d *Message) DeliveryAttempt() int { return int(d.l.attempt) }

// Done acknowledges the message. The first of Done and Nack wins; later calls
// return nil. If the lease already ended (the deadline lapsed or the
// message was handed back), Done changes nothing, the message is delivered
// again, and Done returns an error wrapping [pubsub.ErrLeaseLost]; after
// the subscriber has stopped, the error also wraps [pubsub.ErrStopped].
func (d *Message) Done() error { return d.settle("done", pubsub.Acked, (*subscription).ack) }

// Nack hands the message back for redelivery at the front of the queue,
// with the same errors as Done.
func (d *Message) Nack() error { return d.settle("nack", pubsub.Nacked, (*subscription).requeue) }

// Settlement reports which of Done and Nack (or ExtendDoneDeadline(0)) was
// called first.
func (d *Message) Settlement() pubsub.Settlement { return pubsub.Settlement(d.settled.Load()) }

// settle carries out the first Done or Nack: apply runs on the message if
// this delivery still holds its lease.
func (d *Message) settle(op string, as pubsub.Settlement, apply func(*subscription, *entry)) error {
	if !d.settled.CompareAndSwap(uint32(pubsub.Unsettled), uint32(as)) {
		return nil
	}
	s := d.r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := d.usable(op); err != nil {
		return err
	}
	if !s.current(d.l) {
		return fmt.Errorf("mem: %s message %s: its lease ended, and it is delivered again: %w", op, d.ID(), pubsub.ErrLeaseLost)
	}
	apply(s, d.l.e)
	return nil
}

// ExtendDoneDeadline sets the delivery's deadline to dl from now. A dl of
// zero or less hands the message back at once, like Nack. It returns an
// error wrapping [pubsub.ErrLeaseLost] if the delivery was settled or its
// lease ended.
func (d *Message) ExtendDoneDeadline(dl time.Duration) error {
	s := d.r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := d.usable("extend deadline of"); err != nil {
		return err
	}
	if d.settled.Load() != uint32(pubsub.Unsettled) || !s.current(d.l) {
		return fmt.Errorf("mem: extend deadline of message %s: %w", d.ID(), pubsub.ErrLeaseLost)
	}
	if dl <= 0 {
		d.settled.Store(uint32(pubsub.Nacked))
		s.requeue(d.l.e)
		return nil
	}
	s.extend(d.l.e, dl)
	return nil
}

// usable returns an error if the subscription or the subscriber is gone.
// d.r.s.mu must be held.
func (d *Message) usable(op string) error {
	s := d.r.s
	if s.err != nil {
		return fmt.Errorf("mem: %s message %s: %w: %w: %w", op, d.ID(), pubsub.ErrStopped, pubsub.ErrLeaseLost, s.err)
	}
	if d.r.gone && !s.current(d.l) {
		return fmt.Errorf("mem: %s message %s: the subscriber stopped and handed it back: %w: %w", op, d.ID(), pubsub.ErrStopped, pubsub.ErrLeaseLost)
	}
	return nil
}
