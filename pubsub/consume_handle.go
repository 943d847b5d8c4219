package pubsub

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"time"
)

// handle runs one message to completion: attempts, backoff waits, then Done,
// dead-letter or Nack. The success path makes no allocation of its own.
func (r *runner) handle(m SubscriberMessage) {
	err := r.attempt(m)
	if err == nil {
		r.ack(m)
		return
	}
	r.retry(m, err)
}

// attempt calls the handler once, turning a panic into a *PanicError.
func (r *runner) attempt(m SubscriberMessage) (err error) {
	ctx := r.hctx
	if r.cfg.handlerTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.cfg.handlerTimeout)
		defer cancel()
	}
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return r.h(ctx, m)
}

// retry takes over after the first failed attempt of this delivery.
func (r *runner) retry(m SubscriberMessage, err error) {
	attempt := 1
	if da, ok := m.(DeliveryAttempter); ok {
		attempt = max(attempt, da.DeliveryAttempt())
	}
	firstFailed := time.Now()
	maxAttempts := r.cfg.retry.MaxAttempts
	for {
		r.logFailure(m, err, attempt)
		if attempt >= maxAttempts || IsPermanent(err) {
			r.giveUp(m, err, attempt, firstFailed)
			return
		}
		if !r.backoff(m, r.cfg.retry.delay(attempt), firstFailed) {
			r.nack(m, "consumer stopping during retry backoff")
			return
		}
		attempt++
		if err = r.attempt(m); err == nil {
			r.ack(m)
			return
		}
	}
}

// backoff waits d before the next attempt, extending the message's lease
// first if the wait risks it. It returns false if Consume started stopping.
func (r *runner) backoff(m SubscriberMessage, d time.Duration, firstFailed time.Time) bool {
	if isClosed(r.stopping) {
		return false
	}
	if lease := r.cfg.lease; lease > 0 && time.Since(firstFailed)+d >= lease/2 {
		if err := m.ExtendDoneDeadline(d + lease); err != nil && !errors.Is(err, ErrNotSupported) {
			r.log.LogAttrs(context.Background(), slog.LevelWarn, "pubsub: extending message deadline failed",
				slog.String("message_id", m.ID()), slog.Any("error", err))
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.stopping:
		return false
	}
}

// giveUp disposes of a message whose attempts are used up.
func (r *runner) giveUp(m SubscriberMessage, err error, attempts int, firstFailed time.Time) {
	if r.cfg.deadLetter == nil {
		r.log.LogAttrs(context.Background(), slog.LevelError, "pubsub: message failed its last attempt; nacking (no dead-letter publisher)",
			slog.String("message_id", m.ID()), slog.String("key", m.Key()),
			slog.Int("attempts", attempts), slog.Any("error", err))
		r.nack(m, "no dead-letter publisher")
		return
	}
	if perr := r.publishDeadLetter(m, err, attempts, firstFailed); perr != nil {
		r.log.LogAttrs(context.Background(), slog.LevelError, "pubsub: dead-letter publish failed; nacking",
			slog.String("message_id", m.ID()), slog.String("key", m.Key()),
			slog.Int("attempts", attempts), slog.Any("error", err), slog.Any("publish_error", perr))
		r.nack(m, "dead-letter publish failed")
		return
	}
	r.log.LogAttrs(context.Background(), slog.LevelWarn, "pubsub: message dead-lettered",
		slog.String("message_id", m.ID()), slog.String("key", m.Key()),
		slog.Int("attempts", attempts), slog.Any("error", err))
	r.ack(m)
}

func (r *runner) logFailure(m SubscriberMessage, err error, attempt int) {
	var pe *PanicError
	if errors.As(err, &pe) {
		r.log.LogAttrs(context.Background(), slog.LevelError, "pubsub: handler panicked",
			slog.String("message_id", m.ID()), slog.Int("attempt", attempt),
			slog.Any("panic", pe.Value), slog.String("stack", string(pe.Stack)))
		return
	}
	r.log.LogAttrs(context.Background(), slog.LevelWarn, "pubsub: handler failed",
		slog.String("message_id", m.ID()), slog.Int("attempt", attempt),
		slog.Int("max_attempts", r.cfg.retry.MaxAttempts), slog.Any("error", err))
}

func (r *runner) ack(m SubscriberMessage) {
	if err := m.Done(); err != nil {
		r.log.LogAttrs(context.Background(), slog.LevelWarn, "pubsub: acknowledging message failed",
			slog.String("message_id", m.ID()), slog.Any("error", err))
	}
}

func (r *runner) nack(m SubscriberMessage, reason string) {
	if err := m.Nack(); err != nil {
		level := slog.LevelWarn
		if errors.Is(err, ErrNotSupported) {
			level = slog.LevelDebug
		}
		r.log.LogAttrs(context.Background(), level, "pubsub: nacking message failed",
			slog.String("message_id", m.ID()), slog.String("reason", reason), slog.Any("error", err))
	}
}
