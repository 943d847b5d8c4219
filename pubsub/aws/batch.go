package aws

import (
	"context"
	"fmt"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/internal/wire"
)

// Batch limits: AWS's caps on one SendMessageBatch or PublishBatch call.
const (
	maxSQSBatchBytes = 1 << 20
	maxSNSBatchBytes = 256 << 10
	// batchAttempts is how often an entry that failed for a reason worth
	// retrying (a server fault, throttling) is tried in all.
	batchAttempts = 3
)

// batchBackoff is the wait before the n-th retry of failed entries.
func batchBackoff(n int) time.Duration { return time.Duration(50<<n) * time.Millisecond }

// entryResult is the outcome of one entry of a batch call.
type entryResult struct {
	err  error
	kind errKind
}

// sendBatchFunc sends one batch call of at most ten messages. It returns a
// result per message, or an error for the whole call.
type sendBatchFunc func(ctx context.Context, ms []outMsg) ([]entryResult, error)

// batchPublisher runs PublishBatch for a queue or topic.
type batchPublisher struct {
	enc      encoder
	maxBytes int // of one call
	send     sendBatchFunc
	what     string // "queue \"orders\"", for errors
}

// publish encodes msgs, splits them into calls of at most ten messages and
// maxBytes, sends the calls in order, retries the entries that failed for
// a retryable reason, and returns a *pubsub.BatchError if any failed. A
// message of key K is never sent once an earlier message of K failed. On
// a FIFO queue or topic a call holds at most one message of a key, so
// that a failure can never be followed by a later message of its key in
// the same call.
func (b *batchPublisher) publish(ctx context.Context, msgs []pubsub.Message) error {
	errs := make([]error, len(msgs))
	failed := false
	fail := func(i int, err error) {
		errs[i], failed = fmt.Errorf("aws: publish to %s: message %d: %w", b.what, i, err), true
	}
	out := make([]outMsg, len(msgs))
	ready := make([]bool, len(msgs))
	var pre wire.KeyGate // messages after an invalid one of their key
	for i, m := range msgs {
		if err := pre.Check(m.Key); err != nil {
			fail(i, err)
			continue
		}
		om, err := b.enc.encode(m.Key, m.Payload, m.Attributes, m.DeduplicationID)
		if err != nil {
			fail(i, err)
			pre.Fail(m.Key)
			continue
		}
		out[i], ready[i] = om, true
	}
	var gate wire.KeyGate // keys whose send failed
	var terminal error
	for {
		chunk := b.nextChunk(out, ready, &gate, func(i int, err error) { fail(i, err) })
		if len(chunk) == 0 {
			break
		}
		if terminal == nil {
			terminal = ctx.Err()
		}
		if terminal != nil {
			for _, i := range chunk {
				fail(i, terminal)
				gate.Fail(msgs[i].Key)
			}
			continue
		}
		for i, r := range b.sendChunk(ctx, out, chunk) {
			if r.err == nil {
				continue
			}
			fail(chunk[i], r.err)
			gate.Fail(msgs[chunk[i]].Key)
			if r.kind == errNotFound || r.kind == errDenied || r.kind == errCanceled {
				terminal = r.err
			}
		}
	}
	if failed {
		return &pubsub.BatchError{Errs: errs}
	}
	return nil
}

// nextChunk takes the next call's messages from those still ready, in
// order: up to ten, within maxBytes, and on FIFO one per key. A message
// whose key failed is taken out with ErrKeyBlocked. A message left for a
// later call holds back the later messages of its key, so each key's
// messages go out in order.
func (b *batchPublisher) nextChunk(out []outMsg, ready []bool, gate *wire.KeyGate, fail func(int, error)) []int {
	var chunk []int
	size := 0
	var inChunk, held map[string]bool
	for i := range out {
		if !ready[i] {
			continue
		}
		key := out[i].key
		if err := gate.Check(key); err != nil {
			ready[i] = false
			fail(i, err)
			continue
		}
		if len(chunk) == maxBatchEntries {
			break
		}
		if key != "" && (held[key] || (b.enc.fifo && inChunk[key])) || size+out[i].size > b.maxBytes {
			if key != "" {
				if held == nil {
					held = make(map[string]bool)
				}
				held[key] = true
			}
			continue
		}
		if key != "" && b.enc.fifo {
			if inChunk == nil {
				inChunk = make(map[string]bool)
			}
			inChunk[key] = true
		}
		chunk = append(chunk, i)
		size += out[i].size
		ready[i] = false
	}
	return chunk
}

// sendChunk sends one call and retries the entries that failed for a
// retryable reason, up to batchAttempts in all. It returns a result per
// message of chunk.
func (b *batchPublisher) sendChunk(ctx context.Context, out []outMsg, chunk []int) []entryResult {
	res := make([]entryResult, len(chunk))
	pending := make([]int, len(chunk)) // positions in chunk
	for i := range pending {
		pending[i] = i
	}
	for attempt := 1; ; attempt++ {
		ms := make([]outMsg, len(pending))
		for j, p := range pending {
			ms[j] = out[chunk[p]]
		}
		got, err := b.send(ctx, ms)
		if err != nil {
			kind := classify(err)
			err = wrapKind(err, kind, pubsub.ErrTopicNotFound)
			for _, p := range pending {
				res[p] = entryResult{err: err, kind: kind}
			}
			return res
		}
		var retry []int
		for j, p := range pending {
			r := got[j]
			if r.err != nil && r.kind == errRetry && attempt < batchAttempts {
				retry = append(retry, p)
				continue
			}
			if r.err != nil {
				r.err = wrapKind(r.err, r.kind, pubsub.ErrTopicNotFound)
			}
			res[p] = r
		}
		if len(retry) == 0 {
			return res
		}
		t := time.NewTimer(batchBackoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			for _, p := range retry {
				res[p] = entryResult{err: fmt.Errorf("retrying a failed entry: %w", ctx.Err()), kind: errCanceled}
			}
			return res
		case <-t.C:
		}
		pending = retry
	}
}

// entryResults turns a batch call's successful and failed entry IDs (the
// positions of the messages, as decimal strings) into a result per
// message. An entry AWS does not mention fails.
func entryResults(n int, ok []string, failed []*entryError, failedIDs []string) []entryResult {
	res := make([]entryResult, n)
	seen := make([]bool, n)
	for _, id := range ok {
		if i, valid := entryIndex(id, n); valid {
			seen[i] = true
		}
	}
	for k, id := range failedIDs {
		if i, valid := entryIndex(id, n); valid {
			e := failed[k]
			res[i] = entryResult{err: e, kind: classifyEntry(e.Code, e.SenderFault, e.Message)}
			seen[i] = true
		}
	}
	for i := range res {
		if !seen[i] {
			res[i] = entryResult{err: fmt.Errorf("entry %d missing from AWS's response", i), kind: errRetry}
		}
	}
	return res
}

// entryIndex parses a batch entry ID, which is the entry's position.
func entryIndex(id string, n int) (int, bool) {
	i := 0
	if id == "" || len(id) > 4 {
		return 0, false
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return 0, false
		}
		i = i*10 + int(c-'0')
	}
	return i, i < n
}

// entryIDs are the IDs of batch entries: their positions.
var entryIDs = [maxBatchEntries]string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
