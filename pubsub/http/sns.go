package http

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1" // SNS SignatureVersion 1 is SHA1withRSA; version 2 is SHA256withRSA
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// snsHost matches the hosts SNS signs from and sends SubscribeURLs on.
var snsHost = regexp.MustCompile(`^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// CheckSNSURL is the default check of the URLs an SNS message makes the
// subscriber fetch (SigningCertURL, SubscribeURL): https, on an SNS host
// (sns.REGION.amazonaws.com, or .com.cn), with no user info. Anything else
// could point the subscriber at a host of the sender's choosing.
func CheckSNSURL(u *url.URL) error {
	switch {
	case u.Scheme != "https":
		return fmt.Errorf("%s: not https", u.Redacted())
	case u.User != nil:
		return fmt.Errorf("%s: has user info", u.Redacted())
	case !snsHost.MatchString(u.Hostname()):
		return fmt.Errorf("%s: %q is not an SNS host (sns.REGION.amazonaws.com)", u.Redacted(), u.Hostname())
	case u.Port() != "" && u.Port() != "443":
		return fmt.Errorf("%s: not on port 443", u.Redacted())
	}
	return nil
}

// snsClient fetches signing certificates and visits SubscribeURLs.
type snsClient struct {
	client *http.Client
	check  func(*url.URL) error

	mu    sync.Mutex
	certs map[string]*x509.Certificate // SigningCertURL -> its certificate
}

// maxSNSCerts bounds the certificate cache; SNS uses one per region and
// rotates it rarely.
const maxSNSCerts = 32

// errSNSFetch marks a failure to reach SNS, as opposed to a message that
// is wrong: the subscriber answers 503 so that SNS tries again.
var errSNSFetch = errors.New("fetch from SNS failed")

func (c *snsClient) get(ctx context.Context, raw string, limit int64) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if err := c.check(u); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errSNSFetch, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errSNSFetch, u.Redacted(), err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: GET %s: %s", errSNSFetch, u.Redacted(), resp.Status)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("GET %s: more than %d bytes", u.Redacted(), limit)
	}
	return b, nil
}

// cert returns the certificate at raw, fetched once.
func (c *snsClient) cert(ctx context.Context, raw string) (*x509.Certificate, error) {
	c.mu.Lock()
	cert := c.certs[raw]
	c.mu.Unlock()
	if cert != nil {
		return cert, nil
	}
	b, err := c.get(ctx, raw, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("signing certificate %s: no PEM certificate", raw)
	}
	cert, err = x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing certificate %s: %w", raw, err)
	}
	if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
		return nil, fmt.Errorf("signing certificate %s: not an RSA key", raw)
	}
	c.mu.Lock()
	if len(c.certs) >= maxSNSCerts {
		clear(c.certs)
	}
	c.certs[raw] = cert
	c.mu.Unlock()
	return cert, nil
}

// verify checks n's signature against the certificate it names.
func (c *snsClient) verify(ctx context.Context, n *SNSNotification) error {
	var h crypto.Hash
	switch n.SignatureVersion {
	case "1":
		h = crypto.SHA1
	case "2":
		h = crypto.SHA256
	default:
		return fmt.Errorf("SignatureVersion %q: want 1 or 2", n.SignatureVersion)
	}
	sig, err := base64.StdEncoding.DecodeString(n.Signature)
	if err != nil || len(sig) == 0 {
		return errors.New("the Signature is not base64")
	}
	cert, err := c.cert(ctx, n.SigningCertURL)
	if err != nil {
		return err
	}
	if now := time.Now(); now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return fmt.Errorf("signing certificate %s is not valid now (valid %v to %v)", n.SigningCertURL, cert.NotBefore, cert.NotAfter)
	}
	digest := snsDigest(h, snsStringToSign(n))
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), h, digest, sig); err != nil {
		return fmt.Errorf("bad signature: %w", err)
	}
	return nil
}

func snsDigest(h crypto.Hash, s string) []byte {
	if h == crypto.SHA1 {
		d := sha1.Sum([]byte(s))
		return d[:]
	}
	d := sha256.Sum256([]byte(s))
	return d[:]
}

// snsStringToSign builds the text SNS signs: the names and values of a
// fixed list of fields, one per line, in that order; Subject only if set.
func snsStringToSign(n *SNSNotification) string {
	var b strings.Builder
	add := func(k, v string) {
		b.WriteString(k)
		b.WriteByte('\n')
		b.WriteString(v)
		b.WriteByte('\n')
	}
	add("Message", n.Message)
	add("MessageId", n.MessageID)
	if n.Type == snsNotification {
		if n.Subject != "" {
			add("Subject", n.Subject)
		}
		add("Timestamp", n.Timestamp)
		add("TopicArn", n.TopicArn)
		add("Type", n.Type)
		return b.String()
	}
	add("SubscribeURL", n.SubscribeURL)
	add("Timestamp", n.Timestamp)
	add("Token", n.Token)
	add("TopicArn", n.TopicArn)
	add("Type", n.Type)
	return b.String()
}

// confirm visits a SubscriptionConfirmation's SubscribeURL.
func (c *snsClient) confirm(ctx context.Context, n *SNSNotification) error {
	_, err := c.get(ctx, n.SubscribeURL, 64<<10)
	return err
}
