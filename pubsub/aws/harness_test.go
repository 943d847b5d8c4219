package aws_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/seed8104ecd5/gizmo/pubsub"
	gaws "github.com/seed8104ecd5/gizmo/pubsub/aws"
	"github.com/seed8104ecd5/gizmo/pubsub/pubsubtest"
)

// harnessLease is the visibility timeout of the harness's subscribers: the
// suite's ack deadline.
const harnessLease = 4 * time.Second

// setup is how a harness wires topics to subscriptions.
type setup int

const (
	sqsOnly     setup = iota // a topic is a queue, and its one subscription the same queue
	snsEnvelope              // an SNS topic, each subscription an SQS queue with envelope delivery
	snsRaw                   // the same with raw delivery
)

// harness runs the conformance suite against a private fauxqs server,
// which it can restart.
type harness struct {
	setup setup
	srv   *fauxqs
	cfg   gaws.Config
	sqs   *sqs.Client
	sns   *sns.Client
	n     atomic.Int64
	run   string

	mu     sync.Mutex
	fifoOf map[string]string // topic -> the FIFO queue or topic made for an ordered subscription
	subbed map[string]bool   // sqsOnly: topics whose queue is taken
}

func newHarness(t *testing.T, s setup) *harness {
	srv := startFauxqs(t)
	cfg := endpointConfig(srv.endpoint())
	// Enough tries per call to ride out the restart of the Reconnect
	// case, which takes a few seconds.
	cfg.RetryMaxAttempts = 10
	h := &harness{setup: s, srv: srv, cfg: cfg, run: fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff),
		fifoOf: make(map[string]string), subbed: make(map[string]bool)}
	h.sqs, h.sns = clients(t, cfg)
	return h
}

func (h *harness) name(kind string) string {
	return fmt.Sprintf("%s-%s-%d", kind, h.run, h.n.Add(1))
}

func (h *harness) CreateTopic(ctx context.Context, t testing.TB) (string, error) {
	name := h.name("topic")
	if h.setup == sqsOnly {
		url, err := gaws.EnsureQueue(ctx, h.sqs, name, gaws.QueueOptions{})
		if err != nil {
			return "", err
		}
		t.Cleanup(func() { deleteQueue(h.sqs, url) })
		return name, nil
	}
	arn, err := gaws.EnsureTopic(ctx, h.sns, name, gaws.TopicOptions{})
	if err != nil {
		return "", err
	}
	t.Cleanup(func() { deleteTopic(h.sns, arn) })
	return name, nil
}

func (h *harness) CreateSubscription(ctx context.Context, t testing.TB, topic string, opts pubsubtest.SubscriptionOptions) (string, error) {
	if h.setup == sqsOnly {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.subbed[topic] {
			return "", errors.New("SQS alone has no fan-out: a topic is one queue, with one subscription")
		}
		h.subbed[topic] = true
		name := topic
		if opts.OrderedKeys {
			name += ".fifo"
			h.fifoOf[topic] = name
		}
		url, err := gaws.EnsureQueue(ctx, h.sqs, name, gaws.QueueOptions{FIFO: opts.OrderedKeys})
		if err != nil {
			return "", err
		}
		if opts.OrderedKeys {
			t.Cleanup(func() { deleteQueue(h.sqs, url) })
		}
		return url, nil
	}
	topicName := topic
	if opts.OrderedKeys {
		h.mu.Lock()
		fifo, ok := h.fifoOf[topic]
		if !ok {
			fifo = topic + ".fifo"
			h.fifoOf[topic] = fifo
		}
		h.mu.Unlock()
		topicName = fifo
	}
	arn, err := gaws.EnsureTopic(ctx, h.sns, topicName, gaws.TopicOptions{FIFO: opts.OrderedKeys})
	if err != nil {
		return "", err
	}
	if opts.OrderedKeys {
		t.Cleanup(func() { deleteTopic(h.sns, arn) })
	}
	qname := h.name("sub")
	if opts.OrderedKeys {
		qname += ".fifo"
	}
	url, err := gaws.EnsureQueue(ctx, h.sqs, qname, gaws.QueueOptions{FIFO: opts.OrderedKeys})
	if err != nil {
		return "", err
	}
	t.Cleanup(func() { deleteQueue(h.sqs, url) })
	if _, err := gaws.EnsureSubscription(ctx, h.sns, h.sqs, arn, url, gaws.SubscriptionOptions{RawDelivery: h.setup == snsRaw}); err != nil {
		return "", err
	}
	return url, nil
}

func (h *harness) target(topic string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if f, ok := h.fifoOf[topic]; ok {
		return f
	}
	return topic
}

func (h *harness) NewPublisher(ctx context.Context, topic string) (pubsub.Publisher, error) {
	cfg := h.cfg
	if h.setup == sqsOnly {
		cfg.Queue = h.target(topic)
		return gaws.NewSQSPublisher(ctx, cfg, gaws.WithSQSClient(h.sqs))
	}
	cfg.Topic = h.target(topic)
	return gaws.NewSNSPublisher(ctx, cfg, gaws.WithSNSClient(h.sns))
}

func (h *harness) NewSubscriber(ctx context.Context, sub string) (pubsub.Subscriber, error) {
	return gaws.NewSubscriber(ctx, h.subscriberConfig(sub), gaws.WithSQSClient(h.sqs))
}

// subscriberConfig is the harness's subscriber: the suite's lease, and no
// heartbeat once a message is delivered, so that an unsettled delivery
// lapses after the ack deadline as the suite expects (Consume keeps
// leases itself).
func (h *harness) subscriberConfig(queue string) gaws.Config {
	cfg := h.cfg
	cfg.Queue = queue
	cfg.VisibilityTimeout = harnessLease
	cfg.MaxExtension = -1
	return cfg
}

func (h *harness) Capabilities() pubsubtest.Capabilities {
	c := pubsubtest.Capabilities{
		AckDeadline:     harnessLease,
		Timeout:         15 * time.Second,
		MaxPayloadBytes: gaws.MaxSQSMessageBytes,
		// Ten attributes on the wire, two of them gizmo's: the key and
		// the flag of a base64 body.
		MaxAttributes: gaws.MaxAttributes - 2,
		Gaps: map[pubsubtest.Feature]string{
			pubsubtest.FeatureDeduplication: "standard queues and topics do not deduplicate (WithDeduplicationID fails with ErrNotSupported there); " +
				"FIFO ones do, as TestFIFODeduplication shows",
		},
	}
	if h.setup == sqsOnly {
		c.Gaps[pubsubtest.FeatureFanOut] = "SQS alone has no topics: a queue is both what publishers send to and what subscribers read; " +
			"fan-out is SNS's, and TestConformanceSNS runs the case"
	} else {
		c.MaxPayloadBytes = gaws.MaxSNSMessageBytes
	}
	return c
}

func (h *harness) RestartServer(ctx context.Context, _ testing.TB) error { return h.srv.restart(ctx) }

var _ pubsubtest.Restarter = (*harness)(nil)

func deleteQueue(c *sqs.Client, url string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: &url})
}

func deleteTopic(c *sns.Client, arn string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = c.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: &arn})
}

// TestConformanceSQS runs the conformance suite, Consume part included,
// with SQS alone: publishers send to a queue, and subscribers read it.
func TestConformanceSQS(t *testing.T) {
	pubsubtest.RunConformance(t, newHarness(t, sqsOnly))
}

// TestConformanceSNS runs the suite with SNS topics fanning out to SQS
// queues, one per subscription, which get the SNS JSON envelope.
func TestConformanceSNS(t *testing.T) {
	pubsubtest.RunConformance(t, newHarness(t, snsEnvelope))
}

// TestConformanceSNSRaw runs the suite with SNS topics and raw delivery.
func TestConformanceSNSRaw(t *testing.T) {
	pubsubtest.RunConformance(t, newHarness(t, snsRaw))
}
