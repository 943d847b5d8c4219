package config_test

import (
	"bytes"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/config"
)

// deepNode nests through a slice of itself and holds a time.Duration, so
// that documents for it go through the duration rewrite and every level of
// a deep document has a Go type.
type deepNode struct {
	N []deepNode    `json:"n"`
	X int           `json:"x"`
	D time.Duration `json:"d"`
	A any           `json:"a"`
}

// plainNode is deepNode without a duration: its documents skip the rewrite.
type plainNode struct {
	N []plainNode `json:"n"`
	X int         `json:"x"`
	A any         `json:"a"`
}

// allocated returns the bytes allocated while f ran.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestJSONDeepNestingRejected feeds documents nested 100,000 levels deep:
// they must be refused with an error naming the source, the position and
// the limit, at a cost linear in their size (the loader once went through
// gigabytes on such a document).
func TestJSONDeepNestingRejected(t *testing.T) {
	const levels = 100_000
	deepArrays := strings.Repeat("[", levels) + strings.Repeat("]", levels)
	deepObjects := strings.Repeat(`{"a":`, levels) + "1" + strings.Repeat("}", levels)
	deepTyped := strings.Repeat(`{"n":[`, levels/2) + strings.Repeat("]}", levels/2)
	for _, tc := range []struct {
		name, doc string
		target    func() any
		col       int // column of the first bracket past the limit
	}{
		{"arrays into a duration holder", deepArrays, func() any { return &deepNode{} }, 10001},
		{"arrays under a field", `{"a": ` + deepArrays + "}", func() any { return &deepNode{} }, 10006},
		{"objects into a duration holder", `{"a":` + deepObjects + "}", func() any { return &deepNode{} }, 5*10000 + 1},
		{"typed levels", deepTyped, func() any { return &deepNode{} }, 3*10000 + 1},
		{"arrays without durations", deepArrays, func() any { return &plainNode{} }, 10001},
		{"typed levels without durations", deepTyped, func() any { return &plainNode{} }, 3*10000 + 1},
		{"into any", deepArrays, func() any { var v map[string]any; return &v }, 10001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.target()
			var err error
			n := allocated(func() {
				err = config.LoadJSON(strings.NewReader(tc.doc), v, config.SourceName("deep.json"))
			})
			want := "config: deep.json: line 1, column " + strconv.Itoa(tc.col) + ": nesting depth exceeds the limit of 10000"
			if err == nil || err.Error() != want {
				t.Fatalf("got %v\nwant %s", err, want)
			}
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Source != "deep.json" {
				t.Errorf("error %#v does not name the source", err)
			}
			t.Logf("allocated %d bytes", n)
			// Reading the document copies it once or twice; everything else
			// must be small. The bound is generous, not a benchmark.
			if limit := uint64(8*len(tc.doc)) + 4<<20; n > limit {
				t.Errorf("refusing a %d-byte document allocated %d bytes, want at most %d", len(tc.doc), n, limit)
			}
		})
	}
}

// TestJSONDeepNestingAtLimit checks that a document exactly as deep as
// encoding/json allows still loads, and that an error at the bottom of it
// names its full path at a cost linear in the document, not in the square
// of its depth.
func TestJSONDeepNestingAtLimit(t *testing.T) {
	const pairs = 4999 // {"n":[ ... ]} pairs: depth 2*4999+1 = 9999 with the leaf object, +1 for "a": [...]
	open := strings.Repeat(`{"n":[`, pairs)
	closing := strings.Repeat("]}", pairs)

	ok := open + `{"d": "1s", "a": [1]}` + closing
	var v deepNode
	if err := config.LoadJSON(strings.NewReader(ok), &v); err != nil {
		t.Fatalf("document at the depth limit: %v", err)
	}
	leaf := &v
	for range pairs {
		if len(leaf.N) != 1 {
			t.Fatal("document at the depth limit lost levels")
		}
		leaf = &leaf.N[0]
	}
	if leaf.D != time.Second {
		t.Errorf("leaf duration %v, want 1s", leaf.D)
	}

	for _, tc := range []struct{ name, leaf, field, cause string }{
		{"type error", `{"d": "2s", "x": "bad"}`, "x", "cannot unmarshal string into int"},
		{"bad duration", `{"d": "2 s"}`, "d", `invalid duration "2 s": want a number with a unit, such as "300ms" or "1m30s"`},
		{"unknown field", `{"d": "2s", "zz": 1}`, "zz", "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := open + tc.leaf + closing
			var v deepNode
			var err error
			n := allocated(func() { err = config.LoadJSON(strings.NewReader(doc), &v) })
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *config.Error", err)
			}
			wantField := strings.Repeat("n[0].", pairs) + tc.field
			if ce.Field != wantField || ce.Err.Error() != tc.cause || ce.Line != 1 || ce.Column <= 6*pairs {
				t.Errorf("got field of %d bytes ending %q, cause %q at %d:%d; want %d bytes, cause %q past column %d",
					len(ce.Field), ce.Field[max(0, len(ce.Field)-20):], ce.Err, ce.Line, ce.Column, len(wantField), tc.cause, 6*pairs)
			}
			t.Logf("allocated %d bytes", n)
			// Decoding 5,000 nested structs costs some; one path per level
			// (the old walk) cost over 100 MB here.
			if limit := uint64(32 << 20); n > limit {
				t.Errorf("loading a %d-byte document allocated %d bytes, want at most %d", len(doc), n, limit)
			}
		})
	}
}

// TestJSONDepthIgnoresBracketsInStrings checks that brackets inside strings
// do not count towards the nesting limit.
func TestJSONDepthIgnoresBracketsInStrings(t *testing.T) {
	s := strings.Repeat(`[{\"`, 20000)
	doc := `{"a": "` + s + `"}`
	var v deepNode
	if err := config.LoadJSON(bytes.NewReader([]byte(doc)), &v); err != nil {
		t.Fatalf("brackets in a string: %v", err)
	}
	if v.A != strings.ReplaceAll(s, `\"`, `"`) {
		t.Error("string value changed")
	}
}
