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
// Done, dead-letter or hand-back; then the shard's bookkeeping.
func (r *runner) handle(wk *worker, j *job) {
	err := r.attempt(wk, j, 0)
	if err == nil {
		r.after(wk, j, r.acked(wk, j))
		return
	}
	r.after(wk, j, r.retry(wk, j, 0, err))
}

// outcome tells the hooks what came of j's last attempt.
func (r *runner) outcome(wk *worker, j *job, o Outcome) {
	if len(r.cfg.hooks) > 0 {
		r.cfg.hooks.outcome(wk.hctx, j.m, o)
	}
}

// acked acknowledges j after its handler succeeded, reporting whether the
// message was handed back after all: the handler Nacked it, or the lease
// was gone. Only a shard needs to know.
func (r *runner) acked(wk *worker, j *job) (handedBack bool) {
	err := r.ack(j)
	r.outcome(wk, j, OutcomeDone)
	if wk.shard == nil {
		return false
	}
	return isLeaseLost(err) || j.settled() == Nacked
}

// attempt calls the handler once. A panic becomes a *PanicError. A
// runtime.Goexit cannot be stopped: this goroutine ends, so attempt starts
// another that carries on where this one stops (failed attempt n, then the
// rest of the worker's life).
func (r *runner) attempt(wk *worker, j *job, n int) (err error) {
	ctx := r.hctx
	if r.cfg.handlerTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.cfg.handlerTimeout)
		defer cancel()
	}
	var start time.Time
	if len(r.cfg.hooks) > 0 {
		if n == 0 {
			n = r.firstAttempt(j)
		}
		ctx = r.cfg.hooks.attemptStart(ctx, j.m, n)
		wk.hctx, start = ctx, time.Now()
	}
	returned := false
	defer func() {
		if returned {
			return
		}
		v := recover()
		if v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		} else {
			err = &PanicError{Value: errGoexit, Stack: debug.Stack()}
		}
		if len(r.cfg.hooks) > 0 {
			r.cfg.hooks.attemptEnd(ctx, j.m, err, time.Since(start))
		}
		if v != nil {
			return
		}
		gerr := err
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.after(wk, j, r.retry(wk, j, n, gerr))
			r.loop(wk)
		}()
	}()
	err = r.h(ctx, j.m)
	returned = true
	if len(r.cfg.hooks) > 0 {
		r.cfg.hooks.attemptEnd(ctx, j.m, err, time.Since(start))
	}
	return err
}

// retry takes over after a failed attempt. n is the attempt's number in the
// retry budget, 0 for the first attempt of this delivery (the budget then
// starts from the backend's delivery count). It reports whether the message
// left Consume unacknowledged.
func (r *runner) retry(wk *worker, j *job, n int, err error) (handedBack bool) {
	if n == 0 {
		n = r.firstAttempt(j)
	}
	firstFailed := time.Now()
	maxAttempts := r.cfg.retry.MaxAttempts
	for {
		if s := j.settled(); s != Unsettled {
			r.log.LogAttrs(context.Background(), slog.LevelWarn, "pubsub: handler failed after settling the message itself; the settle stands",
				append(msgAttrs(j.m), slog.Int("attempt", n), slog.Any("error", err))...)
			r.outcome(wk, j, OutcomeAbandoned)
			return s == Nacked
		}
		r.logFailure(j, err, n)
		if r.isLost(wk, j) {
			r.logLost(j)
			r.outcome(wk, j, OutcomeAbandoned)
			return true
		}
		if n >= maxAttempts || IsPermanent(err) {
			return r.giveUp(wk, j, err, n, firstFailed)
		}
		d := r.cfg.retry.delay(n)
		if r.isStopped() {
			r.outcome(wk, j, OutcomeAbandoned)
			r.handBack(j, "consumer stopping during retry backoff")
			return true
		}
		r.outcome(wk, j, OutcomeRetried)
		if len(r.cfg.hooks) > 0 {
			r.cfg.hooks.backoff(j.m, d)
		}
		if !r.sleep(d) {
			r.handBack(j, "consumer stopping during retry backoff")
			return true
		}
		if r.isLost(wk, j) {
			r.logLost(j)
			return true
		}
		n++
		if err = r.attempt(wk, j, n); err == nil {
			return r.acked(wk, j)
		}
	}
}

// firstAttempt is the budget number of a delivery's first attempt: its
// delivery count, or the last one if Consume gave up on it before.
func (r *runner) firstAttempt(j *job) int {
	n := 1
	if da, ok := j.m.(DeliveryAttempter); ok {
		n = max(da.DeliveryAttempt(), 1)
	}
	if j.exhausted {
		n = max(n, r.cfg.retry.MaxAttempts)
	}
	return n
}

func (r *runner) logFailure(j *job, err error, attempt int) {
	var pe *PanicError
	if errors.As(err, &pe) {
		r.log.LogAttrs(context.Background(), slog.LevelError, "pubsub: handler panicked",
			append(msgAttrs(j.m), slog.Int("attempt", attempt),
				slog.Any("panic", pe.Value), slog.String("stack", string(pe.Stack)))...)
		return
	}
	r.log.LogAttrs(context.Background(), slog.LevelWarn, "pubsub: handler failed",
		append(msgAttrs(j.m), slog.Int("attempt", attempt),
			slog.Int("max_attempts", r.cfg.retry.MaxAttempts), slog.Any("error", err))...)
}

func (r *runner) logLost(j *job) {
	r.log.LogAttrs(context.Background(), slog.LevelWarn, "pubsub: message lease lost; not retrying, the broker delivers it again", msgAttrs(j.m)...)
}

// msgAttrs are the log attributes that name a message: its ID, its key,
// and the ID of the request that published it, if it carries one.
func msgAttrs(m SubscriberMessage) []slog.Attr {
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, slog.String("message_id", m.ID()), slog.String("key", m.Key()))
	if id := m.Attributes()[AttrRequestID]; id != "" {
		attrs = append(attrs, slog.String("request_id", id))
	}
	return attrs
}

// ack acknowledges j's message, unless it is settled already, and returns
// Done's error.
func (r *runner) ack(j *job) error {
	if j.settled() != Unsettled {
		return nil // the handler settled it
	}
	err := j.m.Done()
	if err != nil {
		r.logSettleErr("done", j.m, "handled", err)
		if isLeaseLost(err) && len(r.cfg.hooks) > 0 {
			r.cfg.hooks.leaseLost(j.m)
		}
	}
	if j.exhausted {
		r.given.forget(j.m.ID())
	}
	return err
}

// handBack Nacks j's message at once.
func (r *runner) handBack(j *job, reason string) {
	if j.settled() != Unsettled {
		return
	}
	if err := j.m.Nack(); err != nil {
		r.logSettleErr("nack", j.m, reason, err)
	}
}
