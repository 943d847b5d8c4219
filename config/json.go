package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"unicode/utf8"
)

// A JSONOption changes how a JSON document is decoded.
type JSONOption func(*jsonOptions)

type jsonOptions struct {
	allowUnknown bool
	name         string
}

// AllowUnknownFields makes the JSON loaders ignore object keys that match no
// field of the target. By default an unknown key is an error, because it is
// usually a typo that would otherwise be silently ignored.
func AllowUnknownFields() JSONOption {
	return func(o *jsonOptions) { o.allowUnknown = true }
}

// SourceName sets the name by which [LoadJSON] refers to its reader in
// errors. The default is "json".
func SourceName(name string) JSONOption {
	return func(o *jsonOptions) { o.name = name }
}

func newJSONOptions(name string, opts []JSONOption) jsonOptions {
	o := jsonOptions{name: name}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// LoadJSONFile decodes the JSON document in the file at path into v, which
// must be a non-nil pointer. Keys absent from the document leave the
// corresponding fields of v unchanged; objects are merged into existing maps
// and structs, arrays replace slices.
//
// A time.Duration may be given as a string in time.ParseDuration syntax
// ("1m30s") or as an integer count of nanoseconds.
//
// Errors are *[Error] values naming the file and, where it applies, the line,
// column and field. A missing file gives an error that wraps
// [io/fs.ErrNotExist].
func LoadJSONFile(path string, v any, opts ...JSONOption) error {
	o := newJSONOptions(fileSourceName(path), opts)
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already in the source name
		}
		return &Error{Source: o.name, Err: err}
	}
	return decodeJSON(data, v, o)
}

// LoadJSON decodes the JSON document read from r into v, which must be a
// non-nil pointer, with the same rules as [LoadJSONFile]. Errors call the
// source "json" unless [SourceName] says otherwise.
func LoadJSON(r io.Reader, v any, opts ...JSONOption) error {
	o := newJSONOptions("json", opts)
	data, err := io.ReadAll(r)
	if err != nil {
		return &Error{Source: o.name, Err: err}
	}
	return decodeJSON(data, v, o)
}

// decodeJSON decodes one JSON document from data into v and turns the
// decoder's errors into *Error values with a position and a field path.
//
// Strings bound for time.Duration values are read in time.ParseDuration
// syntax (see rewriteDurations); positions in errors always refer to data.
func decodeJSON(data []byte, v any, o jsonOptions) error {
	if at := checkDepth(data); at >= 0 {
		e := &Error{Source: o.name, Err: fmt.Errorf("nesting depth exceeds the limit of %d", maxJSONDepth)}
		e.Line, e.Column = position(data, at)
		return e
	}
	doc, err := rewriteDurations(data, v, o.name)
	if err != nil {
		return err
	}
	orig := data
	data = doc.data
	// pos gives the line and column in the original document of an offset
	// in the decoded one.
	pos := func(off int) (int, int) { return position(orig, doc.origOffset(off)) }

	dec := json.NewDecoder(bytes.NewReader(data))
	if !o.allowUnknown {
		dec.DisallowUnknownFields()
	}
	err = dec.Decode(v)
	if err == nil {
		// A document is exactly one value: reject anything after it.
		rest := int(dec.InputOffset())
		for rest < len(data) && isJSONSpace(data[rest]) {
			rest++
		}
		if rest < len(data) {
			e := &Error{Source: o.name, Err: errors.New("invalid data after the top-level value")}
			e.Line, e.Column = pos(rest)
			return e
		}
		return nil
	}

	t := reflect.TypeOf(v)
	e := &Error{Source: o.name, Err: err}
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		invalid   *json.InvalidUnmarshalError
	)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		e.Err = errors.New("unexpected end of JSON input")
		e.Line, e.Column = pos(len(data))
	case errors.As(err, &syntaxErr):
		// Offset counts the bytes read, including the offending one.
		e.Err = errors.New(syntaxErr.Error())
		e.Line, e.Column = pos(int(syntaxErr.Offset) - 1)
	case errors.As(err, &typeErr):
		// Value is "number 31337.5" for numbers: the literal goes when the
		// field is secret, or when the field is not known and the target
		// has secrets.
		value := typeErr.Value
		e.Field = typeErr.Field
		path, at, secret, ok := locateValue(data, t, typeErr.Offset)
		if ok {
			e.Field = path
			e.Line, e.Column = pos(at)
		} else {
			secret = holdsSecret(t)
		}
		if secret {
			value, _, _ = strings.Cut(value, " ")
		}
		e.Err = fmt.Errorf("cannot unmarshal %s into %s", value, typeErr.Type)
	case errors.As(err, &invalid):
		e.Err = fmt.Errorf("cannot decode into %T: target must be a non-nil pointer", v)
	default:
		if key, ok := unknownFieldKey(err); ok {
			e.Err = errors.New("unknown field")
			e.Field = key
			if path, at, found := locateUnknown(data, v); found {
				e.Field = path
				e.Line, e.Column = pos(at)
			}
			break
		}
		// Anything else comes from a type's own UnmarshalJSON or
		// UnmarshalText, or from a ",string" field; json reports no
		// position for those, and their messages often quote the value.
		if path, val, found := locateDecoderError(data, t, err); found {
			e.Field = path
			e.Line, e.Column = pos(val.start)
			if val.secret {
				e.Err = fmt.Errorf("cannot decode %s into %s", redactedInError, val.typ)
			}
		} else if holdsSecret(t) && showsSecret(data, t, err.Error()) {
			e.Err = errors.New("a value was rejected by its decoder, whose message is not shown because it contains a secret")
		}
	}
	return e
}

// holdsSecret reports whether a JSON document decoded into t can put a
// value into a field tagged `secret:"true"`.
func holdsSecret(t reflect.Type) bool {
	return searchSecret(t, map[reflect.Type]bool{})
}

func searchSecret(t reflect.Type, seen map[reflect.Type]bool) bool {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return searchSecret(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous || f.Tag.Get("json") == "-" {
				continue
			}
			if isTrue(f.Tag.Get("secret")) || searchSecret(f.Type, seen) {
				return true
			}
		}
	}
	return false
}

// position converts a byte offset into a 1-based line and column; the column
// counts runes.
func position(data []byte, off int) (line, col int) {
	off = max(0, min(off, len(data)))
	before := data[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCount(before[lineStart:]) + 1
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
