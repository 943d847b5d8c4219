package aws

import (
	"context"
	"log/slog"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// changeVisibility sets m's visibility timeout to secs from now. The
// caller holds m.vis.
func (s *Subscriber) changeVisibility(m *Message, secs int32) error {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	_, err := s.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: &s.q.url, ReceiptHandle: &m.handle, VisibilityTimeout: secs,
	})
	return err
}

// visibilityBatch sets the visibility timeout of ms (at most ten) to secs
// with one ChangeMessageVisibilityBatch call. It returns a result per
// message, or the call's error.
func (s *Subscriber) visibilityBatch(ms []*Message, secs int32) ([]entryResult, error) {
	entries := make([]sqstypes.ChangeMessageVisibilityBatchRequestEntry, len(ms))
	for i, m := range ms {
		entries[i] = sqstypes.ChangeMessageVisibilityBatchRequestEntry{Id: &entryIDs[i], ReceiptHandle: &m.handle, VisibilityTimeout: secs}
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	out, err := s.client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &s.q.url, Entries: entries})
	if err != nil {
		return nil, err
	}
	ok := make([]string, len(out.Successful))
	for i, e := range out.Successful {
		ok[i] = awssdk.ToString(e.Id)
	}
	failed, ids := sqsEntryErrors(out.Failed)
	return entryResults(len(ms), ok, failed, ids), nil
}

// handBackAll makes ms visible again at once, ten to a call: messages the
// application never got (prefetched, or received while stopping) and
// delivered ones still unsettled at Stop's deadline. They must no longer
// be in s.held. Failures are logged: those messages come back when their
// visibility ends.
func (s *Subscriber) handBackAll(ms []*Message, reason string) {
	for len(ms) > 0 {
		n := min(len(ms), maxBatchEntries)
		chunk := ms[:n]
		ms = ms[n:]
		for _, m := range chunk {
			m.vis.Lock()
		}
		res, err := s.visibilityBatch(chunk, 0)
		for _, m := range chunk {
			m.vis.Unlock()
		}
		failed := 0
		for i := range chunk {
			if err == nil && res[i].err == nil {
				s.stats.handedBack.Add(1)
				continue
			}
			failed++
			if err == nil {
				err = res[i].err
			}
		}
		if failed > 0 {
			s.log.LogAttrs(context.Background(), slog.LevelWarn, "aws: handing messages back failed; they come back when their visibility timeout ends",
				slog.String("queue", s.q.name), slog.String("reason", reason), slog.Int("messages", failed), slog.Any("error", err))
		}
	}
}

// heartbeat extends the visibility of the messages the subscriber holds,
// every Heartbeat, until quit is closed. A message is extended when less
// than half its lease plus one period is left, so that a prefetched message
// is never delivered with less than half its lease; a delivered one until
// it is settled or MaxExtension has passed since its delivery; and one
// that is Done until its delete is through.
func (s *Subscriber) heartbeat(quit <-chan struct{}) {
	t := time.NewTicker(s.cfg.Heartbeat)
	defer t.Stop()
	var due []*Message
	for {
		select {
		case <-quit:
			return
		case <-t.C:
		}
		due = s.dueForExtension(due[:0])
		for len(due) > 0 {
			n := min(len(due), maxBatchEntries)
			s.extend(due[:n])
			clear(due[:n])
			due = due[n:]
		}
	}
}

// dueForExtension appends the held messages whose lease needs extending.
func (s *Subscriber) dueForExtension(due []*Message) []*Message {
	now := s.now()
	threshold := s.vt/2 + s.cfg.Heartbeat
	s.mu.Lock()
	defer s.mu.Unlock()
	for m := range s.held {
		st := m.Settlement()
		if m.lost.Load() || m.left(now) >= threshold || st == pubsub.Nacked {
			continue
		}
		// A Done whose delete is pending is always kept alive.
		if m.delivered && st == pubsub.Unsettled {
			if s.cfg.MaxExtension < 0 || now-m.deliveredAt >= s.cfg.MaxExtension {
				if !m.maxedOut {
					m.maxedOut = true
					s.log.LogAttrs(context.Background(), slog.LevelWarn, "aws: message held past MaxExtension; its visibility is no longer extended",
						slog.String("queue", s.q.name), slog.String("message_id", m.id), slog.Duration("max_extension", s.cfg.MaxExtension))
				}
				continue
			}
		}
		due = append(due, m)
	}
	return due
}

// extend extends the visibility of ms (at most ten) by the visibility
// timeout. A message whose visibility is being changed by its own call is
// skipped: that call orders with the heartbeat's.
func (s *Subscriber) extend(ms []*Message) {
	locked := ms[:0:0]
	for _, m := range ms {
		if !m.vis.TryLock() {
			continue
		}
		if m.Settlement() == pubsub.Nacked || m.lost.Load() { // handed back since it was found due
			m.vis.Unlock()
			continue
		}
		locked = append(locked, m)
	}
	if len(locked) == 0 {
		return
	}
	defer func() {
		for _, m := range locked {
			m.vis.Unlock()
		}
	}()
	start := s.now()
	res, err := s.visibilityBatch(locked, int32(s.vt/time.Second))
	if err != nil {
		s.stats.extendFailures.Add(uint64(len(locked)))
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "aws: extending message visibility failed; retrying at the next heartbeat",
			slog.String("queue", s.q.name), slog.Int("messages", len(locked)), slog.Any("error", err))
		return
	}
	for i, m := range locked {
		switch r := res[i]; {
		case r.err == nil:
			m.extendTo(start + s.vt)
			s.stats.extended.Add(1)
		case r.kind == errLeaseLost:
			m.markLost()
		default:
			s.stats.extendFailures.Add(1)
			s.log.LogAttrs(context.Background(), slog.LevelWarn, "aws: extending a message's visibility failed; retrying at the next heartbeat",
				slog.String("queue", s.q.name), slog.String("message_id", m.id), slog.Any("error", r.err))
		}
	}
}
