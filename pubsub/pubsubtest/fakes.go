package pubsubtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/internal/wire"
)

// TestPublisher is a [pubsub.MultiPublisher] that records, in order, every
// message it accepts, for asserting on what code under test published.
// Failures can be scripted with [TestPublisher.FailNext] and
// [TestPublisher.SetPublishErr]. It is safe for concurrent use; the zero
// value is ready to use.
type TestPublisher struct {
	mu      sync.Mutex
	msgs    []pubsub.Message
	failErr error
	failN   int
	hook    func(pubsub.Message) error
	closed  bool
	changed chan struct{} // closed at the next recorded message
}

var _ pubsub.MultiPublisher = (*TestPublisher)(nil)

// NewTestPublisher returns an empty TestPublisher.
func NewTestPublisher() *TestPublisher { return &TestPublisher{} }

// Publish marshals msg and records it like [TestPublisher.PublishRaw].
func (p *TestPublisher) Publish(ctx context.Context, key string, msg proto.Message, opts ...pubsub.PublishOption) error {
	return pubsub.PublishProto(ctx, p.PublishRaw, key, msg, opts...)
}

// PublishRaw records a copy of the message, unless ctx is done, the
// publisher is closed (an error wrapping [pubsub.ErrClosed]), the message
// breaks the contract's rules as a real backend would refuse it (an error
// wrapping [pubsub.ErrInvalidMessage]), or a scripted failure applies; a
// failed message is not recorded.
func (p *TestPublisher) PublishRaw(ctx context.Context, key string, payload []byte, opts ...pubsub.PublishOption) error {
	o := pubsub.ApplyPublishOptions(opts...)
	return p.publish(ctx, pubsub.Message{Key: key, Payload: payload, Attributes: o.Attributes, DeduplicationID: o.DeduplicationID})
}

// PublishBatch publishes each message as PublishRaw would, keeping the
// contract's key rule: after a message of key K fails, the later messages
// of K fail with an error wrapping [pubsub.ErrKeyBlocked]. If any fails it
// returns a *[pubsub.BatchError] with one entry per message.
func (p *TestPublisher) PublishBatch(ctx context.Context, msgs []pubsub.Message) error {
	errs := make([]error, len(msgs))
	failed := false
	var gate wire.KeyGate
	for i, m := range msgs {
		if errs[i] = gate.Check(m.Key); errs[i] == nil {
			errs[i] = p.publish(ctx, m)
		}
		if errs[i] != nil {
			failed = true
			gate.Fail(m.Key)
		}
	}
	if failed {
		return &pubsub.BatchError{Errs: errs}
	}
	return nil
}

func (p *TestPublisher) publish(ctx context.Context, m pubsub.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pubsubtest: publish: %w", err)
	}
	if err := wire.Validate(m.Key, m.Attributes); err != nil {
		return fmt.Errorf("pubsubtest: publish: %w", err)
	}
	m = cloneMessage(m)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return fmt.Errorf("pubsubtest: publish: %w", pubsub.ErrClosed)
	}
	if p.failN > 0 {
		p.failN--
		err := p.failErr
		p.mu.Unlock()
		return err
	}
	hook := p.hook
	p.mu.Unlock()
	if hook != nil {
		if err := hook(cloneMessage(m)); err != nil {
			return err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, m)
	if p.changed != nil {
		close(p.changed)
		p.changed = nil
	}
	return nil
}

// Close marks the publisher closed: later publishes fail with an error
// wrapping [pubsub.ErrClosed]. Closing twice is fine.
func (p *TestPublisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return nil
}

// FailNext makes the next n publishes (each message of a batch counts)
// fail with err, without recording them. A nil err is replaced by a generic
// scripted error.
func (p *TestPublisher) FailNext(err error, n int) {
	if err == nil {
		err = errors.New("pubsubtest: scripted publish failure")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failErr, p.failN = err, max(n, 0)
}

// SetPublishErr installs fn, which is called with a copy of every message
// not already failed by FailNext; a non-nil result fails that publish. fn
// runs without the publisher's lock held and may be called concurrently.
// A nil fn removes the hook.
func (p *TestPublisher) SetPublishErr(fn func(pubsub.Message) error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hook = fn
}

// Messages returns a copy of the accepted messages, in the order they were
// accepted.
func (p *TestPublisher) Messages() []pubsub.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]pubsub.Message, len(p.msgs))
	for i, m := range p.msgs {
		out[i] = cloneMessage(m)
	}
	return out
}

// Len returns the number of accepted messages.
func (p *TestPublisher) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.msgs)
}

// DecodeProto unmarshals the payload of the i-th accepted message into
// into.
func (p *TestPublisher) DecodeProto(i int, into proto.Message) error {
	p.mu.Lock()
	if i < 0 || i >= len(p.msgs) {
		n := len(p.msgs)
		p.mu.Unlock()
		return fmt.Errorf("pubsubtest: DecodeProto: index %d out of range (%d messages)", i, n)
	}
	payload := p.msgs[i].Payload
	p.mu.Unlock()
	if err := proto.Unmarshal(payload, into); err != nil {
		return fmt.Errorf("pubsubtest: DecodeProto: message %d: %w", i, err)
	}
	return nil
}

// WaitLen waits until at least n messages have been accepted, or ctx is
// done, for publishes that happen on another goroutine.
func (p *TestPublisher) WaitLen(ctx context.Context, n int) error {
	for {
		p.mu.Lock()
		if len(p.msgs) >= n {
			p.mu.Unlock()
			return nil
		}
		if p.changed == nil {
			p.changed = make(chan struct{})
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("pubsubtest: waiting for %d published messages (have %d): %w", n, p.Len(), ctx.Err())
		}
	}
}

// Reset forgets the accepted messages and any scripted failures. It does
// not reopen a closed publisher.
func (p *TestPublisher) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs, p.failErr, p.failN, p.hook = nil, nil, 0, nil
}

// DecodeAll unmarshals the payload of every message p accepted, in order,
// into a new message made by newMsg.
func DecodeAll[M proto.Message](p *TestPublisher, newMsg func() M) ([]M, error) {
	msgs := p.Messages()
	out := make([]M, len(msgs))
	for i, m := range msgs {
		out[i] = newMsg()
		if err := proto.Unmarshal(m.Payload, out[i]); err != nil {
			return nil, fmt.Errorf("pubsubtest: DecodeAll: message %d: %w", i, err)
		}
	}
	return out, nil
}

func cloneMessage(m pubsub.Message) pubsub.Message {
	m.Payload = slices.Clone(m.Payload)
	m.Attributes = maps.Clone(m.Attributes)
	return m
}

// TestMessage is a [pubsub.SubscriberMessage] (and
// [pubsub.DeliveryAttempter]) that records how it was settled. Like a real
// delivery, the first Done or Nack settles it and later calls change
// nothing, but every call is counted. It is safe for concurrent use.
type TestMessage struct {
	id, key   string
	payload   []byte
	attrs     map[string]string
	attempt   int
	settledCh chan struct{}

	mu         sync.Mutex
	acked      bool
	nacked     bool
	dones      int
	nacks      int
	extensions []time.Duration
	extendErr  error
}

var (
	_ pubsub.SubscriberMessage  = (*TestMessage)(nil)
	_ pubsub.DeliveryAttempter  = (*TestMessage)(nil)
	_ pubsub.SettlementReporter = (*TestMessage)(nil)
)

// NewTestMessage returns an unsettled first delivery of a message with a
// random ID. attrs is copied.
func NewTestMessage(key string, payload []byte, attrs map[string]string) *TestMessage {
	return &TestMessage{
		id:        fmt.Sprintf("test-%016x", rand.Uint64()),
		key:       key,
		payload:   payload,
		attrs:     maps.Clone(attrs),
		attempt:   1,
		settledCh: make(chan struct{}),
	}
}

// WithID sets the message ID and returns m. Call it before the message is
// delivered.
func (m *TestMessage) WithID(id string) *TestMessage { m.id = id; return m }

// WithDeliveryAttempt sets what DeliveryAttempt reports (1 for a first
// delivery) and returns m, to simulate a redelivery. Call it before the
// message is delivered.
func (m *TestMessage) WithDeliveryAttempt(n int) *TestMessage { m.attempt = n; return m }

// Message returns the payload.
func (m *TestMessage) Message() []byte { return m.payload }

// Key returns the key.
func (m *TestMessage) Key() string { return m.key }

// Attributes returns the attributes.
func (m *TestMessage) Attributes() map[string]string { return m.attrs }

// ID returns the message ID.
func (m *TestMessage) ID() string { return m.id }

// DeliveryAttempt returns the delivery attempt, 1 unless set with
// WithDeliveryAttempt.
func (m *TestMessage) DeliveryAttempt() int { return m.attempt }

// Done acknowledges the message unless it is already settled.
func (m *TestMessage) Done() error { m.settle(true); return nil }

// Nack hands the message back unless it is already settled.
func (m *TestMessage) Nack() error { m.settle(false); return nil }

func (m *TestMessage) settle(ack bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ack {
		m.dones++
	} else {
		m.nacks++
	}
	if m.acked || m.nacked {
		return
	}
	m.acked, m.nacked = ack, !ack
	close(m.settledCh)
}

// Settlement reports which of Done and Nack was called first.
func (m *TestMessage) Settlement() pubsub.Settlement {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.acked:
		return pubsub.Acked
	case m.nacked:
		return pubsub.Nacked
	}
	return pubsub.Unsettled
}

// ExtendDoneDeadline records d and returns the error set with
// SetExtendErr.
func (m *TestMessage) ExtendDoneDeadline(d time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.extensions = append(m.extensions, d)
	return m.extendErr
}

// SetExtendErr makes ExtendDoneDeadline return err, for example one
// wrapping [pubsub.ErrNotSupported] to act like a Kafka message.
func (m *TestMessage) SetExtendErr(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.extendErr = err
}

// Acked reports whether Done settled the message.
func (m *TestMessage) Acked() bool { m.mu.Lock(); defer m.mu.Unlock(); return m.acked }

// Nacked reports whether Nack settled the message.
func (m *TestMessage) Nacked() bool { m.mu.Lock(); defer m.mu.Unlock(); return m.nacked }

// DoneCount returns how many times Done was called.
func (m *TestMessage) DoneCount() int { m.mu.Lock(); defer m.mu.Unlock(); return m.dones }

// NackCount returns how many times Nack was called.
func (m *TestMessage) NackCount() int { m.mu.Lock(); defer m.mu.Unlock(); return m.nacks }

// Extensions returns the durations ExtendDoneDeadline was called with, in
// order.
func (m *TestMessage) Extensions() []time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.extensions)
}

// Settled returns a channel that is closed once the message is settled.
func (m *TestMessage) Settled() <-chan struct{} { return m.settledCh }

// WaitSettled waits until the message is settled or ctx is done.
func (m *TestMessage) WaitSettled(ctx context.Context) error {
	select {
	case <-m.settledCh:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pubsubtest: message %s not settled: %w", m.id, ctx.Err())
	}
}
