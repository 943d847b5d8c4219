package pubsub

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"time"
)

// errGoexit is the PanicError value for a handler that called
// runtime.Goexit.
var errGoexit = errors.New("pubsub: handler called runtime.Goexit (t.FailNow or t.SkipNow outside a test goroutine?)")

// handle runs one message to completion: attempts, backoff waits, then
// Done, dead-letter or hand-back. It is the success path's only cost beyond
// the wrapper.
func (r *runner) handle(wk *worker, w *held) {
	err := r.attempt(wk, w, 0)
	if err == nil {
		r.ack(w)
		r.after(wk, w)
		return
	}
	r.retry(wk, w, 0, err)
	r.after(wk, w)
}

// attempt calls the handler once. A panic becomes a *PanicError. A
// runtime.Goexit cannot be stopped: this goroutine ends, so attempt starts
// another that carries on where this one stops (failed attempt n, then the
// rest of the worker's life).
func (r *runner) attempt(wk *worker, w *held, n int) (err error) {
	ctx := r.hctx
	if r.cfg.handlerTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.cfg.handlerTimeout)
		defer cancel()
	}
	returned := false
	defer func() {
		if returned {
			return
		}
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
			return
		}
		gerr := &PanicError{Value: errGoexit, Stack: debug.Stack()}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.retry(wk, w, n, gerr)
			r.after(wk, w)
			r.loop(wk)
		}()
	}()
	err = r.h(ctx, w)
	returned = true
	return err
}

// retry takes over after a failed attempt. n is the attempt's number in the
// retry budget, 0 for the first attempt of this delivery (the budget then
// starts from the backend's delivery count).
func (r *runner) retry(wk *worker, w *held, n int, err error) {
	if n == 0 {
		n = r.firstAttempt(w)
	}
	firstFailed := time.Now()
	maxAttempts := r.cfg.retry.MaxAttempts
	for {
		if !w.unsettled() {
			r.log.LogAttrs(context.Background(), slog.LevelWarn, "pubsub: handler failed after settling the message itself; the settle stands",
				slog.String("message_id", w.ID()), slog.Int("attempt", n), slog.Any("error", err))
			return
		}
		r.logFailure(w, err, n)
		if w.lost() {
			r.logLost(w)
			return
		}
		if n >= maxAttempts || IsPermanent(err) {
			r.giveUp(w, err, n, firstFailed)
			return
		}
		if !r.sleep(r.cfg.retry.delay(n)) {
			r.handBack(w, "consumer stopping during retry backoff")
			return
		}
		if w.lost() {
			r.logLost(w)
			return
		}
		n++
		if err = r.attempt(wk, w, n); err == nil {
			r.ack(w)
			return
		}
	}
}

// firstAttempt is the budget number of a delivery's first attempt: its
// delivery count, or the last one if Consume gave up on it before.
func (r *runner) firstAttempt(w *held) int {
	n := max(w.DeliveryAttempt(), 1)
	if w.exhausted() {
		n = max(n, r.cfg.retry.MaxAttempts)
	}
	return n
}

func (r *runner) logFailure(w *held, err error, attempt int) {
	var pe *PanicError
	if errors.As(err, &pe) {
		r.log.LogAttrs(context.Background(), slog.LevelError, "pubsub: handler panicked",
			slog.String("message_id", w.ID()), slog.Int("attempt", attempt),
			slog.Any("panic", pe.Value), slog.String("stack", string(pe.Stack)))
		return
	}
	r.log.LogAttrs(context.Background(), slog.LevelWarn, "pubsub: handler failed",
		slog.String("message_id", w.ID()), slog.Int("attempt", attempt),
		slog.Int("max_attempts", r.cfg.retry.MaxAttempts), slog.Any("error", err))
}

func (r *runner) logLost(w *held) {
	r.log.LogAttrs(context.Background(), slog.LevelWarn, "pubsub: message lease lost; not retrying, the broker delivers it again",
		slog.String("message_id", w.ID()), slog.String("key", w.Key()))
}

// ack acknowledges w unless it is settled already.
func (r *runner) ack(w *held) {
	if err := w.Done(); err != nil {
		r.logSettleErr("done", w.m, "handled", err)
	}
	if w.exhausted() {
		r.given.forget(w.ID())
	}
}

// handBack Nacks w at once.
func (r *runner) handBack(w *held, reason string) {
	if err := w.Nack(); err != nil {
		r.logSettleErr("nack", w.m, reason, err)
	}
}
