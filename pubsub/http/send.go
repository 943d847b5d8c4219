package http

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxErrorBody is how much of a refusal's body an error quotes.
const maxErrorBody = 512

// maxDrain is how much of a body the publisher reads to keep the
// connection for reuse; a longer body closes it.
const maxDrain = 64 << 10

// send posts out until it is accepted, a permanent error occurs, or the
// publish's deadline (ctx, Config.Timeout) makes another try pointless.
func (p *Publisher) send(ctx context.Context, out *outgoing) error {
	deadline := time.Now().Add(p.cfg.Timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	delivered := 0
	for attempt := 1; ; attempt++ {
		header := out.header
		if attempt > 1 {
			// The transport may still read the last attempt's header.
			header = out.header.Clone()
		}
		retryAfter, wasDelivered, err := p.attempt(ctx, deadline, out, header, delivered+1)
		if err == nil {
			return nil
		}
		if wasDelivered {
			delivered++
		}
		if ctx.Err() != nil {
			return p.fail(out, attempt, fmt.Errorf("%w (last error: %w)", context.Cause(ctx), err))
		}
		if !retryable(err) {
			return p.fail(out, attempt, err)
		}
		wait := max(p.backoff(attempt), retryAfter)
		if !time.Now().Add(wait).Before(deadline) {
			return p.fail(out, attempt, fmt.Errorf("%w: the publish's deadline passes before the next try, in %v (last error: %w)", context.DeadlineExceeded, wait.Round(time.Millisecond), err))
		}
		p.log.LogAttrs(ctx, slog.LevelDebug, "pubsub/http: publish failed; retrying",
			slog.String("url", p.shown), slog.String("message_id", out.id), slog.Int("attempt", attempt),
			slog.Duration("wait", wait), slog.Any("error", err))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return p.fail(out, attempt, fmt.Errorf("%w (last error: %w)", context.Cause(ctx), err))
		}
	}
}

func (p *Publisher) fail(out *outgoing, attempts int, err error) error {
	return fmt.Errorf("pubsub/http: publish message %s to %s: %d attempts: %w", out.id, p.shown, attempts, err)
}

// attemptOne is the HeaderAttempt value of most requests, shared: header
// values are never changed in place.
var attemptOne = []string{"1"}

// attempt makes one request, bounded by AttemptTimeout and the publish's
// deadline. It returns nil once the receiver accepted the message;
// otherwise the error, how long the receiver asked to wait (Retry-After),
// and whether it says the message reached a consumer.
func (p *Publisher) attempt(ctx context.Context, deadline time.Time, out *outgoing, header http.Header, attempt int) (retryAfter time.Duration, delivered bool, err error) {
	dl := time.Now().Add(p.cfg.AttemptTimeout)
	if deadline.Before(dl) {
		dl = deadline
	}
	ctx, cancel := context.WithDeadline(ctx, dl)
	defer cancel()
	if p.header != nil {
		if err := p.header(ctx, header); err != nil {
			return 0, false, &hookError{err}
		}
	}
	body := out.body
	switch {
	case p.cfg.Format == FormatPubSub:
		body = withDeliveryAttempt(body, attempt)
	case attempt == 1:
		header[HeaderAttempt] = attemptOne
	default:
		header[HeaderAttempt] = []string{strconv.Itoa(attempt)}
	}
	header[HeaderTimeout] = []string{strconv.FormatInt(time.Until(dl).Milliseconds(), 10)}
	resp, err := p.roundTrip(p.request(ctx, header, body))
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	delivered = resp.Header.Get(HeaderDelivered) != ""
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if resp.Body != http.NoBody {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		}
		return 0, false, nil
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	serr := &StatusError{URL: p.shown, StatusCode: resp.StatusCode, Body: printable(head)}
	return parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), delivered, serr
}

// request builds a POST of body from the publisher's template, which
// saves parsing the URL for every request.
func (p *Publisher) request(ctx context.Context, header http.Header, body []byte) *http.Request {
	req := p.tmpl.WithContext(ctx)
	req.Header = header
	req.ContentLength = int64(len(body))
	if len(body) == 0 {
		req.Body = http.NoBody
		return req
	}
	// net/http knows an io.NopCloser of a *bytes.Reader is in memory, and
	// writes the headers and the body with one write instead of two.
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return req
}

// roundTrip sends req through the publisher's own transport, which needs
// none of http.Client's redirect and cookie handling, or through the
// client given with WithHTTPClient.
func (p *Publisher) roundTrip(req *http.Request) (*http.Response, error) {
	if p.transport != nil {
		return p.transport.RoundTrip(req)
	}
	return p.client.Do(req)
}

// withDeliveryAttempt sets deliveryAttempt in a Pub/Sub push envelope
// that has none (the publisher's own): the object's last member.
func withDeliveryAttempt(body []byte, attempt int) []byte {
	out := make([]byte, 0, len(body)+24)
	out = append(out, body[:len(body)-1]...)
	out = append(out, `,"deliveryAttempt":`...)
	out = strconv.AppendInt(out, int64(attempt), 10)
	return append(out, '}')
}

// backoff returns the wait after failed attempt n (from 1): InitialBackoff
// doubled n-1 times, capped at MaxBackoff, then jittered to between half
// and all of it.
func (p *Publisher) backoff(n int) time.Duration {
	d := p.cfg.InitialBackoff
	for i := 1; i < n && d < p.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.cfg.MaxBackoff)
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// maxRetryAfter bounds a Retry-After answer, so that a huge value cannot
// overflow; the publish's deadline decides whether to wait.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads a Retry-After value, delay-seconds or an HTTP
// date, as a wait from now; 0 if there is none or it does not parse.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil {
		if secs > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	return min(max(t.Sub(now), 0), maxRetryAfter)
}

// printable returns b as valid UTF-8 with control characters replaced, for
// an error message.
func printable(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s))
}
