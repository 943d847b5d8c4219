package pubsub

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// giveUp disposes of a message that has failed for good, reporting whether
// it left Consume unacknowledged. Every outcome is logged at Error: someone
// has to look at the message.
func (r *runner) giveUp(wk *worker, j *job, err error, attempts int, firstFailed time.Time) (handedBack bool) {
	attrs := append(msgAttrs(j.m),
		slog.Int("attempts", attempts), slog.Bool("permanent", IsPermanent(err)), slog.Any("error", err))
	if r.cfg.deadLetter != nil {
		perr := r.publishDeadLetter(j.m, err, attempts, firstFailed)
		if perr == nil {
			r.log.LogAttrs(context.Background(), slog.LevelError, "pubsub: gave up on message; dead-lettered", attrs...)
			r.given.forget(j.m.ID())
			lost := isLeaseLost(r.ack(j))
			r.outcome(wk, j, OutcomeDeadLettered)
			return lost
		}
		attrs = append(attrs, slog.Any("publish_error", perr))
		r.log.LogAttrs(context.Background(), slog.LevelError, "pubsub: gave up on message; dead-letter publish failed, handing it back after the hold", attrs...)
		r.outcome(wk, j, OutcomeGivenUp)
		r.holdThenNack(wk, j)
		return true
	}
	if r.cfg.giveUp == GiveUpDiscard {
		r.log.LogAttrs(context.Background(), slog.LevelError, "pubsub: gave up on message; discarding it (GiveUpDiscard)", attrs...)
		r.given.forget(j.m.ID())
		lost := isLeaseLost(r.ack(j))
		r.outcome(wk, j, OutcomeGivenUp)
		return lost
	}
	attrs = append(attrs, slog.Duration("hold", r.cfg.retry.MaxBackoff))
	r.log.LogAttrs(context.Background(), slog.LevelError, "pubsub: gave up on message; handing it back to the broker after the hold", attrs...)
	r.outcome(wk, j, OutcomeGivenUp)
	r.holdThenNack(wk, j)
	return true
}

// holdThenNack hands j back to the broker MaxBackoff after its last
// attempt (now), keeping its lease meanwhile, and remembers its ID so that
// its redelivery gets a single attempt even on a backend that does not
// count deliveries.
func (r *runner) holdThenNack(wk *worker, j *job) {
	r.given.add(j.m.ID(), time.Now(), r.givenTTL())
	if r.isStopped() {
		r.handBack(j, "consumer stopping")
		return
	}
	if wk.slot != nil {
		wk.slot.release(j.seq)
	}
	r.keeper.hold(j, r.cfg.retry.MaxBackoff)
}

// givenTTL is how long Consume remembers a message it gave up on: long
// enough to see it again after the hold and a lapsed lease or two.
func (r *runner) givenTTL() time.Duration {
	return 4*r.cfg.retry.MaxBackoff + 4*r.cfg.lease + time.Minute
}

// givenUp remembers the IDs of messages Consume handed back after their
// last attempt. The fast path reads only n.
type givenUp struct {
	n   atomic.Int32
	mu  sync.Mutex
	ids map[string]time.Time // ID -> when to forget it
}

// maxGivenUp bounds the memory; past it the entries closest to expiry go.
const maxGivenUp = 4096

func (g *givenUp) add(id string, now time.Time, ttl time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ids == nil {
		g.ids = make(map[string]time.Time)
	}
	g.ids[id] = now.Add(ttl)
	if len(g.ids) > maxGivenUp {
		for k, exp := range g.ids {
			if exp.Before(now) {
				delete(g.ids, k)
			}
		}
		for len(g.ids) > maxGivenUp {
			var oldest string
			var at time.Time
			for k, exp := range g.ids {
				if oldest == "" || exp.Before(at) {
					oldest, at = k, exp
				}
			}
			delete(g.ids, oldest)
		}
	}
	g.n.Store(int32(len(g.ids)))
}

// seen reports whether id was given up on and is not forgotten yet.
func (g *givenUp) seen(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	exp, ok := g.ids[id]
	if ok && time.Now().After(exp) {
		delete(g.ids, id)
		g.n.Store(int32(len(g.ids)))
		return false
	}
	return ok
}

// forget drops id once its message is gone for good.
func (g *givenUp) forget(id string) {
	if g.n.Load() == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.ids, id)
	g.n.Store(int32(len(g.ids)))
}
