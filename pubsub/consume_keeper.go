package pubsub

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// keeper keeps the leases of the messages Consume holds alive, releases
// the messages it holds for a delayed hand-back, and ends key blocks that
// waited too long. One goroutine per Consume does all of it on a coarse
// clock, so the per-message cost is one clock read when a message arrives.
//
// Its clock ticks every lease/8. A message is extended (by the full lease)
// once two ticks have passed since it arrived or was last extended: after
// at most a quarter of the lease, and never for a message settled within an
// eighth of it.
type keeper struct {
	r      *runner
	lease  time.Duration
	period time.Duration
	tick   atomic.Uint32
	off    atomic.Bool // extension is not supported, or the lease is zero
	quit   chan struct{}
	buf    []*held

	mu      sync.Mutex
	delayed map[*held]*time.Timer // messages held until their hand-back
	flushed bool                  // Consume is stopping: hand back at once
}

// keeperIdlePeriod is the keeper's clock period when leases are not
// extended; it still ends key blocks.
const keeperIdlePeriod = time.Second

func newKeeper(r *runner, lease time.Duration) *keeper {
	k := &keeper{r: r, lease: lease, quit: make(chan struct{}), delayed: make(map[*held]*time.Timer)}
	k.period = keeperIdlePeriod
	if lease > 0 {
		k.period = max(lease/8, time.Millisecond)
	} else {
		k.off.Store(true)
	}
	return k
}

// now returns the keeper's clock. It wraps around; differences are taken
// in uint32, which stays right for 2^31 ticks.
func (k *keeper) now() uint32 { return k.tick.Load() }

func (k *keeper) run() {
	t := time.NewTicker(k.period)
	defer t.Stop()
	for {
		select {
		case <-k.quit:
			return
		case <-t.C:
		}
		now := k.tick.Add(1)
		k.r.expireBlocks(time.Now())
		if !k.off.Load() {
			k.sweep(now)
		}
	}
}

func (k *keeper) stop() { close(k.quit) }

// sweep extends the lease of every held message that is due.
func (k *keeper) sweep(now uint32) {
	k.buf = k.r.collectHeld(k.buf[:0])
	k.mu.Lock()
	for w := range k.delayed {
		k.buf = append(k.buf, w)
	}
	k.mu.Unlock()
	failed := 0
	var firstErr error
	for _, w := range k.buf {
		if now-w.ext < 2 || !w.unsettled() || w.lost() {
			continue
		}
		err := w.m.ExtendDoneDeadline(k.lease)
		switch {
		case err == nil:
			w.ext = now
		case errors.Is(err, ErrLeaseLost):
			if w.unsettled() {
				w.markLost()
			}
		case errors.Is(err, ErrNotSupported):
			k.off.Store(true)
			k.r.log.LogAttrs(context.Background(), slog.LevelDebug, "pubsub: the subscriber cannot extend leases; lease keeping is off", slog.Any("error", err))
			clear(k.buf)
			return
		default:
			failed++
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if failed > 0 {
		k.r.log.LogAttrs(context.Background(), slog.LevelWarn, "pubsub: extending message leases failed",
			slog.Int("messages", failed), slog.Any("error", firstErr))
	}
	clear(k.buf)
}

// hold keeps w, with its lease, for d and then hands it back.
func (k *keeper) hold(w *held, d time.Duration) {
	if !w.setState(heldActive, heldDelayed) {
		return // settled meanwhile
	}
	k.mu.Lock()
	if k.flushed {
		k.mu.Unlock()
		k.r.handBack(w, "consumer stopping")
		return
	}
	defer k.mu.Unlock()
	k.delayed[w] = time.AfterFunc(d, func() {
		k.mu.Lock()
		_, mine := k.delayed[w]
		delete(k.delayed, w)
		k.mu.Unlock()
		if mine {
			k.r.handBack(w, "hold after the last attempt ended")
		}
	})
}

// flush hands back at once everything held for a delayed hand-back; later
// holds are handed back at once too. Whoever takes a message out of
// delayed, flush or its timer, hands it back.
func (k *keeper) flush() {
	k.mu.Lock()
	k.flushed = true
	ws := make([]*held, 0, len(k.delayed))
	for w, t := range k.delayed {
		t.Stop()
		ws = append(ws, w)
		delete(k.delayed, w)
	}
	k.mu.Unlock()
	for _, w := range ws {
		k.r.handBack(w, "consumer stopping")
	}
}

// collectHeld appends every message a worker, shard or the dispatcher
// holds.
func (r *runner) collectHeld(buf []*held) []*held {
	for i := range r.slots {
		if w := r.slots[i].Load(); w != nil {
			buf = append(buf, w)
		}
	}
	for _, s := range r.shards {
		buf = s.collect(buf)
	}
	return buf
}
