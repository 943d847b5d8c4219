package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// ErrShuttingDown is the readiness error once shutdown has started.
var ErrShuttingDown = errors.New("server: shutting down")

// Readiness tracks whether a server should receive traffic: it is ready
// until shutdown starts, provided every registered check passes. One
// Readiness is shared by the HTTP readiness endpoint and, in RPCServer, the
// gRPC health service. It is safe for concurrent use.
type Readiness struct {
	mu           sync.Mutex
	checks       []readinessCheck
	onShutdown   []func()
	shuttingDown atomic.Bool
}

type readinessCheck struct {
	name string
	fn   func(context.Context) error
}

// CheckResult is the outcome of one readiness check.
type CheckResult struct {
	// Name is the name the check was registered under.
	Name string
	// Err is nil when the check passed.
	Err error
}

// NewReadiness returns a Readiness with no checks that reports ready.
func NewReadiness() *Readiness { return &Readiness{} }

// AddCheck registers a named check run on every readiness probe. A nil
// error means ready. Checks should honour ctx and return quickly.
func (r *Readiness) AddCheck(name string, check func(ctx context.Context) error) {
	r.mu.Lock()
	r.checks = append(r.checks, readinessCheck{name, check})
	r.mu.Unlock()
}

// OnShutdown registers fn to run once, synchronously, when StartShutdown is
// first called (for example to flip a gRPC health service to NOT_SERVING).
func (r *Readiness) OnShutdown(fn func()) {
	r.mu.Lock()
	r.onShutdown = append(r.onShutdown, fn)
	r.mu.Unlock()
}

// StartShutdown makes every later readiness probe fail with
// [ErrShuttingDown] and runs the OnShutdown hooks. Later calls do nothing.
func (r *Readiness) StartShutdown() {
	if r.shuttingDown.Swap(true) {
		return
	}
	r.mu.Lock()
	hooks := append([]func(){}, r.onShutdown...)
	r.mu.Unlock()
	for _, fn := range hooks {
		fn()
	}
}

// ShuttingDown reports whether StartShutdown has been called.
func (r *Readiness) ShuttingDown() bool { return r.shuttingDown.Load() }

// Check runs every registered check concurrently and returns their results
// in registration order, and an error that is nil only when the server is
// ready. During shutdown it returns [ErrShuttingDown] without running checks.
func (r *Readiness) Check(ctx context.Context) ([]CheckResult, error) {
	if r.ShuttingDown() {
		return nil, ErrShuttingDown
	}
	results := r.run(ctx)
	var failed []string
	for _, res := range results {
		if res.Err != nil {
			failed = append(failed, res.Name)
		}
	}
	if r.ShuttingDown() {
		return results, ErrShuttingDown
	}
	if len(failed) > 0 {
		return results, fmt.Errorf("server: readiness checks failed: %v", failed)
	}
	return results, nil
}

// run runs every registered check concurrently and returns their results
// in registration order, whatever the shutdown state.
func (r *Readiness) run(ctx context.Context) []CheckResult {
	r.mu.Lock()
	checks := append([]readinessCheck(nil), r.checks...)
	r.mu.Unlock()
	results := make([]CheckResult, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		results[i].Name = c.name
		wg.Go(func() { results[i].Err = runCheck(ctx, c.fn) })
	}
	wg.Wait()
	return results
}

// runCheck runs one check, turning a panic into an error.
func runCheck(ctx context.Context, fn func(context.Context) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("check panicked: %v", v)
		}
	}()
	return fn(ctx)
}
