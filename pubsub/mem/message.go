package pubsubtest

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// delivery is one delivery of a broker message. It implements
// pubsub.SubscriberMessage and pubsub.DeliveryAttempter.
type delivery struct {
	l       lease
	r       *subscriber
	settled atomic.Bool
}

var (
	_ pubsub.SubscriberMessage = (*delivery)(nil)
	_ pubsub.DeliveryAttempter = (*delivery)(nil)
)

// Message returns the payload.
func (d *delivery) Message() []byte { return d.l.e.msg.payload }

// Key returns the message key.
func (d *delivery) Key() string { return d.l.e.msg.key }

// Attributes returns the message attributes, nil if there are none.
func (d *delivery) Attributes() map[string]string { return d.l.e.msg.attrs }

// ID returns the broker-assigned ID, the same for every delivery of the
// message.
func (d *delivery) ID() string { return strconv.FormatUint(d.l.e.msg.id, 10) }

// DeliveryAttempt returns 1 for the first delivery, 2 for the second, and so
// on.
func (d *delivery) DeliveryAttempt() int { return int(d.l.attempt) }

// Done acknowledges the message. The first of Done and Nack wins; later calls
// return nil. If the lease already ended (the deadline lapsed or the message
// was handed back), Done has no effect and the message is delivered again;
// if the subscriber has finished stopping, it returns an error wrapping
// pubsub.ErrStopped.
func (d *delivery) Done() error { return d.settle("done", (*subscription).ack) }

// Nack hands the message back for redelivery at the front of the queue.
func (d *delivery) Nack() error { return d.settle("nack", (*subscription).requeue) }

// settle carries out the first Done or Nack: apply runs on the message if
// this delivery still holds its lease.
func (d *delivery) settle(op string, apply func(*subscription, *entry)) error {
	if !d.settled.CompareAndSwap(false, true) {
		return nil
	}
	s := d.r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := d.usable(op); err != nil {
		return err
	}
	if s.current(d.l) {
		apply(s, d.l.e)
	}
	return nil
}

// ExtendDoneDeadline sets the delivery's deadline to dl from now. A dl of zero
// or less hands the message back at once, like Nack. It returns an error
// wrapping ErrLeaseExpired if the delivery was settled or its lease ended.
func (d *delivery) ExtendDoneDeadline(dl time.Duration) error {
	s := d.r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := d.usable("extend deadline of"); err != nil {
		return err
	}
	if d.settled.Load() || !s.current(d.l) {
		return fmt.Errorf("pubsubtest: extend deadline of message %s: %w", d.ID(), ErrLeaseExpired)
	}
	if dl <= 0 {
		d.settled.Store(true)
		s.requeue(d.l.e)
		return nil
	}
	s.extend(d.l.e, dl)
	return nil
}

// usable returns an error if the subscription or the subscriber is gone.
// d.r.s.mu must be held.
func (d *delivery) usable(op string) error {
	s := d.r.s
	if s.err != nil {
		return fmt.Errorf("pubsubtest: %s message %s: %w: %w", op, d.ID(), pubsub.ErrStopped, s.err)
	}
	if d.r.gone && !s.current(d.l) {
		return fmt.Errorf("pubsubtest: %s message %s: %w", op, d.ID(), pubsub.ErrStopped)
	}
	return nil
}
