package aws

import (
	"context"
	"fmt"
	"log/slog"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/prometheus/client_golang/prometheus"
)

// Option configures a publisher or subscriber beyond its [Config].
type Option func(*options)

type options struct {
	logger *slog.Logger
	awsCfg *awssdk.Config
	sqs    *sqs.Client
	sns    *sns.Client
	reg    prometheus.Registerer
}

// WithLogger sets the logger for retried receive errors, failed deletes and
// extensions, and messages that cannot be decoded. The default discards
// everything.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithAWSConfig makes the SDK clients from cfg instead of from the
// connection fields of [Config] (Region, Endpoint, credentials, retries).
func WithAWSConfig(cfg awssdk.Config) Option { return func(o *options) { o.awsCfg = &cfg } }

// WithSQSClient uses c for every SQS call, ignoring the connection fields of
// [Config]. Several publishers and subscribers may share one client.
func WithSQSClient(c *sqs.Client) Option { return func(o *options) { o.sqs = c } }

// WithSNSClient uses c for every SNS call, ignoring the connection fields of
// [Config].
func WithSNSClient(c *sns.Client) Option { return func(o *options) { o.sns = c } }

// WithRegisterer registers the subscriber's counters (see [Stats]) with r,
// labelled with the queue name. Registering two subscribers of one queue
// with one registry fails; wrap r with prometheus.WrapRegistererWith to
// tell them apart.
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.reg = r } }

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

// AWSConfig builds the aws.Config that the adapter's SDK clients use: the
// region, the endpoint override, and credentials from static keys or the
// default chain, assuming RoleARN if set. The SDK's client-side retry
// quota is off, because the adapter backs off on its own; each call is
// tried RetryMaxAttempts times.
func (c Config) AWSConfig(ctx context.Context) (awssdk.Config, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return awssdk.Config{}, err
	}
	load := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRetryer(func() awssdk.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = c.RetryMaxAttempts
				o.RateLimiter = ratelimit.None
			})
		}),
	}
	if c.Region != "" {
		load = append(load, awsconfig.WithRegion(c.Region))
	}
	if c.Endpoint != "" {
		load = append(load, awsconfig.WithBaseEndpoint(c.Endpoint))
	}
	if c.AccessKeyID != "" {
		load = append(load, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return awssdk.Config{}, fmt.Errorf("aws: load AWS configuration: %w", err)
	}
	if c.RoleARN != "" {
		p := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), c.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = c.RoleSessionName
			if c.ExternalID != "" {
				o.ExternalID = &c.ExternalID
			}
		})
		cfg.Credentials = awssdk.NewCredentialsCache(p)
	}
	return cfg, nil
}

// NewSQSClient returns an SQS client configured by cfg (see
// [Config.AWSConfig]), for the create-if-missing helpers or for sharing
// among publishers and subscribers with [WithSQSClient].
func NewSQSClient(ctx context.Context, cfg Config) (*sqs.Client, error) {
	ac, err := cfg.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	return sqs.NewFromConfig(ac), nil
}

// NewSNSClient returns an SNS client configured by cfg (see
// [Config.AWSConfig]).
func NewSNSClient(ctx context.Context, cfg Config) (*sns.Client, error) {
	ac, err := cfg.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	return sns.NewFromConfig(ac), nil
}

// awsConfig returns the aws.Config the options give, or builds one.
func (o *options) awsConfig(ctx context.Context, cfg Config) (awssdk.Config, error) {
	if o.awsCfg != nil {
		return *o.awsCfg, nil
	}
	ac, err := cfg.AWSConfig(ctx)
	if err != nil {
		return awssdk.Config{}, err
	}
	o.awsCfg = &ac
	return ac, nil
}

func (o *options) sqsClient(ctx context.Context, cfg Config) (*sqs.Client, error) {
	if o.sqs != nil {
		return o.sqs, nil
	}
	ac, err := o.awsConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	o.sqs = sqs.NewFromConfig(ac)
	return o.sqs, nil
}

func (o *options) snsClient(ctx context.Context, cfg Config) (*sns.Client, error) {
	if o.sns != nil {
		return o.sns, nil
	}
	ac, err := o.awsConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	o.sns = sns.NewFromConfig(ac)
	return o.sns, nil
}
