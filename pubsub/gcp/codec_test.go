package gcp

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"cloud.google.com/go/pubsub/v2"

	gizmo "github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/internal/wire"
)

const codecTopic = "projects/p/topics/t"

func attrsN(n int) map[string]string {
	a := make(map[string]string, n)
	for i := range n {
		a[fmt.Sprintf("a%03d", i)] = "v"
	}
	return a
}

// TestEncodeLimits checks Pub/Sub's limits right at them and one past,
// as they apply to the message on the wire.
func TestEncodeLimits(t *testing.T) {
	maxPayload := 0
	for n := 1000; n > 0; n-- {
		if requestSize(codecTopic, &pubsub.Message{Data: make([]byte, n)}) <= 1000 {
			maxPayload = n
			break
		}
	}
	for _, tc := range []struct {
		name    string
		key     string
		payload []byte
		attrs   map[string]string
		ok      bool
	}{
		{name: "100 attributes, no key", attrs: attrsN(100), ok: true},
		{name: "99 attributes and a key", key: "k", attrs: attrsN(99), ok: true},
		{name: "100 attributes and a key", key: "k", attrs: attrsN(100)},
		{name: "101 attributes", attrs: attrsN(101)},
		{name: "name of 256 bytes", attrs: map[string]string{strings.Repeat("n", 256): "v"}, ok: true},
		{name: "name of 257 bytes", attrs: map[string]string{strings.Repeat("n", 257): "v"}},
		{name: "value of 1024 bytes", attrs: map[string]string{"a": strings.Repeat("v", 1024)}, ok: true},
		{name: "value of 1025 bytes", attrs: map[string]string{"a": strings.Repeat("v", 1025)}},
		{name: "key of 1024 bytes", key: strings.Repeat("k", 1024), ok: true},
		{name: "key of 1025 bytes", key: strings.Repeat("k", 1025)},
		{name: "goog name escaped within the limit", attrs: map[string]string{"goog" + strings.Repeat("n", 140): "v"}, ok: true},
		{name: "goog name too long once escaped", attrs: map[string]string{"goog" + strings.Repeat("n", 200): "v"}},
		{name: "payload at MaxMessageBytes", payload: make([]byte, maxPayload), ok: true},
		{name: "payload past MaxMessageBytes", payload: make([]byte, maxPayload+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := tc.payload
			if payload == nil {
				payload = []byte("x")
			}
			_, err := encode(codecTopic, true, 1000*1000, tc.key, payload, tc.attrs)
			if len(tc.payload) > 0 {
				_, err = encode(codecTopic, true, 1000, tc.key, payload, tc.attrs)
			}
			if tc.ok && err != nil {
				t.Fatalf("encode = %v, want success", err)
			}
			if !tc.ok && !errors.Is(err, gizmo.ErrTooLarge) {
				t.Fatalf("encode = %v, want an error wrapping ErrTooLarge", err)
			}
		})
	}
}

func TestEncodeWire(t *testing.T) {
	payload := []byte("body")
	attrs := map[string]string{"kind": "k", "googExample": "reserved by Pub/Sub"}
	m, err := encode(codecTopic, true, MaxRequestBytes, "the key", payload, attrs)
	if err != nil {
		t.Fatal(err)
	}
	payload[0] = 'X'
	attrs["kind"] = "changed"
	if string(m.Data) != "body" || m.Attributes["kind"] != "k" {
		t.Errorf("the message shares the caller's buffers: data %q, attributes %q", m.Data, m.Attributes)
	}
	if m.OrderingKey != "the key" || m.Attributes[gizmo.AttrKey] != "the key" {
		t.Errorf("ordering key %q, %s %q: want the key in both", m.OrderingKey, gizmo.AttrKey, m.Attributes[gizmo.AttrKey])
	}
	for name := range m.Attributes {
		if hasGoogPrefix(name) {
			t.Errorf("attribute %q travels with Pub/Sub's reserved prefix", name)
		}
	}
	got := decode(m)
	if got.err != nil || string(got.payload) != "body" || got.key != "the key" || !maps.Equal(got.attrs, map[string]string{"kind": "k", "googExample": "reserved by Pub/Sub"}) {
		t.Errorf("decode = %+v", got)
	}

	unordered, err := encode(codecTopic, false, MaxRequestBytes, "k", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if unordered.OrderingKey != "" || unordered.Attributes[wire.AttrEncoding] != wire.EncodingBase64 || len(unordered.Data) == 0 {
		t.Errorf("unordered empty message: %+v; want no ordering key and a flagged non-empty body", unordered)
	}
	if d := decode(unordered); len(d.payload) != 0 || d.key != "k" || d.attrs != nil {
		t.Errorf("decode of the empty message = %+v", d)
	}
}

// TestDecodeForeign checks messages from publishers outside gizmo: the
// ordering key stands in for the key, and a message whose reserved
// attributes are malformed is delivered as it travelled, with the error.
func TestDecodeForeign(t *testing.T) {
	d := decode(&pubsub.Message{Data: []byte("x"), OrderingKey: "ok", Attributes: map[string]string{"a": "b"}})
	if d.err != nil || d.key != "ok" || d.attrs["a"] != "b" {
		t.Errorf("foreign ordered message = %+v", d)
	}
	bad := &pubsub.Message{Data: []byte("raw"), OrderingKey: "ok", Attributes: map[string]string{wire.EscapePrefix + "!!": "v"}}
	d = decode(bad)
	if d.err == nil || string(d.payload) != "raw" || d.key != "ok" || !maps.Equal(d.attrs, bad.Attributes) {
		t.Errorf("malformed message = %+v, want it as it travelled with an error", d)
	}
}

// FuzzDecode feeds decode what any publisher could put on a topic: it
// must never panic, and a message it decodes cleanly holds no reserved
// attribute but the public one.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("="), wire.AttrEncoding, wire.EncodingBase64, gizmo.AttrKey, "k", "")
	f.Add([]byte("aGk="), wire.AttrEncoding, wire.EncodingBase64, wire.EscapeName("goog"), "dg==", "ordered")
	f.Add([]byte{0xff}, wire.EscapePrefix+"zz", "??", "gizmo-other", "", "o")
	f.Fuzz(func(t *testing.T, data []byte, n1, v1, n2, v2, orderingKey string) {
		m := &pubsub.Message{Data: data, Attributes: map[string]string{n1: v1, n2: v2}, OrderingKey: orderingKey}
		d := decode(m)
		if d.err != nil {
			if string(d.payload) != string(data) || d.key != orderingKey {
				t.Fatalf("a malformed message was not delivered as it travelled: %+v", d)
			}
			return
		}
		for name := range d.attrs {
			if strings.HasPrefix(name, gizmo.ReservedPrefix) && name != gizmo.AttrDeadLetter {
				t.Fatalf("decode let the reserved name %q through", name)
			}
		}
		_, plain := m.Attributes[gizmo.AttrKey]
		_, escaped := m.Attributes[wire.EscapeName(gizmo.AttrKey)]
		if !plain && !escaped && d.key != orderingKey {
			t.Fatalf("key %q, want the ordering key %q", d.key, orderingKey)
		}
	})
}

// FuzzEncodeRoundTrip publishes arbitrary messages through encode: each is
// refused with ErrInvalidMessage or ErrTooLarge, or fits every Pub/Sub
// limit and decodes to exactly what was published.
func FuzzEncodeRoundTrip(f *testing.F) {
	f.Add("key", []byte("payload"), "name", "value", "goog-x", "", true)
	f.Add("", []byte{}, gizmo.AttrDeadLetter, "{}", "a", "\x00", false)
	f.Add("🔑", []byte{0xff, 0xfe}, "GOOG", "v", strings.Repeat("n", 300), "v", true)
	f.Fuzz(func(t *testing.T, key string, payload []byte, n1, v1, n2, v2 string, ordering bool) {
		attrs := map[string]string{n1: v1, n2: v2}
		m, err := encode(codecTopic, ordering, 2000, key, payload, attrs)
		if err != nil {
			if !errors.Is(err, gizmo.ErrInvalidMessage) && !errors.Is(err, gizmo.ErrTooLarge) {
				t.Fatalf("encode = %v: want ErrInvalidMessage or ErrTooLarge", err)
			}
			return
		}
		if sizeBound(codecTopic, m) < requestSize(codecTopic, m) {
			t.Fatalf("sizeBound %d under the exact size %d", sizeBound(codecTopic, m), requestSize(codecTopic, m))
		}
		if len(m.Attributes) > MaxAttributes || len(m.Data) == 0 || len(m.OrderingKey) > MaxOrderingKeyBytes || requestSize(codecTopic, m) > 2000 {
			t.Fatalf("accepted a message past Pub/Sub's limits: %d attributes, %d bytes of data", len(m.Attributes), len(m.Data))
		}
		for name, v := range m.Attributes {
			if hasGoogPrefix(name) || len(name) > MaxAttributeNameBytes || len(v) > MaxAttributeValueBytes {
				t.Fatalf("attribute %q=%q cannot travel", name, v)
			}
		}
		d := decode(m)
		if d.err != nil || string(d.payload) != string(payload) || d.key != key || !maps.Equal(d.attrs, attrs) {
			t.Fatalf("round trip gave %+v; published key %q payload %q attributes %q", d, key, payload, attrs)
		}
	})
}

// TestWaves checks the rounds an unordered PublishBatch sends in: the
// n-th message of every key in round n, keyless messages in the first.
func TestWaves(t *testing.T) {
	msgs := []gizmo.Message{{Key: "K"}, {Key: "J"}, {Key: "K"}, {}, {Key: "K"}, {Key: "J"}}
	p := &Publisher{}
	got := p.waves(msgs)
	want := [][]int{{0, 1, 3}, {2, 5}, {4}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("waves = %v, want %v", got, want)
	}
	p.ordering = true
	if got := p.waves(msgs); len(got) != 1 || len(got[0]) != len(msgs) {
		t.Errorf("ordered waves = %v, want one round of all", got)
	}
	p.ordering = false
	if got := p.waves(msgs[:2]); len(got) != 1 {
		t.Errorf("distinct keys: waves = %v, want one round", got)
	}
}
