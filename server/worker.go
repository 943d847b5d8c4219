package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// AddWorker adds a long-running task that runs beside the server's
// listeners under the same lifecycle: a queue consumer, a scheduler. Run
// starts it with a context that is cancelled when shutdown starts (after
// readiness has failed and the drain delay has passed, together with the
// listeners' graceful shutdown), and waits for it within the same
// Config.ShutdownTimeout.
//
// A worker that returns while the server runs does not stop the server.
// If it returns an error, the error is logged and the liveness endpoint
// (Config.HealthPath) fails from then on, naming the worker, so that an
// orchestrator restarts the process; a worker that returns nil has simply
// finished. Workers must be added before Run.
func (s *SimpleServer) AddWorker(name string, run func(ctx context.Context) error) error {
	if name == "" || run == nil {
		return fmt.Errorf("server: AddWorker: a worker needs a name and a function")
	}
	if s.running.Load() {
		return fmt.Errorf("server: AddWorker(%q) after Run", name)
	}
	w := &worker{name: name, run: run}
	s.mu.Lock()
	s.workers = append(s.workers, w)
	s.mu.Unlock()
	s.liveness.AddCheck("worker "+name, w.live)
	return nil
}

// AddLivenessCheck registers a check run on every liveness probe
// (Config.HealthPath). A non-nil error makes the probe fail with 503: the
// process should be restarted. Checks should be cheap and honour ctx.
func (s *SimpleServer) AddLivenessCheck(name string, check func(ctx context.Context) error) {
	s.liveness.AddCheck(name, check)
}

// worker is one task added with AddWorker.
type worker struct {
	name string
	run  func(ctx context.Context) error

	mu     sync.Mutex
	failed error // set when run returned an error before shutdown
}

func (w *worker) live(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed != nil {
		return fmt.Errorf("worker %s failed: %w", w.name, w.failed)
	}
	return nil
}

// workerUnits returns the lifecycle units of the workers.
func (s *SimpleServer) workerUnits() []unit {
	s.mu.Lock()
	ws := append([]*worker(nil), s.workers...)
	s.mu.Unlock()
	units := make([]unit, 0, len(ws))
	for _, w := range ws {
		units = append(units, w.unit(s.logger))
	}
	return units
}

// unit runs w until shutdown. Its serve returns only once shutdown has
// started, so that a worker that ends early never ends the lifecycle; and
// once the unit is closed after the shutdown deadline, even if the worker
// still runs (its goroutine is left to finish on its own).
func (w *worker) unit(logger *slog.Logger) unit {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})   // run returned
	closed := make(chan struct{}) // close was called
	var closeOnce sync.Once
	var runErr error
	return unit{
		name: "worker " + w.name,
		serve: func() error {
			go func() {
				defer close(done)
				runErr = w.run(ctx)
			}()
			select {
			case <-done:
			case <-closed:
				return nil
			}
			if ctx.Err() == nil {
				if runErr != nil {
					logger.Error("server: worker failed; liveness now fails", slog.String("worker", w.name), slog.Any("error", runErr))
					w.mu.Lock()
					w.failed = runErr
					w.mu.Unlock()
				} else {
					logger.Info("server: worker finished", slog.String("worker", w.name))
				}
				select {
				case <-ctx.Done():
				case <-closed:
				}
				return nil
			}
			if runErr != nil {
				logger.Warn("server: worker stopped with an error", slog.String("worker", w.name), slog.Any("error", runErr))
			}
			return nil
		},
		shutdown: func(sctx context.Context) error {
			cancel()
			select {
			case <-done:
				return nil
			case <-sctx.Done():
				return fmt.Errorf("worker %s did not stop: %w", w.name, sctx.Err())
			}
		},
		close: func() error {
			cancel()
			closeOnce.Do(func() { close(closed) })
			return nil
		},
	}
}
