package pubsub

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// RetryPolicy says how often, and how soon, [Consume] retries a message
// whose handler failed. Retries happen in the consuming process; see
// [Consume] for why.
//
// A zero field takes its value from [DefaultRetryPolicy], so
// RetryPolicy{MaxAttempts: 3} keeps the default backoff. To disable jitter,
// set Jitter to a negative number.
type RetryPolicy struct {
	// MaxAttempts is the total number of handler attempts per message,
	// the first one included; 1 means no retries. Default 5.
	MaxAttempts int
	// InitialBackoff is the wait after the first failed attempt. Default
	// 100ms.
	InitialBackoff time.Duration
	// MaxBackoff caps the wait between attempts. Default 10s.
	MaxBackoff time.Duration
	// Multiplier grows the wait after each failed attempt; values below 1
	// are treated as 1. Default 2.
	Multiplier float64
	// Jitter spreads each wait uniformly over ±Jitter of its value, so
	// that messages which failed together do not retry together. It is
	// capped at 1. Default 0.2; negative means none.
	Jitter float64
}

// DefaultRetryPolicy returns the policy Consume uses without [WithRetry]:
// 5 attempts, waits starting at 100ms and doubling up to 10s, ±20% jitter.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		MaxAttempts:    5,
		InitialBackoff: 100 * time.Millisecond,
		MaxBackoff:     10 * time.Second,
		Multiplier:     2,
		Jitter:         0.2,
	}
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy()
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.InitialBackoff <= 0 {
		p.InitialBackoff = d.InitialBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = d.MaxBackoff
	}
	if p.MaxBackoff < p.InitialBackoff {
		p.MaxBackoff = p.InitialBackoff
	}
	switch {
	case p.Multiplier == 0:
		p.Multiplier = d.Multiplier
	case p.Multiplier < 1:
		p.Multiplier = 1
	}
	switch {
	case p.Jitter == 0:
		p.Jitter = d.Jitter
	case p.Jitter < 0:
		p.Jitter = 0
	case p.Jitter > 1:
		p.Jitter = 1
	}
	return p
}

// backoff returns the wait after the given failed attempt (1 for the first
// attempt) before jitter: InitialBackoff * Multiplier^(failed-1), capped at
// MaxBackoff. The receiver should have its defaults filled in.
func (p RetryPolicy) backoff(failed int) time.Duration {
	d := float64(p.InitialBackoff)
	limit := float64(p.MaxBackoff)
	for i := 1; i < failed && d < limit; i++ {
		d *= p.Multiplier
	}
	return time.Duration(min(d, limit))
}

// jittered spreads d over ±Jitter of its value; r is uniform in [0, 1).
func (p RetryPolicy) jittered(d time.Duration, r float64) time.Duration {
	if p.Jitter <= 0 {
		return d
	}
	return time.Duration(float64(d) * (1 + p.Jitter*(2*r-1)))
}

// delay is the jittered wait after the given failed attempt.
func (p RetryPolicy) delay(failed int) time.Duration {
	return p.jittered(p.backoff(failed), rand.Float64())
}

// Permanent marks err as not worth retrying: when a handler returns it,
// [Consume] skips the remaining attempts and dead-letters the message at
// once (or Nacks it, without a dead-letter publisher). Permanent(nil) is
// nil. errors.Is and errors.As see through the wrapper.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// [Permanent].
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// PanicError is the error a handler attempt fails with when the handler
// panics. [Consume] recovers the panic, logs Stack and treats the attempt
// as failed.
type PanicError struct {
	// Value is the value passed to panic.
	Value any
	// Stack is the goroutine's stack trace at the time of the panic.
	Stack []byte
}

// Error describes the panic value.
func (e *PanicError) Error() string {
	return fmt.Sprintf("pubsub: handler panicked: %v", e.Value)
}

// Unwrap returns the panic value if it is an error, so errors.Is and
// errors.As see through a panic(err).
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
