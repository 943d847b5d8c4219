package http

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/url"
)

// PublisherOption configures [NewPublisher].
type PublisherOption func(*publisherOptions)

type publisherOptions struct {
	logger *slog.Logger
	client *http.Client
	tls    *tls.Config
	header func(ctx context.Context, h http.Header) error
}

// WithPublisherLogger sets the publisher's logger, which reports retries
// at Debug. The default discards.
func WithPublisherLogger(l *slog.Logger) PublisherOption {
	return func(o *publisherOptions) { o.logger = l }
}

// WithHTTPClient makes the publisher send with c, whose transport then
// decides connection reuse and TLS; the Config's TLS files and
// MaxIdleConns do not apply. The publisher does not follow redirects,
// whatever c's CheckRedirect says. The default is a client of the
// publisher's own with a keep-alive transport.
func WithHTTPClient(c *http.Client) PublisherOption {
	return func(o *publisherOptions) { o.client = c }
}

// WithTLSConfig sets the TLS configuration of the publisher's own
// transport, for an https URL. The Config's TLS files add to a clone of
// it.
func WithTLSConfig(c *tls.Config) PublisherOption {
	return func(o *publisherOptions) { o.tls = c }
}

// WithHeaders calls fn before every attempt, to set headers such as
// Authorization; fn must only set headers on h. An error from fn fails the
// publish without sending, and is not retried.
func WithHeaders(fn func(ctx context.Context, h http.Header) error) PublisherOption {
	return func(o *publisherOptions) { o.header = fn }
}

// TokenSource returns a bearer token, such as an OAuth 2 access token or
// an OIDC ID token. It is called before every attempt, so it should cache
// its token until shortly before it expires.
type TokenSource func(ctx context.Context) (string, error)

// WithBearerToken sends "Authorization: Bearer TOKEN" with every attempt,
// the token from ts. It replaces [WithHeaders].
func WithBearerToken(ts TokenSource) PublisherOption {
	return WithHeaders(func(ctx context.Context, h http.Header) error {
		tok, err := ts(ctx)
		if err != nil {
			return err
		}
		h.Set("Authorization", "Bearer "+tok)
		return nil
	})
}

// SubscriberOption configures [NewSubscriber].
type SubscriberOption func(*subscriberOptions)

type subscriberOptions struct {
	logger    *slog.Logger
	verify    func(ctx context.Context, token string) error
	dedup     Deduplicator
	snsClient *http.Client
	snsCheck  func(*url.URL) error
}

// WithSubscriberLogger sets the subscriber's logger: refused requests at
// Debug, SNS confirmations at Info and Warn. The default discards.
func WithSubscriberLogger(l *slog.Logger) SubscriberOption {
	return func(o *subscriberOptions) { o.logger = l }
}

// WithTokenVerifier makes the subscriber require "Authorization: Bearer
// TOKEN" on every request and call verify with the token; an error, or a
// missing token, gets 401. Use it to check the OIDC tokens Pub/Sub push
// sends, or any bearer token. It adds to the Config's Secret check.
func WithTokenVerifier(verify func(ctx context.Context, token string) error) SubscriberOption {
	return func(o *subscriberOptions) { o.verify = verify }
}

// WithDeduplicator sets the store of acknowledged IDs (see Deduplicator),
// in place of the in-memory one the Config's DedupWindow and
// DedupCapacity describe. Subscribers behind one URL should share one.
func WithDeduplicator(d Deduplicator) SubscriberOption {
	return func(o *subscriberOptions) { o.dedup = d }
}

// WithSNSClient sets the client that fetches SNS signing certificates and
// visits SubscribeURLs. The default is a client of its own with a 10s
// timeout per request.
func WithSNSClient(c *http.Client) SubscriberOption {
	return func(o *subscriberOptions) { o.snsClient = c }
}

// WithSNSURLCheck replaces [CheckSNSURL], the check of the URLs an SNS
// message makes the subscriber fetch. Tests use it to point at a local
// server; a program should keep the default.
func WithSNSURLCheck(check func(*url.URL) error) SubscriberOption {
	return func(o *subscriberOptions) { o.snsCheck = check }
}
