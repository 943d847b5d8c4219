package aws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// Deletes that keep failing are tried this often in all, with a backoff
// that doubles from deleteBackoff up to deleteMaxBackoff: about three
// seconds, enough to ride out a short outage.
const (
	deleteAttempts   = 6
	deleteBackoff    = 100 * time.Millisecond
	deleteMaxBackoff = 2 * time.Second
	// minDeleteCalls is the least number of delete calls that may be in
	// flight at once; with more receivers, as many as there are
	// receivers, so that deletes keep pace with receives (a raw loop
	// alternates the two).
	minDeleteCalls = 4
	// callTimeout bounds one call that is not a long poll.
	callTimeout = 30 * time.Second
)

var errDeleterClosed = errors.New("aws: deleter closed")

// deleter batches the deletes of Done: a batch goes when it holds ten
// messages or its first message has waited DeleteDelay, in a goroutine of
// its own, with a bounded number of calls in flight. Failed entries and
// calls are retried; what keeps failing is logged, counted in
// Stats.DeleteFailures, and left to come back. Done adds to the batch
// under a mutex, so no goroutine wakes up per message.
type deleter struct {
	s     *Subscriber
	calls chan struct{} // semaphore of delete calls in flight
	wg    sync.WaitGroup

	mu     sync.Mutex
	batch  []*Message
	gen    uint64      // counts batches, so that a stale timer does nothing
	timer  *time.Timer // flushes batch gen after DeleteDelay
	closed bool
}

func newDeleter(s *Subscriber) *deleter {
	return &deleter{s: s, calls: make(chan struct{}, max(minDeleteCalls, s.cfg.Receivers))}
}

// add queues m's delete. It fails once the deleter is closed. When it
// completes a batch, it sends it, waiting while the most delete calls
// allowed are in flight.
func (d *deleter) add(m *Message) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return errDeleterClosed
	}
	d.batch = append(d.batch, m)
	var full []*Message
	switch len(d.batch) {
	case maxBatchEntries:
		full = d.take()
	case 1:
		gen := d.gen
		d.timer = time.AfterFunc(d.s.cfg.DeleteDelay, func() { d.expire(gen) })
	}
	d.mu.Unlock()
	if full != nil {
		d.flush(full)
	}
	return nil
}

// take empties the batch, counting it in d.wg until flush has sent it.
// d.mu is held, so that close cannot start waiting between the two.
func (d *deleter) take() []*Message {
	b := d.batch
	if len(b) > 0 {
		d.wg.Add(1)
	}
	d.batch = make([]*Message, 0, maxBatchEntries)
	d.gen++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	return b
}

// expire sends batch gen once its first message has waited DeleteDelay.
func (d *deleter) expire(gen uint64) {
	d.mu.Lock()
	if gen != d.gen || len(d.batch) == 0 {
		d.mu.Unlock()
		return
	}
	b := d.take()
	d.mu.Unlock()
	d.flush(b)
}

// flush sends batch, which take counted in d.wg, in a goroutine of its
// own, waiting while the most delete calls allowed are in flight.
func (d *deleter) flush(batch []*Message) {
	d.calls <- struct{}{}
	go func() {
		defer d.wg.Done()
		defer func() { <-d.calls }()
		d.send(batch)
	}()
}

// close stops taking deletes, sends what is queued and waits for the calls
// in flight until ctx is done.
func (d *deleter) close(ctx context.Context) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	b := d.take()
	d.mu.Unlock()
	if len(b) > 0 {
		d.flush(b)
	}
	sent := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(sent)
	}()
	select {
	case <-sent:
	case <-ctx.Done():
	}
}

// send deletes batch, retrying failed entries and calls.
func (d *deleter) send(batch []*Message) {
	s := d.s
	pending := batch
	backoff := deleteBackoff
	for attempt := 1; ; attempt++ {
		entries := make([]sqstypes.DeleteMessageBatchRequestEntry, len(pending))
		for i, m := range pending {
			entries[i] = sqstypes.DeleteMessageBatchRequestEntry{Id: &entryIDs[i], ReceiptHandle: &m.handle}
		}
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		out, err := s.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &s.q.url, Entries: entries})
		cancel()
		var retry []*Message
		var lastErr error
		if err != nil {
			kind := classify(err)
			lastErr = wrapKind(err, kind, pubsub.ErrSubscriptionNotFound)
			if kind != errRetry || attempt == deleteAttempts {
				d.fail(pending, lastErr)
				return
			}
			retry = pending
		} else {
			ok := make([]string, len(out.Successful))
			for i, e := range out.Successful {
				ok[i] = awssdk.ToString(e.Id)
			}
			failed, ids := sqsEntryErrors(out.Failed)
			for i, r := range entryResults(len(pending), ok, failed, ids) {
				m := pending[i]
				switch {
				case r.err == nil:
					s.stats.deleted.Add(1)
					s.drop(m)
					m.finishAck(nil)
				case r.kind == errRetry && attempt < deleteAttempts:
					retry = append(retry, m)
					lastErr = r.err
				default:
					d.fail([]*Message{m}, wrapKind(r.err, r.kind, pubsub.ErrSubscriptionNotFound))
				}
			}
		}
		if len(retry) == 0 {
			return
		}
		s.stats.deleteRetries.Add(uint64(len(retry)))
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "aws: deleting messages failed; retrying",
			slog.String("queue", s.q.name), slog.Int("messages", len(retry)), slog.Int("attempt", attempt),
			slog.Duration("backoff", backoff), slog.Any("error", lastErr))
		time.Sleep(backoff)
		backoff = min(2*backoff, deleteMaxBackoff)
		pending = retry
	}
}

// fail records that the deletes of ms failed for good. The heartbeat
// lets them go, so they come back when their visibility ends. The failure
// is counted and logged before any DoneWait learns of it.
func (d *deleter) fail(ms []*Message, err error) {
	s := d.s
	s.stats.deleteFailures.Add(uint64(len(ms)))
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.id
	}
	s.log.LogAttrs(context.Background(), slog.LevelError, "aws: deleting messages failed for good; they will be delivered again",
		slog.String("queue", s.q.name), slog.Any("message_ids", ids), slog.Any("error", err))
	for _, m := range ms {
		s.drop(m)
		m.finishAck(fmt.Errorf("aws: delete message %s: %w; it will be delivered again", m.id, err))
	}
}
