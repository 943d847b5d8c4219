package aws

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// Receive errors are retried after a backoff that doubles from
// receiveBackoff up to receiveMaxBackoff, with jitter.
const (
	receiveBackoff    = 100 * time.Millisecond
	receiveMaxBackoff = 3 * time.Second
)

// receive is one receiver: it takes room for up to BatchSize messages,
// long-polls, and queues what it gets, until the subscriber ends.
func (s *Subscriber) receive() {
	backoff := receiveBackoff
	failing := false
	for {
		n := s.takeCredits()
		if n == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WaitTime+callTimeout)
		start := s.now()
		out, err := s.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    &s.q.url,
			MaxNumberOfMessages:         int32(n),
			WaitTimeSeconds:             int32(s.cfg.WaitTime / time.Second),
			VisibilityTimeout:           int32(s.vt / time.Second),
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		cancel()
		if err != nil {
			s.returnCredits(n)
			kind := classify(err)
			if kind == errNotFound || kind == errDenied {
				s.fail(fmt.Errorf("aws: receive from queue %q: %w", s.q.name, wrapKind(err, kind, pubsub.ErrSubscriptionNotFound)))
				return
			}
			s.stats.receiveErrors.Add(1)
			d := backoff/2 + rand.N(backoff/2+1)
			s.log.LogAttrs(context.Background(), slog.LevelWarn, "aws: receive failed; retrying",
				slog.String("queue", s.q.name), slog.Duration("backoff", d), slog.Any("error", err))
			failing = true
			if !s.pause(d) {
				return
			}
			backoff = min(2*backoff, receiveMaxBackoff)
			continue
		}
		if failing {
			s.log.LogAttrs(context.Background(), slog.LevelInfo, "aws: receiving again", slog.String("queue", s.q.name))
			failing, backoff = false, receiveBackoff
		}
		s.accept(out.Messages, n, start)
	}
}

// takeCredits waits for room for a batch (BatchSize messages, or
// MaxInFlight if that is smaller) and takes up to BatchSize. It returns 0
// once the subscriber ends. The room comes back when a message leaves the
// subscriber (drop).
func (s *Subscriber) takeCredits() int {
	need := min(s.cfg.BatchSize, s.cfg.MaxInFlight)
	s.mu.Lock()
	for {
		if s.ended() {
			s.mu.Unlock()
			return 0
		}
		if s.credits >= need {
			n := min(s.credits, s.cfg.BatchSize)
			s.credits -= n
			s.mu.Unlock()
			return n
		}
		if s.creditCh == nil {
			s.creditCh = make(chan struct{})
		}
		ch := s.creditCh
		s.mu.Unlock()
		select {
		case <-ch:
		case <-s.stopCh:
		case <-s.failCh:
		}
		s.mu.Lock()
	}
}

func (s *Subscriber) returnCredits(n int) {
	s.mu.Lock()
	s.addCredits(n)
	s.mu.Unlock()
}

// addCredits gives back room for n messages. s.mu is held.
func (s *Subscriber) addCredits(n int) {
	s.credits += n
	if s.creditCh != nil && s.credits >= min(s.cfg.BatchSize, s.cfg.MaxInFlight) {
		close(s.creditCh)
		s.creditCh = nil
	}
}

// accept queues the messages of a receive that started at start and asked
// for n, or hands them straight back if the subscriber is ending.
//
// SQS starts a message's lease when it takes the message for the receive,
// some time between the request and the response, and says nothing of
// when. The start of the request is a safe lower bound, and a close one for
// a receive that answered at once. A receive that took longer (a long poll
// that waited, a slow response) has its leases confirmed with one
// ChangeMessageVisibilityBatch, which also catches a lease that ended on
// the way.
func (s *Subscriber) accept(raws []sqstypes.Message, n int, start time.Duration) {
	ms := make([]*Message, len(raws))
	for i := range raws {
		ms[i] = s.newMessage(&raws[i], start+s.vt)
	}
	s.stats.received.Add(uint64(len(ms)))
	if len(ms) > 0 && s.now()-start > s.slow {
		s.confirm(ms)
	}
	s.mu.Lock()
	if s.ended() {
		s.mu.Unlock()
		s.handBackAll(ms, "received while the subscriber was stopping")
		return
	}
	s.addCredits(n - len(ms))
	for _, m := range ms {
		s.hold(m)
	}
	s.queue = append(s.queue, ms...)
	s.mu.Unlock()
	if len(ms) > 0 {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// confirm renews the leases of freshly received messages, ten to a call,
// and marks lost those SQS no longer holds for them. If a call fails, the
// messages keep the lower bound of their lease; the heartbeat or the
// deliverer extends them in time.
func (s *Subscriber) confirm(ms []*Message) {
	for len(ms) > 0 {
		chunk := ms[:min(len(ms), maxBatchEntries)]
		ms = ms[len(chunk):]
		start := s.now()
		res, err := s.visibilityBatch(chunk, int32(s.vt/time.Second))
		if err != nil {
			continue
		}
		for i, m := range chunk {
			switch {
			case res[i].err == nil:
				m.extendTo(start + s.vt)
			case res[i].kind == errLeaseLost:
				m.markLost()
			}
		}
	}
}

// newMessage decodes a received message; its lease lasts until deadline
// at least.
func (s *Subscriber) newMessage(raw *sqstypes.Message, deadline time.Duration) *Message {
	d := decodeMessage(raw, s.cfg.GizmoCompat)
	m := &Message{
		s: s, raw: *raw, handle: *raw.ReceiptHandle, decoded: d,
		ack: make(chan struct{}),
	}
	m.deadline.Store(int64(deadline))
	if d.err != nil {
		s.stats.decodeErrors.Add(1)
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "aws: delivering a message whose encoding is malformed as it is",
			slog.String("queue", s.q.name), slog.String("message_id", d.id), slog.Any("error", d.err))
	}
	return m
}

// deliver hands the queued messages to the application one by one, until
// the subscriber ends.
func (s *Subscriber) deliver() {
	for {
		m := s.next()
		if m == nil {
			return
		}
		if m.left(s.now()) < s.vt/2 && !s.refresh(m) {
			continue
		}
		select {
		case s.ch <- m:
		case <-s.stopCh:
			s.requeue(m)
			return
		case <-s.failCh:
			s.requeue(m)
			return
		}
		s.stats.delivered.Add(1)
		s.mu.Lock()
		m.delivered, m.deliveredAt = true, s.now()
		if m.Settlement() == pubsub.Unsettled { // the application may have settled it already
			m.counted = true
			s.outstanding++
		}
		s.mu.Unlock()
	}
}

// next takes the next queued message whose lease is not lost, waiting for
// one. It returns nil once the subscriber ends.
func (s *Subscriber) next() *Message {
	s.mu.Lock()
	for {
		if s.ended() {
			s.mu.Unlock()
			return nil
		}
		for len(s.queue) > 0 {
			m := s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			if m.lost.Load() {
				s.dropLocked(m)
				continue
			}
			s.mu.Unlock()
			return m
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-s.stopCh:
		case <-s.failCh:
		}
		s.mu.Lock()
	}
}

// requeue puts back at the front a message the deliverer took but could not
// deliver.
func (s *Subscriber) requeue(m *Message) {
	s.mu.Lock()
	s.queue = append([]*Message{m}, s.queue...)
	s.mu.Unlock()
}

// refresh extends a queued message whose lease has less than half left
// (the heartbeat fell behind), so that it is not delivered so late. It
// reports false, and lets the message go, if that fails.
func (s *Subscriber) refresh(m *Message) bool {
	m.vis.Lock()
	start := s.now()
	err := s.changeVisibility(m, int32(s.vt/time.Second))
	m.vis.Unlock()
	if err == nil {
		m.extendTo(start + s.vt)
		return true
	}
	if classify(err) == errLeaseLost {
		m.markLost()
	}
	s.drop(m)
	s.log.LogAttrs(context.Background(), slog.LevelWarn, "aws: a prefetched message's lease ran low and could not be extended; it comes back when its visibility ends",
		slog.String("queue", s.q.name), slog.String("message_id", m.id), slog.Any("error", err))
	return false
}
