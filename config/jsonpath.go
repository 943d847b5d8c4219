package config

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"unicode"
)

// This file finds, after encoding/json has rejected a document, where the
// problem is: json's errors carry a byte offset but no usable path (map keys
// and slice indexes are missing) and, for unknown fields, neither. A second,
// token-level pass over the (already decoded once) document recovers both.
// It only runs on the error path.

// tokenWalker walks a JSON document value by value, tracking the path and,
// when known, the Go type each value decodes into.
type tokenWalker struct {
	dec  *json.Decoder
	data []byte
	// visit is called before each value with its path and start offset; it
	// returns false to stop the walk.
	visit func(path string, start int) bool
	// scalar is called after each string, number, bool or null with its
	// path, its Go type (nil when unknown), the token and its offsets; it
	// returns false to stop the walk.
	scalar func(path string, t reflect.Type, tok any, start, end int) bool
	// checkUnknown stops the walk at the first object key that names no
	// field of the struct it decodes into, recording it in found/foundAt.
	checkUnknown bool
	found        string
	foundAt      int
}

func newTokenWalker(data []byte) *tokenWalker {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return &tokenWalker{dec: dec, data: data, foundAt: -1}
}

// start returns the offset of the next value or key, skipping the
// whitespace and separators the decoder has not consumed yet.
func (w *tokenWalker) start() int {
	off := int(w.dec.InputOffset())
	for off < len(w.data) {
		switch w.data[off] {
		case ' ', '\t', '\n', '\r', ',', ':':
			off++
			continue
		}
		break
	}
	return off
}

// walk reads one value at path whose Go type is t (nil when unknown). It
// returns false when the walk was stopped or the input ended early.
func (w *tokenWalker) walk(path string, t reflect.Type) bool {
	start := w.start()
	if w.visit != nil && !w.visit(path, start) {
		return false
	}
	tok, err := w.dec.Token()
	if err != nil {
		return false
	}
	t = decodedType(t)
	switch tok {
	case json.Delim('{'):
		for w.dec.More() {
			at := w.start()
			keyTok, err := w.dec.Token()
			if err != nil {
				return false
			}
			key, _ := keyTok.(string)
			child, known := memberType(t, key)
			childPath := joinPath(path, key)
			if w.checkUnknown && !known {
				w.found, w.foundAt = childPath, at
				return false
			}
			if !w.walk(childPath, child) {
				return false
			}
		}
		_, err = w.dec.Token() // '}'
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; w.dec.More(); i++ {
			if !w.walk(path+"["+strconv.Itoa(i)+"]", elem) {
				return false
			}
		}
		_, err = w.dec.Token() // ']'
	default:
		if w.scalar != nil && !w.scalar(path, t, tok, start, int(w.dec.InputOffset())) {
			return false
		}
	}
	return err == nil
}

// locateValue returns the path and start offset of the value that
// encoding/json was decoding when it reported an error at off: the last
// value that starts before off.
func locateValue(data []byte, off int64) (path string, at int, ok bool) {
	w := newTokenWalker(data)
	at = -1
	w.visit = func(p string, start int) bool {
		if int64(start) >= off {
			return false
		}
		path, at = p, start
		return true
	}
	w.walk("", nil)
	return path, at, at >= 0
}

// locateUnknown returns the path and offset of the first object key in data
// that matches no field of the struct it would decode into.
func locateUnknown(data []byte, v any) (path string, at int, ok bool) {
	w := newTokenWalker(data)
	w.checkUnknown = true
	w.walk("", reflect.TypeOf(v))
	return w.found, w.foundAt, w.foundAt >= 0
}

// unknownFieldKey extracts the key from encoding/json's unknown field error,
// which has no type of its own.
func unknownFieldKey(err error) (string, bool) {
	rest, ok := strings.CutPrefix(err.Error(), "json: unknown field ")
	if !ok {
		return "", false
	}
	key, uerr := strconv.Unquote(rest)
	return key, uerr == nil
}

// joinPath appends key to a dotted path, quoting keys that would make the
// path ambiguous (empty, or holding dots, brackets, quotes or spaces).
func joinPath(path, key string) string {
	if key == "" || strings.ContainsFunc(key, func(r rune) bool {
		return r == '.' || r == '[' || r == ']' || r == '"' || !unicode.IsPrint(r) || unicode.IsSpace(r)
	}) {
		key = strconv.Quote(key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decodedType dereferences pointers and returns nil for types whose content
// encoding/json does not inspect field by field (custom unmarshalers,
// interfaces).
func decodedType(t reflect.Type) reflect.Type {
	for t != nil {
		if t.Implements(jsonUnmarshalerType) || reflect.PointerTo(t).Implements(jsonUnmarshalerType) {
			return nil
		}
		switch t.Kind() {
		case reflect.Pointer:
			t = t.Elem()
		case reflect.Interface:
			return nil
		default:
			return t
		}
	}
	return nil
}

// memberType returns the type of the value at key inside an object that
// decodes into t, and whether encoding/json would accept the key.
func memberType(t reflect.Type, key string) (reflect.Type, bool) {
	if t == nil {
		return nil, true
	}
	switch t.Kind() {
	case reflect.Map:
		return t.Elem(), true
	case reflect.Struct:
		if f, ok := lookupJSONField(t, key); ok {
			return f, true
		}
		return nil, false
	}
	return nil, true // a type mismatch, reported by json itself
}

// lookupJSONField finds the field encoding/json would fill for key: the
// shallowest exact match, or failing that the shallowest case-insensitive
// one. The type is nil for a field with the ",string" option.
func lookupJSONField(t reflect.Type, key string) (reflect.Type, bool) {
	var fold reflect.Type
	foldDepth := -1
	var exact reflect.Type
	exactDepth := -1
	var visit func(t reflect.Type, depth int)
	visit = func(t reflect.Type, depth int) {
		if depth > 16 {
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					visit(ft, depth+1)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			ft := f.Type
			if hasOption(opts, "string") {
				// The value is a string holding a scalar literal, not
				// what the field's type alone suggests.
				ft = nil
			}
			if name == key && (exactDepth < 0 || depth < exactDepth) {
				exact, exactDepth = ft, depth
			} else if strings.EqualFold(name, key) && (foldDepth < 0 || depth < foldDepth) {
				fold, foldDepth = ft, depth
			}
		}
	}
	visit(t, 0)
	switch {
	case exactDepth >= 0:
		return exact, true
	case foldDepth >= 0:
		return fold, true
	}
	return nil, false
}

// hasOption reports whether the comma-separated json tag options include opt.
func hasOption(opts, opt string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == opt {
			return true
		}
	}
	return false
}
