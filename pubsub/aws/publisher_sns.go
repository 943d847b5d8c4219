package aws

import (
	"context"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"google.golang.org/protobuf/proto"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// SNSPublisher sends messages to an SNS topic. It implements
// [pubsub.MultiPublisher] and is safe for concurrent use. Publishing is
// synchronous: when a call returns nil, SNS has accepted the message for
// every subscription.
type SNSPublisher struct {
	client *sns.Client
	t      topicInfo
	enc    encoder
	batch  batchPublisher
	gate   gate
}

var _ pubsub.MultiPublisher = (*SNSPublisher)(nil)

// NewSNSPublisher returns a publisher for cfg.Topic, a topic name or ARN.
// A name is looked up in cfg.AccountID, or in the caller's account. It
// checks that the topic exists, and returns an error wrapping
// [pubsub.ErrTopicNotFound] if it does not. A topic whose name ends in
// ".fifo" is a FIFO topic: the key becomes the MessageGroupId (see the
// package doc).
func NewSNSPublisher(ctx context.Context, cfg Config, opts ...Option) (*SNSPublisher, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := newOptions(opts)
	c, err := o.snsClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	t, err := resolveTopic(ctx, c, cfg.Topic, cfg.AccountID, pubsub.ErrTopicNotFound)
	if err != nil {
		return nil, err
	}
	p := &SNSPublisher{
		client: c,
		t:      t,
		enc:    newEncoder(t.fifo, cfg.GizmoCompat, true, limit(cfg.MaxMessageBytes, MaxSNSMessageBytes)),
		gate:   gate{what: fmt.Sprintf("topic %q", t.name)},
	}
	p.batch = batchPublisher{enc: p.enc, maxBytes: maxSNSBatchBytes, send: p.sendBatch, what: p.gate.what}
	return p, nil
}

// TopicARN returns the ARN of the topic the publisher sends to.
func (p *SNSPublisher) TopicARN() string { return p.t.arn }

// Publish marshals msg with protobuf and publishes it under key.
func (p *SNSPublisher) Publish(ctx context.Context, key string, msg proto.Message, opts ...pubsub.PublishOption) error {
	return pubsub.PublishProto(ctx, p.PublishRaw, key, msg, opts...)
}

// PublishRaw publishes payload under key with SNS Publish, with the same
// checks and errors as [SQSPublisher.PublishRaw] and SNS's size limit.
func (p *SNSPublisher) PublishRaw(ctx context.Context, key string, payload []byte, opts ...pubsub.PublishOption) error {
	m, err := p.gate.encode(ctx, p.enc, key, payload, opts)
	if err != nil {
		return err
	}
	in := &sns.PublishInput{
		TopicArn:          &p.t.arn,
		Message:           &m.body,
		MessageAttributes: snsAttributes(m.attrs),
	}
	if m.subject != "" {
		in.Subject = &m.subject
	}
	if p.t.fifo {
		in.MessageGroupId, in.MessageDeduplicationId = &m.group, &m.dedup
	}
	if _, err := p.client.Publish(ctx, in); err != nil {
		return p.gate.failed(err)
	}
	return nil
}

// PublishBatch publishes msgs with SNS PublishBatch, ten to a call (and at
// most 256 KiB), with the same behaviour as [SQSPublisher.PublishBatch].
func (p *SNSPublisher) PublishBatch(ctx context.Context, msgs []pubsub.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := p.gate.check(ctx); err != nil {
		return allFailed(len(msgs), err)
	}
	return p.batch.publish(ctx, msgs)
}

func (p *SNSPublisher) sendBatch(ctx context.Context, ms []outMsg) ([]entryResult, error) {
	entries := make([]snstypes.PublishBatchRequestEntry, len(ms))
	for i := range ms {
		m := &ms[i]
		entries[i] = snstypes.PublishBatchRequestEntry{
			Id:                &entryIDs[i],
			Message:           &m.body,
			MessageAttributes: snsAttributes(m.attrs),
		}
		if m.subject != "" {
			entries[i].Subject = &m.subject
		}
		if p.t.fifo {
			entries[i].MessageGroupId, entries[i].MessageDeduplicationId = &m.group, &m.dedup
		}
	}
	out, err := p.client.PublishBatch(ctx, &sns.PublishBatchInput{TopicArn: &p.t.arn, PublishBatchRequestEntries: entries})
	if err != nil {
		return nil, err
	}
	ok := make([]string, len(out.Successful))
	for i, s := range out.Successful {
		ok[i] = awssdk.ToString(s.Id)
	}
	failed := make([]*entryError, len(out.Failed))
	ids := make([]string, len(out.Failed))
	for i, f := range out.Failed {
		failed[i] = &entryError{Code: awssdk.ToString(f.Code), Message: awssdk.ToString(f.Message), SenderFault: f.SenderFault}
		ids[i] = awssdk.ToString(f.Id)
	}
	return entryResults(len(ms), ok, failed, ids), nil
}

// Close marks the publisher closed; later publishes fail with an error
// wrapping [pubsub.ErrClosed]. Close is idempotent.
func (p *SNSPublisher) Close() error {
	p.gate.closed.Store(true)
	return nil
}

// snsAttributes turns wire attributes into SNS String attributes.
func snsAttributes(attrs map[string]string) map[string]snstypes.MessageAttributeValue {
	if len(attrs) == 0 {
		return nil
	}
	out := make(map[string]snstypes.MessageAttributeValue, len(attrs))
	for name, v := range attrs {
		out[name] = snstypes.MessageAttributeValue{DataType: awssdk.String(dataTypeString), StringValue: awssdk.String(v)}
	}
	return out
}
