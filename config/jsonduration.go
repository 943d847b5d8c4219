package config

import (
	"fmt"
	"reflect"
	"strconv"
	"time"
)

// encoding/json reads a time.Duration only as an integer count of
// nanoseconds, which nobody wants to write in a config file. Before
// decoding, the JSON loaders therefore rewrite every string that lands in a
// time.Duration (a field, a slice or array element, a map value, through
// pointers) from time.ParseDuration syntax ("1m30s") to that integer. The
// rewrite keeps a table of the changes so that errors still give the line
// and column of the original document.

var durationType = reflect.TypeFor[time.Duration]()

// durationEdit replaces data[start:end] (a JSON string) with repl.
type durationEdit struct {
	start, end int
	repl       string
}

// rewrittenDoc is a document after the duration rewrite.
type rewrittenDoc struct {
	data  []byte
	edits []durationEdit // in document order (the walk's); offsets in the original
}

// origOffset maps an offset in the rewritten document back to the original.
// An offset inside a replaced value maps to the start of the original value.
func (d *rewrittenDoc) origOffset(off int) int {
	shift := 0 // rewritten minus original, for text after the edits so far
	for _, e := range d.edits {
		newStart := e.start + shift
		if off < newStart {
			break
		}
		if off < newStart+len(e.repl) {
			return e.start
		}
		shift += len(e.repl) - (e.end - e.start)
	}
	return off - shift
}

// rewriteDurations returns data with duration strings replaced by
// nanosecond counts. It returns data itself, with no edits, when v's type
// holds no time.Duration or the document has none to rewrite, and when the
// document is not well-formed (decoding will report that). A string that is
// not a valid duration is an *Error naming the field and its position.
func rewriteDurations(data []byte, v any, source string) (*rewrittenDoc, error) {
	doc := &rewrittenDoc{data: data}
	t := reflect.TypeOf(v)
	if !holdsDuration(t) {
		return doc, nil
	}
	var bad *Error
	w := newTokenWalker(data)
	w.scalar = func(v *jsonValue, t reflect.Type, tok any, end int) bool {
		s, ok := tok.(string)
		if !ok || t != durationType {
			return true
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			shown := strconv.Quote(s)
			if v.secret {
				shown = redactedInError
			}
			bad = &Error{Source: source, Field: w.path(), Err: fmt.Errorf(`invalid duration %s: want a number with a unit, such as "300ms" or "1m30s"`, shown)}
			bad.Line, bad.Column = position(data, v.start)
			return false
		}
		doc.edits = append(doc.edits, durationEdit{start: v.start, end: end, repl: strconv.FormatInt(int64(d), 10)})
		return true
	}
	w.run(t)
	if bad != nil {
		return nil, bad
	}
	if len(doc.edits) == 0 {
		return doc, nil
	}
	out := make([]byte, 0, len(data)+16*len(doc.edits))
	prev := 0
	for _, e := range doc.edits {
		out = append(out, data[prev:e.start]...)
		out = append(out, e.repl...)
		prev = e.end
	}
	doc.data = append(out, data[prev:]...)
	return doc, nil
}

// holdsDuration reports whether a JSON document decoded into t can put a
// value into a time.Duration, so that documents for other types skip the
// extra pass. It walks the type each time rather than keep a package-level
// cache: configuration loads once at start-up, and the walk is cheap.
func holdsDuration(t reflect.Type) bool {
	if t == nil {
		return false
	}
	return searchDuration(t, map[reflect.Type]bool{})
}

func searchDuration(t reflect.Type, seen map[reflect.Type]bool) bool {
	t = decodedType(t)
	if t == nil || seen[t] {
		return false
	}
	if t == durationType {
		return true
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return searchDuration(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if (f.IsExported() || f.Anonymous) && f.Tag.Get("json") != "-" && searchDuration(f.Type, seen) {
				return true
			}
		}
	}
	return false
}
