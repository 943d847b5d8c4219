package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// SignalContext returns a copy of parent that is cancelled on the first
// SIGINT or SIGTERM, and a stop function that releases the signal handler
// (defer it). Once the context is done the handler is released by itself,
// so a second signal during a slow graceful shutdown ends the process the
// usual way. It is built on signal.NotifyContext; nothing global is kept.
func SignalContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	return ctx, stop
}

// unit is one network server run by a lifecycle (an HTTP server, a gRPC
// server, ...). RPCServer builds one unit per listener and hands them all to
// one lifecycle so they shut down together.
//
//   - listen binds the socket (may be nil when already bound). Its error is
//     returned by lifecycle.run at once, before anything serves.
//   - serve blocks until the server stops. It returns nil, http.ErrServerClosed
//     or grpc.ErrServerStopped after a stop it was asked for; anything else is
//     a listener failure and ends run with that error.
//   - shutdown stops gracefully: stop accepting, wait for in-flight work. It
//     must return once ctx is done (wrap grpc GracefulStop in a goroutine and
//     select on ctx.Done()).
//   - close stops hard (http.Server.Close, grpc.Server.Stop). It is called
//     when shutdown fails or times out, and when listening fails for a later
//     unit.
type unit struct {
	name     string
	listen   func() error
	serve    func() error
	shutdown func(ctx context.Context) error
	close    func() error
}

// lifecycle runs units and shuts them down in the order the design asks:
// readiness fails first, then drainDelay passes (listeners still accept so
// load balancers can notice), then every unit's shutdown runs in parallel
// under one shutdownTimeout deadline, then units that did not finish are
// closed hard.
type lifecycle struct {
	readiness       *Readiness
	drainDelay      time.Duration
	shutdownTimeout time.Duration
	logger          *slog.Logger
}

// isStopped reports whether err is how a unit says "I was asked to stop":
// nil, http.ErrServerClosed, or one of stoppedErrs (grpc.ErrServerStopped).
func (l *lifecycle) isStopped(err error, stoppedErrs []error) bool {
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		return true
	}
	for _, s := range stoppedErrs {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// run binds every unit, serves them until ctx is done or one fails, then
// shuts all of them down. It returns the first listen or serve error, or an
// error saying graceful shutdown had to be cut short; nil after a clean
// shutdown. stoppedErrs lists extra errors that serve returns after a
// requested stop (e.g. grpc.ErrServerStopped).
func (l *lifecycle) run(ctx context.Context, units []unit, stoppedErrs ...error) error {
	for i, u := range units {
		if u.listen == nil {
			continue
		}
		if err := u.listen(); err != nil {
			for _, prev := range units[:i] {
				_ = prev.close()
			}
			// Units after i may hold pre-bound listeners (WithListener).
			for _, next := range units[i+1:] {
				_ = next.close()
			}
			return fmt.Errorf("server: %s: %w", u.name, err)
		}
	}

	type result struct {
		name string
		err  error
	}
	results := make(chan result, len(units))
	for _, u := range units {
		go func() { results <- result{u.name, u.serve()} }()
	}

	var firstErr error
	pending := len(units)
	select {
	case <-ctx.Done():
		l.logger.Info("server: shutdown requested", slog.Any("cause", context.Cause(ctx)))
	case res := <-results:
		pending--
		if !l.isStopped(res.err, stoppedErrs) {
			firstErr = fmt.Errorf("server: %s: %w", res.name, res.err)
			l.logger.Error("server: listener failed; stopping", slog.String("unit", res.name), slog.Any("error", res.err))
		}
	}

	l.readiness.StartShutdown()
	if firstErr == nil && l.drainDelay > 0 {
		l.logger.Info("server: draining before shutdown", slog.Duration("drain_delay", l.drainDelay))
		time.Sleep(l.drainDelay)
	}

	sctx, cancel := context.WithTimeout(context.Background(), l.shutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var forced []string
	for _, u := range units {
		wg.Go(func() {
			if err := u.shutdown(sctx); err != nil {
				l.logger.Warn("server: graceful shutdown incomplete; closing", slog.String("unit", u.name), slog.Any("error", err))
				_ = u.close()
				mu.Lock()
				forced = append(forced, u.name)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for ; pending > 0; pending-- {
		res := <-results
		if firstErr == nil && !l.isStopped(res.err, stoppedErrs) {
			firstErr = fmt.Errorf("server: %s: %w", res.name, res.err)
		}
	}
	if firstErr == nil && len(forced) > 0 {
		firstErr = fmt.Errorf("server: graceful shutdown of %v did not finish within %s; connections were closed", forced, l.shutdownTimeout)
	}
	l.logger.Info("server: stopped", slog.Any("error", firstErr))
	return firstErr
}
