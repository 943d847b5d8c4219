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

	mu         sync.Mutex
	q          []job // q[head:] are queued, oldest first
	head       int
	cur        job  // running or waiting for a retry
	hasCur     bool // cur is held
	pending    job  // the dispatcher's message while it waits for room
	hasPending bool
	blocks     map[string]*keyBlock
	waiting    bool // the worker waits for wake
	full       bool // the dispatcher waits for space
	closed     bool // the dispatcher is done
	wake       chan struct{}
	space      chan struct{}
}

// keyBlock holds back a key until the message with id comes again and is
// acknowledged, or until expires.
type keyBlock struct {
	id      string
	parked  []job
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

func (s *shard) pushBack(j job) {
	if s.head > 0 && s.head == len(s.q) {
		s.q, s.head = s.q[:0], 0
	}
	s.q = append(s.q, j)
}

func (s *shard) popFront() (job, bool) {
	if s.head == len(s.q) {
		return job{}, false
	}
	j := s.q[s.head]
	s.q[s.head] = job{}
	s.head++
	return j, true
}

// pushFront puts js, in order, before everything queued.
func (s *shard) pushFront(js []job) {
	if len(js) == 0 {
		return
	}
	q := make([]job, 0, len(js)+s.queued())
	q = append(append(q, js...), s.q[s.head:]...)
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
func (s *shard) push(j job) bool {
	s.mu.Lock()
	for s.r.isStopped() || s.queued() >= shardBuffer {
		if s.r.isStopped() {
			s.hasPending = false
			s.mu.Unlock()
			return false
		}
		s.full, s.pending, s.hasPending = true, j, true
		s.mu.Unlock()
		select {
		case <-s.space:
		case <-s.r.stopCh:
		}
		s.mu.Lock()
	}
	s.hasPending = false
	s.pushBack(j)
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

// next returns the next job to run, as s.cur: its worker reads the job's
// message without the lock, as with a slot. Messages to hand back, found
// on the way, come in back; ok is false once the shard is closed and
// empty.
func (s *shard) next() (j *job, back []job, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.r.isStopped() {
			back = s.takeAll(back)
			if s.closed || len(back) > 0 {
				return nil, back, !s.closed
			}
		} else if x, got := s.popFront(); got {
			if s.full && s.queued() <= shardBuffer/2 {
				s.full = false
				signal(s.space)
			}
			if key := x.m.Key(); key != "" {
				if b := s.blocks[key]; b != nil && b.id != x.m.ID() {
					b.parked = append(b.parked, x)
					continue
				}
				if x.lost {
					s.r.logLost(&x)
					back = append(back, s.block(key, x.m.ID())...)
					continue
				}
			}
			s.cur, s.hasCur = x, true
			return &s.cur, back, true
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
	for i := range back {
		s.r.handBack(&back[i], "consumer stopping before the message started")
	}
}

// takeAll empties the queue and the parked messages into back.
func (s *shard) takeAll(back []job) []job {
	for _, b := range s.blocks {
		back = append(back, b.parked...)
	}
	clear(s.blocks)
	for x, ok := s.popFront(); ok; x, ok = s.popFront() {
		back = append(back, x)
	}
	return back
}

// block holds key back until the message with id comes again, and returns
// the key's parked and queued messages, oldest first, to be handed back.
// s.mu must be held.
func (s *shard) block(key, id string) []job {
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
		if x.m.Key() == key {
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

// after does the shard's bookkeeping once j has been run: a handed-back
// message blocks its key, and the acknowledged return of a blocking
// message releases it.
func (r *runner) after(wk *worker, j *job, handedBack bool) {
	s := wk.shard
	if s == nil {
		return
	}
	var back []job
	key := j.m.Key()
	s.mu.Lock()
	if key != "" {
		if !handedBack {
			if len(s.blocks) > 0 {
				if b := s.blocks[key]; b != nil && b.id == j.m.ID() {
					delete(s.blocks, key)
					s.pushFront(b.parked)
				}
			}
		} else {
			back = s.block(key, j.m.ID())
		}
	}
	s.cur, s.hasCur = job{}, false // j is s.cur: done with it
	s.mu.Unlock()
	for i := range back {
		r.handBack(&back[i], "an earlier message with the same key was handed back")
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

// collect appends the jobs the shard holds.
func (s *shard) collect(buf []heldRef) []heldRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range s.q[s.head:] {
		buf = append(buf, heldRef{h: s, j: j})
	}
	for _, b := range s.blocks {
		for _, j := range b.parked {
			buf = append(buf, heldRef{h: s, j: j})
		}
	}
	if s.hasCur {
		buf = append(buf, heldRef{h: s, j: s.cur})
	}
	if s.hasPending {
		buf = append(buf, heldRef{h: s, j: s.pending})
	}
	return buf
}

// update records an extension or a lost lease on the job with seq, wherever
// in the shard it is.
func (s *shard) update(seq uint64, ext uint32, lost bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := func(j *job) bool {
		if j.seq != seq {
			return false
		}
		j.ext = max(j.ext, ext)
		j.lost = j.lost || lost
		return true
	}
	if s.hasCur && set(&s.cur) || s.hasPending && set(&s.pending) {
		return
	}
	for i := s.head; i < len(s.q); i++ {
		if set(&s.q[i]) {
			return
		}
	}
	for _, b := range s.blocks {
		for i := range b.parked {
			if set(&b.parked[i]) {
				return
			}
		}
	}
}

// isLost reports whether the running job's lease was found lost.
func (s *shard) isLost(seq uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hasCur && s.cur.seq == seq && s.cur.lost
}

// dispatch routes each message to the shard of its key. Messages without a
// key go round-robin.
func (r *runner) dispatch() {
	var seq uint64
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
		seq++
		j := newJob(m, seq, r.keeper.now(), r.given.n.Load() > 0 && r.given.seen(m.ID()))
		if len(r.cfg.hooks) > 0 {
			r.cfg.hooks.received(j.m)
		}
		var i uint32
		if k := m.Key(); k != "" {
			i = keyHash(k) % n
		} else {
			i = next
			next = (next + 1) % n
		}
		if !r.shards[i].push(j) {
			r.handBack(&j, "consumer stopping")
		}
	}
}

// shardLoop runs a shard's messages one at a time.
func (r *runner) shardLoop(wk *worker) {
	for {
		j, back, ok := wk.shard.next()
		for i := range back {
			r.handBack(&back[i], "consumer stopping, or an earlier message with the same key was handed back")
		}
		if !ok {
			return
		}
		if j != nil {
			r.handle(wk, j)
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
