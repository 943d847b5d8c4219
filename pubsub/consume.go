package pubsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Handler processes one message. Returning nil acknowledges it; returning
// an error makes [Consume] retry it. ctx is cancelled when the drain
// timeout expires during shutdown, or when a per-attempt timeout set with
// [WithHandlerTimeout] expires.
//
// A handler may settle m itself (with Done or Nack). The first settle is
// final: Consume then neither acknowledges, retries nor dead-letters the
// message, whatever the handler returns. m is the backend's own message
// (see [MessageAs]).
type Handler func(ctx context.Context, m SubscriberMessage) error

// Consume runs h over the messages of sub until ctx is cancelled or the
// subscriber's channel closes. It calls sub.Start itself.
//
// Messages are handled by a fixed set of goroutines ([WithConcurrency]),
// optionally keeping per-key order ([WithOrderedKeys]). A handler that
// returns nil gets its message acknowledged with Done.
//
// # Leases
//
// From the moment a message is received until it is settled, whether it is
// queued behind its key, running, waiting for a retry or held before a
// hand-back, Consume keeps its lease alive with ExtendDoneDeadline (see
// [WithLease]). If the lease is lost anyway, Consume stops retrying the
// message, since the broker will deliver it again.
//
// # Failures
//
// A handler that returns an error, panics (see [PanicError]) or calls
// runtime.Goexit (as t.FailNow does) has failed one attempt. Consume retries
// the message in this process, after an exponential backoff with jitter
// ([WithRetry]), until the policy's MaxAttempts attempts are used up or the
// handler returns an error marked with [Permanent]. Retrying in process
// rather than Nacking keeps per-key order and makes attempt counts exact on
// every backend, including Kafka. Attempts count from the message's
// [DeliveryAttempter] count where it has one, and a message this Consume
// gave up on and sees again gets a single attempt, so that a redelivered
// message does not get a fresh budget.
//
// After the last failed attempt the message has failed for good: Consume
// gives up on it and logs that at Error. With a dead-letter publisher
// ([WithDeadLetter]) it publishes the message there with [AttrDeadLetter]
// and then acknowledges it. Without one, the [GiveUpPolicy] applies: by
// default the message is held until [RetryPolicy].MaxBackoff has passed
// since its last attempt and then handed back, so a message that keeps
// failing runs at most once per MaxBackoff and is never dropped. If the
// dead-letter publish fails, the message is handed back the same way.
// Consume refuses to start, with an error, when the subscriber cannot Nack
// a single message ([NackReporter]) and neither a dead-letter publisher nor
// [GiveUpDiscard] says where a failed message goes.
//
// # Stopping
//
// When ctx is cancelled, Consume stops receiving at once, Nacks messages it
// received but has not started (for example ones queued behind their key)
// and messages it holds for a hand-back, ends retry backoff waits by
// Nacking those messages, and calls [Subscriber.Stop] with a context whose
// deadline is the drain timeout ([WithDrainTimeout]), so that the
// subscriber waits for the in-flight handlers exactly as long as Consume
// does. Handler contexts are cancelled at the same deadline, and Consume
// then waits for the handlers to return. Messages the subscriber still
// delivers while stopping are Nacked. Consume returns the subscriber's
// terminal error ([Subscriber.Err]) if it has one, or else the error from
// Stop: nil after a clean stop, or one wrapping [ErrDrainTimeout] when
// handlers outlived the drain timeout.
//
// If the channel closes without ctx being cancelled (because Stop was called
// elsewhere, or the subscriber failed), Consume shuts down the same way and
// returns sub.Err(): nil after a clean Stop.
//
// Consume leaves no goroutines behind. It returns an error at once for a nil
// sub or h and for a configuration that could lose messages.
func Consume(ctx context.Context, sub Subscriber, h Handler, opts ...ConsumeOption) error {
	if sub == nil {
		return errors.New("pubsub: Consume: nil Subscriber")
	}
	if h == nil {
		return errors.New("pubsub: Consume: nil Handler")
	}
	cfg := newConsumeConfig(opts)
	if !cfg.leaseSet {
		if lr, ok := sub.(LeaseReporter); ok {
			cfg.lease = max(lr.Lease(), 0)
		}
	}
	if err := cfg.checkGiveUp(sub); err != nil {
		return err
	}
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	r := &runner{
		cfg:    cfg,
		h:      h,
		hctx:   hctx,
		stopCh: make(chan struct{}),
		closed: make(chan struct{}),
		log:    cfg.logger,
	}
	r.keeper = newKeeper(r, cfg.lease)

	r.ch = sub.Start()
	if cfg.ordered {
		r.shards = make([]*shard, cfg.concurrency)
		for i := range r.shards {
			r.shards[i] = newShard(r)
			wk := &worker{shard: r.shards[i]}
			r.wg.Go(func() { r.loop(wk) })
		}
		r.wg.Go(r.dispatch)
	} else {
		r.slots = make([]slot, cfg.concurrency)
		for i := range r.slots {
			wk := &worker{slot: &r.slots[i]}
			r.wg.Go(func() { r.loop(wk) })
		}
	}
	keeperDone := make(chan struct{})
	go func() {
		defer close(keeperDone)
		r.keeper.run()
	}()

	select {
	case <-ctx.Done():
	case <-r.closed:
	}
	r.beginStop()
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.drainTimeout)
	defer cancel()
	context.AfterFunc(stopCtx, hcancel)
	stopDone := make(chan struct{})
	var stopErr error
	go func() {
		defer close(stopDone)
		stopErr = sub.Stop(stopCtx)
	}()
	r.nackRest(stopDone)
	r.wg.Wait()
	r.keeper.stop()
	<-keeperDone
	if err := sub.Err(); err != nil {
		return err
	}
	return stopErr
}

// checkGiveUp refuses a configuration that has nowhere to put a message
// that failed for good.
func (c *consumeConfig) checkGiveUp(sub Subscriber) error {
	if c.deadLetter != nil {
		return nil
	}
	canNack := true
	if nr, ok := sub.(NackReporter); ok {
		canNack = nr.CanNack()
	}
	switch c.giveUp {
	case 0:
		if !canNack {
			return fmt.Errorf("pubsub: Consume: subscriber %T cannot Nack a single message, so a message that fails for good could never be redelivered; set a dead-letter publisher (WithDeadLetter) or choose WithGiveUp(GiveUpDiscard)", sub)
		}
		c.giveUp = GiveUpRedeliver
	case GiveUpRedeliver:
		if !canNack {
			return fmt.Errorf("pubsub: Consume: WithGiveUp(GiveUpRedeliver) needs Nack, and subscriber %T cannot Nack a single message; set a dead-letter publisher (WithDeadLetter) or choose WithGiveUp(GiveUpDiscard)", sub)
		}
	case GiveUpDiscard:
	default:
		return fmt.Errorf("pubsub: Consume: unknown %v", c.giveUp)
	}
	return nil
}

type runner struct {
	cfg      consumeConfig
	h        Handler
	hctx     context.Context // handlers' context; cancelled at the drain deadline
	ch       <-chan SubscriberMessage
	wg       sync.WaitGroup // workers and the dispatcher, and what replaces them
	stopping atomic.Bool    // set once ctx is done or the channel closed
	stopCh   chan struct{}  // closed with stopping
	closed   chan struct{}  // closed when the subscriber's channel is seen closed
	once     sync.Once
	log      *slog.Logger
	keeper   *keeper
	slots    []slot   // unordered: the job each worker holds
	shards   []*shard // ordered: one per worker
	given    givenUp
}

// worker is one handler goroutine's identity: its slot (unordered) or its
// shard (ordered). A goroutine that carries on after a handler's
// runtime.Goexit takes it over.
type worker struct {
	slot  *slot
	shard *shard
	hctx  context.Context // the running attempt's context from the hooks, if any
}

func (r *runner) markClosed() { r.once.Do(func() { close(r.closed) }) }

// beginStop stops receiving work: it hands back what the keeper holds for
// a delayed hand-back and what the shards hold unstarted.
func (r *runner) beginStop() {
	r.stopping.Store(true)
	close(r.stopCh)
	r.keeper.flush()
	for _, s := range r.shards {
		s.handBackQueued()
	}
}

// loop is a worker goroutine's life: receive (or take from its shard), run
// to completion, repeat.
func (r *runner) loop(wk *worker) {
	if wk.shard != nil {
		r.shardLoop(wk)
		return
	}
	for {
		m, ok := <-r.ch
		if !ok {
			r.markClosed()
			return
		}
		if r.stopping.Load() {
			r.nackRaw(m, "consumer stopping")
			continue
		}
		exhausted := r.given.n.Load() > 0 && r.given.seen(m.ID())
		j := wk.slot.hold(m, r.keeper.now(), exhausted)
		if len(r.cfg.hooks) > 0 {
			r.cfg.hooks.received(j.m)
		}
		r.handle(wk, j)
	}
}

// nackRaw hands back a message Consume never took on.
func (r *runner) nackRaw(m SubscriberMessage, reason string) {
	if err := m.Nack(); err != nil {
		r.logSettleErr("nack", m, reason, err)
	}
}

func (r *runner) logSettleErr(op string, m SubscriberMessage, reason string, err error) {
	level := slog.LevelWarn
	if errors.Is(err, ErrNotSupported) {
		level = slog.LevelDebug
	}
	r.log.LogAttrs(context.Background(), level, "pubsub: "+op+" failed",
		slog.String("message_id", m.ID()), slog.String("reason", reason), slog.Any("error", err))
}

// nackRest Nacks whatever the subscriber still delivers until Stop returns
// (Stop closes the channel), then whatever is left buffered, so that a
// subscriber blocked on a send while every worker is busy can finish
// stopping.
func (r *runner) nackRest(stopDone <-chan struct{}) {
	for {
		select {
		case m, ok := <-r.ch:
			if !ok {
				r.markClosed()
				<-stopDone
				return
			}
			r.nackRaw(m, "consumer stopping")
		case <-stopDone:
			for {
				select {
				case m, ok := <-r.ch:
					if !ok {
						return
					}
					r.nackRaw(m, "consumer stopping")
				default:
					return
				}
			}
		}
	}
}

// isStopped reports, without blocking, whether Consume is stopping.
func (r *runner) isStopped() bool { return r.stopping.Load() }

// sleep waits d, returning false early if Consume starts stopping.
func (r *runner) sleep(d time.Duration) bool {
	if r.isStopped() {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.stopCh:
		return false
	}
}

// isLost reports whether the keeper found j's lease lost.
func (r *runner) isLost(wk *worker, j *job) bool {
	if wk.shard != nil {
		return wk.shard.isLost(j.seq)
	}
	return wk.slot.isLost(j.seq)
}
