package http

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// StatusError is an answer the publisher did not accept: a status other
// than 2xx. For 404 and 410 it wraps [pubsub.ErrTopicNotFound], for 413
// [pubsub.ErrTooLarge].
type StatusError struct {
	// URL is the URL posted to, without user info.
	URL string
	// StatusCode is the answer's status code.
	StatusCode int
	// Body is the start of the answer's body (at most 512 bytes), as
	// valid UTF-8.
	Body string
}

// Error names the URL, the status and the start of the body.
func (e *StatusError) Error() string {
	s := fmt.Sprintf("POST %s: %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// Unwrap returns the pubsub sentinel the status stands for, or nil.
func (e *StatusError) Unwrap() error {
	switch e.StatusCode {
	case http.StatusNotFound, http.StatusGone:
		return pubsub.ErrTopicNotFound
	case http.StatusRequestEntityTooLarge:
		return pubsub.ErrTooLarge
	}
	return nil
}

// Temporary reports whether the publisher retries the status: 429 and
// every 5xx.
func (e *StatusError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// hookError is a failure before sending: not retried.
type hookError struct{ err error }

func (e *hookError) Error() string { return "before sending: " + e.err.Error() }

func (e *hookError) Unwrap() error { return e.err }

// retryable reports whether the publisher tries again after err: a
// network error (a refused or dropped connection, a timeout of the
// attempt), 429 or 5xx. A refusal (other 4xx, 3xx), a TLS certificate
// problem and a failed header hook are permanent.
func retryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Temporary()
	}
	var he *hookError
	if errors.As(err, &he) {
		return false
	}
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		cerr x509.CertificateInvalidError
		rerr tls.RecordHeaderError
	)
	if errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &cerr) || errors.As(err, &rerr) {
		return false
	}
	return true
}
