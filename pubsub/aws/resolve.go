package aws

import (
	"context"
	"fmt"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// queueInfo is a resolved queue.
type queueInfo struct {
	url, name string
	fifo      bool
}

// resolveQueue turns a queue name or URL into its URL, and checks that the
// queue exists. A missing queue is an error wrapping notFound. If the
// caller may not read the queue's attributes, the queue is taken on trust:
// a publisher needs only sqs:SendMessage.
func resolveQueue(ctx context.Context, c *sqs.Client, q string, notFound error) (queueInfo, error) {
	if q == "" {
		return queueInfo{}, fmt.Errorf("aws: QUEUE: no queue given")
	}
	if err := checkQueue(q); err != nil {
		return queueInfo{}, fmt.Errorf("aws: QUEUE: %w", err)
	}
	qi := queueInfo{url: q, name: q}
	if isURL(q) {
		qi.name = queueName(q)
	} else {
		out, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &q})
		if err != nil {
			return queueInfo{}, fmt.Errorf("aws: queue %q: %w", q, wrapKind(err, classify(err), notFound))
		}
		qi.url = awssdk.ToString(out.QueueUrl)
	}
	qi.fifo = isFIFOName(qi.name)
	_, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       &qi.url,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		if kind := classify(err); kind != errDenied {
			return queueInfo{}, fmt.Errorf("aws: queue %q: %w", q, wrapKind(err, kind, notFound))
		}
	}
	return qi, nil
}

// topicInfo is a resolved topic.
type topicInfo struct {
	arn, name string
	fifo      bool
}

// resolveTopic turns a topic name or ARN into its ARN, and checks that the
// topic exists. A name is looked up in the client's region and in
// accountID, or in the caller's own account, which STS reports (asked with
// the SNS client's endpoint and credentials).
func resolveTopic(ctx context.Context, c *sns.Client, t, accountID string, notFound error) (topicInfo, error) {
	if t == "" {
		return topicInfo{}, fmt.Errorf("aws: TOPIC: no topic given")
	}
	if err := checkTopic(t); err != nil {
		return topicInfo{}, fmt.Errorf("aws: TOPIC: %w", err)
	}
	ti := topicInfo{arn: t, name: t}
	if strings.HasPrefix(t, "arn:") {
		ti.name = topicName(t)
	} else {
		so := c.Options()
		if accountID == "" {
			id := sts.New(sts.Options{
				Region: so.Region, Credentials: so.Credentials, BaseEndpoint: so.BaseEndpoint,
				HTTPClient: so.HTTPClient, Retryer: so.Retryer, Logger: so.Logger,
			})
			out, err := id.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				return topicInfo{}, fmt.Errorf("aws: topic %q: finding the account to look it up in (set ACCOUNT_ID or give the ARN): %w", t, err)
			}
			accountID = awssdk.ToString(out.Account)
		}
		if so.Region == "" {
			return topicInfo{}, fmt.Errorf("aws: topic %q: no region to look it up in (set REGION or give the ARN)", t)
		}
		ti.arn = fmt.Sprintf("arn:%s:sns:%s:%s:%s", partition(so.Region), so.Region, accountID, t)
	}
	ti.fifo = isFIFOName(ti.name)
	_, err := c.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: &ti.arn})
	if err != nil {
		if kind := classify(err); kind != errDenied {
			return topicInfo{}, fmt.Errorf("aws: topic %q: %w", t, wrapKind(err, kind, notFound))
		}
	}
	return ti, nil
}

// partition returns the AWS partition of a region.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "eu-isoe-"):
		return "aws-iso-e"
	case strings.HasPrefix(region, "us-isof-"):
		return "aws-iso-f"
	}
	return "aws"
}
