package pubsub

import (
	"sync"
	"time"
)

// shardBuffer is how many messages may queue for one ordered-keys goroutine
// before the dispatcher waits. A little slack stops one busy key from
// stalling every other key at once; more would hold messages unstarted.
const shardBuffer = 8

// shard is the queue of one ordered-keys goroutine. Every message of a key
// goes to the same shard, which runs them one at a time. When a message of
// key K is handed back unacknowledged, the shard blocks K: K's messages that
// it holds are handed back too, and K's messages that arrive before the
// handed-back one comes again are parked, unstarted, until it has run.
type shard struct {
	r *runner

	mu      sync.Mutex
	q       []*held // q[head:] are queued, oldest first
	head    int
	cur     *held // running, waiting for a retry, or just finished
	pending *held // the dispatcher's message while it waits for room
	blocks  map[string]*keyBlock
	waiting bool // the worker waits for wake
	full    bool // the dispatcher waits for space
	closed  bool // the dispatcher is done
	wake    chan struct{}
	space   chan struct{}
}

// keyBlock holds back a key until the message with id comes again and is
// acknowledged, or until expires.
type keyBlock struct {
	id      string
	parked  []*held
	expires time.Time
}

func newShard(r *runner) *shard {
	return &shard{r: r, wake: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (s *shard) queued() int { return len(s.q) - s.head }

func (s *shard) pushBack(w *held) {
	if s.head > 0 && s.head == len(s.q) {
		s.q, s.head = s.q[:0], 0
	}
	s.q = append(s.q, w)
}

func (s *shard) popFront() *held {
	if s.head == len(s.q) {
		return nil
	}
	w := s.q[s.head]
	s.q[s.head] = nil
	s.head++
	return w
}

// pushFront puts ws, in order, before everything queued.
func (s *shard) pushFront(ws []*held) {
	if len(ws) == 0 {
		return
	}
	q := make([]*held, 0, len(ws)+s.queued())
	q = append(append(q, ws...), s.q[s.head:]...)
	s.q, s.head = q, 0
	s.notifyWorker()
}

func (s *shard) notifyWorker() {
	if s.waiting {
		s.waiting = false
		signal(s.wake)
	}
}

// push queues w, waiting while the shard is full. It returns false if
// Consume started stopping first.
func (s *shard) push(w *held) bool {
	s.mu.Lock()
	for s.r.isStopped() || s.queued() >= shardBuffer {
		if s.r.isStopped() {
			s.pending = nil
			s.mu.Unlock()
			return false
		}
		s.full, s.pending = true, w
		s.mu.Unlock()
		select {
		case <-s.space:
		case <-s.r.stopCh:
		}
		s.mu.Lock()
	}
	s.pending = nil
	s.pushBack(w)
	s.notifyWorker()
	s.mu.Unlock()
	return true
}

// close tells the worker that nothing more comes.
func (s *shard) close() {
	s.mu.Lock()
	s.closed = true
	s.waiting = false
	signal(s.wake)
	s.mu.Unlock()
}

// next returns the next message to run. Messages to hand back, found on
// the way, come in back; ok is false once the shard is closed and empty.
func (s *shard) next() (w *held, back []*held, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.r.isStopped() {
			back = s.takeAll(back)
			if s.closed || len(back) > 0 {
				return nil, back, !s.closed
			}
		} else if x := s.popFront(); x != nil {
			if s.full && s.queued() <= shardBuffer/2 {
				s.full = false
				signal(s.space)
			}
			if key := x.Key(); key != "" {
				if b := s.blocks[key]; b != nil && b.id != x.ID() {
					b.parked = append(b.parked, x)
					continue
				}
				if x.lost() {
					s.r.logLost(x)
					back = append(back, s.block(key, x.ID())...)
					continue
				}
			}
			s.cur = x
			return x, back, true
		} else if s.closed {
			return nil, back, false
		}
		if len(back) > 0 {
			return nil, back, true
		}
		s.waiting = true
		s.mu.Unlock()
		if s.r.isStopped() {
			<-s.wake
		} else {
			select {
			case <-s.wake:
			case <-s.r.stopCh:
			}
		}
		s.mu.Lock()
	}
}

// handBackQueued hands back, at once, everything queued or parked: Consume
// is stopping, and these never started.
func (s *shard) handBackQueued() {
	s.mu.Lock()
	back := s.takeAll(nil)
	s.mu.Unlock()
	for _, x := range back {
		s.r.handBack(x, "consumer stopping before the message started")
	}
}

// takeAll empties the queue and the parked messages into back.
func (s *shard) takeAll(back []*held) []*held {
	for _, b := range s.blocks {
		back = append(back, b.parked...)
	}
	clear(s.blocks)
	for x := s.popFront(); x != nil; x = s.popFront() {
		back = append(back, x)
	}
	return back
}

// block holds key back until the message with id comes again, and returns
// the key's parked and queued messages, oldest first, to be handed back.
// s.mu must be held.
func (s *shard) block(key, id string) []*held {
	if s.blocks == nil {
		s.blocks = make(map[string]*keyBlock)
	}
	b := s.blocks[key]
	if b == nil {
		b = &keyBlock{}
		s.blocks[key] = b
	}
	b.id = id
	b.expires = time.Now().Add(s.r.blockTTL())
	back := b.parked
	b.parked = nil
	kept := s.q[:s.head]
	for _, x := range s.q[s.head:] {
		if x.Key() == key {
			back = append(back, x)
		} else {
			kept = append(kept, x)
		}
	}
	clear(s.q[len(kept):])
	s.q = kept
	return back
}

// blockTTL bounds how long a key waits for its handed-back message, in
// case the broker gave it to another consumer: the hold, then time for a
// lapsed lease or two.
func (r *runner) blockTTL() time.Duration {
	return 2*r.cfg.retry.MaxBackoff + 2*r.cfg.lease
}

// after does the shard's bookkeeping once w has been run: a handed-back
// message blocks its key, and the acknowledged return of a blocking
// message releases it.
func (r *runner) after(wk *worker, w *held) {
	s := wk.shard
	if s == nil {
		return
	}
	var back []*held
	s.mu.Lock()
	s.cur = nil
	if key := w.Key(); key != "" {
		if w.state() == heldDone && !w.lost() {
			if b := s.blocks[key]; b != nil && b.id == w.ID() {
				delete(s.blocks, key)
				s.pushFront(b.parked)
			}
		} else {
			back = s.block(key, w.ID())
		}
	}
	s.mu.Unlock()
	for _, x := range back {
		r.handBack(x, "an earlier message with the same key was handed back")
	}
}

// expireBlocks releases the keys whose handed-back message did not come
// back in time.
func (r *runner) expireBlocks(now time.Time) {
	for _, s := range r.shards {
		s.mu.Lock()
		for key, b := range s.blocks {
			if now.After(b.expires) {
				delete(s.blocks, key)
				s.pushFront(b.parked)
			}
		}
		s.mu.Unlock()
	}
}

// collect appends the messages the shard holds.
func (s *shard) collect(buf []*held) []*held {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf = append(buf, s.q[s.head:]...)
	for _, b := range s.blocks {
		buf = append(buf, b.parked...)
	}
	if s.cur != nil {
		buf = append(buf, s.cur)
	}
	if s.pending != nil {
		buf = append(buf, s.pending)
	}
	return buf
}

// dispatch routes each message to the shard of its key. Messages without a
// key go round-robin.
func (r *runner) dispatch() {
	var slab []held
	defer func() {
		for _, s := range r.shards {
			s.close()
		}
	}()
	n := uint32(len(r.shards))
	var next uint32
	for {
		m, ok := <-r.ch
		if !ok {
			r.markClosed()
			return
		}
		if r.isStopped() {
			r.nackRaw(m, "consumer stopping")
			continue
		}
		w := r.newHeld(m, &slab)
		var i uint32
		if k := m.Key(); k != "" {
			i = keyHash(k) % n
		} else {
			i = next
			next = (next + 1) % n
		}
		if !r.shards[i].push(w) {
			r.handBack(w, "consumer stopping")
		}
	}
}

// shardLoop runs a shard's messages one at a time.
func (r *runner) shardLoop(wk *worker) {
	for {
		w, back, ok := wk.shard.next()
		for _, x := range back {
			r.handBack(x, "consumer stopping, or an earlier message with the same key was handed back")
		}
		if !ok {
			return
		}
		if w != nil {
			r.handle(wk, w)
		}
	}
}

// keyHash is 32-bit FNV-1a, inlined to avoid an allocation per message.
func keyHash(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
