package http

import (
	"context"
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
// for a window, and at most a number of IDs, forgetting the oldest first.
type MemoryDeduplicator struct {
	window   time.Duration
	capacity int

	mu    sync.Mutex
	until map[string]time.Time // id -> when it is forgotten
	queue []dedupEntry         // the same, oldest first; queue[head:] is live
	head  int
}

type dedupEntry struct {
	id    string
	until time.Time
}

var _ Deduplicator = (*MemoryDeduplicator)(nil)

// NewMemoryDeduplicator returns a store that remembers an ID for window,
// and at most capacity IDs (values below 1 mean 1).
func NewMemoryDeduplicator(window time.Duration, capacity int) *MemoryDeduplicator {
	return &MemoryDeduplicator{window: window, capacity: max(capacity, 1), until: make(map[string]time.Time)}
}

// Seen reports whether id was recorded within the window.
func (d *MemoryDeduplicator) Seen(_ context.Context, id string) (bool, error) {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.prune(now)
	u, ok := d.until[id]
	return ok && now.Before(u), nil
}

// Acked records id for the window.
func (d *MemoryDeduplicator) Acked(_ context.Context, id string) error {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.prune(now)
	for len(d.until) >= d.capacity {
		d.drop()
	}
	u := now.Add(d.window)
	d.until[id] = u
	d.queue = append(d.queue, dedupEntry{id, u})
	return nil
}

// prune forgets the IDs whose window has passed. d.mu must be held.
func (d *MemoryDeduplicator) prune(now time.Time) {
	for d.head < len(d.queue) && !now.Before(d.queue[d.head].until) {
		d.drop()
	}
}

// drop forgets the oldest entry. d.mu must be held.
func (d *MemoryDeduplicator) drop() {
	e := d.queue[d.head]
	d.queue[d.head] = dedupEntry{}
	d.head++
	if d.until[e.id] == e.until {
		delete(d.until, e.id)
	}
	if d.head > len(d.queue)/2 && d.head > 1024 {
		d.queue = append(d.queue[:0], d.queue[d.head:]...)
		d.head = 0
	}
}
