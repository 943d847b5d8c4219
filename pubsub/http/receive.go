package http

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/seed8104ecd5/gizmo/web"
)

// ServeHTTP serves one push request: it checks and decodes it, delivers
// its message on the channel, and answers once the message is settled.
// The answers are in the package doc.
func (s *Subscriber) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.refuse(w, r, http.StatusMethodNotAllowed, fmt.Sprintf("method %s: a push request is a POST", r.Method))
		return
	}
	if reason := s.authenticate(r); reason != "" {
		if s.verify != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="push"`)
		}
		s.refuse(w, r, http.StatusUnauthorized, reason)
		return
	}
	if reason := s.notServing(); reason != "" {
		s.refuse(w, r, http.StatusServiceUnavailable, reason)
		return
	}
	body, rerr := s.readBody(w, r)
	if rerr != nil {
		s.refuse(w, r, rerr.status, rerr.reason)
		return
	}
	m := &Message{req: r}
	in := &m.in
	if rerr := decodeRequest(r.Header, body, s.accepts, in); rerr != nil {
		s.refuse(w, r, rerr.status, rerr.reason)
		return
	}
	if n := len(in.attrs); n > s.cfg.MaxAttributes {
		s.refuse(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("%d attributes, the limit is %d", n, s.cfg.MaxAttributes))
		return
	}
	if in.wbytes > s.cfg.MaxAttributeBytes {
		s.refuse(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("key and attributes of %d bytes, the limit is %d", in.wbytes, s.cfg.MaxAttributeBytes))
		return
	}
	if in.format == FormatSNS && s.serveSNS(w, r, in) {
		return
	}
	if s.dedup != nil {
		seen, err := s.dedup.Seen(r.Context(), in.id)
		if err != nil {
			s.log.LogAttrs(r.Context(), slog.LevelWarn, "pubsub/http: deduplication lookup failed; delivering",
				slog.String("message_id", in.id), slog.Any("error", err))
		}
		if seen {
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	s.deliver(w, r, m, arrived)
}

// authenticate returns why r is refused, or "".
func (s *Subscriber) authenticate(r *http.Request) string {
	if s.cfg.Secret != "" {
		got := r.Header.Values(s.cfg.SecretHeader)
		if len(got) != 1 || subtle.ConstantTimeCompare([]byte(got[0]), []byte(s.cfg.Secret)) != 1 {
			return "missing or wrong " + s.cfg.SecretHeader + " header"
		}
	}
	if s.verify != nil {
		auth := r.Header.Get("Authorization")
		scheme, tok, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return "no bearer token"
		}
		if err := s.verify(r.Context(), strings.TrimSpace(tok)); err != nil {
			s.log.LogAttrs(r.Context(), slog.LevelDebug, "pubsub/http: bearer token refused", slog.Any("error", err))
			return "bearer token refused"
		}
	}
	return ""
}

// readBody reads the body, at most Config.MaxBodyBytes of it.
func (s *Subscriber) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *requestError) {
	limit := s.cfg.MaxBodyBytes
	if r.ContentLength > limit {
		return nil, tooLarge(r.ContentLength, limit)
	}
	if r.ContentLength >= 0 && r.ContentLength <= smallBody {
		// The server reads no more than the declared length. A larger
		// body grows its buffer as it arrives, so that a declared length
		// alone does not make the subscriber allocate.
		body := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, badRequest("reading the body: %v", err)
		}
		return body, nil
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(-1, limit)
		}
		return nil, badRequest("reading the body: %v", err)
	}
	return buf.Bytes(), nil
}

// smallBody is the largest declared body length read into a buffer of
// exactly that size.
const smallBody = 64 << 10

func tooLarge(n, limit int64) *requestError {
	if n < 0 {
		return &requestError{status: http.StatusRequestEntityTooLarge, reason: fmt.Sprintf("the body is over the limit of %d bytes", limit)}
	}
	return &requestError{status: http.StatusRequestEntityTooLarge, reason: fmt.Sprintf("a body of %d bytes, the limit is %d", n, limit)}
}

// maxSenderTimeout bounds the HeaderTimeout value taken into account.
const maxSenderTimeout = 24 * time.Hour

// deliver puts the message on the channel, waits for its outcome and
// answers.
func (s *Subscriber) deliver(w http.ResponseWriter, r *http.Request, m *Message, arrived time.Time) {
	limit := arrived.Add(s.cfg.MaxLease)
	if ms, ok := positiveHeader(r.Header, HeaderTimeout); ok && ms > 0 {
		patience := min(time.Duration(min(ms, int64(maxSenderTimeout/time.Millisecond)))*time.Millisecond, maxSenderTimeout)
		patience -= min(patience/10, time.Second) // room to write the answer
		limit = minTime(limit, arrived.Add(patience))
	}
	deadline := minTime(arrived.Add(s.cfg.AckDeadline), limit)
	m.outcome, m.deadline, m.limit = make(chan struct{}), deadline, limit
	if ok, reason := s.enter(m); !ok {
		s.refuse(w, r, http.StatusServiceUnavailable, reason)
		return
	}
	defer s.exit(m)
	// A message waits for a consumer at most half its lease, so that it is
	// never delivered with less than half of it left.
	timer := getTimer(time.Until(arrived.Add(deadline.Sub(arrived) / 2)))
	defer putTimer(timer)
	sent, why := false, ""
	select {
	case s.ch <- m:
		sent = true
	case <-s.stopCh:
		why = "the subscriber is stopping"
	case <-timer.C:
		why = "no consumer took the message within half its lease"
	case <-r.Context().Done(): // the sender hung up: nobody to answer
	}
	if !sent {
		// Out of delivered before Stop looks, so that Stop does not count
		// it as handed back.
		s.mu.Lock()
		delete(s.delivered, m)
		s.mu.Unlock()
		s.senders.Done()
		if why != "" {
			s.refuse(w, r, http.StatusServiceUnavailable, why)
		}
		return
	}
	s.senders.Done()
	timer.Reset(time.Until(deadline))
	for {
		select {
		case <-m.outcome:
			s.answer(w, r, m)
			return
		case <-r.Context().Done():
			if m.end(leaseGone) {
				return
			}
		case <-timer.C:
			if dl := m.deadlineAt(); time.Now().Before(dl) {
				timer.Reset(time.Until(dl))
				continue
			}
			m.end(leaseExpired)
		}
	}
}

// answer writes the answer for m's outcome.
func (s *Subscriber) answer(w http.ResponseWriter, r *http.Request, m *Message) {
	var why string
	switch leaseState(m.state.Load()) {
	case leaseAcked:
		if s.dedup != nil {
			if err := s.dedup.Acked(r.Context(), m.in.id); err != nil {
				s.log.LogAttrs(r.Context(), slog.LevelWarn, "pubsub/http: recording an acknowledged ID failed",
					slog.String("message_id", m.in.id), slog.Any("error", err))
			}
		}
		w.WriteHeader(http.StatusNoContent)
		err := http.NewResponseController(w).Flush()
		if err != nil && !errors.Is(err, http.ErrNotSupported) {
			err = fmt.Errorf("pubsub/http: message %s: writing the 204 answer: %w", m.in.id, err)
		} else {
			err = nil
		}
		m.answered(err)
		return
	case leaseGone:
		return
	case leaseNacked:
		why = "the consumer nacked the message"
	case leaseExpired:
		why = "the message was not settled within its lease"
	default:
		why = "the subscriber stopped before the message was settled"
	}
	w.Header().Set(HeaderDelivered, "1")
	s.refuse(w, r, http.StatusServiceUnavailable, why)
}

// refuse answers status with a problem+json body giving reason.
func (s *Subscriber) refuse(w http.ResponseWriter, r *http.Request, status int, reason string) {
	s.log.LogAttrs(r.Context(), slog.LevelDebug, "pubsub/http: request refused",
		slog.Int("status", status), slog.String("reason", reason))
	_ = web.WriteError(w, r, web.NewError(status, reason))
}

// serveSNS answers SNS confirmations and refuses unsigned or unwanted
// messages. It reports whether it answered; a Notification that passes
// goes on to delivery.
func (s *Subscriber) serveSNS(w http.ResponseWriter, r *http.Request, in *incoming) bool {
	n := in.sns
	if !s.cfg.SNSSkipVerify {
		if err := s.sns.verify(r.Context(), n); err != nil {
			if errors.Is(err, errSNSFetch) {
				s.refuse(w, r, http.StatusServiceUnavailable, "checking the SNS signature: "+err.Error())
			} else {
				s.refuse(w, r, http.StatusForbidden, "SNS signature: "+err.Error())
			}
			return true
		}
	}
	if len(s.topics) > 0 && !s.topics[n.TopicArn] {
		s.refuse(w, r, http.StatusForbidden, fmt.Sprintf("SNS topic %q is not accepted here (Config.SNSTopicARNs)", n.TopicArn))
		return true
	}
	switch n.Type {
	case snsSubscribe:
		if !s.cfg.SNSConfirm {
			s.log.LogAttrs(r.Context(), slog.LevelWarn, "pubsub/http: SNS subscription confirmation refused: Config.SNSConfirm is off; visit the SubscribeURL to confirm by hand",
				slog.String("topic_arn", n.TopicArn), slog.String("subscribe_url", n.SubscribeURL))
			s.refuse(w, r, http.StatusForbidden, "SNS subscription confirmations are not answered here (Config.SNSConfirm)")
			return true
		}
		if err := s.sns.confirm(r.Context(), n); err != nil {
			s.refuse(w, r, http.StatusBadGateway, "confirming the SNS subscription: "+err.Error())
			return true
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "pubsub/http: SNS subscription confirmed", slog.String("topic_arn", n.TopicArn))
		w.WriteHeader(http.StatusNoContent)
		return true
	case snsUnsubscribe:
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "pubsub/http: SNS subscription ended", slog.String("topic_arn", n.TopicArn))
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// timers recycles the timer of each request.
var timers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

func getTimer(d time.Duration) *time.Timer {
	t := timers.Get().(*time.Timer)
	t.Reset(d)
	return t
}

// putTimer stops t and recycles it. Since Go 1.23 a stopped timer's
// channel holds no stale tick, so the next Reset starts clean.
func putTimer(t *time.Timer) {
	t.Stop()
	timers.Put(t)
}
