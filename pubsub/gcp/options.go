package gcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Option configures [NewPublisher] and [NewSubscriber].
type Option func(*options)

type options struct {
	logger     *slog.Logger
	clientOpts []option.ClientOption
}

// WithLogger sets the logger for what the adapter cannot return as an
// error: messages handed back because their lease ended, receive errors
// it retries, messages it could not decode. It is also given to the
// client library. The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithClientOptions adds options for the client the adapter makes:
// credentials, gRPC dial options, interceptors. They apply after those
// the Config implies.
func WithClientOptions(opts ...option.ClientOption) Option {
	return func(o *options) { o.clientOpts = append(o.clientOpts, opts...) }
}

func newOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// connect makes the client of a publisher or subscriber, with extra, the
// adapter's own options, before the caller's.
func connect(ctx context.Context, cfg Config, o options, extra ...option.ClientOption) (*pubsub.Client, error) {
	var copts []option.ClientOption
	if cfg.EmulatorHost != "" {
		copts = append(copts,
			option.WithEndpoint(cfg.EmulatorHost),
			option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
			option.WithTelemetryDisabled())
	} else {
		if cfg.Endpoint != "" {
			copts = append(copts, option.WithEndpoint(cfg.Endpoint))
		}
		switch {
		case cfg.CredentialsJSON != "":
			copts = append(copts, option.WithAuthCredentialsJSON(option.ServiceAccount, []byte(cfg.CredentialsJSON)))
		case cfg.CredentialsFile != "":
			copts = append(copts, option.WithAuthCredentialsFile(option.ServiceAccount, cfg.CredentialsFile))
		}
	}
	copts = append(copts, option.WithLogger(o.logger))
	copts = append(copts, extra...)
	copts = append(copts, o.clientOpts...)
	c, err := pubsub.NewClient(ctx, cfg.ProjectID, copts...)
	if err != nil {
		// An error about the credentials may quote parts of the key in
		// CredentialsJSON, a secret: do not pass its text on.
		if cfg.CredentialsJSON != "" && strings.Contains(strings.ToLower(err.Error()), "credential") {
			return nil, errors.New("gcp: connect: the client refused the key in CredentialsJSON (its error is withheld: it may quote the key)")
		}
		return nil, fmt.Errorf("gcp: connect: %w", err)
	}
	return c, nil
}

// fullName returns the full resource name of a topic or subscription
// given by ID or by full name.
func fullName(project, kind, nameOrID string) string {
	if strings.Count(nameOrID, "/") == 3 {
		return nameOrID
	}
	return "projects/" + project + "/" + kind + "/" + nameOrID
}

// ensureTopics creates the topic and the dead-letter topic of cfg, as
// Create asks.
func ensureTopics(ctx context.Context, c *pubsub.Client, cfg Config) error {
	if !cfg.Create.Topic {
		return nil
	}
	names := []string{cfg.Topic}
	if cfg.Create.DeadLetterTopic != "" {
		names = append(names, cfg.Create.DeadLetterTopic)
	}
	for _, n := range names {
		name := fullName(c.Project(), "topics", n)
		_, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: name})
		if err != nil && status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("gcp: create topic %q: %w", name, err)
		}
	}
	return nil
}

// ensureSubscription creates the subscription of cfg, as Create asks.
func ensureSubscription(ctx context.Context, c *pubsub.Client, cfg Config) error {
	if !cfg.Create.Subscription {
		return nil
	}
	cc := cfg.Create
	sub := &pubsubpb.Subscription{
		Name:                      fullName(c.Project(), "subscriptions", cfg.Subscription),
		Topic:                     fullName(c.Project(), "topics", cfg.Topic),
		AckDeadlineSeconds:        int32(cc.AckDeadline.Seconds()),
		EnableMessageOrdering:     cc.Ordering,
		Filter:                    cc.Filter,
		EnableExactlyOnceDelivery: cc.ExactlyOnce,
	}
	if cc.DeadLetterTopic != "" {
		sub.DeadLetterPolicy = &pubsubpb.DeadLetterPolicy{
			DeadLetterTopic:     fullName(c.Project(), "topics", cc.DeadLetterTopic),
			MaxDeliveryAttempts: int32(cc.MaxDeliveryAttempts),
		}
	}
	_, err := c.SubscriptionAdminClient.CreateSubscription(ctx, sub)
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("gcp: create subscription %q on %q: %w", sub.Name, sub.Topic, err)
	}
	return nil
}
