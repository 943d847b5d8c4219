package mem

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/internal/wire"
)

// topic is a named fan-out point. subs is replaced, never mutated, so that
// publishing reads it without a lock.
type topic struct {
	name    string
	b       *Broker
	subs    atomic.Pointer[[]*subscription]
	deleted atomic.Bool

	dedupMu sync.Mutex
	dedup   map[string]int64 // deduplication ID -> broker time it expires
	dedupQ  []dedupEntry     // the same, oldest first, for pruning
}

type dedupEntry struct {
	id      string
	expires int64
}

// seen records a deduplication ID and reports whether it was already
// recorded within the window.
func (t *topic) seen(id string) bool {
	now := t.b.now()
	t.dedupMu.Lock()
	defer t.dedupMu.Unlock()
	n := 0
	for n < len(t.dedupQ) && t.dedupQ[n].expires <= now {
		if t.dedup[t.dedupQ[n].id] == t.dedupQ[n].expires {
			delete(t.dedup, t.dedupQ[n].id)
		}
		n++
	}
	t.dedupQ = t.dedupQ[n:]
	if exp, ok := t.dedup[id]; ok && exp > now {
		return true
	}
	if t.dedup == nil {
		t.dedup = make(map[string]int64)
	}
	exp := now + int64(t.b.dedupWindow)
	t.dedup[id] = exp
	t.dedupQ = append(t.dedupQ, dedupEntry{id, exp})
	return false
}

// message is one published message, shared read-only by every subscription
// of its topic.
type message struct {
	id      uint64
	key     string
	payload []byte
	attrs   map[string]string
	// first is the message's entry in the first subscription of its topic,
	// allocated with it to save an allocation per message.
	first entry
}

// Publisher publishes to a topic of a [Broker]. It implements
// [pubsub.MultiPublisher]. Publishing is synchronous: when a call returns
// nil, every subscription of the topic holds the message. It is safe for
// concurrent use.
type Publisher struct {
	t      *topic
	closed atomic.Bool
}

var _ pubsub.MultiPublisher = (*Publisher)(nil)

func (p *Publisher) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem: publish to %q: %w", p.t.name, err)
	}
	if p.closed.Load() {
		return fmt.Errorf("mem: publish to %q: %w", p.t.name, pubsub.ErrClosed)
	}
	if p.t.b.closed.Load() {
		return fmt.Errorf("mem: publish to %q: %w", p.t.name, p.t.b.closedErr())
	}
	if p.t.deleted.Load() {
		return fmt.Errorf("mem: publish to %q: %w", p.t.name, pubsub.ErrTopicNotFound)
	}
	return nil
}

// validate applies the contract's rules and the broker's limits.
func (p *Publisher) validate(key string, payload []byte, attrs map[string]string) error {
	if err := wire.Validate(key, attrs); err != nil {
		return fmt.Errorf("mem: publish to %q: %w", p.t.name, err)
	}
	b := p.t.b
	if b.maxAttrs > 0 && len(attrs) > b.maxAttrs {
		return fmt.Errorf("mem: publish to %q: %d attributes, the broker allows %d: %w", p.t.name, len(attrs), b.maxAttrs, pubsub.ErrTooLarge)
	}
	if b.maxBytes > 0 {
		n := len(payload) + len(key)
		for k, v := range attrs {
			n += len(k) + len(v)
		}
		if n > b.maxBytes {
			return fmt.Errorf("mem: publish to %q: message of %d bytes, the broker allows %d: %w", p.t.name, n, b.maxBytes, pubsub.ErrTooLarge)
		}
	}
	return nil
}

// admit decides whether one validated message goes out: it takes a place
// in every bounded backlog, then checks the deduplication ID. deliver is
// false for a duplicate, which is accepted without being delivered.
func (p *Publisher) admit(subs []*subscription, dedupID string) (deliver bool, err error) {
	for i, s := range subs {
		if !s.reserve() {
			for _, r := range subs[:i] {
				r.unreserve(1)
			}
			return false, fmt.Errorf("mem: publish to %q: subscription %q holds %d messages: %w", p.t.name, s.name, s.cfg.MaxBacklog, ErrBacklogFull)
		}
	}
	if dedupID != "" && p.t.seen(dedupID) {
		for _, s := range subs {
			s.unreserve(1)
		}
		return false, nil
	}
	return true, nil
}

func (p *Publisher) newMessage(key string, payload []byte, attrs map[string]string) *message {
	m := &message{id: p.t.b.seq.Add(1), key: key}
	if len(payload) > 0 {
		m.payload = append(make([]byte, 0, len(payload)), payload...)
	}
	if len(attrs) > 0 {
		m.attrs = maps.Clone(attrs)
	}
	return m
}

// Publish marshals msg and publishes it under key.
func (p *Publisher) Publish(ctx context.Context, key string, msg proto.Message, opts ...pubsub.PublishOption) error {
	return pubsub.PublishProto(ctx, p.PublishRaw, key, msg, opts...)
}

// PublishRaw copies payload and the attributes and hands the message to
// every subscription of the topic.
func (p *Publisher) PublishRaw(ctx context.Context, key string, payload []byte, opts ...pubsub.PublishOption) error {
	if err := p.check(ctx); err != nil {
		return err
	}
	var o pubsub.PublishOptions
	if len(opts) > 0 {
		o = pubsub.ApplyPublishOptions(opts...)
	}
	if err := p.validate(key, payload, o.Attributes); err != nil {
		return err
	}
	subs := *p.t.subs.Load()
	if deliver, err := p.admit(subs, o.DeduplicationID); !deliver {
		return err
	}
	m := p.newMessage(key, payload, o.Attributes)
	for i, s := range subs {
		e := &m.first
		if i > 0 {
			e = &entry{}
		}
		e.msg = m
		s.enqueue(e)
	}
	return nil
}

// PublishBatch publishes msgs in order, taking each subscription's lock once
// for the whole batch. A message that breaks the rules or the limits fails
// alone, and so do the later messages of its key. Cancellation, a closed
// publisher or a deleted topic fail the whole batch.
func (p *Publisher) PublishBatch(ctx context.Context, msgs []pubsub.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	errs := make([]error, len(msgs))
	if err := p.check(ctx); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return &pubsub.BatchError{Errs: errs}
	}
	subs := *p.t.subs.Load()
	var gate wire.KeyGate
	ms := make([]*message, 0, len(msgs))
	failed := false
	for i, in := range msgs {
		err := gate.Check(in.Key)
		if err == nil {
			err = p.validate(in.Key, in.Payload, in.Attributes)
		}
		if err == nil {
			var deliver bool
			if deliver, err = p.admit(subs, in.DeduplicationID); deliver {
				ms = append(ms, p.newMessage(in.Key, in.Payload, in.Attributes))
			}
		}
		if err != nil {
			errs[i], failed = err, true
			gate.Fail(in.Key)
		}
	}
	if len(ms) > 0 {
		for _, s := range subs {
			s.enqueueBatch(ms)
		}
	}
	if failed {
		return &pubsub.BatchError{Errs: errs}
	}
	return nil
}

// Close marks the publisher closed. Nothing is buffered, so there is nothing
// to flush. Close is idempotent.
func (p *Publisher) Close() error {
	p.closed.Store(true)
	return nil
}
