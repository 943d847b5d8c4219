package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// QueueOptions describes a queue for [EnsureQueue].
type QueueOptions struct {
	// FIFO makes a FIFO queue; its name must end in ".fifo".
	FIFO bool
	// ContentBasedDeduplication lets a FIFO queue deduplicate messages
	// sent without a deduplication ID by a SHA-256 of their body. gizmo's
	// publishers always send an ID, so it matters only to other producers.
	ContentBasedDeduplication bool
	// VisibilityTimeout is the queue's default visibility timeout, in whole
	// seconds; zero leaves AWS's default (30s). gizmo's subscriber asks for
	// its own on every receive.
	VisibilityTimeout time.Duration
	// DeadLetterARN, if set, is the ARN of the queue that SQS moves a
	// message to once it has been received MaxReceiveCount times (a
	// redrive policy).
	DeadLetterARN string
	// MaxReceiveCount is the redrive policy's receive count: 1 to 1000.
	MaxReceiveCount int
	// Attributes are further queue attributes, by their AWS names, such as
	// "MessageRetentionPeriod": "86400".
	Attributes map[string]string
}

// EnsureQueue returns the URL of the queue called name, creating it with o
// if it does not exist. An existing queue is left as it is. It is meant
// for development and tests; production queues are better managed by
// infrastructure code.
func EnsureQueue(ctx context.Context, c *sqs.Client, name string, o QueueOptions) (string, error) {
	if o.FIFO != isFIFOName(name) {
		return "", fmt.Errorf("aws: ensure queue %q: a FIFO queue's name, and only its, ends in .fifo", name)
	}
	if err := checkQueue(name); err != nil || isURL(name) {
		return "", fmt.Errorf("aws: ensure queue %q: not a queue name", name)
	}
	out, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &name})
	if err == nil {
		return awssdk.ToString(out.QueueUrl), nil
	}
	if classify(err) != errNotFound {
		return "", fmt.Errorf("aws: ensure queue %q: %w", name, err)
	}
	attrs := make(map[string]string, len(o.Attributes)+4)
	for k, v := range o.Attributes {
		attrs[k] = v
	}
	if o.FIFO {
		attrs[string(sqstypes.QueueAttributeNameFifoQueue)] = "true"
		attrs[string(sqstypes.QueueAttributeNameContentBasedDeduplication)] = strconv.FormatBool(o.ContentBasedDeduplication)
	}
	if o.VisibilityTimeout > 0 {
		attrs[string(sqstypes.QueueAttributeNameVisibilityTimeout)] = strconv.Itoa(int(o.VisibilityTimeout / time.Second))
	}
	if o.DeadLetterARN != "" {
		p, err := json.Marshal(struct {
			Target string `json:"deadLetterTargetArn"`
			Max    int    `json:"maxReceiveCount"`
		}{o.DeadLetterARN, o.MaxReceiveCount})
		if err != nil {
			return "", fmt.Errorf("aws: ensure queue %q: redrive policy: %w", name, err)
		}
		attrs[string(sqstypes.QueueAttributeNameRedrivePolicy)] = string(p)
	}
	created, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &name, Attributes: attrs})
	if err != nil {
		return "", fmt.Errorf("aws: ensure queue %q: %w", name, err)
	}
	return awssdk.ToString(created.QueueUrl), nil
}

// QueueARN returns the ARN of the queue at url.
func QueueARN(ctx context.Context, c *sqs.Client, url string) (string, error) {
	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: &url, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", fmt.Errorf("aws: ARN of queue %q: %w", url, err)
	}
	arn := out.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	if arn == "" {
		return "", fmt.Errorf("aws: ARN of queue %q: not in the queue's attributes", url)
	}
	return arn, nil
}

// TopicOptions describes a topic for [EnsureTopic].
type TopicOptions struct {
	// FIFO makes a FIFO topic; its name must end in ".fifo". Only FIFO
	// queues can subscribe to it.
	FIFO bool
	// ContentBasedDeduplication, as for [QueueOptions].
	ContentBasedDeduplication bool
}

// EnsureTopic returns the ARN of the topic called name, creating it with o
// if it does not exist (SNS's CreateTopic does both).
func EnsureTopic(ctx context.Context, c *sns.Client, name string, o TopicOptions) (string, error) {
	if o.FIFO != isFIFOName(name) {
		return "", fmt.Errorf("aws: ensure topic %q: a FIFO topic's name, and only its, ends in .fifo", name)
	}
	var attrs map[string]string
	if o.FIFO {
		attrs = map[string]string{"FifoTopic": "true", "ContentBasedDeduplication": strconv.FormatBool(o.ContentBasedDeduplication)}
	}
	out, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: &name, Attributes: attrs})
	if err != nil {
		return "", fmt.Errorf("aws: ensure topic %q: %w", name, err)
	}
	return awssdk.ToString(out.TopicArn), nil
}

// SubscriptionOptions describes a subscription for [EnsureSubscription].
type SubscriptionOptions struct {
	// RawDelivery delivers the message as it was published, with its
	// attributes as SQS message attributes, instead of in an SNS JSON
	// envelope. The subscriber reads both.
	RawDelivery bool
	// FilterPolicy, if set, is the subscription's filter policy (JSON).
	FilterPolicy string
}

// EnsureSubscription subscribes the queue at queueURL to the topic, unless
// it is already subscribed (SNS's Subscribe is idempotent), and returns
// the subscription's ARN. If the queue has no access policy yet, it gets
// one that lets the topic send to it, as AWS requires; an existing policy
// is left alone.
func EnsureSubscription(ctx context.Context, snsc *sns.Client, sqsc *sqs.Client, topicARN, queueURL string, o SubscriptionOptions) (string, error) {
	queueARN, err := QueueARN(ctx, sqsc, queueURL)
	if err != nil {
		return "", err
	}
	if err := allowTopic(ctx, sqsc, queueURL, queueARN, topicARN); err != nil {
		return "", err
	}
	attrs := map[string]string{"RawMessageDelivery": strconv.FormatBool(o.RawDelivery)}
	if o.FilterPolicy != "" {
		attrs["FilterPolicy"] = o.FilterPolicy
	}
	protocol := "sqs"
	out, err := snsc.Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: &topicARN, Protocol: &protocol, Endpoint: &queueARN,
		Attributes: attrs, ReturnSubscriptionArn: true,
	})
	if err != nil {
		return "", fmt.Errorf("aws: subscribe queue %q to topic %q: %w", queueURL, topicARN, err)
	}
	return awssdk.ToString(out.SubscriptionArn), nil
}

// allowTopic gives the queue a policy that lets the topic send to it, if
// it has no policy.
func allowTopic(ctx context.Context, c *sqs.Client, queueURL, queueARN, topicARN string) error {
	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: &queueURL, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNamePolicy},
	})
	if err != nil {
		return fmt.Errorf("aws: policy of queue %q: %w", queueURL, err)
	}
	if out.Attributes[string(sqstypes.QueueAttributeNamePolicy)] != "" {
		return nil
	}
	policy, err := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Sid":       "gizmo-allow-sns",
			"Effect":    "Allow",
			"Principal": map[string]string{"Service": "sns.amazonaws.com"},
			"Action":    "sqs:SendMessage",
			"Resource":  queueARN,
			"Condition": map[string]any{"ArnEquals": map[string]string{"aws:SourceArn": topicARN}},
		}},
	})
	if err != nil {
		return fmt.Errorf("aws: policy of queue %q: %w", queueURL, err)
	}
	_, err = c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{
		QueueUrl: &queueURL, Attributes: map[string]string{string(sqstypes.QueueAttributeNamePolicy): string(policy)},
	})
	if err != nil {
		return fmt.Errorf("aws: set policy of queue %q: %w", queueURL, err)
	}
	return nil
}
