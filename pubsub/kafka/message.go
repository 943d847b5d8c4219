package kafka

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/IBM/sarama"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// Message is one delivery of a Kafka record, as a [Subscriber] or a
// [Reader] hands it out. It implements [pubsub.SubscriberMessage],
// [pubsub.SettlementReporter], [pubsub.DeliveryAttempter] and
// [pubsub.AckWaiter]; [Message.Record] gives the sarama record.
//
// Done marks the record: the partition's committed offset moves past it
// once every earlier record of the partition is Done too, at the next
// commit. Nack hands it back, and the same subscriber delivers it again,
// before any later record of its partition is committed.
type Message struct {
	rec     *sarama.ConsumerMessage
	ep      *epoch
	seq     uint64
	key     string
	attrs   map[string]string
	waiter  doneWaiter // nil for a Reader
	settled atomic.Uint32
}

var (
	_ pubsub.SubscriberMessage  = (*Message)(nil)
	_ pubsub.SettlementReporter = (*Message)(nil)
	_ pubsub.DeliveryAttempter  = (*Message)(nil)
	_ pubsub.AckWaiter          = (*Message)(nil)
)

// doneWaiter confirms that a partition's committed offset reached an
// offset.
type doneWaiter interface {
	waitCommitted(ctx context.Context, ep *epoch, off int64) error
}

func newMessage(ep *epoch, rec *sarama.ConsumerMessage, seq uint64, w doneWaiter) *Message {
	key, attrs := decodeRecord(rec.Key, rec.Headers)
	return &Message{rec: rec, ep: ep, seq: seq, key: key, attrs: attrs, waiter: w}
}

// decodeRecord turns a record's key and headers into the message's key and
// attributes. Headers whose names start with pubsub.ReservedPrefix are
// gizmo's own and dropped, except pubsub.AttrDeadLetter; so are headers
// with an empty name. Of repeated names, the last header wins. Keys and
// headers written by other clients are passed on as they are, even where
// they are not valid UTF-8.
func decodeRecord(k []byte, headers []*sarama.RecordHeader) (key string, attrs map[string]string) {
	if len(k) > 0 {
		// sarama never reuses a record's bytes, and Record's users must
		// not modify them, so the key can share them.
		key = unsafe.String(&k[0], len(k))
	}
	for _, h := range headers {
		if h == nil || len(h.Key) == 0 {
			continue
		}
		name := string(h.Key)
		if strings.HasPrefix(name, pubsub.ReservedPrefix) && name != pubsub.AttrDeadLetter {
			continue
		}
		if attrs == nil {
			attrs = make(map[string]string, len(headers))
		}
		attrs[name] = string(h.Value)
	}
	return key, attrs
}

// Message returns the record's value.
func (m *Message) Message() []byte { return m.rec.Value }

// Key returns the record's key; a null key is "".
func (m *Message) Key() string { return m.key }

// Attributes returns the record's headers, nil if it has none.
func (m *Message) Attributes() map[string]string { return m.attrs }

// ID returns "topic/partition/offset", the same for every delivery of the
// record.
func (m *Message) ID() string {
	return m.rec.Topic + "/" + strconv.FormatInt(int64(m.rec.Partition), 10) + "/" + strconv.FormatInt(m.rec.Offset, 10)
}

// Record returns the sarama record. It must not be modified.
func (m *Message) Record() *sarama.ConsumerMessage { return m.rec }

// DeliveryAttempt returns 0, unknown: Kafka does not count deliveries, and
// a record read again after a restart or a rebalance cannot be told from a
// first delivery.
func (m *Message) DeliveryAttempt() int { return 0 }

// Settlement reports which of Done and Nack was called first.
func (m *Message) Settlement() pubsub.Settlement { return pubsub.Settlement(m.settled.Load()) }

// Done marks the record as handled. The first of Done and Nack wins; later
// calls return nil. It returns an error wrapping [pubsub.ErrLeaseLost] if
// the partition was revoked (or the subscriber stopped) first: the record
// is then delivered again, to the partition's next owner.
func (m *Message) Done() error { return m.settle("done", pubsub.Acked) }

// Nack hands the message back: the subscriber delivers it again soon, and
// no later record of its partition is committed before it is Done. It
// fails like Done.
func (m *Message) Nack() error { return m.settle("nack", pubsub.Nacked) }

func (m *Message) settle(op string, as pubsub.Settlement) error {
	if !m.settled.CompareAndSwap(uint32(pubsub.Unsettled), uint32(as)) {
		return nil
	}
	if !m.ep.settle(m.seq, m.rec, as == pubsub.Acked) {
		return m.lost(op)
	}
	return nil
}

func (m *Message) lost(op string) error {
	m.ep.mu.Lock()
	stopped := m.ep.stopped
	m.ep.mu.Unlock()
	if stopped {
		return fmt.Errorf("kafka: %s message %s: the subscriber stopped: %w: %w", op, m.ID(), pubsub.ErrStopped, pubsub.ErrLeaseLost)
	}
	return fmt.Errorf("kafka: %s message %s: partition %s/%d was revoked; the record is delivered again: %w", op, m.ID(), m.rec.Topic, m.rec.Partition, pubsub.ErrLeaseLost)
}

// ExtendDoneDeadline has nothing to extend: Kafka puts no deadline on a
// delivery, which stays this subscriber's until it is settled or its
// partition is revoked, whatever d is. So it returns nil while the
// partition is this subscriber's and the message unsettled, and an error
// wrapping [pubsub.ErrLeaseLost] once it is not (the message was settled,
// or the partition revoked). A d of zero or less hands the message back
// like Nack.
func (m *Message) ExtendDoneDeadline(d time.Duration) error {
	if d <= 0 {
		if !m.settled.CompareAndSwap(uint32(pubsub.Unsettled), uint32(pubsub.Nacked)) {
			return fmt.Errorf("kafka: extend deadline of message %s: already settled: %w", m.ID(), pubsub.ErrLeaseLost)
		}
		if !m.ep.settle(m.seq, m.rec, false) {
			return m.lost("extend deadline of")
		}
		return nil
	}
	if m.Settlement() != pubsub.Unsettled {
		return fmt.Errorf("kafka: extend deadline of message %s: already settled: %w", m.ID(), pubsub.ErrLeaseLost)
	}
	m.ep.mu.Lock()
	closed := m.ep.closed
	m.ep.mu.Unlock()
	if closed {
		return m.lost("extend deadline of")
	}
	return nil
}

// DoneWait calls Done, then waits until the partition's committed offset
// has passed the record: every earlier record of the partition is Done
// too, and the group coordinator has the commit. It returns an error
// wrapping [pubsub.ErrLeaseLost] if the partition is revoked first, and
// ctx's error if ctx ends first. On a [Reader], which commits nothing, it
// is Done.
func (m *Message) DoneWait(ctx context.Context) error {
	if err := m.Done(); err != nil {
		return err
	}
	if m.Settlement() != pubsub.Acked {
		return fmt.Errorf("kafka: done-wait message %s: it was Nacked first: %w", m.ID(), pubsub.ErrLeaseLost)
	}
	if m.waiter == nil {
		return nil
	}
	return m.waiter.waitCommitted(ctx, m.ep, m.rec.Offset+1)
}
