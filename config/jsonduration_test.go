package config_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/config"
)

type durCfg struct {
	Timeout  time.Duration            `json:"timeout"`
	Nanos    time.Duration            `json:"nanos"`
	Quoted   time.Duration            `json:"quoted,string"`
	Backoffs []time.Duration          `json:"backoffs"`
	PerRoute map[string]time.Duration `json:"per_route"`
	Optional *time.Duration           `json:"optional"`
	Nested   struct {
		Idle [2]time.Duration `json:"idle"`
	} `json:"nested"`
	Port int    `json:"port"`
	Name string `json:"name"`
}

// TestJSONDurationStrings checks that every place a time.Duration can sit
// accepts time.ParseDuration syntax, and that integers (nanoseconds) and
// quoted integers for ",string" fields still work.
func TestJSONDurationStrings(t *testing.T) {
	doc := `{
  "timeout": "1m30s", "nanos": 1500, "quoted": "250",
  "backoffs": ["100ms", 2000000000, "1h"],
  "per_route": {"/a": "5s", "/b": "-1.5s"},
  "optional": "2µs",
  "nested": {"idle": ["0", "3m"]},
  "name": "not a duration: 5s"
}`
	var got durCfg
	if err := config.LoadJSON(stringsReader(doc), &got); err != nil {
		t.Fatal(err)
	}
	opt := 2 * time.Microsecond
	want := durCfg{
		Timeout:  90 * time.Second,
		Nanos:    1500,
		Quoted:   250,
		Backoffs: []time.Duration{100 * time.Millisecond, 2 * time.Second, time.Hour},
		PerRoute: map[string]time.Duration{"/a": 5 * time.Second, "/b": -1500 * time.Millisecond},
		Optional: &opt,
		Name:     "not a duration: 5s",
	}
	want.Nested.Idle = [2]time.Duration{0, 3 * time.Minute}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// TestJSONDurationErrors checks the error for a bad duration, and that
// positions of other errors still point into the original document after
// durations earlier on the same line were rewritten to longer numbers.
func TestJSONDurationErrors(t *testing.T) {
	for _, tt := range []struct{ doc, want string }{
		{`{"timeout": "90"}`, `config: d.json: line 1, column 13: timeout: invalid duration "90": want a number with a unit, such as "300ms" or "1m30s"`},
		{`{"timeout": "5 seconds"}`, `config: d.json: line 1, column 13: timeout: invalid duration "5 seconds": want a number with a unit, such as "300ms" or "1m30s"`},
		{"{\n \"per_route\": {\"x.y\": \"1s\", \"z\": \"3d\"}}", `config: d.json: line 2, column 34: per_route.z: invalid duration "3d": want a number with a unit, such as "300ms" or "1m30s"`},
		{`{"timeout": "1s", "port": "80"}`, `config: d.json: line 1, column 27: port: cannot unmarshal string into int`},
		{`{"backoffs": ["1s", "2s"], "nope": 1}`, `config: d.json: line 1, column 28: nope: unknown field`},
		{`{"timeout": "1h"} x`, `config: d.json: line 1, column 19: invalid data after the top-level value`},
		{`{"timeout": "1h", "port": }`, `config: d.json: line 1, column 27: invalid character '}' looking for beginning of value`},
		{`{"timeout": true}`, `config: d.json: line 1, column 13: timeout: cannot unmarshal bool into time.Duration`},
	} {
		var v durCfg
		err := config.LoadJSON(stringsReader(tt.doc), &v, config.SourceName("d.json"))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s:\n got %v\nwant %s", tt.doc, err, tt.want)
		}
	}
}
