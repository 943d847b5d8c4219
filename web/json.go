package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultMaxBytes is the request body limit DecodeJSON applies unless
// [MaxBytes] says otherwise: 1 MiB.
const DefaultMaxBytes int64 = 1 << 20

// WriteJSON writes v as JSON with the given status and Content-Type
// application/json, followed by a newline.
//
// v is encoded before anything is written, so when encoding fails WriteJSON
// writes nothing and returns the error; the caller can still send an error
// response. A status outside 200-599 is refused the same way. Otherwise the
// returned error is the one from writing the body, if any.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	if status < 200 || status > 599 {
		return fmt.Errorf("web: WriteJSON: invalid status %d", status)
	}
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("web: WriteJSON: %w", err)
	}
	// The keys are canonical already: index the map rather than have
	// Set and Del canonicalize them again on every response.
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	delete(h, "Content-Length")
	w.WriteHeader(status)
	// Two writes rather than append(body, '\n'), which would copy a large
	// body; ResponseWriters buffer small writes.
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("web: WriteJSON: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("web: WriteJSON: %w", err)
	}
	return nil
}

// A DecodeOption changes how [DecodeJSON] reads a request body.
type DecodeOption func(*decodeConfig)

type decodeConfig struct {
	maxBytes      int64
	allowUnknown  bool
	requireCTType bool
}

// MaxBytes limits the request body to n bytes; a larger body is answered with
// 413 Content Too Large. The default is [DefaultMaxBytes]; n <= 0 keeps it.
func MaxBytes(n int64) DecodeOption {
	return func(c *decodeConfig) {
		if n > 0 {
			c.maxBytes = n
		}
	}
}

// AllowUnknownFields makes DecodeJSON ignore object members that match no
// field of the destination struct. By default they are rejected with 400.
func AllowUnknownFields() DecodeOption {
	return func(c *decodeConfig) { c.allowUnknown = true }
}

// RequireContentType makes DecodeJSON reject a request that has no
// Content-Type header with 415. By default a missing header is accepted and
// only a header naming a non-JSON media type is rejected.
func RequireContentType() DecodeOption {
	return func(c *decodeConfig) { c.requireCTType = true }
}

// DecodeJSON reads the request body as exactly one JSON value and stores it in
// v, which must be a non-nil pointer.
//
// Every failure is returned as an [*Error] ready for [WriteError]:
//   - 415 when Content-Type is set and is not application/json or
//     application/*+json, or declares a charset other than UTF-8;
//   - 413 when the body is larger than the limit (see [MaxBytes]) or than
//     the limit of an [http.MaxBytesReader] already on r.Body; the detail
//     states the limit hit and Err is the [*http.MaxBytesError];
//   - 400 when the body is empty, is malformed JSON (the detail gives the line
//     and column), holds a value of the wrong type for a field (the detail and
//     Field name it), holds an unknown field (unless [AllowUnknownFields]), or
//     holds anything but white space after the value;
//   - 500 when v is not a non-nil pointer, which is a bug in the caller.
//
// Line and column numbers start at 1; columns count characters, not bytes.
// An error returned by a type's UnmarshalJSON method is shown to the client as
// part of the detail, unless it is itself an *Error, which is returned as is.
// On error v may have been partly filled.
func DecodeJSON(r *http.Request, v any, opts ...DecodeOption) error {
	cfg := decodeConfig{maxBytes: DefaultMaxBytes}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if err := checkContentType(r.Header.Get("Content-Type"), cfg.requireCTType); err != nil {
		return err
	}
	if r.Body == nil || r.Body == http.NoBody {
		return NewError(http.StatusBadRequest, "request body is empty")
	}
	// The detail states the limit that was hit, which may be a smaller one
	// set by an http.MaxBytesReader the server installed on the body.
	tooLarge := func(err *http.MaxBytesError) *Error {
		return &Error{
			Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("request body is larger than %d bytes", err.Limit),
			Err:    err,
		}
	}
	if r.ContentLength > cfg.maxBytes {
		return tooLarge(&http.MaxBytesError{Limit: cfg.maxBytes})
	}
	data, err := readBody(http.MaxBytesReader(nil, r.Body, cfg.maxBytes), r.ContentLength)
	if err != nil {
		if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return tooLarge(mbe)
		}
		return &Error{Status: http.StatusBadRequest, Detail: "could not read request body", Err: err}
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return NewError(http.StatusBadRequest, "request body is empty")
	}
	// encoding/json takes null as "leave v as it is": a struct target would
	// pass on zero, to fail validation later with a misleading 422. Say
	// what is wrong instead; a target that can hold null (a pointer to a
	// pointer, a map, any) decides for itself.
	if bytes.HasPrefix(trimmed, []byte("null")) && wantsObject(v) {
		if rest := bytes.TrimLeft(trimmed[4:], " \t\r\n"); len(rest) == 0 {
			return NewError(http.StatusBadRequest, "the body must be a JSON object, not null")
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if !cfg.allowUnknown {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return decodeError(data, err)
	}
	off := dec.InputOffset()
	rest := data[off:]
	if trimmed := bytes.TrimLeft(rest, " \t\r\n"); len(trimmed) > 0 {
		line, col := position(data, off+int64(len(rest)-len(trimmed)))
		return Errorf(http.StatusBadRequest, "unexpected data after the JSON value at line %d, column %d", line, col)
	}
	return nil
}

// wantsObject reports whether v points at a struct, which JSON null cannot
// fill.
func wantsObject(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().Kind() == reflect.Struct
}

// readBody reads r to the end into a buffer sized from the Content-Length
// (already checked against the limit) when it is known. Past 64 KiB the
// buffer grows as data arrives rather than on the client's word.
func readBody(r io.Reader, contentLength int64) ([]byte, error) {
	size := int64(512)
	if contentLength > 0 {
		size = min(contentLength+1, 64<<10) // +1: room to see EOF without growing
	}
	b := make([]byte, 0, size)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

func checkContentType(ct string, required bool) error {
	if ct == "" {
		if required {
			return NewError(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		}
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return &Error{
			Status: http.StatusUnsupportedMediaType,
			Detail: fmt.Sprintf("malformed Content-Type %s", quoteClip(ct)),
			Err:    err,
		}
	}
	if mt != "application/json" && !(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return Errorf(http.StatusUnsupportedMediaType, "Content-Type %s is not supported; use application/json", quoteClip(mt))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return Errorf(http.StatusUnsupportedMediaType, "charset %s is not supported; use utf-8", quoteClip(cs))
	}
	return nil
}

// decodeError turns an error from encoding/json into a client-facing *Error.
func decodeError(data []byte, err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok && e != nil {
		return e
	}
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		line, col := position(data, se.Offset-1)
		return &Error{
			Status: http.StatusBadRequest,
			Detail: fmt.Sprintf("malformed JSON at line %d, column %d: %s", line, col, se.Error()),
			Err:    err,
		}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		line, col := position(data, int64(len(data)))
		return &Error{
			Status: http.StatusBadRequest,
			Detail: fmt.Sprintf("malformed JSON: unexpected end of body at line %d, column %d", line, col),
			Err:    err,
		}
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		line, col := position(data, te.Offset-1)
		got := te.Value
		if strings.HasPrefix(got, "number ") {
			got = "number " + clip(strings.TrimPrefix(got, "number "))
		}
		want := jsonKind(te.Type)
		if te.Field == "" {
			return &Error{
				Status: http.StatusBadRequest,
				Detail: fmt.Sprintf("request body must be %s, got %s (line %d, column %d)", want, got, line, col),
				Err:    err,
			}
		}
		return &Error{
			Status: http.StatusBadRequest,
			Detail: fmt.Sprintf("field %q must be %s, got %s (line %d, column %d)", te.Field, want, got, line, col),
			Field:  te.Field,
			Err:    err,
		}
	}
	if ie, ok := errors.AsType[*json.InvalidUnmarshalError](err); ok {
		return &Error{Status: http.StatusInternalServerError, Err: ie}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if n, uerr := strconv.Unquote(name); uerr == nil {
			name = n
		}
		return &Error{
			Status: http.StatusBadRequest,
			Detail: fmt.Sprintf("unknown field %s", quoteClip(name)),
			Field:  name,
			Err:    err,
		}
	}
	return &Error{
		Status: http.StatusBadRequest,
		Detail: "invalid JSON value: " + strings.TrimPrefix(err.Error(), "json: "),
		Err:    err,
	}
}

// jsonKind describes the JSON value a Go type accepts, for error messages.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fmt.Sprintf("an integer (%d-bit)", t.Bits())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return fmt.Sprintf("a non-negative integer (%d-bit)", t.Bits())
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a value of type " + t.String()
}

// position returns the 1-based line and column (in characters) of the byte at
// offset off in data. Offsets out of range are clamped.
func position(data []byte, off int64) (line, col int) {
	off = max(0, min(off, int64(len(data))))
	before := data[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	if i := bytes.LastIndexByte(before, '\n'); i >= 0 {
		before = before[i+1:]
	}
	return line, 1 + utf8.RuneCount(before)
}

// maxQuoted bounds how much client input is echoed back in an error detail.
const maxQuoted = 64

// clip shortens s to at most maxQuoted bytes, on a rune boundary.
func clip(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	i := maxQuoted
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}

// quoteClip quotes s for an error detail, shortened to a safe length.
func quoteClip(s string) string { return strconv.Quote(clip(s)) }
