package kafka

import (
	"sync"

	"github.com/IBM/sarama"
)

// entry states: a record of the partition, from its delivery on.
const (
	stWaiting uint8 = iota // read but not with the application: never sent, Nacked, or handed back
	stOut                  // delivered and not settled
	stDone                 // Done
)

// epoch is one ownership of a partition: from the moment this member (or a
// Reader) starts delivering it until it lets it go. It keeps the
// watermark: the offset of the oldest record read that is not Done, or the
// offset after the newest one if all are. Only the watermark is ever
// marked for commit, so the committed offset never passes a record that is
// not Done. Records are read in offset order, so the entries form a queue
// whose head is the watermark's record; seq numbers them from the start of
// the epoch.
type epoch struct {
	topic     string
	partition int32
	limit     int               // most entries held (MaxUnsettled)
	mark      func(off int64)   // marks the watermark for commit; nil for a Reader
	hwm       func() int64      // the partition's high-water mark, for lag; may be nil
	onIdle    func(delta int64) // tells the subscriber of out-count changes
	commit    func()            // commits what is marked now; nil for a Reader

	mu      sync.Mutex
	offs    []int64 // offsets of entries[head:] by seq-base
	states  []uint8
	head    int
	base    uint64        // seq of offs[head]
	next    int64         // offset after the newest record read; -1 before the first
	marked  int64         // the watermark last marked; -1 before the first
	out     int           // entries in stOut
	redo    []redelivery  // Nacked, oldest first
	closed  bool          // the epoch is over: settles fail with ErrLeaseLost
	stopped bool          // it ended because the subscriber stopped
	wake    chan struct{} // capacity 1: a Nack, room, or the last out entry settled
	markCh  chan struct{} // made by a waiter; closed (and dropped) when the watermark moves
}

type redelivery struct {
	rec *sarama.ConsumerMessage
	seq uint64
}

func newEpoch(topic string, partition int32, limit int, mark func(int64), hwm func() int64, onIdle func(int64)) *epoch {
	return &epoch{
		topic: topic, partition: partition, limit: limit, mark: mark, hwm: hwm, onIdle: onIdle,
		next: -1, marked: -1,
		wake: make(chan struct{}, 1),
	}
}

func (e *epoch) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// What nextRedo found.
const (
	redoNone = iota // nothing to redeliver: read the next record
	redoOne         // a Nacked record, now out again
	redoFull        // nothing to redeliver, and no room to read more
)

// nextRedo takes the oldest Nacked record and marks it out again; or
// reports whether there is room to read a new record.
func (e *epoch) nextRedo() (*sarama.ConsumerMessage, uint64, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.redo) > 0 && !e.closed {
		r := e.redo[0]
		e.redo[0] = redelivery{}
		e.redo = e.redo[1:]
		e.states[e.index(r.seq)] = stOut
		e.out++
		return r.rec, r.seq, redoOne
	}
	if len(e.offs)-e.head >= e.limit {
		return nil, 0, redoFull
	}
	return nil, 0, redoNone
}

// addOut records the record at off, just read, as out with the
// application, and returns its seq; ok is false if the epoch is over.
func (e *epoch) addOut(off int64) (seq uint64, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return 0, false
	}
	seq = e.add(off)
	e.states[e.index(seq)] = stOut
	e.out++
	return seq, true
}

// add records off, just read, as waiting, and returns its seq. e.mu must
// be held.
func (e *epoch) add(off int64) uint64 {
	if e.head > 0 && e.head >= len(e.offs)/2 {
		n := copy(e.offs, e.offs[e.head:])
		copy(e.states, e.states[e.head:])
		e.offs, e.states, e.head = e.offs[:n], e.states[:n], 0
	}
	seq := e.base + uint64(len(e.offs)-e.head)
	e.offs = append(e.offs, off)
	e.states = append(e.states, stWaiting)
	e.next = off + 1
	return seq
}

// unsend reverts send for a message that could not be sent after all.
func (e *epoch) unsend(seq uint64) {
	e.mu.Lock()
	if e.closed || e.states[e.index(seq)] != stOut {
		e.mu.Unlock()
		return
	}
	e.states[e.index(seq)] = stWaiting
	e.out--
	idle := e.out == 0
	e.mu.Unlock()
	e.onIdle(-1)
	if idle {
		e.signal()
	}
}

func (e *epoch) index(seq uint64) int { return e.head + int(seq-e.base) }

// settle applies Done (done) or Nack to the out entry seq. It reports
// false if the epoch is over; the message is then delivered again
// elsewhere.
func (e *epoch) settle(seq uint64, rec *sarama.ConsumerMessage, done bool) bool {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return false
	}
	i := e.index(seq)
	if e.states[i] != stOut {
		e.mu.Unlock()
		return true // cannot happen: one message settles once
	}
	e.out--
	if done {
		e.states[i] = stDone
		e.advance()
	} else {
		e.states[i] = stWaiting
		e.redo = append(e.redo, redelivery{rec: rec, seq: seq})
	}
	e.mu.Unlock()
	e.onIdle(-1)
	e.signal()
	return true
}

// advance pops the Done entries at the head and marks the new watermark.
// e.mu must be held.
func (e *epoch) advance() {
	n := 0
	for e.head+n < len(e.offs) && e.states[e.head+n] == stDone {
		n++
	}
	if n == 0 {
		return
	}
	e.head += n
	e.base += uint64(n)
	w := e.next
	if e.head < len(e.offs) {
		w = e.offs[e.head]
	}
	if w > e.marked {
		e.marked = w
		if e.mark != nil {
			e.mark(w)
		}
		if e.markCh != nil {
			close(e.markCh)
			e.markCh = nil
		}
	}
	if e.head == len(e.offs) {
		e.offs, e.states, e.head = e.offs[:0], e.states[:0], 0
	}
}

// idle reports whether nothing is out with the application.
func (e *epoch) idle() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.out == 0
}

// close ends the epoch: later settles fail, and nothing more is marked.
// It returns how many messages were still out.
func (e *epoch) close(stopped bool) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return 0
	}
	e.closed, e.stopped = true, stopped
	n := e.out
	e.out = 0
	e.redo = nil
	if e.markCh != nil {
		close(e.markCh)
		e.markCh = nil
	}
	if n > 0 {
		e.onIdle(int64(-n))
	}
	return n
}

// watermark returns the watermark marked so far (-1 before the first
// Done) and a channel closed when it moves or the epoch ends.
func (e *epoch) watermark() (int64, <-chan struct{}, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return e.marked, nil, true
	}
	if e.markCh == nil {
		e.markCh = make(chan struct{})
	}
	return e.marked, e.markCh, false
}

// PartitionLag describes how far a group member is behind on one
// partition it owns.
type PartitionLag struct {
	// Topic is the partition's topic.
	Topic string
	// Partition is the partition's number.
	Partition int32
	// HighWaterMark is the offset the next record produced to the
	// partition gets, as of the last fetch.
	HighWaterMark int64
	// Marked is the offset marked for commit: every record before it is
	// Done. -1 if nothing was marked since the member took the partition.
	Marked int64
	// Read is the offset after the newest record read from the partition,
	// -1 if none was read yet.
	Read int64
	// Unsettled is the number of records read and not yet Done: out with
	// the application, Nacked, or waiting to be delivered.
	Unsettled int
	// Lag is HighWaterMark minus the offset the group would resume from:
	// the records not yet Done, or not yet read.
	Lag int64
}

func (e *epoch) lag() PartitionLag {
	var hwm int64 = -1
	if e.hwm != nil {
		hwm = e.hwm()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	l := PartitionLag{Topic: e.topic, Partition: e.partition, HighWaterMark: hwm, Marked: e.marked, Read: e.next}
	for _, s := range e.states[e.head:] {
		if s != stDone {
			l.Unsettled++
		}
	}
	from := e.next
	if e.head < len(e.offs) {
		from = e.offs[e.head]
	}
	if from >= 0 && hwm >= from {
		l.Lag = hwm - from
	}
	return l
}
