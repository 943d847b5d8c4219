package pubsubtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// Harness plugs a backend into [RunConformance]. The suite runs its cases in
// parallel, so a Harness must be safe for concurrent use.
type Harness interface {
	// CreateTopic creates a topic with a name no other call returns, and
	// registers its removal with t.Cleanup.
	CreateTopic(ctx context.Context, t testing.TB) (topic string, err error)
	// CreateSubscription creates a new subscription (queue, consumer group)
	// that receives every message published to topic from now on, and
	// registers its removal with t.Cleanup. Subscribers of the harness must
	// honour the ack deadline stated in Capabilities.
	CreateSubscription(ctx context.Context, t testing.TB, topic string, opts SubscriptionOptions) (subscription string, err error)
	// NewPublisher returns a publisher for topic. For a topic that does not
	// exist it returns, here or on the first publish, an error wrapping
	// pubsub.ErrTopicNotFound.
	NewPublisher(ctx context.Context, topic string) (pubsub.Publisher, error)
	// NewSubscriber returns a subscriber of subscription. For one that does
	// not exist it returns, here or through Err once the channel closes, an
	// error wrapping pubsub.ErrSubscriptionNotFound.
	NewSubscriber(ctx context.Context, subscription string) (pubsub.Subscriber, error)
	// Capabilities describes the backend as the harness sets it up.
	Capabilities() Capabilities
}

// Restarter is implemented by a [Harness] whose backend runs as a server of
// its own. RestartServer stops the server and starts it again on the same
// address, keeping its data (topics, subscriptions, messages not yet
// acknowledged), and returns once it serves again. The Reconnect case uses
// it; a harness without it must declare [FeatureRestart] a gap.
type Restarter interface {
	RestartServer(ctx context.Context, t testing.TB) error
}

// SubscriptionOptions asks [Harness.CreateSubscription] for a kind of
// subscription.
type SubscriptionOptions struct {
	// OrderedKeys asks for per-key ordered delivery (see
	// [FeatureOrderedKeys]).
	OrderedKeys bool
}

// Feature names a part of the contract a backend may be unable to provide.
// A backend declares such gaps in [Capabilities.Gaps]; the cases that test
// the feature are then skipped with the stated reason. No other case ever
// skips.
type Feature string

// Features the conformance suite can be told to skip.
const (
	// FeatureLeaseExpiry: a delivery not settled within the ack deadline is
	// redelivered, and settling it afterwards reports pubsub.ErrLeaseLost.
	FeatureLeaseExpiry Feature = "LeaseExpiry"
	// FeatureExtendLease: ExtendDoneDeadline(d) keeps one message from
	// being redelivered for d.
	FeatureExtendLease Feature = "ExtendLease"
	// FeatureOrderedKeys: on a subscription created with OrderedKeys, the
	// first deliveries of a key arrive in publish order.
	FeatureOrderedKeys Feature = "OrderedKeys"
	// FeatureStableIDs: a redelivered message keeps its ID.
	FeatureStableIDs Feature = "StableIDs"
	// FeatureBatch: publishers implement pubsub.MultiPublisher.
	FeatureBatch Feature = "Batch"
	// FeatureIndependentAcks: Done of one message is final on its own. A
	// backend without it (Kafka) makes Done durable only once every
	// earlier message of its partition is settled, so a Done message may
	// come back after a restart.
	FeatureIndependentAcks Feature = "IndependentAcks"
	// FeatureDeduplication: a message published with a deduplication ID
	// already used within the backend's window is not delivered again.
	FeatureDeduplication Feature = "Deduplication"
	// FeatureRestart: the harness can restart the backend's server
	// ([Restarter]), and publishers and subscribers ride it out.
	FeatureRestart Feature = "Restart"
	// FeatureBacklog: a subscription keeps the messages published while
	// none of its subscribers runs, and Publish returns once the broker
	// holds the message. A backend without a broker (HTTP push, where a
	// publish is a request that the subscriber answers once the message is
	// settled) lacks it: its Publish returns only once a subscriber has
	// settled the message. Declaring the gap skips the Backlog case and
	// makes every other case publish in the background while it goes on to
	// subscribe (see suite.publishing).
	FeatureBacklog Feature = "Backlog"
	// FeatureFanOut: a topic delivers each message to every subscription
	// it has. A backend whose topic is one endpoint (HTTP push), or where
	// the topic and the subscription are one queue (SQS used alone), has no
	// fan-out.
	FeatureFanOut Feature = "FanOut"
)

// Capabilities tells the suite how long to wait, what limits to test and
// what to skip.
type Capabilities struct {
	// AckDeadline is the ack deadline (visibility timeout) of the
	// subscriptions the harness creates. It is required unless
	// FeatureLeaseExpiry is a gap. Several checks that something did not
	// happen wait one and a half times this long, and the checks that Nack
	// and Stop hand messages back promptly expect them within half of it,
	// so a few seconds is a good value.
	AckDeadline time.Duration
	// DrainTimeout is the deadline of the context the suite gives Stop
	// while a message is unsettled. Zero means 2 seconds.
	DrainTimeout time.Duration
	// Timeout bounds every wait for something that should happen (a
	// delivery, a channel closing), on top of any deadline involved. Zero
	// means 10 seconds.
	Timeout time.Duration
	// MaxPayloadBytes is the largest UTF-8 text payload the backend
	// accepts in a message with no key and no attributes. The suite
	// publishes one of exactly that size, which must round-trip, and one a
	// byte larger, which must fail with pubsub.ErrTooLarge. Zero means no
	// limit: a 1 MiB payload must round-trip.
	MaxPayloadBytes int
	// MaxAttributes is the most attributes a message with a key and a
	// binary payload may carry. The suite publishes that many, which must
	// round-trip, and one more, which must fail with pubsub.ErrTooLarge.
	// Zero means no limit: 64 attributes must round-trip.
	MaxAttributes int
	// Gaps lists the features the backend cannot provide, each with the
	// reason, reported when its cases are skipped.
	Gaps map[Feature]string
	// MissingTopic names a topic that does not exist. Empty means a
	// made-up random name.
	MissingTopic string
	// MissingSubscription names a subscription that does not exist. Empty
	// means a made-up random name.
	MissingSubscription string
}

// suite is the state shared by the cases of one RunConformance call.
type suite struct {
	h    Harness
	caps Capabilities
	run  string   // unique per call, prefixed to payloads
	bg   sync.Map // testing.TB -> *background, where FeatureBacklog is a gap
}

type conformanceCase struct {
	name    string
	feature Feature // skipped when the harness declares this gap
	fn      func(t *testing.T, s *suite)
}

// RunConformance runs the pubsub conformance suite against the backend h
// plugs in. Each part of the contract is a subtest with a stable name
// (RoundTrip/Binary, Nack, StopHandsBackPrefetched, Consume/DeadLetter,
// ...), so that a failure names the broken promise. The subtests run in
// parallel, except Reconnect, which restarts the server and so runs alone
// before the others start; every wait is bounded, so a broken backend
// fails rather than hangs.
func RunConformance(t *testing.T, h Harness) {
	t.Helper()
	caps := h.Capabilities()
	caps.Gaps = maps.Clone(caps.Gaps)
	if caps.Timeout <= 0 {
		caps.Timeout = 10 * time.Second
	}
	if caps.DrainTimeout <= 0 {
		caps.DrainTimeout = 2 * time.Second
	}
	if _, gap := caps.Gaps[FeatureLeaseExpiry]; !gap && caps.AckDeadline <= 0 {
		t.Fatal("pubsubtest: Capabilities.AckDeadline must be set unless FeatureLeaseExpiry is a gap")
	}
	if _, gap := caps.Gaps[FeatureRestart]; !gap {
		if _, ok := h.(Restarter); !ok {
			t.Fatal("pubsubtest: the harness does not implement Restarter; declare FeatureRestart a gap, with the reason")
		}
	}
	if caps.MissingTopic == "" {
		caps.MissingTopic = "gizmo-missing-topic-" + randomHex()
	}
	if caps.MissingSubscription == "" {
		caps.MissingSubscription = "gizmo-missing-sub-" + randomHex()
	}
	s := &suite{h: h, caps: caps, run: randomHex()}
	for _, c := range conformanceCases {
		t.Run(c.name, func(t *testing.T) {
			// A case that restarts the server would disturb every case
			// running beside it, so it runs alone: a subtest that is not
			// parallel runs before the parallel ones start.
			if c.feature != FeatureRestart {
				t.Parallel()
			}
			if c.feature != "" {
				if reason, gap := s.caps.Gaps[c.feature]; gap {
					t.Skipf("backend lacks %s: %s", c.feature, reason)
				}
			}
			c.fn(t, s)
		})
	}
}

var conformanceCases = []conformanceCase{
	{name: "RoundTrip", fn: testRoundTrip},
	{name: "Rules", fn: testRules},
	{name: "Limits", fn: testLimits},
	{name: "Backlog", feature: FeatureBacklog, fn: testBacklog},
	{name: "CompetingConsumers", fn: testCompetingConsumers},
	{name: "FanOut", feature: FeatureFanOut, fn: testFanOut},
	{name: "Batch", feature: FeatureBatch, fn: testBatch},
	{name: "BatchKeyOrder", feature: FeatureBatch, fn: testBatchKeyOrder},
	{name: "Deduplication", feature: FeatureDeduplication, fn: testDeduplication},
	{name: "Nack", fn: testNack},
	{name: "StableIDs", feature: FeatureStableIDs, fn: testStableIDs},
	{name: "DeadlineRedelivery", feature: FeatureLeaseExpiry, fn: testDeadlineRedelivery},
	{name: "ExtendDeadline", feature: FeatureExtendLease, fn: testExtendDeadline},
	{name: "DoneNotRedelivered", fn: testDoneNotRedelivered},
	{name: "IndependentAcks", fn: testIndependentAcks},
	{name: "KeyOrder", feature: FeatureOrderedKeys, fn: testKeyOrder},
	{name: "StopClean", fn: testStopClean},
	{name: "StopWaitsForInFlight", fn: testStopWaitsForInFlight},
	{name: "StopInFlightRedelivered", fn: testStopInFlightRedelivered},
	{name: "StopHandsBackPrefetched", fn: testStopHandsBackPrefetched},
	{name: "ContextCanceled", fn: testContextCanceled},
	{name: "TopicNotFound", fn: testTopicNotFound},
	{name: "SubscriptionNotFound", fn: testSubscriptionNotFound},
	{name: "PublishAfterClose", fn: testPublishAfterClose},
	{name: "Reconnect", feature: FeatureRestart, fn: testReconnect},
	{name: "Consume/DeadLetter", fn: testConsumeDeadLetter},
	{name: "Consume/OrderedKeys", feature: FeatureOrderedKeys, fn: testConsumeOrderedKeys},
	{name: "Consume/Drain", fn: testConsumeDrain},
	{name: "Consume/Restart", fn: testConsumeRestart},
}

func randomHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *suite) gap(f Feature) bool {
	_, gap := s.caps.Gaps[f]
	return gap
}

// promptWait is how long a message handed back (Nack, Stop) may take to
// come again: half the ack deadline, so that a backend that merely lets the
// deadline lapse fails.
func (s *suite) promptWait() time.Duration {
	if s.gap(FeatureLeaseExpiry) {
		return s.caps.Timeout
	}
	return s.caps.AckDeadline / 2
}

// quietWait is how long the suite watches for a message that must not come.
func (s *suite) quietWait() time.Duration {
	if s.gap(FeatureLeaseExpiry) {
		return 2 * time.Second
	}
	return s.caps.AckDeadline * 3 / 2
}

// redeliveryWait bounds the wait for a message whose lease lapses.
func (s *suite) redeliveryWait() time.Duration {
	return 2*s.caps.AckDeadline + s.caps.Timeout
}

// payload returns a payload unique to this run, test and i.
func (s *suite) payload(t testing.TB, i int) []byte {
	return fmt.Appendf(nil, "%s|%s|%d", s.run, t.Name(), i)
}

func (s *suite) topic(t testing.TB) string {
	t.Helper()
	name, err := s.h.CreateTopic(t.Context(), t)
	if err != nil {
		t.Fatalf("harness: create topic: %v", err)
	}
	return name
}

func (s *suite) subscription(t testing.TB, topic string, opts SubscriptionOptions) string {
	t.Helper()
	name, err := s.h.CreateSubscription(t.Context(), t, topic, opts)
	if err != nil {
		t.Fatalf("harness: create subscription on %q: %v", topic, err)
	}
	return name
}

// topicAndSub creates a topic with one subscription.
func (s *suite) topicAndSub(t testing.TB) (topic, sub string) {
	t.Helper()
	topic = s.topic(t)
	return topic, s.subscription(t, topic, SubscriptionOptions{})
}

func (s *suite) publisher(t testing.TB, topic string) pubsub.Publisher {
	t.Helper()
	p, err := s.h.NewPublisher(t.Context(), topic)
	if err != nil {
		t.Fatalf("NewPublisher(%q): %v", topic, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// subscriber returns a subscriber that is stopped (within a bound) when the
// test ends.
func (s *suite) subscriber(t testing.TB, sub string) pubsub.Subscriber {
	t.Helper()
	r, err := s.h.NewSubscriber(t.Context(), sub)
	if err != nil {
		t.Fatalf("NewSubscriber(%q): %v", sub, err)
	}
	t.Cleanup(func() { _, _ = s.stop(t, r) })
	return r
}

// stop calls Stop with the drain deadline and waits for it at most
// DrainTimeout plus Timeout. ok is false, and the test marked failed, if
// Stop did not return by then.
func (s *suite) stop(t testing.TB, r pubsub.Subscriber) (err error, ok bool) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.caps.DrainTimeout)
		defer cancel()
		done <- r.Stop(ctx)
	}()
	limit := s.caps.DrainTimeout + s.caps.Timeout
	select {
	case err = <-done:
		return err, true
	case <-time.After(limit):
		t.Errorf("Stop did not return within %v (drain deadline %v)", limit, s.caps.DrainTimeout)
		return nil, false
	}
}

// publish publishes payload under key. Where the backend keeps a backlog
// it returns once the broker holds the message, failing the test if it
// does not; where FeatureBacklog is a gap it publishes in the background
// (see publishing) and reports a failure with t.Errorf.
func (s *suite) publish(t testing.TB, p pubsub.Publisher, key string, payload []byte, opts ...pubsub.PublishOption) {
	t.Helper()
	if !s.gap(FeatureBacklog) {
		if err := p.PublishRaw(t.Context(), key, payload, opts...); err != nil {
			t.Fatalf("PublishRaw(key %q, payload %.80q): %v", key, payload, err)
		}
		return
	}
	// The caller may change payload and the attributes once publish
	// returns (BufferReuse does), before the background publish reads
	// them: take copies now.
	payload = bytes.Clone(payload)
	o := pubsub.ApplyPublishOptions(opts...)
	copied := []pubsub.PublishOption{pubsub.WithAttributes(o.Attributes)}
	if o.DeduplicationID != "" {
		copied = append(copied, pubsub.WithDeduplicationID(o.DeduplicationID))
	}
	s.publishing(t, key, func(ctx context.Context) {
		if err := p.PublishRaw(ctx, key, payload, copied...); err != nil && ctx.Err() == nil {
			t.Errorf("PublishRaw(key %q, payload %.80q) in the background: %v", key, payload, err)
		}
	})
}

// background holds one test's background publishes.
type background struct {
	mu   sync.Mutex
	last map[string]chan struct{} // order -> closed when its latest call returns
	wg   sync.WaitGroup
}

// publishing runs fn, which publishes with the context it is given, and
// returns a function that waits until fn has returned.
//
// Where the backend keeps a backlog, fn runs at once with t.Context() and
// wait returns at once. Where FeatureBacklog is a gap, Publish returns
// only once a subscriber has settled the message, so that a case which
// publishes and then subscribes would wait for itself: fn runs in the
// background instead, while the case goes on to subscribe. Calls with the
// same non-empty order run one after another, each once the one before
// it has returned, as a caller publishing in a loop sees them; the rest
// run concurrently. fn gets t.Context(), which ends just before the
// test's cleanups run, and the test waits for fn before it finishes, so
// fn may report failures with t.Errorf (not t.Fatalf) while ctx is live.
func (s *suite) publishing(t testing.TB, order string, fn func(ctx context.Context)) (wait func()) {
	if !s.gap(FeatureBacklog) {
		fn(t.Context())
		return func() {}
	}
	v, loaded := s.bg.LoadOrStore(t, &background{last: make(map[string]chan struct{})})
	b := v.(*background)
	if !loaded {
		t.Cleanup(func() {
			b.wg.Wait()
			s.bg.Delete(t)
		})
	}
	done := make(chan struct{})
	b.mu.Lock()
	var prev chan struct{}
	if order != "" {
		prev = b.last[order]
		b.last[order] = done
	}
	b.mu.Unlock()
	ctx := t.Context()
	b.wg.Go(func() {
		defer close(done)
		if prev != nil {
			<-prev
		}
		fn(ctx)
	})
	return func() { <-done }
}

// confWaitClosed fails the test unless ch is closed within d. Messages that
// arrive meanwhile are counted and Nacked.
func confWaitClosed(t testing.TB, ch <-chan pubsub.SubscriberMessage, d time.Duration) (extra int) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				return extra
			}
			extra++
			_ = m.Nack()
		case <-timer.C:
			t.Fatalf("the subscriber's channel was not closed within %v", d)
			return extra
		}
	}
}

func confAttempt(m pubsub.SubscriberMessage) int {
	if a, ok := m.(pubsub.DeliveryAttempter); ok {
		return a.DeliveryAttempt()
	}
	return 0
}
