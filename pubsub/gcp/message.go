package gcp

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"

	gizmo "github.com/seed8104ecd5/gizmo/pubsub"
)

// Message is one delivery from a [Subscriber]. It implements
// [gizmo.SubscriberMessage], [gizmo.SettlementReporter],
// [gizmo.DeliveryAttempter] and [gizmo.AckWaiter], and gives access to the
// client library's message ([Message.PubsubMessage]).
//
// The delivery holds its message for a lease: Receive.Lease from delivery
// (Receive.MaxExtension when zero), during which the client keeps
// extending the ack deadline with Pub/Sub. ExtendDoneDeadline moves the
// end of the lease, up to MaxExtension after the delivery. When the lease
// ends the subscriber hands the message back (a Nack), and Pub/Sub
// delivers it again.
type Message struct {
	m     *pubsub.Message
	r     *Subscriber
	g     *generation
	d     decoded
	fin   chan struct{} // closed when the delivery leaves the held state
	state atomic.Uint32 // a gizmo.Settlement, or lost
	eod   bool          // acknowledge with AckWithResult: Receive.ExactlyOnce, on a subscription with it

	mu       sync.Mutex // serialises the end of the lease with extensions
	start    time.Time  // when the application got the message
	deadline time.Time  // end of the lease
	lostWhy  lossReason
}

var (
	_ gizmo.SubscriberMessage  = (*Message)(nil)
	_ gizmo.SettlementReporter = (*Message)(nil)
	_ gizmo.DeliveryAttempter  = (*Message)(nil)
	_ gizmo.AckWaiter          = (*Message)(nil)
)

// lost is the state of a delivery whose lease ended unsettled. It is not
// a gizmo.Settlement: Settlement reports Unsettled for it.
const lost = 3

type lossReason uint8

const (
	lossExpired      lossReason = iota + 1 // the lease ran out
	lossStopped                            // Stop's deadline passed
	lossStreamFailed                       // the client's stream failed
)

// Message returns the payload.
func (d *Message) Message() []byte { return d.d.payload }

// Key returns the key: the gizmo-key attribute, or else the ordering key.
func (d *Message) Key() string { return d.d.key }

// Attributes returns the attributes, without the ones gizmo adds on the
// wire.
func (d *Message) Attributes() map[string]string { return d.d.attrs }

// ID returns the message ID Pub/Sub assigned; redeliveries keep it.
func (d *Message) ID() string { return d.m.ID }

// PubsubMessage returns the client library's message, with the data and
// attributes as they travelled, the publish time and the ordering key.
// Settle the delivery through d, not through it.
func (d *Message) PubsubMessage() *pubsub.Message { return d.m }

// DecodeError reports a wire encoding that gizmo could not undo, such as
// a malformed escaped attribute from a publisher outside gizmo. The
// message then holds the data, ordering key and attributes as they
// travelled.
func (d *Message) DecodeError() error { return d.d.err }

// DeliveryAttempt returns Pub/Sub's delivery count (1 for the first
// delivery) on a subscription with a dead-letter policy, and 0, unknown,
// elsewhere.
func (d *Message) DeliveryAttempt() int {
	if d.m.DeliveryAttempt == nil {
		return 0
	}
	return *d.m.DeliveryAttempt
}

// Settlement reports which of Done and Nack (or ExtendDoneDeadline(0))
// was called first.
func (d *Message) Settlement() gizmo.Settlement {
	if s := d.state.Load(); s != lost {
		return gizmo.Settlement(s)
	}
	return gizmo.Unsettled
}

// Done acknowledges the message. With Receive.ExactlyOnce, on a
// subscription with exactly-once delivery, it waits for Pub/Sub's answer
// and returns its failure, if any (see [Message.DoneWait]); otherwise it
// returns once the client holds the acknowledgement, which it sends within
// a tenth of a second. The first of Done and Nack
// wins; later calls return nil. If the lease already ended, Done returns an
// error wrapping [gizmo.ErrLeaseLost], and the message is delivered again.
func (d *Message) Done() error {
	if first, err := d.settle("done", gizmo.Acked); !first {
		return err
	}
	if !d.eod {
		d.m.Ack()
		d.release()
		return nil
	}
	res := d.m.AckWithResult()
	d.release()
	return d.waitAck(context.Background(), res)
}

// DoneWait acknowledges the message and waits until Pub/Sub confirms it,
// ctx ends, or the client's stream fails. Pub/Sub confirms
// acknowledgements only on subscriptions with exactly-once delivery, and
// only a subscriber with Receive.ExactlyOnce asks for the confirmation:
// on any other subscriber or subscription (the client learns which from
// Pub/Sub), DoneWait leaves the message unsettled and returns an error
// wrapping [gizmo.ErrNotSupported] (call Done instead): the client would
// answer success without asking.
func (d *Message) DoneWait(ctx context.Context) error {
	if !d.r.eod {
		return fmt.Errorf("gcp: done message %s: Pub/Sub confirms acknowledgements only with exactly-once delivery, and Receive.ExactlyOnce is off: %w", d.ID(), gizmo.ErrNotSupported)
	}
	if !d.eod {
		return fmt.Errorf("gcp: done message %s: Pub/Sub confirms acknowledgements only with exactly-once delivery, which subscription %s does not have: %w", d.ID(), d.r.name, gizmo.ErrNotSupported)
	}
	if first, err := d.settle("done", gizmo.Acked); !first {
		return err
	}
	res := d.m.AckWithResult()
	d.release()
	return d.waitAck(ctx, res)
}

func (d *Message) waitAck(ctx context.Context, res *pubsub.AckResult) error {
	select {
	case <-res.Ready():
	case <-d.g.failed:
		select {
		case <-res.Ready():
		default:
			return fmt.Errorf("gcp: done message %s: the client's stream failed before Pub/Sub confirmed the acknowledgement, and the message is delivered again: %w", d.ID(), gizmo.ErrLeaseLost)
		}
	case <-ctx.Done():
	}
	st, err := res.Get(ctx)
	return ackErr(d.ID(), st, err)
}

// Nack hands the message back for prompt redelivery, with the same
// errors as Done. It never waits for Pub/Sub.
func (d *Message) Nack() error {
	if first, err := d.settle("nack", gizmo.Nacked); !first {
		return err
	}
	d.m.Nack()
	d.release()
	return nil
}

// ExtendDoneDeadline makes the lease last at least dl from now and returns
// nil once it does. It sends nothing to Pub/Sub: the client already
// extends the ack deadline of every message it holds, and the subscriber
// hands a message back only when the lease ends, so the call moves the end
// of the lease. A lease cannot end later than Receive.MaxExtension after
// the delivery; asked for more, ExtendDoneDeadline extends it to that
// point and returns an error wrapping [ErrExtensionLimit]. dl of zero or
// less hands the message back, like Nack. After the lease ended, or after
// the delivery was settled, it returns an error wrapping
// [gizmo.ErrLeaseLost].
func (d *Message) ExtendDoneDeadline(dl time.Duration) error {
	if dl <= 0 {
		if d.state.Load() != uint32(gizmo.Unsettled) {
			return d.lostErr("extend deadline of")
		}
		return d.Nack()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state.Load() != uint32(gizmo.Unsettled) {
		return d.lostErrLocked("extend deadline of")
	}
	now := time.Now()
	if !now.Before(d.deadline) {
		d.loseLocked(lossExpired)
		return d.lostErrLocked("extend deadline of")
	}
	want := now.Add(dl)
	ceiling := d.start.Add(d.r.maxExt)
	if want.After(d.deadline) {
		d.deadline = minTime(want, ceiling)
	}
	if want.After(ceiling) {
		return fmt.Errorf("gcp: extend deadline of message %s by %v: the lease ends %v from now, Receive.MaxExtension (%v) after its delivery: %w",
			d.ID(), dl, ceiling.Sub(now).Round(time.Millisecond), d.r.maxExt, ErrExtensionLimit)
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// settle makes the first Done or Nack final. first is true if this call
// is the first and the lease holds: the caller then tells the client and
// calls release. A later settle gets false and nil; a settle after the
// lease ended gets an error wrapping ErrLeaseLost.
func (d *Message) settle(op string, as gizmo.Settlement) (first bool, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch d.state.Load() {
	case lost:
		return false, d.lostErrLocked(op)
	case uint32(gizmo.Unsettled):
	default:
		return false, nil
	}
	if !time.Now().Before(d.deadline) {
		d.loseLocked(lossExpired)
		return false, d.lostErrLocked(op)
	}
	d.state.Store(uint32(as))
	return true, nil
}

// release ends the held state after a settle; the receive callback then
// returns to the client.
func (d *Message) release() { close(d.fin) }

// lose ends the lease of an unsettled delivery and hands the message back.
// It reports whether it did.
func (d *Message) lose(why lossReason) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.loseLocked(why)
}

func (d *Message) loseLocked(why lossReason) bool {
	if d.state.Load() != uint32(gizmo.Unsettled) {
		return false
	}
	d.state.Store(lost)
	d.lostWhy = why
	d.m.Nack()
	close(d.fin)
	return true
}

func (d *Message) lostErr(op string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lostErrLocked(op)
}

func (d *Message) lostErrLocked(op string) error {
	if d.state.Load() != lost {
		return fmt.Errorf("gcp: %s message %s: already settled: %w", op, d.ID(), gizmo.ErrLeaseLost)
	}
	switch d.lostWhy {
	case lossStopped:
		return fmt.Errorf("gcp: %s message %s: the subscriber stopped and handed it back: %w: %w", op, d.ID(), gizmo.ErrStopped, gizmo.ErrLeaseLost)
	case lossStreamFailed:
		if err := d.r.Err(); err != nil {
			return fmt.Errorf("gcp: %s message %s: the subscriber ended (%w), and it is delivered again: %w: %w", op, d.ID(), err, gizmo.ErrStopped, gizmo.ErrLeaseLost)
		}
		return fmt.Errorf("gcp: %s message %s: the client's stream failed, and it is delivered again: %w", op, d.ID(), gizmo.ErrLeaseLost)
	}
	return fmt.Errorf("gcp: %s message %s: its lease ended, and it is delivered again: %w", op, d.ID(), gizmo.ErrLeaseLost)
}
