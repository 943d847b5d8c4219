package gcp

import (
	"context"
	"log/slog"
	"time"

	"cloud.google.com/go/pubsub/v2"
)

// receive is the callback the client's Receive calls for each message, on
// a goroutine of its own. It offers the message to the application and
// then holds it, which keeps it in the client's flow control and keeps the
// client extending its ack deadline, until the delivery is settled or its
// lease ends. The client calls it one message at a time per ordering key,
// so a key's next message waits until the previous one is settled.
func (r *Subscriber) receive(ctx context.Context, g *generation, m *pubsub.Message) {
	r.mu.Lock()
	if r.stopped {
		// Fetched before Stop closed the streams, or held by the client
		// behind its ordering key: back at once.
		r.mu.Unlock()
		m.Nack()
		return
	}
	r.inflight++
	r.sending++
	r.mu.Unlock()

	d := r.newDelivery(g, m)
	delivered := false
	select {
	case r.ch <- d:
		delivered = true
	case <-r.stopCh:
		m.Nack() // fetched before Stop, never delivered: back at once
	case <-ctx.Done():
		m.Nack()
		if r.rctx.Err() == nil {
			g.fail() // the stream failed
		}
	}
	r.mu.Lock()
	r.sending--
	if !delivered {
		r.inflight--
	}
	if r.stopped {
		r.cond.Broadcast()
	}
	r.mu.Unlock()
	if !delivered {
		return
	}

	r.hold(ctx, g, d)
	r.mu.Lock()
	r.inflight--
	if r.stopped {
		r.cond.Broadcast()
	}
	r.mu.Unlock()
}

func (r *Subscriber) newDelivery(g *generation, m *pubsub.Message) *Message {
	d := &Message{m: m, r: r, g: g, d: decode(m), fin: make(chan struct{}), eod: r.eod && r.gate.exactlyOnce.Load()}
	if d.d.err != nil {
		r.log.LogAttrs(context.Background(), slog.LevelWarn, "gcp: message delivered as it travelled: its gizmo wire encoding is malformed",
			slog.String("subscription", r.name), slog.String("message_id", m.ID), slog.Any("error", d.d.err))
	}
	now := time.Now()
	d.start, d.deadline = now, now.Add(r.lease)
	return d
}

// hold waits until the delivery d leaves the held state: it is settled,
// its lease ends, Stop gives up waiting for it, or the stream it came on
// fails.
func (r *Subscriber) hold(ctx context.Context, g *generation, d *Message) {
	// The lease starts when the application takes the message.
	d.mu.Lock()
	now := time.Now()
	d.start = now
	if end := now.Add(r.lease); end.After(d.deadline) {
		d.deadline = end
	}
	left := d.deadline.Sub(now)
	d.mu.Unlock()

	timer := time.NewTimer(left)
	defer timer.Stop()
	failed := ctx.Done()
	for {
		select {
		case <-d.fin:
			return
		case <-timer.C:
			d.mu.Lock()
			left := time.Until(d.deadline)
			if left > 0 {
				d.mu.Unlock()
				timer.Reset(left)
				continue
			}
			handedBack := d.loseLocked(lossExpired)
			d.mu.Unlock()
			if handedBack {
				r.log.LogAttrs(context.Background(), slog.LevelWarn, "gcp: lease ended before the message was settled; handed it back",
					slog.String("subscription", r.name), slog.String("message_id", d.ID()))
			}
			return
		case <-r.abortCh:
			d.lose(lossStopped)
			return
		case <-failed:
			if r.rctx.Err() != nil {
				// Stop ended Receive, after giving up on this delivery
				// (abortCh) or seeing it settled.
				failed = nil
				continue
			}
			d.lose(lossStreamFailed)
			g.fail()
			return
		}
	}
}
