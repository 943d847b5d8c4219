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
	buf    []heldRef

	mu      sync.Mutex
	delayed map[*delayedJob]struct{} // messages held until their hand-back
	flushed bool                     // Consume is stopping: hand back at once
}

// holder is whoever holds jobs: a worker's slot, a shard, a delayed job.
type holder interface {
	// update records an extension at tick ext, or a lost lease, for the
	// job with seq, if it still holds it.
	update(seq uint64, ext uint32, lost bool)
}

// heldRef is a copy of a held job and where it is held.
type heldRef struct {
	h holder
	j job
}

// delayedJob is a message the keeper holds until its hand-back.
type delayedJob struct {
	k *keeper
	j job
	t *time.Timer
}

func (d *delayedJob) update(_ uint64, ext uint32, lost bool) {
	d.k.mu.Lock()
	defer d.k.mu.Unlock()
	d.j.ext = max(d.j.ext, ext)
	d.j.lost = d.j.lost || lost
}

// keeperIdlePeriod is the keeper's clock period when leases are not
// extended; it still ends key blocks.
const keeperIdlePeriod = time.Second

func newKeeper(r *runner, lease time.Duration) *keeper {
	k := &keeper{r: r, lease: lease, quit: make(chan struct{}), delayed: make(map[*delayedJob]struct{})}
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
	for d := range k.delayed {
		k.buf = append(k.buf, heldRef{h: d, j: d.j})
	}
	k.mu.Unlock()
	failed := 0
	var firstErr error
	for _, ref := range k.buf {
		j := ref.j
		if now-j.ext < 2 || j.lost || j.settled() != Unsettled {
			continue
		}
		err := j.m.ExtendDoneDeadline(k.lease)
		switch {
		case err == nil:
			ref.h.update(j.seq, now, false)
			if len(k.r.cfg.hooks) > 0 {
				k.r.cfg.hooks.leaseExtended(j.m)
			}
		case errors.Is(err, ErrLeaseLost):
			ref.h.update(j.seq, now, true)
			if len(k.r.cfg.hooks) > 0 {
				k.r.cfg.hooks.leaseLost(j.m)
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

// hold keeps j, with its lease, for d and then hands it back. Whoever takes
// a job out of delayed, the timer or flush, hands it back.
func (k *keeper) hold(j *job, d time.Duration) {
	k.mu.Lock()
	if k.flushed {
		k.mu.Unlock()
		k.r.handBack(j, "consumer stopping")
		return
	}
	defer k.mu.Unlock()
	dj := &delayedJob{k: k, j: *j}
	k.delayed[dj] = struct{}{}
	dj.t = time.AfterFunc(d, func() {
		k.mu.Lock()
		_, mine := k.delayed[dj]
		delete(k.delayed, dj)
		k.mu.Unlock()
		if mine {
			k.r.handBack(&dj.j, "hold after the last attempt ended")
		}
	})
}

// flush hands back at once everything held for a delayed hand-back; later
// holds are handed back at once too.
func (k *keeper) flush() {
	k.mu.Lock()
	k.flushed = true
	js := make([]job, 0, len(k.delayed))
	for d := range k.delayed {
		d.t.Stop()
		js = append(js, d.j)
		delete(k.delayed, d)
	}
	k.mu.Unlock()
	for i := range js {
		k.r.handBack(&js[i], "consumer stopping")
	}
}

// collectHeld appends every job a worker or shard holds.
func (r *runner) collectHeld(buf []heldRef) []heldRef {
	for i := range r.slots {
		buf = r.slots[i].collect(buf)
	}
	for _, s := range r.shards {
		buf = s.collect(buf)
	}
	return buf
}
