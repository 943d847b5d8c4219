package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// ProblemContentType is the media type of problem details documents (RFC 9457).
const ProblemContentType = "application/problem+json"

// Error is an error carrying an HTTP status, rendered by [WriteError] as an
// application/problem+json document (RFC 9457).
//
// Every field except Err may be shown to clients. Err is the underlying cause;
// it is available to logs through [errors.Unwrap] but never rendered.
type Error struct {
	Status     int            // HTTP status; values outside 400-599 are rendered as 500
	Type       string         // problem type URI; "about:blank" when empty
	Title      string         // short summary; defaults to http.StatusText(Status)
	Detail     string         // explanation specific to this occurrence (safe to show clients)
	Instance   string         // optional URI reference identifying this occurrence
	Field      string         // optional name of the offending field or parameter ("field" member)
	Extensions map[string]any // optional extra members; names of standard members are ignored
	Err        error          // wrapped cause; never rendered
}

// NewError returns an [Error] with the given status and detail.
func NewError(status int, detail string) *Error {
	return &Error{Status: status, Detail: detail}
}

// Errorf returns an [Error] with the given status whose Detail is formatted
// as by [fmt.Sprintf]. Errors passed with the %w verb become the Err cause
// (with several %w verbs, Err joins them), so [errors.Is] and [errors.As]
// see through the result. The text of %w operands is part of Detail, so only
// wrap errors whose message is fit for clients.
func Errorf(status int, format string, args ...any) *Error {
	formatted := fmt.Errorf(format, args...)
	e := &Error{Status: status, Detail: formatted.Error()}
	switch u := formatted.(type) {
	case interface{ Unwrap() error }:
		e.Err = u.Unwrap()
	case interface{ Unwrap() []error }:
		e.Err = errors.Join(u.Unwrap()...)
	}
	return e
}

// Error returns the status, title and detail, followed by the text of the
// cause unless the detail already includes it. It is meant for logs, not for clients.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(e.Status))
	b.WriteByte(' ')
	b.WriteString(e.title())
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Err != nil {
		if cause := e.Err.Error(); !strings.Contains(e.Detail, cause) {
			b.WriteString(": ")
			b.WriteString(cause)
		}
	}
	return b.String()
}

// Unwrap returns the cause, Err.
func (e *Error) Unwrap() error { return e.Err }

// StatusCode returns the status WriteError sends for e: Status when it is a
// client or server error status (400-599), otherwise 500.
func (e *Error) StatusCode() int {
	if e.Status < 400 || e.Status > 599 {
		return http.StatusInternalServerError
	}
	return e.Status
}

func (e *Error) title() string {
	if e.Title != "" {
		return e.Title
	}
	if t := http.StatusText(e.Status); t != "" {
		return t
	}
	return "Error"
}

// reservedMembers are the members an Extensions map may not override.
var reservedMembers = []string{"type", "title", "status", "detail", "instance", "field"}

// MarshalJSON renders e as a problem details object. The standard members come
// first, then the extension members in key order. Extensions that cannot be
// encoded make MarshalJSON fail; WriteError then drops them.
func (e *Error) MarshalJSON() ([]byte, error) {
	return e.marshal(true)
}

func (e *Error) marshal(withExtensions bool) ([]byte, error) {
	status := e.StatusCode()
	title := e.Title
	if title == "" || status != e.Status {
		title = http.StatusText(status)
	}
	typ := e.Type
	if typ == "" {
		typ = "about:blank"
	}
	b := make([]byte, 0, 128)
	b = append(b, `{"type":`...)
	b = appendString(b, typ)
	b = append(b, `,"title":`...)
	b = appendString(b, title)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	for _, m := range [...]struct{ name, value string }{
		{"detail", e.Detail}, {"instance", e.Instance}, {"field", e.Field},
	} {
		if m.value != "" {
			b = append(b, ',')
			b = appendString(b, m.name)
			b = append(b, ':')
			b = appendString(b, m.value)
		}
	}
	if withExtensions && len(e.Extensions) > 0 {
		keys := make([]string, 0, len(e.Extensions))
		for k := range e.Extensions {
			if !slices.Contains(reservedMembers, k) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			v, err := json.Marshal(e.Extensions[k])
			if err != nil {
				return nil, fmt.Errorf("web: problem extension %q: %w", k, err)
			}
			b = append(b, ',')
			b = appendString(b, k)
			b = append(b, ':')
			b = append(b, v...)
		}
	}
	return append(b, '}'), nil
}

// appendString appends s as a JSON string. Encoding a string cannot fail.
func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// WriteError writes err as an application/problem+json response.
//
// If err is or wraps an [*Error] (found with [errors.As]), its status and
// client-facing fields are written; its cause is not. Any other error,
// including nil, is written as a bare 500 Internal Server Error whose body
// reveals nothing of the error's text. For HEAD requests only the header is
// written. Headers already set on w (such as Allow or Retry-After) are kept.
//
// It returns the error from writing the body, if any: by then the status
// has been sent, so there is usually nothing left to do but log it.
func WriteError(w http.ResponseWriter, r *http.Request, err error) error {
	var e *Error
	if !errors.As(err, &e) || e == nil {
		e = &Error{Status: http.StatusInternalServerError}
	}
	body, mErr := e.marshal(true)
	if mErr != nil {
		body, _ = e.marshal(false) // cannot fail without extensions
	}
	h := w.Header()
	h.Set("Content-Type", ProblemContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(e.StatusCode())
	if r != nil && r.Method == http.MethodHead {
		return nil
	}
	if _, err := w.Write(append(body, '\n')); err != nil {
		return fmt.Errorf("web: WriteError: %w", err)
	}
	return nil
}
