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

// deleter batches the deletes of Done: a batch goes when it holds
// DeleteBatchSize messages or its first message has waited DeleteDelay.
// Failed entries and calls are retried; what keeps failing is logged,
// counted in Stats.DeleteFailures, and left to come back.
type deleter struct {
	s     *Subscriber
	in    chan *Message
	quit  chan struct{}
	done  chan struct{} // closed when loop returns
	calls chan struct{} // semaphore of delete calls in flight
	wg    sync.WaitGroup

	mu     sync.RWMutex
	closed bool
}

func newDeleter(s *Subscriber) *deleter {
	calls := max(minDeleteCalls, s.cfg.Receivers)
	d := &deleter{
		s:     s,
		in:    make(chan *Message, 2*maxBatchEntries*calls),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
		calls: make(chan struct{}, calls),
	}
	go d.loop()
	return d
}

// add queues m's delete. It fails once the deleter is closed.
func (d *deleter) add(m *Message) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return errDeleterClosed
	}
	d.in <- m
	return nil
}

func (d *deleter) loop() {
	defer close(d.done)
	batch := make([]*Message, 0, maxBatchEntries)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case m := <-d.in:
			batch = append(batch, m)
			if len(batch) == 1 {
				timer.Reset(d.s.cfg.DeleteDelay)
			}
			if len(batch) < maxBatchEntries {
				continue
			}
		case <-timer.C:
		case <-d.quit:
			for {
				select {
				case m := <-d.in:
					batch = append(batch, m)
					if len(batch) == maxBatchEntries {
						d.flush(batch)
						batch = make([]*Message, 0, maxBatchEntries)
					}
					continue
				default:
				}
				break
			}
			if len(batch) > 0 {
				d.flush(batch)
			}
			timer.Stop()
			return
		}
		timer.Stop()
		if len(batch) > 0 {
			d.flush(batch)
			batch = make([]*Message, 0, maxBatchEntries)
		}
	}
}

// flush sends batch in a goroutine of its own, waiting while
// the most delete calls allowed are in flight.
func (d *deleter) flush(batch []*Message) {
	d.calls <- struct{}{}
	d.wg.Go(func() {
		defer func() { <-d.calls }()
		d.send(batch)
	})
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
	d.mu.Unlock()
	close(d.quit)
	<-d.done
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
// lets them go, so they come back when their visibility ends.
func (d *deleter) fail(ms []*Message, err error) {
	s := d.s
	s.stats.deleteFailures.Add(uint64(len(ms)))
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.id
		s.drop(m)
		m.finishAck(fmt.Errorf("aws: delete message %s: %w; it will be delivered again", m.id, err))
	}
	s.log.LogAttrs(context.Background(), slog.LevelError, "aws: deleting messages failed for good; they will be delivered again",
		slog.String("queue", s.q.name), slog.Any("message_ids", ids), slog.Any("error", err))
}
