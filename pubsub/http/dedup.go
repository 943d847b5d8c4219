package http

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// Deduplicator remembers the IDs of acknowledged messages, so that a
// [Subscriber] answers a request that repeats one (a retry whose earlier
// answer was lost, or a second publish with the same deduplication ID)
// with 204 and delivers nothing. Subscribers that share one deduplicate
// across each other: give the replicas behind one URL a shared store.
// Implementations must be safe for concurrent use.
type Deduplicator interface {
	// Seen reports whether the message with id was acknowledged within
	// the store's window. An error delivers the message, as if unseen.
	Seen(ctx context.Context, id string) (bool, error)
	// Acked records that the message with id was acknowledged.
	Acked(ctx context.Context, id string) error
}

// MemoryDeduplicator is a [Deduplicator] in memory: it remembers each ID
// for a window, and about a capacity of IDs, forgetting the oldest first.
//
// It keeps a 128-bit hash of each ID rather than the ID itself, in maps
// and queues without pointers, so that a full store costs the garbage
// collector nothing to scan and 40 bytes or so per ID. Two IDs whose
// hashes collide would be taken for one; with random seeds per store the
// chance is about n²/2¹²⁹ for n IDs, nil in practice. IDs are spread over
// shards, each with its own lock and its share of the capacity, so that
// concurrent requests rarely wait for each other; when the store is full,
// the ID forgotten is the oldest of its shard.
type MemoryDeduplicator struct {
	window time.Duration
	seeds  [2]maphash.Seed
	epoch  time.Time // times are nanoseconds since epoch, on the monotonic clock
	shards [dedupShards]dedupShard
}

// dedupShards is the number of shards of a MemoryDeduplicator.
const dedupShards = 32

// dedupKey is the 128-bit hash of an ID.
type dedupKey [2]uint64

type dedupShard struct {
	mu       sync.Mutex
	capacity int
	until    map[dedupKey]int64 // id -> when it is forgotten
	queue    []dedupEntry       // the same, oldest first; queue[head:] is live
	head     int
}

type dedupEntry struct {
	key   dedupKey
	until int64
}

var _ Deduplicator = (*MemoryDeduplicator)(nil)

// NewMemoryDeduplicator returns a store that remembers an ID for window,
// and at most about capacity IDs (each shard holds capacity/32, at least
// one).
func NewMemoryDeduplicator(window time.Duration, capacity int) *MemoryDeduplicator {
	d := &MemoryDeduplicator{window: window, seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, epoch: time.Now()}
	per := max((capacity+dedupShards-1)/dedupShards, 1)
	for i := range d.shards {
		d.shards[i] = dedupShard{capacity: per, until: make(map[dedupKey]int64)}
	}
	return d
}

func (d *MemoryDeduplicator) locate(id string) (*dedupShard, dedupKey, int64) {
	k := dedupKey{maphash.String(d.seeds[0], id), maphash.String(d.seeds[1], id)}
	return &d.shards[k[0]%dedupShards], k, int64(time.Since(d.epoch))
}

// Seen reports whether id was recorded within the window.
func (d *MemoryDeduplicator) Seen(_ context.Context, id string) (bool, error) {
	s, k, now := d.locate(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(now)
	u, ok := s.until[k]
	return ok && now < u, nil
}

// Acked records id for the window.
func (d *MemoryDeduplicator) Acked(_ context.Context, id string) error {
	s, k, now := d.locate(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(now)
	for len(s.until) >= s.capacity {
		s.drop()
	}
	u := now + int64(d.window)
	s.until[k] = u
	s.queue = append(s.queue, dedupEntry{k, u})
	return nil
}

// prune forgets the IDs whose window has passed. s.mu must be held.
func (s *dedupShard) prune(now int64) {
	for s.head < len(s.queue) && now >= s.queue[s.head].until {
		s.drop()
	}
}

// drop forgets the oldest entry. s.mu must be held.
func (s *dedupShard) drop() {
	e := s.queue[s.head]
	s.head++
	if s.until[e.key] == e.until {
		delete(s.until, e.key)
	}
	if s.head > len(s.queue)/2 && s.head > 1024 {
		s.queue = append(s.queue[:0], s.queue[s.head:]...)
		s.head = 0
	}
}
