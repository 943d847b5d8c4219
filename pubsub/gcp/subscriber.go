package gcp

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"

	gizmo "github.com/seed8104ecd5/gizmo/pubsub"
)

// clientMaxExtension is the MaxExtension the subscriber gives the client:
// in effect none, because the subscriber ends every lease itself (at
// Receive.MaxExtension after delivery at the latest) and the client must
// not stop extending a message the application still holds, or one that
// waits in the client behind its ordering key.
const clientMaxExtension = 100 * 365 * 24 * time.Hour

// Backoff between attempts to receive again after the client's Receive
// failed with an error worth retrying.
const (
	retryInitial = time.Second
	retryMax     = 30 * time.Second
)

// Subscriber receives from one Pub/Sub subscription with the client's
// StreamingPull Receive, and hands each message to the application on an
// unbuffered channel. It implements [gizmo.Subscriber],
// [gizmo.LeaseReporter] and [gizmo.NackReporter].
type Subscriber struct {
	client *pubsub.Client
	gate   *streamGate
	sub    *pubsub.Subscriber
	name   string
	lease  time.Duration
	maxExt time.Duration
	eod    bool
	log    *slog.Logger

	ch       chan gizmo.SubscriberMessage
	stopCh   chan struct{} // closed by Stop: deliver nothing more
	abortCh  chan struct{} // closed when Stop's context ended with deliveries unsettled
	rctx     context.Context
	rcancel  context.CancelFunc // cancels Receive, only once the drain is over
	runDone  chan struct{}      // closed when the receive loop returned and the client is closed
	stopping atomic.Bool

	startOnce sync.Once
	stopOnce  sync.Once
	closeOnce sync.Once
	started   bool

	mu       sync.Mutex
	cond     *sync.Cond // on mu: inflight or sending changed while stopped
	stopped  bool
	inflight int // deliveries offered or in the application's hands
	sending  int // callbacks offering a delivery on ch
	err      error
	stopErr  error
}

var (
	_ gizmo.Subscriber    = (*Subscriber)(nil)
	_ gizmo.LeaseReporter = (*Subscriber)(nil)
	_ gizmo.NackReporter  = (*Subscriber)(nil)
)

// NewSubscriber connects as cfg says and returns a subscriber of
// cfg.Subscription; Start begins receiving. With cfg.Create it first
// creates the topic and the subscription if missing. It does not check
// that the subscription exists, which would need more than subscriber
// permission: a missing one ends the subscriber, and Err then wraps
// [gizmo.ErrSubscriptionNotFound].
func NewSubscriber(ctx context.Context, cfg Config, opts ...Option) (*Subscriber, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Subscription == "" {
		return nil, fieldErr("Subscription", "is empty: a subscriber needs a subscription")
	}
	o := newOptions(opts)
	gate := newStreamGate()
	client, err := connect(ctx, cfg, o, option.WithGRPCDialOption(grpc.WithChainStreamInterceptor(gate.intercept)))
	if err != nil {
		return nil, err
	}
	err = ensureTopics(ctx, client, cfg)
	if err == nil {
		err = ensureSubscription(ctx, client, cfg)
	}
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	rc := cfg.Receive
	name := fullName(client.Project(), "subscriptions", cfg.Subscription)
	sub := client.Subscriber(name)
	sub.ReceiveSettings = pubsub.ReceiveSettings{
		MaxExtension:               clientMaxExtension,
		MaxDurationPerAckExtension: rc.MaxDurationPerAckExtension,
		MinDurationPerAckExtension: rc.MinDurationPerAckExtension,
		MaxOutstandingMessages:     rc.MaxOutstandingMessages,
		MaxOutstandingBytes:        rc.MaxOutstandingBytes,
		NumGoroutines:              rc.NumGoroutines,
	}
	lease := rc.Lease
	if lease == 0 {
		lease = rc.MaxExtension
	}
	rctx, rcancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &Subscriber{
		client:  client,
		gate:    gate,
		sub:     sub,
		name:    name,
		lease:   lease,
		maxExt:  rc.MaxExtension,
		eod:     rc.ExactlyOnce,
		log:     o.logger,
		ch:      make(chan gizmo.SubscriberMessage),
		stopCh:  make(chan struct{}),
		abortCh: make(chan struct{}),
		rctx:    rctx,
		rcancel: rcancel,
		runDone: make(chan struct{}),
	}
	r.cond = sync.NewCond(&r.mu)
	return r, nil
}

// Subscription returns the full name of the subscription.
func (r *Subscriber) Subscription() string { return r.name }

// Client returns the client library's client the subscriber uses.
func (r *Subscriber) Client() *pubsub.Client { return r.client }

// Lease returns the lease a delivery starts with: Receive.Lease, or
// Receive.MaxExtension when that is zero.
func (r *Subscriber) Lease() time.Duration { return r.lease }

// CanNack reports true: Nack hands one message back.
func (r *Subscriber) CanNack() bool { return true }

// Start begins receiving and returns the unbuffered delivery channel. A
// second call returns the same channel.
func (r *Subscriber) Start() <-chan gizmo.SubscriberMessage {
	r.startOnce.Do(func() {
		r.started = true
		go r.run()
	})
	return r.ch
}

// Err returns the error that ended the subscriber once its channel is
// closed: nil after Stop, or an error wrapping
// [gizmo.ErrSubscriptionNotFound] or [ErrPermissionDenied] (or the
// client's error for another unrecoverable refusal, such as a malformed
// name).
func (r *Subscriber) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Stop stops fetching and hands back at once the messages the client
// fetched that were not delivered. It waits until delivered messages are
// settled or ctx ends; then it hands back those still unsettled (the
// error wraps [gizmo.ErrDrainTimeout]), ends the client's Receive, which
// sends the last acknowledgements, closes the channel and closes the
// client. If ctx has ended by then, Stop returns without waiting for
// that last step, which finishes in the background. A later call waits
// for the first and returns its result. See the package doc.
func (r *Subscriber) Stop(ctx context.Context) error {
	r.stopOnce.Do(func() { r.stopErr = r.stop(ctx) })
	return r.stopErr
}

func (r *Subscriber) stop(ctx context.Context) error {
	r.mu.Lock()
	r.stopped = true
	r.stopping.Store(true)
	r.mu.Unlock()
	streamsEnded := r.gate.close()
	close(r.stopCh)
	r.startOnce.Do(func() {}) // never started: nothing will be
	if !r.started {
		r.rcancel()
		_ = r.client.Close()
		r.closeCh()
		return nil
	}

	// Messages already on their way are handed back as they arrive.
	select {
	case <-streamsEnded:
	case <-ctx.Done():
	}
	wake := context.AfterFunc(ctx, func() {
		r.mu.Lock()
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	r.mu.Lock()
	for r.inflight > 0 && ctx.Err() == nil {
		r.cond.Wait()
	}
	unsettled := r.inflight
	r.mu.Unlock()
	wake()

	var err error
	if unsettled > 0 {
		// Each delivery still held ends its lease at once; wait for that,
		// so that settling one after Stop returns reports it.
		close(r.abortCh)
		r.mu.Lock()
		for r.inflight > 0 {
			r.cond.Wait()
		}
		r.mu.Unlock()
		err = fmt.Errorf("gcp: stop subscriber of %q: %d messages were still unsettled and were handed back for redelivery: %w (%w)",
			r.name, unsettled, gizmo.ErrDrainTimeout, context.Cause(ctx))
		r.log.LogAttrs(context.Background(), slog.LevelWarn, "gcp: messages not settled before the drain deadline",
			slog.String("subscription", r.name), slog.Int("unsettled", unsettled))
	}
	r.rcancel()

	r.mu.Lock()
	for r.sending > 0 {
		r.cond.Wait()
	}
	r.mu.Unlock()
	select {
	case <-r.runDone:
	case <-ctx.Done():
	}
	r.closeCh()
	return err
}

func (r *Subscriber) closeCh() {
	r.closeOnce.Do(func() { close(r.ch) })
}

// run is the receive loop: it calls the client's Receive until Stop, and
// again after errors worth retrying.
func (r *Subscriber) run() {
	defer close(r.runDone)
	// Receive has returned, so its last acknowledgements are sent.
	defer func() { _ = r.client.Close() }()
	backoff := retryInitial
	for {
		g := &generation{failed: make(chan struct{})}
		began := time.Now()
		err := r.sub.Receive(r.rctx, func(ctx context.Context, m *pubsub.Message) { r.receive(ctx, g, m) })
		if r.stopping.Load() {
			// A clean end: Receive sent the last acknowledgements.
			return
		}
		g.fail()
		if terr, ok := terminal(r.name, err); ok {
			r.terminate(terr)
			return
		}
		if time.Since(began) > time.Minute {
			backoff = retryInitial
		}
		wait := backoff/2 + rand.N(backoff/2)
		r.log.LogAttrs(context.Background(), slog.LevelWarn, "gcp: receive failed; receiving again",
			slog.String("subscription", r.name), slog.Any("error", err), slog.Duration("after", wait))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-r.stopCh:
			t.Stop()
			return
		}
		backoff = min(2*backoff, retryMax)
	}
}

// terminate ends the subscriber after an unrecoverable error. Receive has
// returned, so no callback runs and the channel can close.
func (r *Subscriber) terminate(err error) {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
	r.log.LogAttrs(context.Background(), slog.LevelError, "gcp: subscriber ended", slog.String("subscription", r.name), slog.Any("error", err))
	r.closeCh()
}

// generation is one call of the client's Receive. failed is closed once
// acknowledgements of its messages can no longer reach Pub/Sub: its
// stream failed, or it returned other than through Stop.
type generation struct {
	once   sync.Once
	failed chan struct{}
}

func (g *generation) fail() { g.once.Do(func() { close(g.failed) }) }
