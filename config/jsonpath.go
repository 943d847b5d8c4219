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
// and slice indexes are missing) and, for unknown fields and errors from a
// type's own decoder, neither. A second, token-level pass over the (already
// decoded once) document recovers both, and whether the value sits inside a
// field tagged `secret:"true"`. It only runs on the error path, apart from
// the duration rewrite (jsonduration.go), which uses the same walker.
//
// Every walk costs time and memory linear in the size of the document: the
// path is kept as a stack of segments and turned into a string only for the
// one value an error is about, and decodeJSON has already rejected documents
// nested deeper than maxJSONDepth (see checkDepth), which bounds the
// recursion.

// maxJSONDepth is the deepest nesting of arrays and objects a JSON document
// may have. It is encoding/json's own limit, so that no document json would
// accept is refused, and it bounds the recursion of every walk here.
const maxJSONDepth = 10000

// checkDepth returns the offset of the first '[' or '{' that opens a level
// deeper than maxJSONDepth, or -1. It needs no allocation and reads data
// once. Brackets inside strings do not count; a malformed document may be
// miscounted, but json rejects it anyway.
func checkDepth(data []byte) int {
	depth := 0
	inString, escaped := false, false
	for i, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > maxJSONDepth {
				return i
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return -1
}

// pathSeg is one step of a path: an object key, or an array index when
// index >= 0.
type pathSeg struct {
	key   string
	index int
}

// jsonValue describes the value a walk is at.
type jsonValue struct {
	// typ is the Go type the value decodes into as declared (pointers and
	// decoder methods included), nil when unknown.
	typ reflect.Type
	// quoted reports a struct field with the ",string" option.
	quoted bool
	// secret reports that the value is, or is inside, a struct field
	// tagged `secret:"true"`.
	secret bool
	// start is the offset of the value's first byte.
	start int
}

// tokenWalker walks a JSON document value by value, tracking the path and,
// when known, the Go type each value decodes into.
type tokenWalker struct {
	dec  *json.Decoder
	data []byte
	segs []pathSeg // the path of the current value
	// visit is called before each value; it returns false to stop the
	// walk.
	visit func(v *jsonValue) bool
	// scalar is called after each string, number, bool or null with its Go
	// type as encoding/json sees it (nil when unknown), the token and its
	// end offset; it returns false to stop the walk.
	scalar func(v *jsonValue, t reflect.Type, tok any, end int) bool
	// after is called once a value has been read, with its end offset; it
	// returns false to stop the walk.
	after func(v *jsonValue, end int) bool
	// secretKey is called with each object key inside a secret value.
	secretKey func(key string)
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

// path returns the current path as a string: keys joined by dots (quoted
// when ambiguous, see quoteKey) and indexes in brackets, as in
// "workers[2].name".
func (w *tokenWalker) path() string {
	var b strings.Builder
	for _, s := range w.segs {
		if s.index >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(quoteKey(s.key))
	}
	return b.String()
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

// run walks the whole document, which decodes into t (nil when unknown).
func (w *tokenWalker) run(t reflect.Type) {
	w.walk(jsonValue{typ: t}, 0)
}

// walk reads one value, described by v, at nesting depth depth. It returns
// false when the walk was stopped or the input ended early.
func (w *tokenWalker) walk(v jsonValue, depth int) bool {
	if depth > maxJSONDepth {
		return false // decodeJSON rejects such documents before any walk
	}
	v.start = w.start()
	if w.visit != nil && !w.visit(&v) {
		return false
	}
	tok, err := w.dec.Token()
	if err != nil {
		return false
	}
	t := decodedType(v.typ)
	if v.quoted {
		t = nil // a string holding a literal, not what the type suggests
	}
	switch tok {
	case json.Delim('{'):
		for w.dec.More() {
			at := w.start()
			keyTok, err := w.dec.Token()
			if err != nil {
				return false
			}
			key, _ := keyTok.(string)
			if v.secret && w.secretKey != nil {
				w.secretKey(key)
			}
			child, known := memberType(t, key)
			child.secret = child.secret || v.secret
			w.segs = append(w.segs, pathSeg{key: key, index: -1})
			if w.checkUnknown && !known {
				w.found, w.foundAt = w.path(), at
				return false
			}
			if !w.walk(child, depth+1) {
				return false
			}
			w.segs = w.segs[:len(w.segs)-1]
		}
		_, err = w.dec.Token() // '}'
	case json.Delim('['):
		elem := jsonValue{secret: v.secret}
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem.typ = t.Elem()
		}
		w.segs = append(w.segs, pathSeg{index: 0})
		for i := 0; w.dec.More(); i++ {
			w.segs[len(w.segs)-1].index = i
			if !w.walk(elem, depth+1) {
				return false
			}
		}
		w.segs = w.segs[:len(w.segs)-1]
		_, err = w.dec.Token() // ']'
	default:
		if w.scalar != nil && !w.scalar(&v, t, tok, int(w.dec.InputOffset())) {
			return false
		}
	}
	if err != nil {
		return false
	}
	if w.after != nil && !w.after(&v, int(w.dec.InputOffset())) {
		return false
	}
	return true
}

// locateValue returns the path and start offset of the value that
// encoding/json was decoding when it reported an error at off (the last
// value that starts before off) and whether that value is secret in t.
//
// It walks twice, so that only one path is ever built: first to find which
// value it is, then to stop there.
func locateValue(data []byte, t reflect.Type, off int64) (path string, at int, secret, ok bool) {
	n, last := 0, -1
	w := newTokenWalker(data)
	w.visit = func(v *jsonValue) bool {
		if int64(v.start) >= off {
			return false
		}
		n++
		last = n
		return true
	}
	w.run(t)
	if last < 0 {
		return "", -1, false, false
	}
	n = 0
	w = newTokenWalker(data)
	w.visit = func(v *jsonValue) bool {
		n++
		if n < last {
			return true
		}
		path, at, secret = w.path(), v.start, v.secret
		return false
	}
	w.run(t)
	return path, at, secret, true
}

// locateUnknown returns the path and offset of the first object key in data
// that matches no field of the struct it would decode into.
func locateUnknown(data []byte, v any) (path string, at int, ok bool) {
	w := newTokenWalker(data)
	w.checkUnknown = true
	w.run(reflect.TypeOf(v))
	return w.found, w.foundAt, w.foundAt >= 0
}

// locateDecoderError finds the value whose decoding gave err, an error that
// encoding/json returns without a position: one from a type's own
// UnmarshalJSON or UnmarshalText, or from a ",string" field. It decodes,
// in document order, each value that could give such an error on its own
// and returns the first whose error reads the same. Only such values are
// decoded again, each once.
func locateDecoderError(data []byte, t reflect.Type, err error) (path string, val jsonValue, ok bool) {
	msg := err.Error()
	w := newTokenWalker(data)
	w.after = func(v *jsonValue, end int) bool {
		if v.typ == nil || !(v.quoted || hasOwnDecoder(v.typ)) {
			return true
		}
		if e := decodeAlone(v.typ, v.quoted, data[v.start:end]); e != nil && e.Error() == msg {
			path, val, ok = w.path(), *v, true
			return false
		}
		return true
	}
	w.run(t)
	return path, val, ok
}

// hasOwnDecoder reports whether json hands values of type t (or *t) to
// their own UnmarshalJSON or UnmarshalText method.
func hasOwnDecoder(t reflect.Type) bool {
	for _, it := range []reflect.Type{jsonUnmarshalerType, textUnmarshalerType} {
		if t.Implements(it) || reflect.PointerTo(t).Implements(it) {
			return true
		}
	}
	return false
}

// decodeAlone decodes raw as the value of a struct field of type t (with
// the ",string" option if quoted) and returns json's error.
func decodeAlone(t reflect.Type, quoted bool, raw []byte) error {
	tag := `json:"v"`
	if quoted {
		tag = `json:"v,string"`
	}
	holder := reflect.New(reflect.StructOf([]reflect.StructField{{Name: "V", Type: t, Tag: reflect.StructTag(tag)}}))
	doc := make([]byte, 0, len(raw)+6)
	doc = append(append(append(doc, `{"v":`...), raw...), '}')
	return json.Unmarshal(doc, holder.Interface())
}

// showsSecret reports whether text contains the value of any secret field
// in data (a scalar as written or as decoded, or a key inside a secret map
// or struct), when decoded into t. Empty values are not looked for.
func showsSecret(data []byte, t reflect.Type, text string) bool {
	found := false
	check := func(s string) {
		if s != "" && strings.Contains(text, s) {
			found = true
		}
	}
	w := newTokenWalker(data)
	w.secretKey = check
	w.scalar = func(v *jsonValue, _ reflect.Type, tok any, end int) bool {
		if v.secret {
			check(string(data[v.start:end]))
			if s, ok := tok.(string); ok {
				check(s)
			}
		}
		return !found
	}
	w.run(t)
	return found
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

// joinPath appends key to a dotted path, quoting it when ambiguous (see
// quoteKey).
func joinPath(path, key string) string {
	key = quoteKey(key)
	if path == "" {
		return key
	}
	return path + "." + key
}

// quoteKey quotes keys that would make a path ambiguous: empty, or holding
// dots, brackets, quotes, spaces or unprintable runes.
func quoteKey(key string) string {
	if key == "" || strings.ContainsFunc(key, func(r rune) bool {
		return r == '.' || r == '[' || r == ']' || r == '"' || !unicode.IsPrint(r) || unicode.IsSpace(r)
	}) {
		return strconv.Quote(key)
	}
	return key
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

// memberType describes the value at key inside an object that decodes into
// t (its type, ",string" option and secret tag), and reports whether
// encoding/json would accept the key.
func memberType(t reflect.Type, key string) (jsonValue, bool) {
	if t == nil {
		return jsonValue{}, true
	}
	switch t.Kind() {
	case reflect.Map:
		return jsonValue{typ: t.Elem()}, true
	case reflect.Struct:
		return lookupJSONField(t, key)
	}
	return jsonValue{}, true // a type mismatch, reported by json itself
}

// lookupJSONField finds the field encoding/json would fill for key: the
// shallowest exact match, or failing that the shallowest case-insensitive
// one. The field is secret when it, or an embedded struct it is promoted
// from, is tagged `secret:"true"`.
func lookupJSONField(t reflect.Type, key string) (jsonValue, bool) {
	var fold, exact jsonValue
	foldDepth, exactDepth := -1, -1
	var visit func(t reflect.Type, depth int, secret bool)
	visit = func(t reflect.Type, depth int, secret bool) {
		if depth > 16 {
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			fieldSecret := secret || isTrue(f.Tag.Get("secret"))
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					visit(ft, depth+1, fieldSecret)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			// With ",string" the value is a string holding a scalar
			// literal, not what the field's type alone suggests.
			fv := jsonValue{typ: f.Type, quoted: hasOption(opts, "string"), secret: fieldSecret}
			if name == key && (exactDepth < 0 || depth < exactDepth) {
				exact, exactDepth = fv, depth
			} else if strings.EqualFold(name, key) && (foldDepth < 0 || depth < foldDepth) {
				fold, foldDepth = fv, depth
			}
		}
	}
	visit(t, 0, false)
	switch {
	case exactDepth >= 0:
		return exact, true
	case foldDepth >= 0:
		return fold, true
	}
	return jsonValue{}, false
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
