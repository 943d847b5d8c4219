package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// problemBody decodes a problem response body into a generic map.
func problemBody(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != ProblemContentType {
		t.Fatalf("Content-Type = %q, want %q", ct, ProblemContentType)
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", rec.Body.String(), err)
	}
	return m
}

func TestWriteError(t *testing.T) {
	secret := errors.New("pq: password authentication failed for user admin")
	tests := []struct {
		name   string
		err    error
		status int
		want   map[string]any
	}{
		{
			name:   "plain error is an opaque 500",
			err:    secret,
			status: 500,
			want:   map[string]any{"type": "about:blank", "title": "Internal Server Error", "status": 500.0},
		},
		{
			name:   "nil error is an opaque 500",
			err:    nil,
			status: 500,
			want:   map[string]any{"type": "about:blank", "title": "Internal Server Error", "status": 500.0},
		},
		{
			name:   "NewError with defaults",
			err:    NewError(404, "no user 42"),
			status: 404,
			want:   map[string]any{"type": "about:blank", "title": "Not Found", "status": 404.0, "detail": "no user 42"},
		},
		{
			name:   "wrapped *Error is found",
			err:    fmt.Errorf("loading user: %w", &Error{Status: 409, Detail: "version conflict", Err: secret}),
			status: 409,
			want:   map[string]any{"type": "about:blank", "title": "Conflict", "status": 409.0, "detail": "version conflict"},
		},
		{
			name: "all members and extensions; reserved names are not overridden",
			err: &Error{
				Status: 422, Type: "https://example.com/probs/out-of-credit", Title: "Out of credit",
				Detail: "balance is 30", Instance: "/accounts/12", Field: "amount",
				Extensions: map[string]any{"balance": 30, "status": 200, "accounts": []string{"/accounts/12"}},
			},
			status: 422,
			want: map[string]any{
				"type": "https://example.com/probs/out-of-credit", "title": "Out of credit", "status": 422.0,
				"detail": "balance is 30", "instance": "/accounts/12", "field": "amount",
				"balance": 30.0, "accounts": []any{"/accounts/12"},
			},
		},
		{
			name:   "unencodable extension is dropped, the rest is written",
			err:    &Error{Status: 400, Detail: "bad", Extensions: map[string]any{"ch": make(chan int)}},
			status: 400,
			want:   map[string]any{"type": "about:blank", "title": "Bad Request", "status": 400.0, "detail": "bad"},
		},
		{
			name:   "non-error status becomes 500 with its own title",
			err:    &Error{Status: 200, Title: "OK?", Detail: "odd"},
			status: 500,
			want:   map[string]any{"type": "about:blank", "title": "Internal Server Error", "status": 500.0, "detail": "odd"},
		},
		{
			name:   "zero status becomes 500",
			err:    &Error{Detail: "forgot the status"},
			status: 500,
			want: map[string]any{"type": "about:blank", "title": "Internal Server Error", "status": 500.0,
				"detail": "forgot the status"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteError(rec, httptest.NewRequest("GET", "/x", nil), tt.err)
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d", rec.Code, tt.status)
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", got)
			}
			if got := problemBody(t, rec); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("body = %v\nwant   %v", got, tt.want)
			}
			if strings.Contains(rec.Body.String(), "password") {
				t.Errorf("body leaks the cause: %s", rec.Body.String())
			}
		})
	}
}

func TestWriteErrorMemberOrder(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, nil, &Error{Status: 400, Detail: "d", Field: "f", Extensions: map[string]any{"b": 1, "a": 2}})
	want := `{"type":"about:blank","title":"Bad Request","status":400,"detail":"d","field":"f","a":2,"b":1}` + "\n"
	if rec.Body.String() != want {
		t.Errorf("body = %q, want %q", rec.Body.String(), want)
	}
}

func TestWriteErrorHeadKeepsHeaders(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("Retry-After", "30")
	rec.Header().Set("Content-Type", "text/plain")
	WriteError(rec, httptest.NewRequest("HEAD", "/", nil), NewError(http.StatusTooManyRequests, "slow down"))
	if rec.Code != 429 || rec.Body.Len() != 0 {
		t.Errorf("HEAD: status %d, body %q; want 429 and no body", rec.Code, rec.Body.String())
	}
	if rec.Header().Get("Retry-After") != "30" || rec.Header().Get("Content-Type") != ProblemContentType {
		t.Errorf("headers = %v", rec.Header())
	}
}

func TestErrorf(t *testing.T) {
	e := Errorf(400, "bad id %q: %w", "x", io.ErrUnexpectedEOF)
	if e.Status != 400 || e.Detail != `bad id "x": unexpected EOF` {
		t.Errorf("got %+v", e)
	}
	if e.Err != io.ErrUnexpectedEOF || !errors.Is(e, io.ErrUnexpectedEOF) {
		t.Errorf("Err = %v, want io.ErrUnexpectedEOF", e.Err)
	}
	if got := e.Error(); got != `400 Bad Request: bad id "x": unexpected EOF` {
		t.Errorf("Error() = %q", got)
	}

	two := Errorf(502, "%w and %w", io.EOF, io.ErrClosedPipe)
	if !errors.Is(two, io.EOF) || !errors.Is(two, io.ErrClosedPipe) {
		t.Errorf("two %%w: Err = %v", two.Err)
	}
	if none := Errorf(400, "n=%d", 3); none.Err != nil || none.Detail != "n=3" {
		t.Errorf("no %%w: %+v", none)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{NewError(404, "no such user"), "404 Not Found: no such user"},
		{&Error{Status: 500, Err: errors.New("db down")}, "500 Internal Server Error: db down"},
		{&Error{Status: 400, Title: "Invalid", Detail: "d", Err: errors.New("cause")}, "400 Invalid: d: cause"},
		{&Error{Status: 799}, "799 Error"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	var target *Error
	wrapped := fmt.Errorf("ctx: %w", &Error{Status: 403, Err: io.EOF})
	if !errors.As(wrapped, &target) || target.Status != 403 || !errors.Is(wrapped, io.EOF) {
		t.Errorf("errors.As/Is through *Error failed: %v", wrapped)
	}
}
