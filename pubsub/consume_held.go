package pubsub

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// A held message's flags word: its state in the low two bits, then two
// flags. States below heldDone are unsettled.
const (
	heldActive  uint32 = iota // Consume holds it: queued, running or waiting for a retry
	heldDelayed               // the keeper holds it until its hand-back
	heldDone                  // acknowledged
	heldNacked                // handed back

	heldStateMask uint32 = 3
	heldLost      uint32 = 1 << 2 // an extension or settle reported ErrLeaseLost
	heldExhausted uint32 = 1 << 3 // Consume gave up on this message before: one attempt
)

// held wraps a message from the moment Consume receives it. It is what
// handlers see: the first Done or Nack, from the handler or from Consume,
// is final for both, and the lease keeper finds the messages Consume holds
// through it. m is set before the wrapper is published to other goroutines
// and never changes. It is kept small: one is made per message.
type held struct {
	m     SubscriberMessage
	flags atomic.Uint32
	ext   uint32 // keeper tick of receipt or of the last extension; the keeper's after publication
}

func (w *held) state() uint32   { return w.flags.Load() & heldStateMask }
func (w *held) lost() bool      { return w.flags.Load()&heldLost != 0 }
func (w *held) exhausted() bool { return w.flags.Load()&heldExhausted != 0 }
func (w *held) markLost()       { w.flags.Or(heldLost) }

// setState moves an unsettled message from one state to another, reporting
// false if it was not in from.
func (w *held) setState(from, to uint32) bool {
	for {
		f := w.flags.Load()
		if f&heldStateMask != from {
			return false
		}
		if w.flags.CompareAndSwap(f, f&^heldStateMask|to) {
			return true
		}
	}
}

var (
	_ SubscriberMessage = (*held)(nil)
	_ DeliveryAttempter = (*held)(nil)
	_ AckWaiter         = (*held)(nil)
)

// Message returns the payload.
func (w *held) Message() []byte { return w.m.Message() }

// Key returns the key.
func (w *held) Key() string { return w.m.Key() }

// Attributes returns the attributes.
func (w *held) Attributes() map[string]string { return w.m.Attributes() }

// ID returns the message ID.
func (w *held) ID() string { return w.m.ID() }

// Unwrap returns the backend's message; see [MessageAs].
func (w *held) Unwrap() SubscriberMessage { return w.m }

// DeliveryAttempt returns the backend's delivery count, or 0 if it keeps
// none.
func (w *held) DeliveryAttempt() int {
	if da, ok := w.m.(DeliveryAttempter); ok {
		return da.DeliveryAttempt()
	}
	return 0
}

// Done acknowledges the message unless it is already settled.
func (w *held) Done() error { return w.settle(heldDone, w.m.Done) }

// Nack hands the message back unless it is already settled.
func (w *held) Nack() error { return w.settle(heldNacked, w.m.Nack) }

// DoneWait acknowledges the message, unless it is already settled, and
// waits for the backend's confirmation where it has one.
func (w *held) DoneWait(ctx context.Context) error {
	return w.settle(heldDone, func() error { return DoneWait(ctx, w.m) })
}

// ExtendDoneDeadline passes the extension on; d <= 0 settles the message
// like Nack.
func (w *held) ExtendDoneDeadline(d time.Duration) error {
	if d <= 0 {
		return w.settle(heldNacked, func() error { return w.m.ExtendDoneDeadline(d) })
	}
	err := w.m.ExtendDoneDeadline(d)
	if errors.Is(err, ErrLeaseLost) {
		w.markLost()
	}
	return err
}

// settle moves the message to state to and runs fn, unless it is settled
// already.
func (w *held) settle(to uint32, fn func() error) error {
	for {
		f := w.flags.Load()
		if f&heldStateMask >= heldDone {
			return nil
		}
		if w.flags.CompareAndSwap(f, f&^heldStateMask|to) {
			err := fn()
			if err != nil && errors.Is(err, ErrLeaseLost) {
				w.markLost()
			}
			return err
		}
	}
}

// unsettled reports whether neither Done nor Nack has been called.
func (w *held) unsettled() bool { return w.state() < heldDone }
