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
// IDs are spread over shards, each with its own lock and its share of the
// capacity, so that concurrent requests rarely wait for each other; when
// the store is full, the ID forgotten is the oldest of its shard.
type MemoryDeduplicator struct {
	window time.Duration
	seed   maphash.Seed
	shards [dedupShards]dedupShard
}

// dedupShards is the number of shards of a MemoryDeduplicator.
const dedupShards = 32

type dedupShard struct {
	mu       sync.Mutex
	capacity int
	until    map[string]time.Time // id -> when it is forgotten
	queue    []dedupEntry         // the same, oldest first; queue[head:] is live
	head     int
}

type dedupEntry struct {
	id    string
	until time.Time
}

var _ Deduplicator = (*MemoryDeduplicator)(nil)

// NewMemoryDeduplicator returns a store that remembers an ID for window,
// and at most about capacity IDs (each shard holds capacity/32, at least
// one).
func NewMemoryDeduplicator(window time.Duration, capacity int) *MemoryDeduplicator {
	d := &MemoryDeduplicator{window: window, seed: maphash.MakeSeed()}
	per := max((capacity+dedupShards-1)/dedupShards, 1)
	for i := range d.shards {
		d.shards[i] = dedupShard{capacity: per, until: make(map[string]time.Time)}
	}
	return d
}

func (d *MemoryDeduplicator) shard(id string) *dedupShard {
	return &d.shards[maphash.String(d.seed, id)%dedupShards]
}

// Seen reports whether id was recorded within the window.
func (d *MemoryDeduplicator) Seen(_ context.Context, id string) (bool, error) {
	now := time.Now()
	s := d.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(now)
	u, ok := s.until[id]
	return ok && now.Before(u), nil
}

// Acked records id for the window.
func (d *MemoryDeduplicator) Acked(_ context.Context, id string) error {
	now := time.Now()
	s := d.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(now)
	for len(s.until) >= s.capacity {
		s.drop()
	}
	u := now.Add(d.window)
	s.until[id] = u
	s.queue = append(s.queue, dedupEntry{id, u})
	return nil
}

// prune forgets the IDs whose window has passed. s.mu must be held.
func (s *dedupShard) prune(now time.Time) {
	for s.head < len(s.queue) && !now.Before(s.queue[s.head].until) {
		s.drop()
	}
}

// drop forgets the oldest entry. s.mu must be held.
func (s *dedupShard) drop() {
	e := s.queue[s.head]
	s.queue[s.head] = dedupEntry{}
	s.head++
	if s.until[e.id] == e.until {
		delete(s.until, e.id)
	}
	if s.head > len(s.queue)/2 && s.head > 1024 {
		s.queue = append(s.queue[:0], s.queue[s.head:]...)
		s.head = 0
	}
}
