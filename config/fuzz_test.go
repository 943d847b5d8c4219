package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/config"
)

type fuzzInner struct {
	X string `json:"x"`
	Y []int  `json:"y"`
}

type fuzzCfg struct {
	Base
	S   string                    `json:"s"`
	I   int8                      `json:"i"`
	U   uint                      `json:"u"`
	F   float64                   `json:"f"`
	B   bool                      `json:"b"`
	L   []fuzzInner               `json:"l"`
	M   map[string]*fuzzInner     `json:"m"`
	P   *fuzzInner                `json:"p"`
	A   any                       `json:"a"`
	Arr [2]int                    `json:"arr"`
	D   time.Duration             `json:"d"`
	DL  []time.Duration           `json:"dl"`
	DM  map[string]*time.Duration `json:"dm"`
}

// FuzzLoadJSON checks that the JSON loader never panics (duration strings
// included), that every error is
// a *config.Error naming the source (and a field for type and unknown-field
// errors) with a position inside the document, and that whatever it accepts
// survives a round trip through json.Marshal unchanged.
func FuzzLoadJSON(f *testing.F) {
	for _, seed := range []string{
		`{"s":"x","i":1,"u":2,"f":1.5,"b":true,"l":[{"x":"a","y":[1,2]}],"m":{"k":{"x":"b"},"n":null},"p":{"y":[]},"a":{"z":[1,"2",null]},"arr":[1,2],"region":"eu"}`,
		`{"i": 300}`, `{"l": [{"x": 1}]}`, `{"m": {"k": {"q": 1}}}`, `{"S": "case"}`, "{\n\"p\": {\"x\": \"\xff\"}}",
		`{"s": }`, `[`, `{} x`, ``, `null`, `{"arr": [1,2,3]}`, `{"a": 1e999}`,
		`{"d": "1h2m3.5s", "dl": ["1ms", 5, "-2us"], "dm": {"a": "3m", "b": null}, "i": "x"}`,
		`{"d": "9999999h"}`, `{"dl": ["1s" "2s"]}`, "{\"d\": \"1\u00b5s\", \"s\": 1}",
		// One level past the nesting limit, and a type error at the limit:
		// refused, or located, at a cost linear in the size (the duration
		// rewrite once took gigabytes on 200 KB of brackets). The seeds
		// stay small enough for the fuzzer to mutate quickly;
		// TestJSONDeepNestingRejected covers 100,000 levels.
		strings.Repeat("[", 10_001) + strings.Repeat("]", 10_001),
		`{"l":[{"y":` + strings.Repeat("[", 9_997) + strings.Repeat("]", 9_997) + `}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v fuzzCfg
		err := config.LoadJSON(bytes.NewReader(data), &v, config.SourceName("fuzz"))
		if err != nil {
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *config.Error: %v", err, err)
			}
			if ce.Source != "fuzz" || !strings.HasPrefix(err.Error(), "config: fuzz: ") {
				t.Fatalf("error does not name the source: %v", err)
			}
			lines := bytes.Count(data, []byte("\n")) + 1
			if ce.Line != 0 && (ce.Line > lines || ce.Column < 1) {
				t.Fatalf("position %d:%d outside a %d-line document: %v", ce.Line, ce.Column, lines, err)
			}
			var te *json.UnmarshalTypeError
			if (strings.HasSuffix(err.Error(), "unknown field") || errors.As(err, &te)) && (ce.Field == "" || ce.Line == 0) {
				// The top-level value has no field name, only a position.
				if !strings.Contains(err.Error(), "into config_test.fuzzCfg") {
					t.Fatalf("error lacks field or position: %v", err)
				}
			}
			return
		}
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("marshal accepted value: %v", err)
		}
		var w fuzzCfg
		if err := config.LoadJSON(bytes.NewReader(out), &w); err != nil {
			t.Fatalf("reloading %s: %v", out, err)
		}
		if !reflect.DeepEqual(v, w) {
			t.Fatalf("round trip changed the value:\n%+v\n%+v", v, w)
		}
	})
}
