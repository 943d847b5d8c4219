package gcp

import (
	"context"
	"fmt"

	"cloud.google.com/go/pubsub/v2"

	gizmo "github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/internal/wire"
)

// PublishBatch publishes msgs and reports an error per message in a
// *[gizmo.BatchError]. It hands every message to the client before it
// waits for any answer, so that the client sends them in as few requests
// as its batch settings allow, and then asks the client to send what it
// holds without waiting for Publish.DelayThreshold.
//
// The contract's key rule holds: once a message of key K fails, no later
// message of K in this call is sent, and each fails with an error wrapping
// [gizmo.ErrKeyBlocked]. With Publish.Ordering the client keeps it: it
// sends a key's messages in order, one request at a time, and fails the
// rest of a key after a failure. Without ordering the client sends
// requests concurrently, so a batch that holds several messages of one key
// goes out in rounds: the first message of every key, then the second,
// and so on, each round after the previous one's answers.
func (p *Publisher) PublishBatch(ctx context.Context, msgs []gizmo.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	errs := make([]error, len(msgs))
	b := batch{p: p, msgs: msgs, errs: errs, results: make([]*pubsub.PublishResult, len(msgs))}
	if p.ordering {
		b.resumed = make(map[string]struct{})
	}
	for _, wave := range p.waves(msgs) {
		if err := ctx.Err(); err != nil {
			for _, i := range wave {
				errs[i] = fmt.Errorf("gcp: publish to %q: %w", p.name, err)
			}
			continue
		}
		b.send(ctx, wave)
		b.collect(ctx, wave)
	}
	for _, err := range errs {
		if err != nil {
			return &gizmo.BatchError{Errs: errs}
		}
	}
	return nil
}

// waves splits the indexes of msgs into the rounds they are sent in: one
// round with ordering (the client keeps each key's order) or when no key
// repeats; otherwise round n holds the n-th message of every key, and
// messages without a key go in the first.
func (p *Publisher) waves(msgs []gizmo.Message) [][]int {
	all := make([]int, len(msgs))
	for i := range all {
		all[i] = i
	}
	if p.ordering || len(msgs) == 1 {
		return [][]int{all}
	}
	var seen map[string]int
	rounds := 1
	var round []int
	for i, m := range msgs {
		if m.Key == "" {
			continue
		}
		if seen == nil {
			seen = make(map[string]int)
			round = make([]int, len(msgs))
		}
		round[i] = seen[m.Key]
		seen[m.Key]++
		rounds = max(rounds, round[i]+1)
	}
	if rounds == 1 {
		return [][]int{all}
	}
	out := make([][]int, rounds)
	for i := range msgs {
		out[round[i]] = append(out[round[i]], i)
	}
	return out
}

type batch struct {
	p       *Publisher
	msgs    []gizmo.Message
	errs    []error
	results []*pubsub.PublishResult
	gate    wire.KeyGate
	resumed map[string]struct{} // ordering keys this call resumed
}

// send hands the messages of one round to the client.
func (b *batch) send(ctx context.Context, idx []int) {
	p := b.p
	sent := false
	for _, i := range idx {
		in := b.msgs[i]
		if err := b.gate.Check(in.Key); err != nil {
			b.errs[i] = fmt.Errorf("gcp: publish to %q: %w", p.name, err)
			continue
		}
		var m *pubsub.Message
		var err error
		if in.DeduplicationID != "" {
			err = p.errNoDedup()
		} else {
			m, err = encode(p.name, p.ordering, p.maxBytes, in.Key, in.Payload, in.Attributes)
		}
		if err == nil {
			b.results[i], err = p.send(ctx, m, b.resumed)
		}
		if err != nil {
			b.errs[i] = err
			b.gate.Fail(in.Key)
			continue
		}
		sent = true
	}
	if !sent {
		return
	}
	// Send the last, partial request now: every message of the round is
	// in. (The client's Flush must not run before its first Publish, which
	// sets up what it reads without a lock: here that Publish happened in
	// this goroutine.)
	go func() {
		p.mu.RLock()
		defer p.mu.RUnlock()
		if !p.closed {
			p.topic.Flush()
		}
	}()
}

// collect waits for the answers of one round.
func (b *batch) collect(ctx context.Context, idx []int) {
	for _, i := range idx {
		res := b.results[i]
		if res == nil {
			continue
		}
		if _, err := res.Get(ctx); err != nil {
			b.errs[i] = publishErr(b.p.name, err)
			b.gate.Fail(b.msgs[i].Key)
			if b.p.ordering {
				b.p.failed(b.msgs[i].Key)
			}
		}
	}
}
