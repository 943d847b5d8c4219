package http

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// Subscriber is a push endpoint: an [http.Handler] that delivers each
// request's message on its channel and answers the request once the
// message is settled (see the package doc). It implements
// [pubsub.Subscriber], [pubsub.LeaseReporter] and [pubsub.NackReporter].
// Mount it on any server or mux, at the URL the senders post to.
type Subscriber struct {
	cfg     Config
	log     *slog.Logger
	verify  func(ctx context.Context, token string) error
	dedup   Deduplicator
	sns     *snsClient
	formats []Format
	topics  map[string]bool // Config.SNSTopicARNs

	ch      chan pubsub.SubscriberMessage
	stopCh  chan struct{} // closed when Stop begins
	done    chan struct{} // closed when Stop has finished
	senders sync.WaitGroup

	serving atomic.Int32 // servingNo, servingYes, servingStopped: for a check without the lock

	mu        sync.Mutex
	started   bool
	stopping  bool
	active    int                   // messages entered, not yet answered
	quiet     chan struct{}         // closed once stopping and active is 0
	delivered map[*Message]struct{} // on the channel or delivered, not yet answered
	stopOnce  sync.Once
	stopErr   error
}

// The values of Subscriber.serving.
const (
	servingNo int32 = iota
	servingYes
	servingStopped
)

var (
	_ pubsub.Subscriber    = (*Subscriber)(nil)
	_ pubsub.LeaseReporter = (*Subscriber)(nil)
	_ pubsub.NackReporter  = (*Subscriber)(nil)
	_ http.Handler         = (*Subscriber)(nil)
)

// NewSubscriber returns a push subscriber configured by cfg. It serves
// requests once Start is called; until then, and after Stop, it answers
// 503.
func NewSubscriber(cfg Config, opts ...SubscriberOption) (*Subscriber, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	var o subscriberOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	s := &Subscriber{
		cfg:       cfg,
		log:       o.logger,
		verify:    o.verify,
		dedup:     o.dedup,
		formats:   slices.Clone(cfg.Formats),
		topics:    make(map[string]bool, len(cfg.SNSTopicARNs)),
		ch:        make(chan pubsub.SubscriberMessage),
		stopCh:    make(chan struct{}),
		done:      make(chan struct{}),
		quiet:     make(chan struct{}),
		delivered: make(map[*Message]struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.dedup == nil && cfg.DedupWindow > 0 {
		s.dedup = NewMemoryDeduplicator(cfg.DedupWindow, cfg.DedupCapacity)
	}
	for _, arn := range cfg.SNSTopicARNs {
		s.topics[arn] = true
	}
	if slices.Contains(s.formats, FormatSNS) {
		client, check := o.snsClient, o.snsCheck
		if client == nil {
			client = &http.Client{Timeout: 10 * time.Second}
		}
		if check == nil {
			check = CheckSNSURL
		}
		c := *client
		c.CheckRedirect = func(req *http.Request, _ []*http.Request) error { return check(req.URL) }
		s.sns = &snsClient{client: &c, check: check, certs: make(map[string]*x509.Certificate)}
	}
	return s, nil
}

func (s *Subscriber) accepts(f Format) bool { return slices.Contains(s.formats, f) }

// Start starts serving requests and returns the delivery channel, which
// is unbuffered. Calling it again returns the same channel.
func (s *Subscriber) Start() <-chan pubsub.SubscriberMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopping {
		s.started = true
		s.serving.Store(servingYes)
	}
	return s.ch
}

// Err returns nil: a push subscriber has no broker whose failure could end
// it. It is part of [pubsub.Subscriber].
func (s *Subscriber) Err() error { return nil }

// Lease returns Config.AckDeadline, the lease a delivery starts with.
func (s *Subscriber) Lease() time.Duration { return s.cfg.AckDeadline }

// CanNack reports true: Nack answers 503, and the sender retries the one
// message.
func (s *Subscriber) CanNack() bool { return true }

// Ready returns nil while the subscriber serves requests (after Start,
// before Stop), and an error otherwise. Use it as a readiness check, so
// that a load balancer sends requests elsewhere while it is stopped:
//
//	srv.AddReadinessCheck("push", sub.Ready)
func (s *Subscriber) Ready(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopping:
		return errors.New("pubsub/http: subscriber stopping")
	case !s.started:
		return errors.New("pubsub/http: subscriber not started")
	}
	return nil
}

// Stop stops the subscriber: new requests get 503 at once, and so do
// requests whose message no consumer has taken yet (the prefetched ones:
// the sender retries them, elsewhere or later). It then waits until every
// delivered message is settled and answered, or ctx is done; it then
// hands the unsettled ones back (503) and returns an error wrapping
// [pubsub.ErrDrainTimeout]. Last it closes the channel. Later calls wait
// for the first to finish and return its result.
//
// Mounted on a server, stop the subscriber before the server shuts down,
// so that the answers are written while the server still serves (pubsub.Consume
// calls Stop when its context ends).
func (s *Subscriber) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { s.stop(ctx) })
	<-s.done
	return s.stopErr
}

func (s *Subscriber) stop(ctx context.Context) {
	defer close(s.done)
	s.mu.Lock()
	s.stopping = true
	s.serving.Store(servingStopped)
	close(s.stopCh)
	if s.active == 0 {
		close(s.quiet)
	}
	s.mu.Unlock()
	// Every request on its way onto the channel now sees stopCh.
	s.senders.Wait()
	select {
	case <-s.quiet:
	case <-ctx.Done():
	}
	s.mu.Lock()
	handedBack := 0
	for m := range s.delivered {
		if m.end(leaseStopped) {
			handedBack++
		}
	}
	s.mu.Unlock()
	close(s.ch)
	if handedBack > 0 {
		s.stopErr = fmt.Errorf("pubsub/http: stop: %d messages were not settled and were handed back (503): %w (%w)", handedBack, pubsub.ErrDrainTimeout, context.Cause(ctx))
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "pubsub/http: messages not settled before the drain deadline; handed back", slog.Int("unsettled", handedBack))
	}
}

// notServing returns why the subscriber refuses requests, or "" while it
// serves. It is the cheap early check; enter decides under the lock.
func (s *Subscriber) notServing() string {
	switch s.serving.Load() {
	case servingNo:
		return "the subscriber has not started"
	case servingStopped:
		return "the subscriber is stopping"
	}
	return ""
}

// enter registers m as on its way onto the channel, unless the subscriber
// is not serving.
func (s *Subscriber) enter(m *Message) (ok bool, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopping:
		return false, "the subscriber is stopping"
	case !s.started:
		return false, "the subscriber has not started"
	}
	s.active++
	s.senders.Add(1)
	s.delivered[m] = struct{}{}
	return true, ""
}

// exit forgets m once its request is answered (or given up).
func (s *Subscriber) exit(m *Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.delivered, m)
	s.active--
	if s.stopping && s.active == 0 {
		close(s.quiet)
	}
}
