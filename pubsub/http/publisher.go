package http

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/internal/wire"
)

// Publisher POSTs messages to one URL, retrying until the receiver
// accepts each one (see the package doc). It implements
// [pubsub.MultiPublisher] and is safe for concurrent use.
type Publisher struct {
	cfg       Config
	tmpl      *http.Request // a POST to the URL, copied for every request
	shown     string        // the URL for errors and logs, without user info
	basicAuth string        // the Authorization the URL's user info asks for
	client    *http.Client
	transport *http.Transport // ours, closed by Close; nil with WithHTTPClient
	log       *slog.Logger
	header    func(ctx context.Context, h http.Header) error
	idPrefix  string
	idSeq     atomic.Uint64

	mu     sync.RWMutex
	closed bool
	active sync.WaitGroup
}

var _ pubsub.MultiPublisher = (*Publisher)(nil)

// NewPublisher returns a publisher for cfg.URL, which is required. It
// reads the Config's TLS files, if any; ctx bounds that and nothing
// after.
func NewPublisher(ctx context.Context, cfg Config, opts ...PublisherOption) (*Publisher, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pubsub/http: new publisher: %w", err)
	}
	if cfg.URL == "" {
		return nil, errors.New("pubsub/http: new publisher: Config.URL: required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	u, _ := url.Parse(cfg.URL) // Validate parsed it
	o := publisherOptions{}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	p := &Publisher{
		cfg: cfg, shown: u.Redacted(), log: o.logger, header: o.header, idPrefix: newIDPrefix(),
		tmpl: &http.Request{
			Method: http.MethodPost, URL: u, Host: u.Host,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		},
	}
	if u.User != nil {
		// http.Client would send the URL's user info as basic auth; the
		// publisher's own transport is used without a client.
		pw, _ := u.User.Password()
		p.basicAuth = "Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pw))
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	noRedirects := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if o.client != nil {
		if cfg.TLSCAFile != "" || cfg.TLSCertFile != "" || o.tls != nil {
			return nil, errors.New("pubsub/http: new publisher: WithHTTPClient and TLS settings (Config.TLS*, WithTLSConfig) exclude each other: configure the client's transport")
		}
		c := *o.client
		c.CheckRedirect = noRedirects
		p.client = &c
		return p, nil
	}
	tlsCfg, err := loadTLS(cfg, o.tls)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = cfg.MaxIdleConns
	tr.MaxIdleConnsPerHost = cfg.MaxIdleConns
	tr.TLSClientConfig = tlsCfg
	p.transport = tr
	p.client = &http.Client{Transport: tr, CheckRedirect: noRedirects}
	return p, nil
}

// loadTLS builds the transport's TLS configuration from base and the
// Config's files.
func loadTLS(cfg Config, base *tls.Config) (*tls.Config, error) {
	var c *tls.Config
	if base != nil {
		c = base.Clone()
	}
	if cfg.TLSCAFile == "" && cfg.TLSCertFile == "" {
		return c, nil
	}
	if c == nil {
		c = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.TLSCAFile != "" {
		pem, err := os.ReadFile(cfg.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("pubsub/http: Config.TLSCAFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("pubsub/http: Config.TLSCAFile: %s holds no PEM certificate", cfg.TLSCAFile)
		}
		c.RootCAs = pool
	}
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("pubsub/http: Config.TLSCertFile/TLSKeyFile: %w", err)
		}
		c.Certificates = append(c.Certificates, cert)
	}
	return c, nil
}

// newIDPrefix returns 96 random bits in hex: message IDs are this prefix
// and a counter, unique without a random read per message.
func newIDPrefix() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

func (p *Publisher) newID() string {
	var b [48]byte
	id := append(append(b[:0], p.idPrefix...), '-')
	return string(strconv.AppendUint(id, p.idSeq.Add(1), 36))
}

// begin registers a publish; it fails once the publisher is closed.
func (p *Publisher) begin() error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return fmt.Errorf("pubsub/http: publish to %s: %w", p.shown, pubsub.ErrClosed)
	}
	p.active.Add(1)
	return nil
}

// Publish marshals msg with protobuf and publishes it under key.
func (p *Publisher) Publish(ctx context.Context, key string, msg proto.Message, opts ...pubsub.PublishOption) error {
	return pubsub.PublishProto(ctx, p.PublishRaw, key, msg, opts...)
}

// PublishRaw sends payload under key and returns once the receiver
// accepted it (a 2xx answer), retrying as the package doc describes, or
// with the error that ended the tries. The message ID is the
// pubsub.WithDeduplicationID value if given, else a new one.
func (p *Publisher) PublishRaw(ctx context.Context, key string, payload []byte, opts ...pubsub.PublishOption) error {
	if err := p.begin(); err != nil {
		return err
	}
	defer p.active.Done()
	var o pubsub.PublishOptions
	if len(opts) > 0 {
		o = pubsub.ApplyPublishOptions(opts...)
	}
	return p.publish(ctx, key, payload, o.Attributes, o.DeduplicationID)
}

// publish checks and sends one message.
func (p *Publisher) publish(ctx context.Context, key string, payload []byte, attrs map[string]string, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pubsub/http: publish to %s: %w", p.shown, err)
	}
	req, err := p.encode(key, payload, attrs, id)
	if err != nil {
		return fmt.Errorf("pubsub/http: publish to %s: %w", p.shown, err)
	}
	return p.send(ctx, req)
}

// outgoing is a message encoded for sending.
type outgoing struct {
	id     string
	body   []byte
	header http.Header
}

// encode validates a message against the contract and the limits and
// encodes it in the configured format.
func (p *Publisher) encode(key string, payload []byte, attrs map[string]string, id string) (*outgoing, error) {
	if err := wire.Validate(key, attrs); err != nil {
		return nil, err
	}
	if id == "" {
		id = p.newID()
	} else if !validID(id) {
		return nil, fmt.Errorf("%w: deduplication ID %q: it is the message ID, and must be 1 to %d printable ASCII characters", pubsub.ErrInvalidMessage, id, maxIDLen)
	}
	if len(payload) > p.cfg.MaxPayloadBytes {
		return nil, fmt.Errorf("payload of %d bytes, the limit is %d (Config.MaxPayloadBytes): %w", len(payload), p.cfg.MaxPayloadBytes, pubsub.ErrTooLarge)
	}
	if len(attrs) > p.cfg.MaxAttributes {
		return nil, fmt.Errorf("%d attributes, the limit is %d (Config.MaxAttributes): %w", len(attrs), p.cfg.MaxAttributes, pubsub.ErrTooLarge)
	}
	out := &outgoing{id: id, header: make(http.Header, len(attrs)+8)}
	if p.cfg.Format == FormatPubSub {
		_, wattrs := envelopeCodec.Encode(key, nil, attrs)
		if n := attrBytes(wattrs) + len(key); n > p.cfg.MaxAttributeBytes {
			return nil, p.tooManyAttrBytes(n)
		}
		body, err := json.Marshal(PubSubPush{
			Message: PubSubMessage{
				Data: payload, Attributes: wattrs, MessageID: id, OrderingKey: key,
				PublishTime: time.Now().UTC().Format(time.RFC3339Nano),
			},
			Subscription: p.cfg.Subscription,
		})
		if err != nil {
			return nil, err // cannot happen: every member marshals
		}
		out.body = body
		out.header["Content-Type"] = []string{contentTypeJSON}
	} else if key == "" && len(attrs) == 0 {
		out.body = payload
		setRawHeaders(out.header, id, nil)
	} else {
		body, wattrs := rawCodec.Encode(key, payload, attrs)
		if n := attrBytes(wattrs); n > p.cfg.MaxAttributeBytes {
			return nil, p.tooManyAttrBytes(n)
		}
		out.body = body
		setRawHeaders(out.header, id, wattrs)
	}
	if p.cfg.Secret != "" {
		out.header.Set(p.cfg.SecretHeader, p.cfg.Secret)
	}
	if p.basicAuth != "" {
		out.header["Authorization"] = []string{p.basicAuth}
	}
	return out, nil
}

func (p *Publisher) tooManyAttrBytes(n int) error {
	return fmt.Errorf("key and attributes of %d bytes as sent, the limit is %d (Config.MaxAttributeBytes): %w", n, p.cfg.MaxAttributeBytes, pubsub.ErrTooLarge)
}

// Close stops new publishes, which then fail with an error wrapping
// pubsub.ErrClosed, waits for the ones in progress (each bounded by its
// context and Config.Timeout), and closes the idle connections of the
// publisher's own transport. Nothing is buffered. Close is idempotent.
func (p *Publisher) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.active.Wait()
	if p.transport != nil {
		p.transport.CloseIdleConnections()
	}
	return nil
}
