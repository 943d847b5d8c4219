package aws

import (
	"context"
	"fmt"
	"sync/atomic"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"google.golang.org/protobuf/proto"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// SQSPublisher sends messages to an SQS queue. It implements
// [pubsub.MultiPublisher] and is safe for concurrent use. Publishing is
// synchronous: when a call returns nil, SQS has stored the message.
type SQSPublisher struct {
	client *sqs.Client
	q      queueInfo
	enc    encoder
	batch  batchPublisher
	gate   gate
}

var _ pubsub.MultiPublisher = (*SQSPublisher)(nil)

// NewSQSPublisher returns a publisher for cfg.Queue, a queue name or URL.
// It checks that the queue exists, and returns an error wrapping
// [pubsub.ErrTopicNotFound] if it does not. A queue whose name ends in
// ".fifo" is a FIFO queue: the key becomes the MessageGroupId (see the
// package doc).
func NewSQSPublisher(ctx context.Context, cfg Config, opts ...Option) (*SQSPublisher, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := newOptions(opts)
	c, err := o.sqsClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	q, err := resolveQueue(ctx, c, cfg.Queue, pubsub.ErrTopicNotFound)
	if err != nil {
		return nil, err
	}
	p := &SQSPublisher{
		client: c,
		q:      q,
		enc:    newEncoder(q.fifo, cfg.GizmoCompat, false, limit(cfg.MaxMessageBytes, MaxSQSMessageBytes)),
		gate:   gate{what: fmt.Sprintf("queue %q", q.name)},
	}
	p.batch = batchPublisher{enc: p.enc, maxBytes: maxSQSBatchBytes, send: p.sendBatch, what: p.gate.what}
	return p, nil
}

// gate is what both publishers check before any call: the destination,
// named for errors, and whether Close was called.
type gate struct {
	what   string // `queue "orders"`
	closed atomic.Bool
}

func (g *gate) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("aws: publish to %s: %w", g.what, err)
	}
	if g.closed.Load() {
		return fmt.Errorf("aws: publish to %s: %w", g.what, pubsub.ErrClosed)
	}
	return nil
}

// encode checks the gate, then encodes one message for PublishRaw.
func (g *gate) encode(ctx context.Context, enc encoder, key string, payload []byte, opts []pubsub.PublishOption) (outMsg, error) {
	if err := g.check(ctx); err != nil {
		return outMsg{}, err
	}
	o := pubsub.ApplyPublishOptions(opts...)
	m, err := enc.encode(key, payload, o.Attributes, o.DeduplicationID)
	if err != nil {
		return outMsg{}, fmt.Errorf("aws: publish to %s: %w", g.what, err)
	}
	return m, nil
}

// failed is the error of a publish call AWS refused with err.
func (g *gate) failed(err error) error {
	return fmt.Errorf("aws: publish to %s: %w", g.what, wrapKind(err, classify(err), pubsub.ErrTopicNotFound))
}

func limit(set, max int) int {
	if set > 0 && set < max {
		return set
	}
	return max
}

// QueueURL returns the URL of the queue the publisher sends to.
func (p *SQSPublisher) QueueURL() string { return p.q.url }

// Publish marshals msg with protobuf and publishes it under key.
func (p *SQSPublisher) Publish(ctx context.Context, key string, msg proto.Message, opts ...pubsub.PublishOption) error {
	return pubsub.PublishProto(ctx, p.PublishRaw, key, msg, opts...)
}

// PublishRaw publishes payload under key with SendMessage. A message that
// breaks the contract's rules fails with an error wrapping
// [pubsub.ErrInvalidMessage], one over AWS's limits with one wrapping
// [pubsub.ErrTooLarge], both before anything is sent, and a deduplication
// ID on a standard queue with one wrapping [pubsub.ErrNotSupported].
func (p *SQSPublisher) PublishRaw(ctx context.Context, key string, payload []byte, opts ...pubsub.PublishOption) error {
	m, err := p.gate.encode(ctx, p.enc, key, payload, opts)
	if err != nil {
		return err
	}
	in := &sqs.SendMessageInput{
		QueueUrl:          &p.q.url,
		MessageBody:       &m.body,
		MessageAttributes: sqsAttributes(m.attrs),
	}
	if p.q.fifo {
		in.MessageGroupId, in.MessageDeduplicationId = &m.group, &m.dedup
	}
	if _, err := p.client.SendMessage(ctx, in); err != nil {
		return p.gate.failed(err)
	}
	return nil
}

// PublishBatch publishes msgs with SendMessageBatch, ten to a call (and at
// most 1 MiB), in order. It reports an error per message in a
// *[pubsub.BatchError], retries the entries SQS failed for a reason worth
// retrying (a server fault, throttling) up to three times, and never sends
// a message of a key after an earlier one of that key failed (see the
// package doc).
func (p *SQSPublisher) PublishBatch(ctx context.Context, msgs []pubsub.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := p.gate.check(ctx); err != nil {
		return allFailed(len(msgs), err)
	}
	return p.batch.publish(ctx, msgs)
}

func (p *SQSPublisher) sendBatch(ctx context.Context, ms []outMsg) ([]entryResult, error) {
	entries := make([]sqstypes.SendMessageBatchRequestEntry, len(ms))
	for i := range ms {
		m := &ms[i]
		entries[i] = sqstypes.SendMessageBatchRequestEntry{
			Id:                &entryIDs[i],
			MessageBody:       &m.body,
			MessageAttributes: sqsAttributes(m.attrs),
		}
		if p.q.fifo {
			entries[i].MessageGroupId, entries[i].MessageDeduplicationId = &m.group, &m.dedup
		}
	}
	out, err := p.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &p.q.url, Entries: entries})
	if err != nil {
		return nil, err
	}
	ok := make([]string, len(out.Successful))
	for i, s := range out.Successful {
		ok[i] = awssdk.ToString(s.Id)
	}
	failed, ids := sqsEntryErrors(out.Failed)
	return entryResults(len(ms), ok, failed, ids), nil
}

func sqsEntryErrors(fs []sqstypes.BatchResultErrorEntry) ([]*entryError, []string) {
	errs := make([]*entryError, len(fs))
	ids := make([]string, len(fs))
	for i, f := range fs {
		errs[i] = &entryError{Code: awssdk.ToString(f.Code), Message: awssdk.ToString(f.Message), SenderFault: f.SenderFault}
		ids[i] = awssdk.ToString(f.Id)
	}
	return errs, ids
}

// Close marks the publisher closed; later publishes fail with an error
// wrapping [pubsub.ErrClosed]. Nothing is buffered, so there is nothing to
// flush. Close is idempotent.
func (p *SQSPublisher) Close() error {
	p.gate.closed.Store(true)
	return nil
}

// sqsAttributes turns wire attributes into SQS String attributes.
func sqsAttributes(attrs map[string]string) map[string]sqstypes.MessageAttributeValue {
	if len(attrs) == 0 {
		return nil
	}
	out := make(map[string]sqstypes.MessageAttributeValue, len(attrs))
	for name, v := range attrs {
		out[name] = sqstypes.MessageAttributeValue{DataType: awssdk.String(dataTypeString), StringValue: awssdk.String(v)}
	}
	return out
}

// allFailed is the BatchError of a batch that failed as a whole.
func allFailed(n int, err error) error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return &pubsub.BatchError{Errs: errs}
}
