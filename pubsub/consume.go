package pubsub

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Handler processes one message. Returning nil acknowledges it; returning
// an error makes [Consume] retry it. ctx is cancelled when the drain
// timeout expires during shutdown, or when a per-attempt timeout set with
// [WithHandlerTimeout] expires.
//
// A handler may settle m itself (with Done or Nack); the first settle wins,
// so Consume's own settle afterwards has no effect.
type Handler func(ctx context.Context, m SubscriberMessage) error

// Consume runs h over the messages of sub until ctx is cancelled or the
// subscriber's channel closes. It calls sub.Start itself.
//
// Messages are handled by a fixed set of goroutines ([WithConcurrency]),
// optionally keeping per-key order ([WithOrderedKeys]). A handler that
// returns nil gets its message acknowledged with Done.
//
// # Failures
//
// A handler that returns an error, or panics (see [PanicError]), has failed
// one attempt. Consume retries the message in this process, after an
// exponential backoff with jitter ([WithRetry]), until the policy's
// MaxAttempts attempts are used up or the handler returns an error marked
// with [Permanent]. Retrying in process rather than Nacking keeps per-key
// order and makes attempt counts exact on every backend, including Kafka,
// which has no per-message Nack. If a message implements
// [DeliveryAttempter], counting starts from its delivery attempt, so a
// message redelivered after a crash does not get a fresh budget. During a
// long backoff Consume extends the message's lease ([WithLease]).
//
// After the last failed attempt, with a dead-letter publisher
// ([WithDeadLetter]) the message is published there with the failure
// attributes ([AttrDeadLetterError] and its siblings) and then acknowledged;
// if that publish fails, the message is Nacked so that it is not lost.
// Without a dead-letter publisher the message is Nacked and the failure
// logged: the broker redelivers it, and its own redrive policy (an SQS
// redrive policy, a Pub/Sub dead-letter topic) may apply.
//
// # Stopping
//
// When ctx is cancelled, Consume stops receiving at once, Nacks messages it
// received but has not started (for example ones queued behind their key),
// ends retry backoff waits by Nacking those messages, and calls sub.Stop
// while in-flight handlers finish. Handlers keep a live context for the
// drain timeout ([WithDrainTimeout]); after that their context is
// cancelled, and Consume waits for them to return. Messages the subscriber
// still delivers while stopping are Nacked. Consume then returns the
// subscriber's terminal error ([Subscriber.Err]), which is nil after a
// clean stop, or else the error from Stop.
//
// If the channel closes without ctx being cancelled (because Stop was called
// elsewhere, or the subscriber failed), Consume shuts down the same way,
// drain timeout included, and returns sub.Err(): nil after a clean Stop.
//
// Consume leaves no goroutines behind. It returns an error at once for a nil
// sub or h.
func Consume(ctx context.Context, sub Subscriber, h Handler, opts ...ConsumeOption) error {
	if sub == nil {
		return errors.New("pubsub: Consume: nil Subscriber")
	}
	if h == nil {
		return errors.New("pubsub: Consume: nil Handler")
	}
	cfg := newConsumeConfig(opts)
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	r := &runner{
		cfg:      cfg,
		h:        h,
		hctx:     hctx,
		done:     ctx.Done(),
		stopping: make(chan struct{}),
		closed:   make(chan struct{}),
		log:      cfg.logger,
	}

	ch := sub.Start()
	var wg sync.WaitGroup
	if cfg.ordered {
		shards := make([]chan SubscriberMessage, cfg.concurrency)
		for i := range shards {
			shards[i] = make(chan SubscriberMessage, shardBuffer)
			wg.Go(func() { r.shardWorker(shards[i]) })
		}
		wg.Go(func() { r.dispatch(ch, shards) })
	} else {
		for range cfg.concurrency {
			wg.Go(func() { r.worker(ch) })
		}
	}

	select {
	case <-ctx.Done():
	case <-r.closed:
	}
	close(r.stopping)
	drain := time.AfterFunc(cfg.drainTimeout, hcancel)
	defer drain.Stop()

	stopDone := make(chan struct{})
	var stopErr error
	go func() {
		defer close(stopDone)
		stopErr = sub.Stop()
	}()
	r.nackRest(ch, stopDone)
	wg.Wait()
	if err := sub.Err(); err != nil {
		return err
	}
	return stopErr
}

// shardBuffer is how many messages may queue for one ordered-keys goroutine
// before the dispatcher waits. A little slack stops one busy key from
// stalling every other key at once; more would hold messages unstarted.
const shardBuffer = 8

type runner struct {
	cfg      consumeConfig
	h        Handler
	hctx     context.Context // handlers' context; cancelled after the drain timeout
	done     <-chan struct{} // Consume's ctx.Done()
	stopping chan struct{}   // closed once ctx is done or the channel closed
	closed   chan struct{}   // closed when the subscriber's channel is seen closed
	once     sync.Once
	log      *slog.Logger
}

func (r *runner) markClosed() { r.once.Do(func() { close(r.closed) }) }

// isClosed reports, without blocking, whether c is closed.
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// worker reads straight from the subscriber's channel: without ordering no
// hand-off goroutine is needed.
func (r *runner) worker(ch <-chan SubscriberMessage) {
	for {
		m, ok := r.receive(ch)
		if !ok {
			return
		}
		r.handle(m)
	}
}

// receive returns the next message to process. It returns false once the
// runner is stopping (Nacking a message that arrived at the same moment) or
// the channel has closed.
func (r *runner) receive(ch <-chan SubscriberMessage) (SubscriberMessage, bool) {
	select {
	case <-r.done:
		return nil, false
	case m, ok := <-ch:
		if !ok {
			r.markClosed()
			return nil, false
		}
		if isClosed(r.done) {
			r.nack(m, "consumer stopping")
			return nil, false
		}
		return m, true
	}
}

// dispatch routes each message to the shard of its key. When it stops, it
// Nacks what is still queued at once, rather than leaving it to wait behind
// an in-flight handler, and closes the shards.
func (r *runner) dispatch(ch <-chan SubscriberMessage, shards []chan SubscriberMessage) {
	defer func() {
		for _, q := range shards {
			drainNack(r, q)
			close(q)
		}
	}()
	n := uint32(len(shards))
	var next uint32
	for {
		m, ok := r.receive(ch)
		if !ok {
			return
		}
		var i uint32
		if k := m.Key(); k != "" {
			i = keyHash(k) % n
		} else {
			i = next
			next = (next + 1) % n
		}
		select {
		case shards[i] <- m:
		case <-r.stopping:
			r.nack(m, "consumer stopping")
			return
		}
	}
}

// shardWorker handles one shard's messages in order. Messages still queued
// when Consume is stopping are Nacked unstarted.
func (r *runner) shardWorker(q <-chan SubscriberMessage) {
	for m := range q {
		if isClosed(r.stopping) {
			r.nack(m, "consumer stopping before the message started")
			continue
		}
		r.handle(m)
	}
}

// drainNack Nacks whatever is buffered in q without waiting for more.
func drainNack(r *runner, q <-chan SubscriberMessage) {
	for {
		select {
		case m := <-q:
			r.nack(m, "consumer stopping before the message started")
		default:
			return
		}
	}
}

// nackRest Nacks whatever the subscriber still delivers until Stop returns
// (Stop closes the channel), then whatever is left buffered.
func (r *runner) nackRest(ch <-chan SubscriberMessage, stopDone <-chan struct{}) {
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				<-stopDone
				return
			}
			r.nack(m, "consumer stopping")
		case <-stopDone:
			for {
				select {
				case m, ok := <-ch:
					if !ok {
						return
					}
					r.nack(m, "consumer stopping")
				default:
					return
				}
			}
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
