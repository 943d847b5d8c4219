package config_test

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/seed8104ecd5/gizmo/config"
)

type Base struct {
	Region string `json:"region"`
}

type jsonCfg struct {
	Base
	Port   int               `json:"port"`
	Hosts  []string          `json:"hosts"`
	Labels map[string]string `json:"labels"`
	Addr   netip.Addr        `json:"addr"`
	Inner  *struct {
		A, B int
	} `json:"inner"`
	Ignored string `json:"-"`
}

// TestJSONMerge checks that a document changes only what it mentions.
func TestJSONMerge(t *testing.T) {
	v := jsonCfg{Port: 1, Hosts: []string{"a", "b"}, Labels: map[string]string{"k": "v"}, Ignored: "i"}
	v.Region = "eu"
	err := config.LoadJSON(stringsReader(`{"hosts": ["c"], "labels": {"k2": "v2"}, "inner": {"a": 1}, "REGION": "us"}`), &v)
	if err != nil {
		t.Fatal(err)
	}
	want := jsonCfg{Port: 1, Hosts: []string{"c"}, Labels: map[string]string{"k": "v", "k2": "v2"}, Ignored: "i"}
	want.Region = "us" // embedded fields are promoted; keys match case-insensitively, as in encoding/json
	want.Inner = &struct{ A, B int }{A: 1}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("got  %+v\nwant %+v", v, want)
	}
}

func TestJSONUnknownFields(t *testing.T) {
	doc := `{"port": 1, "inner": {"a": 1, "c": 2}}`
	var v jsonCfg
	err := config.LoadJSON(stringsReader(doc), &v)
	if want := "config: json: line 1, column 31: inner.c: unknown field"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	v = jsonCfg{}
	if err := config.LoadJSON(stringsReader(doc), &v, config.AllowUnknownFields()); err != nil || v.Port != 1 || v.Inner.A != 1 {
		t.Errorf("AllowUnknownFields: err=%v v=%+v", err, v)
	}
	// "-" fields are unknown to encoding/json too.
	err = config.LoadJSON(stringsReader(`{"Ignored": "x"}`), &v)
	if want := "config: json: line 1, column 2: Ignored: unknown field"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestJSONOddInputs(t *testing.T) {
	for _, tt := range []struct{ doc, want string }{
		{"", "config: cfg.json: line 1, column 1: unexpected end of JSON input"},
		{"  \n ", "config: cfg.json: line 2, column 2: unexpected end of JSON input"},
		{`{"addr": "not-an-ip"}`, `config: cfg.json: line 1, column 10: addr: ParseAddr("not-an-ip"): unable to parse IP`},
		{`["x"]`, "config: cfg.json: line 1, column 1: cannot unmarshal array into config_test.jsonCfg"},
		{`{"labels": {"a.example.com": 1}}`, `config: cfg.json: line 1, column 30: labels."a.example.com": cannot unmarshal number into string`},
		{`{"": 1}`, `config: cfg.json: line 1, column 2: "": unknown field`},
		{"{\"port\": 1}\n\n  x", "config: cfg.json: line 3, column 3: invalid data after the top-level value"},
	} {
		var v jsonCfg
		err := config.LoadJSON(stringsReader(tt.doc), &v, config.SourceName("cfg.json"))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q: got %v\nwant %s", tt.doc, err, tt.want)
		}
	}
	var v jsonCfg
	if err := config.LoadJSON(stringsReader(" null "), &v); err != nil {
		t.Errorf("null document: %v", err)
	}
}

func TestJSONErrorFields(t *testing.T) {
	var v jsonCfg
	err := config.LoadJSON(stringsReader("{\n\"labels\": {\"x\": 1}}"), &v, config.SourceName("s"))
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("%v is not a *config.Error", err)
	}
	want := config.Error{Source: "s", Field: "labels.x", Line: 2, Column: 17, Err: ce.Err}
	if *ce != want {
		t.Errorf("got %+v, want %+v", *ce, want)
	}
}
