package wire

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

var (
	sqsCodec  = Codec{BodyOK: SQSBody, NameOK: SQSName, ValueOK: SQSValue, KeyAttr: true}
	httpCodec = Codec{NameOK: HeaderName, ValueOK: HeaderValue, KeyAttr: true}
	rawCodec  = Codec{KeyAttr: true}
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		key   string
		attrs map[string]string
		want  string // substring of the error; "" for none
	}{
		{name: "ok", key: "k", attrs: map[string]string{"a": "", "ünï code": "✓"}},
		{name: "dead-letter attribute is public", attrs: map[string]string{pubsub.AttrDeadLetter: "{}"}},
		{name: "reserved prefix", attrs: map[string]string{"gizmo-key": "x"}, want: `"gizmo-key" uses the reserved prefix`},
		{name: "empty name", attrs: map[string]string{"": "x"}, want: "empty attribute name"},
		{name: "bad key", key: "\xff", want: "key"},
		{name: "bad name", attrs: map[string]string{"a\xff": "x"}, want: "attribute name"},
		{name: "bad value", attrs: map[string]string{"a": "\xc3"}, want: `value of attribute "a"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.key, tc.attrs)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, pubsub.ErrInvalidMessage) {
				t.Fatalf("Validate = %v, want an ErrInvalidMessage naming %q", err, tc.want)
			}
		})
	}
}

func TestKeyGate(t *testing.T) {
	var g KeyGate
	if g.Check("a") != nil {
		t.Fatal("a fresh gate blocked a key")
	}
	g.Fail("a")
	g.Fail("")
	if err := g.Check("a"); !errors.Is(err, pubsub.ErrKeyBlocked) {
		t.Errorf("Check(a) after Fail(a) = %v, want ErrKeyBlocked", err)
	}
	if g.Check("b") != nil || g.Check("") != nil {
		t.Error("a failure blocked another key, or the empty key")
	}
}

func TestSQSEncoding(t *testing.T) {
	attrs := map[string]string{
		"plain":           "value",
		"user_id":         "42",
		"space key":       "v",
		"empty":           "",
		"ctl":             "a\x01b",
		".dot":            "v",
		"AWS.reserved":    "v",
		"ünïcødé":         "値",
		"tab\tand\nlines": "line1\nline2\ttab",
	}
	body, w := sqsCodec.Encode("clé 🔑", []byte{0xff, 0x00, 'x'}, attrs)
	for name, v := range w {
		if !SQSName(name) || !SQSValue(v) {
			t.Errorf("wire attribute %q=%q is not valid for SQS", name, v)
		}
	}
	if !SQSBody(body) || w[AttrEncoding] != EncodingBase64 {
		t.Errorf("binary body %q, %s=%q: want base64", body, AttrEncoding, w[AttrEncoding])
	}
	for _, asIs := range []string{"plain", "user_id"} {
		if w[asIs] != attrs[asIs] {
			t.Errorf("attribute %q was escaped although SQS takes it as is", asIs)
		}
	}
	if w[pubsub.AttrKey] == "" {
		t.Errorf("key not in %s: %v", pubsub.AttrKey, w)
	}
	payload, key, got, err := Decode(body, w)
	if err != nil {
		t.Fatal(err)
	}
	if string(payload) != "\xff\x00x" || key != "clé 🔑" || !maps.Equal(got, attrs) {
		t.Errorf("round trip: payload %q key %q attrs %q", payload, key, got)
	}
}

func TestEncodeEmptyBodyAndText(t *testing.T) {
	body, w := sqsCodec.Encode("", nil, nil)
	if string(body) != "=" || w[AttrEncoding] != EncodingBase64 || len(w) != 1 {
		t.Errorf("empty payload: body %q attrs %v, want \"=\" flagged base64", body, w)
	}
	if p, _, _, err := Decode(body, w); err != nil || len(p) != 0 {
		t.Errorf("decode of the empty payload = %q, %v", p, err)
	}
	body, w = sqsCodec.Encode("", []byte("héllo"), nil)
	if string(body) != "héllo" || len(w) != 0 {
		t.Errorf("UTF-8 payload: body %q attrs %v, want it as is", body, w)
	}
}

func TestDecodeDropsForeignReservedNames(t *testing.T) {
	_, _, attrs, err := Decode([]byte("x"), map[string]string{
		"gizmo-future": "1", pubsub.AttrDeadLetter: "{}", "user": "u",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{pubsub.AttrDeadLetter: "{}", "user": "u"}
	if !maps.Equal(attrs, want) {
		t.Errorf("attrs = %v, want %v", attrs, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	for name, w := range map[string]map[string]string{
		"bad escaped name":  {EscapePrefix + "!!": "eA=="},
		"bad escaped value": {EscapeName("a"): "%%%"},
		"unknown encoding":  {AttrEncoding: "rot13"},
		"bad base64 body":   {AttrEncoding: EncodingBase64},
		"duplicate":         {"a": "1", EscapeName("a"): "Mg=="},
	} {
		body := []byte("not base64 !")
		if _, _, _, err := Decode(body, w); err == nil {
			t.Errorf("%s: Decode accepted %v", name, w)
		}
	}
}

func FuzzCodecRoundTrip(f *testing.F) {
	f.Add("key", []byte("payload"), "name", "value", "n2", "")
	f.Add("", []byte{}, "gizmo-dead-letter", "{}", "AWS.x", "\x00")
	f.Add("🔑", []byte{0xff, 0xfe}, "a b", " lead", "..", "\ufffe")
	f.Fuzz(func(t *testing.T, key string, payload []byte, n1, v1, n2, v2 string) {
		attrs := map[string]string{n1: v1, n2: v2}
		if Validate(key, attrs) != nil {
			return
		}
		for _, c := range []struct {
			name  string
			codec Codec
		}{{"sqs", sqsCodec}, {"http", httpCodec}, {"raw", rawCodec}} {
			body, w := c.codec.Encode(key, payload, attrs)
			for name, v := range w {
				if c.codec.NameOK != nil && !c.codec.NameOK(name) && len(name) <= 256 {
					t.Fatalf("%s: wire name %q not acceptable", c.name, name)
				}
				if c.codec.ValueOK != nil && !c.codec.ValueOK(v) {
					t.Fatalf("%s: wire value %q of %q not acceptable", c.name, v, name)
				}
			}
			if c.codec.BodyOK != nil && !c.codec.BodyOK(body) {
				t.Fatalf("%s: body %q not acceptable", c.name, body)
			}
			p, k, got, err := Decode(body, w)
			if err != nil {
				t.Fatalf("%s: Decode: %v", c.name, err)
			}
			if string(p) != string(payload) || k != key || !maps.Equal(got, attrs) {
				t.Fatalf("%s: round trip gave payload %q key %q attrs %q; want %q %q %q", c.name, p, k, got, payload, key, attrs)
			}
		}
	})
}

func TestRules(t *testing.T) {
	if SQSText("a\x01") || !SQSText("a\tb\n\r✓") || SQSText("\ufffe") || SQSText("\xff") {
		t.Error("SQSText")
	}
	if SQSBody(nil) || !SQSBody([]byte("x")) {
		t.Error("SQSBody")
	}
	for _, bad := range []string{"", ".a", "a.", "a..b", "aws.x", "Amazon.y", "sp ace", strings.Repeat("a", 257), "ü"} {
		if SQSName(bad) {
			t.Errorf("SQSName(%q) = true", bad)
		}
	}
	if !SQSName("A-z_0.9") || !utf8.ValidString(EscapeName("x")) || !SQSName(EscapeName("any name ✓")) {
		t.Error("SQSName of good names")
	}
	if HeaderName("Upper") || !HeaderName("lower-1") || HeaderValue(" a") || HeaderValue("é") || !HeaderValue("") || !HeaderValue("a b") {
		t.Error("header rules")
	}
}

// FuzzDecode feeds Decode what a foreign producer could put on a queue: it
// must never panic, and what it accepts must hold no reserved name but the
// public ones.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("="), AttrEncoding, EncodingBase64, EscapeName("a"), "=")
	f.Add([]byte("aGk="), AttrEncoding, EncodingBase64, pubsub.AttrKey, "k")
	f.Add([]byte("x"), EscapePrefix+"zz", "??", "gizmo-other", "")
	f.Fuzz(func(t *testing.T, body []byte, n1, v1, n2, v2 string) {
		_, _, attrs, err := Decode(body, map[string]string{n1: v1, n2: v2})
		if err != nil {
			return
		}
		for name := range attrs {
			if strings.HasPrefix(name, pubsub.ReservedPrefix) && name != pubsub.AttrDeadLetter {
				t.Fatalf("Decode let the reserved name %q through", name)
			}
		}
	})
}
