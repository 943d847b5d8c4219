package pubsubtest

import (
	"context"
	"fmt"
	"maps"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// topic is a named fan-out point. subs is replaced, never mutated, so that
// publishing reads it without a lock.
type topic struct {
	name    string
	b       *Broker
	subs    atomic.Pointer[[]*subscription]
	deleted atomic.Bool
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

// publisher implements pubsub.MultiPublisher on a broker topic. Publishing
// is synchronous: when a call returns nil, every subscription of the topic
// holds the message.
type publisher struct {
	t      *topic
	closed atomic.Bool
}

var _ pubsub.MultiPublisher = (*publisher)(nil)

func (p *publisher) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pubsubtest: publish to %q: %w", p.t.name, err)
	}
	if p.closed.Load() {
		return fmt.Errorf("pubsubtest: publish to %q: %w", p.t.name, pubsub.ErrClosed)
	}
	if p.t.b.closed.Load() {
		return fmt.Errorf("pubsubtest: publish to %q: %w", p.t.name, p.t.b.closedErr())
	}
	if p.t.deleted.Load() {
		return fmt.Errorf("pubsubtest: publish to %q: %w", p.t.name, pubsub.ErrTopicNotFound)
	}
	return nil
}

func (p *publisher) newMessage(key string, payload []byte, attrs map[string]string) *message {
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
func (p *publisher) Publish(ctx context.Context, key string, msg proto.Message, opts ...pubsub.PublishOption) error {
	return pubsub.PublishProto(ctx, p.PublishRaw, key, msg, opts...)
}

// PublishRaw copies payload and the attributes and hands the message to
// every subscription of the topic.
func (p *publisher) PublishRaw(ctx context.Context, key string, payload []byte, opts ...pubsub.PublishOption) error {
	if err := p.check(ctx); err != nil {
		return err
	}
	var attrs map[string]string
	if len(opts) > 0 {
		attrs = pubsub.ApplyPublishOptions(opts...).Attributes
	}
	m := p.newMessage(key, payload, attrs)
	for i, s := range *p.t.subs.Load() {
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
// for the whole batch. Failures (cancellation, a closed publisher, a deleted
// topic) apply to the whole batch, so every entry of the *pubsub.BatchError
// is set.
func (p *publisher) PublishBatch(ctx context.Context, msgs []pubsub.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := p.check(ctx); err != nil {
		errs := make([]error, len(msgs))
		for i := range errs {
			errs[i] = err
		}
		return &pubsub.BatchError{Errs: errs}
	}
	ms := make([]*message, len(msgs))
	for i, in := range msgs {
		ms[i] = p.newMessage(in.Key, in.Payload, in.Attributes)
	}
	for _, s := range *p.t.subs.Load() {
		s.enqueueBatch(ms)
	}
	return nil
}

// Close marks the publisher closed. Nothing is buffered, so there is nothing
// to flush. Close is idempotent.
func (p *publisher) Close() error {
	p.closed.Store(true)
	return nil
}
