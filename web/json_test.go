package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

type payload struct {
	Name  string    `json:"name"`
	Age   uint8     `json:"age"`
	Tags  []string  `json:"tags"`
	Items []item    `json:"items"`
	When  time.Time `json:"when"`
	Code  code      `json:"code"`
}

type item struct {
	Count int `json:"count"`
}

// code rejects "bad" with its own *Error and "oops" with a plain error.
type code string

func (c *code) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"bad"`:
		return &Error{Status: 422, Detail: "code is not allowed", Field: "code"}
	case `"oops"`:
		return errors.New("code must not be oops")
	}
	*c = code(b)
	return nil
}

func jsonRequest(body, contentType string) *http.Request {
	r := httptest.NewRequest("POST", "/", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		ct     string
		opts   []DecodeOption
		status int    // 0: success
		detail string // substring expected in the detail
		field  string
	}{
		{name: "valid", body: `{"name":"ann","age":30,"tags":["a"]}`, ct: "application/json"},
		{name: "valid without content type", body: `{"name":"ann"}`},
		{name: "valid with charset and suffix type", body: `{"name":"ann"}`, ct: "application/merge-patch+json; charset=UTF-8"},
		{name: "surrounding white space", body: " \n\t{\"name\":\"ann\"}\r\n "},
		{name: "null for a struct", body: `null`, status: 400, detail: "the body must be a JSON object, not null"},
		{name: "unknown field allowed", body: `{"name":"ann","x":1}`, opts: []DecodeOption{AllowUnknownFields()}},
		{name: "exactly at the limit", body: `{"name":"ann"}`, opts: []DecodeOption{MaxBytes(14)}},
		{name: "large body", body: `{"tags":["` + strings.Repeat("x", 100_000) + `"]}`},

		{name: "empty body", body: "", status: 400, detail: "request body is empty"},
		{name: "blank body", body: " \n ", status: 400, detail: "request body is empty"},
		{name: "syntax error line 1", body: `{"name":x}`, status: 400,
			detail: "malformed JSON at line 1, column 9: invalid character 'x' looking for beginning of value"},
		{name: "syntax error line 3 counts runes", body: "{\n  \"name\": \"ann\",\n  \"é\": 3,,\n}", status: 400,
			detail: "malformed JSON at line 3, column 10: invalid character ','"},
		{name: "truncated", body: "{\"name\":\n\"ann\"", status: 400,
			detail: "malformed JSON: unexpected end of body at line 2, column 6"},
		{name: "type mismatch names field", body: `{"name":"ann","age":"30"}`, status: 400, field: "age",
			detail: `field "age" must be a non-negative integer (8-bit), got string (line 1, column 24)`},
		{name: "overflow names field and value", body: `{"age":300}`, status: 400, field: "age",
			detail: `field "age" must be a non-negative integer (8-bit), got number 300`},
		{name: "nested field path", body: `{"items":[{"count":true}]}`, status: 400, field: "items.count",
			detail: `field "items.count" must be an integer (64-bit), got bool`},
		{name: "wrong top-level type", body: `[1,2]`, status: 400, detail: "request body must be an object, got array"},
		{name: "array where string expected", body: `{"name":[1]}`, status: 400, field: "name",
			detail: `field "name" must be a string, got array`},
		{name: "unknown field names it", body: `{"name":"ann","nmae":"x"}`, status: 400, field: "nmae",
			detail: `unknown field "nmae"`},
		{name: "trailing value", body: "{\"name\":\"ann\"}\n {\"name\":\"bob\"}", status: 400,
			detail: "unexpected data after the JSON value at line 2, column 2"},
		{name: "trailing garbage", body: `{"name":"ann"}x`, status: 400,
			detail: "unexpected data after the JSON value at line 1, column 15"},
		{name: "unmarshaler error is shown", body: `{"code":"oops"}`, status: 400, detail: "code must not be oops"},
		{name: "unmarshaler *Error is kept", body: `{"code":"bad"}`, status: 422, field: "code",
			detail: "code is not allowed"},
		{name: "time parse error", body: `{"when":"yesterday"}`, status: 400, detail: "invalid JSON value: parsing time"},

		{name: "over the limit", body: `{"name":"ann"}`, opts: []DecodeOption{MaxBytes(13)}, status: 413,
			detail: "request body is larger than 13 bytes"},
		{name: "non-positive limit keeps default", body: `{"name":"` + strings.Repeat("a", 1<<20) + `"}`,
			opts: []DecodeOption{MaxBytes(0)}, status: 413, detail: "larger than 1048576 bytes"},
		{name: "over the limit even if the value ends early", body: `{}` + strings.Repeat(" ", 100),
			opts: []DecodeOption{MaxBytes(50)}, status: 413},
		{name: "text/plain", body: `{}`, ct: "text/plain", status: 415, detail: `Content-Type "text/plain" is not supported`},
		{name: "form", body: `{}`, ct: "application/x-www-form-urlencoded", status: 415},
		{name: "malformed content type", body: `{}`, ct: "application/", status: 415, detail: "malformed Content-Type"},
		{name: "latin1 charset", body: `{}`, ct: "application/json; charset=latin1", status: 415,
			detail: `charset "latin1" is not supported`},
		{name: "content type required", body: `{}`, opts: []DecodeOption{RequireContentType()}, status: 415},
	}
	for _, tt := range tests {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/chunked=%v", tt.name, chunked), func(t *testing.T) {
				var p payload
				r := jsonRequest(tt.body, tt.ct)
				if chunked {
					r.ContentLength = -1
				}
				err := DecodeJSON(r, &p, tt.opts...)
				if tt.status == 0 {
					if err != nil {
						t.Fatalf("DecodeJSON: %v", err)
					}
					return
				}
				e, ok := err.(*Error)
				if !ok {
					t.Fatalf("err = %T %v, want *Error", err, err)
				}
				if e.Status != tt.status || !strings.Contains(e.Detail, tt.detail) || e.Field != tt.field {
					t.Errorf("got status %d, field %q, detail %q\nwant status %d, field %q, detail containing %q",
						e.Status, e.Field, e.Detail, tt.status, tt.field, tt.detail)
				}
			})
		}
	}
}

func TestDecodeJSONValues(t *testing.T) {
	var p payload
	body := `{"name":"ann","age":30,"tags":["a","b"],"items":[{"count":-2}],"when":"2024-02-29T10:00:00Z","code":"c"}`
	if err := DecodeJSON(jsonRequest(body, "application/json"), &p); err != nil {
		t.Fatal(err)
	}
	if p.Name != "ann" || p.Age != 30 || len(p.Tags) != 2 || p.Tags[1] != "b" || len(p.Items) != 1 ||
		p.Items[0].Count != -2 || !p.When.Equal(time.Date(2024, 2, 29, 10, 0, 0, 0, time.UTC)) || p.Code != `"c"` {
		t.Errorf("decoded %+v", p)
	}
}

func TestDecodeJSONBadTarget(t *testing.T) {
	var p payload
	err := DecodeJSON(jsonRequest(`{}`, ""), p) // not a pointer: a server bug
	e, ok := err.(*Error)
	if !ok || e.Status != 500 || e.Detail != "" || e.Err == nil {
		t.Errorf("err = %#v, want 500 without detail, with cause", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestDecodeJSONReadError(t *testing.T) {
	r := httptest.NewRequest("POST", "/", failingReader{})
	err := DecodeJSON(r, &payload{})
	e, ok := err.(*Error)
	if !ok || e.Status != 400 || !errors.Is(err, io.ErrClosedPipe) || strings.Contains(e.Detail, "pipe") {
		t.Errorf("err = %#v", err)
	}
}

func TestDecodeJSONContentLengthOverLimit(t *testing.T) {
	// A declared length over the limit is refused without reading the body.
	r := httptest.NewRequest("POST", "/", failingReader{})
	r.ContentLength = 2 << 20
	err := DecodeJSON(r, &payload{})
	var mbe *http.MaxBytesError
	if e, ok := err.(*Error); !ok || e.Status != 413 || e.Detail != "request body is larger than 1048576 bytes" ||
		!errors.As(err, &mbe) {
		t.Errorf("err = %#v, want 413", err)
	}
}

func TestDecodeJSONServerLimit(t *testing.T) {
	// A smaller limit set upstream with http.MaxBytesReader is the one reported.
	r := jsonRequest(`{"name":"`+strings.Repeat("a", 100)+`"}`, "")
	r.ContentLength = -1
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 64)
	err := DecodeJSON(r, &payload{})
	var mbe *http.MaxBytesError
	if e, ok := err.(*Error); !ok || e.Status != 413 || e.Detail != "request body is larger than 64 bytes" ||
		!errors.As(err, &mbe) || mbe.Limit != 64 {
		t.Errorf("err = %#v", err)
	}
}

func TestWriteJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Length", "99")
	rec.Header().Add("Content-Type", "text/plain")
	rec.Header().Add("Content-Type", "text/html")
	if err := WriteJSON(rec, 201, map[string]any{"id": 7, "html": "<b>"}); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 201 || !slices.Equal(rec.Header()["Content-Type"], []string{"application/json"}) || rec.Header().Get("Content-Length") != "" {
		t.Errorf("status %d, header %v", rec.Code, rec.Header())
	}
	if want := `{"html":"\u003cb\u003e","id":7}` + "\n"; rec.Body.String() != want {
		t.Errorf("body = %q, want %q", rec.Body.String(), want)
	}
}

func TestWriteJSONEncodeErrorWritesNothing(t *testing.T) {
	for _, tc := range []struct {
		status int
		v      any
	}{{200, map[string]any{"f": func() {}}}, {0, "x"}, {99, "x"}, {600, "x"}} {
		rec := httptest.NewRecorder()
		if err := WriteJSON(rec, tc.status, tc.v); err == nil {
			t.Errorf("WriteJSON(%d, %T) = nil, want error", tc.status, tc.v)
		}
		if rec.Body.Len() != 0 || len(rec.Header()) != 0 || rec.Code != 200 || rec.Flushed {
			t.Errorf("something was written: %d %v %q", rec.Code, rec.Header(), rec.Body.String())
		}
		// The caller can still answer with a proper error.
		WriteError(rec, nil, errors.New("encode"))
		if rec.Code != 500 {
			t.Errorf("follow-up WriteError status = %d", rec.Code)
		}
	}
}

type brokenWriter struct{ *httptest.ResponseRecorder }

func (brokenWriter) Write([]byte) (int, error) { return 0, io.ErrShortWrite }

func TestWriteJSONReturnsWriteError(t *testing.T) {
	err := WriteJSON(brokenWriter{httptest.NewRecorder()}, 200, 1)
	if !errors.Is(err, io.ErrShortWrite) {
		t.Errorf("err = %v, want io.ErrShortWrite", err)
	}
}

func TestWriteErrorReturnsWriteError(t *testing.T) {
	rec := httptest.NewRecorder()
	err := WriteError(brokenWriter{rec}, httptest.NewRequest(http.MethodGet, "/", nil), NewError(http.StatusConflict, "taken"))
	if !errors.Is(err, io.ErrShortWrite) {
		t.Errorf("err = %v, want io.ErrShortWrite", err)
	}
	if rec.Code != http.StatusConflict {
		t.Errorf("status %d, want 409 sent before the failed body write", rec.Code)
	}
	// HEAD writes no body, so nothing can fail.
	if err := WriteError(brokenWriter{httptest.NewRecorder()}, httptest.NewRequest(http.MethodHead, "/", nil), nil); err != nil {
		t.Errorf("HEAD: err = %v, want nil", err)
	}
}

func TestPosition(t *testing.T) {
	data := []byte("ab\ncdé\nf")
	tests := []struct {
		off       int64
		line, col int
	}{{-5, 1, 1}, {0, 1, 1}, {1, 1, 2}, {2, 1, 3}, {3, 2, 1}, {5, 2, 3}, {7, 2, 4}, {8, 3, 1}, {9, 3, 2}, {100, 3, 2}}
	for _, tt := range tests {
		if l, c := position(data, tt.off); l != tt.line || c != tt.col {
			t.Errorf("position(%d) = %d:%d, want %d:%d", tt.off, l, c, tt.line, tt.col)
		}
	}
}

// A JSON null for a struct is a 400 saying so, not a zero value that fails
// validation later; a target that can hold null gets it.
func TestDecodeJSONNull(t *testing.T) {
	type in struct{ Title string }
	req := func(body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	var v in
	err := DecodeJSON(req(" null \n"), &v)
	var we *Error
	if !errors.As(err, &we) || we.Status != http.StatusBadRequest || !strings.Contains(we.Detail, "JSON object, not null") {
		t.Errorf("null into a struct: %v, want a 400 saying the body must be an object", err)
	}
	var p *in
	if err := DecodeJSON(req("null"), &p); err != nil || p != nil {
		t.Errorf("null into a pointer: %v, %v; want nil and no error", p, err)
	}
	var m map[string]any
	if err := DecodeJSON(req("null"), &m); err != nil {
		t.Errorf("null into a map: %v", err)
	}
	if err := DecodeJSON(req(`{"Title":"x"}`), &v); err != nil || v.Title != "x" {
		t.Errorf("an object: %v, %+v", err, v)
	}
}
