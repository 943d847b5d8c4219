package http

import (
	"maps"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/internal/wire"
)

// FuzzDecodeRequest feeds decodeRequest what a sender could post: a body
// and the headers that pick and shape the format. It must never panic;
// what it accepts must have a valid ID and none of gizmo's wire attributes
// left over, and must survive being encoded again by the publisher's
// codecs. Seeded with the documented fixtures.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []struct {
		kind byte
		file string
	}{{1, "pubsub-push.json"}, {2, "sns-notification.json"}, {2, "sns-subscription-confirmation.json"}} {
		b, err := os.ReadFile("testdata/" + seed.file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(seed.kind, b, "", "", "", "")
	}
	f.Add(byte(0), []byte("payload"), "id-1", "gizmo-key", "k", "2")
	f.Add(byte(0), []byte("aGk="), "id-2", "gizmo-enc", "base64", "")
	f.Add(byte(0), []byte("x"), "id-3", wire.EscapeName("Ünï"), "w7w=", "1")
	f.Add(byte(1), []byte(`{"message":{"data":"","messageId":"1","attributes":{"gizmo-key":"k"},"orderingKey":"o"},"deliveryAttempt":3}`), "", "", "", "")
	f.Fuzz(func(t *testing.T, kind byte, body []byte, id, name, value, attempt string) {
		h := http.Header{}
		switch kind % 3 {
		case 0:
			h.Set(HeaderID, id)
			h.Set(HeaderAttrPrefix+name, value)
			if attempt != "" {
				h.Set(HeaderAttempt, attempt)
			}
		case 1:
			h.Set("Content-Type", "application/json")
		case 2:
			typ := "Notification"
			if strings.Contains(string(body), snsSubscribe) {
				typ = snsSubscribe
			}
			h.Set("X-Amz-Sns-Message-Type", typ)
		}
		in := new(incoming)
		rerr := decodeRequest(h, body, func(Format) bool { return true }, in)
		if rerr != nil {
			if rerr.status < 400 || rerr.status > 499 || rerr.reason == "" {
				t.Fatalf("refusal %d %q: want a 4xx with a reason", rerr.status, rerr.reason)
			}
			return
		}
		if !validID(in.id) {
			t.Fatalf("accepted the ID %q", in.id)
		}
		for n := range in.attrs {
			if strings.HasPrefix(n, pubsub.ReservedPrefix) && n != pubsub.AttrDeadLetter {
				t.Fatalf("the wire attribute %q was left in the attributes", n)
			}
		}
		if in.attempt < 0 {
			t.Fatalf("attempt %d", in.attempt)
		}
		if in.sns != nil && in.sns.Type != snsNotification {
			return // a confirmation carries no message
		}
		if wire.Validate(in.key, in.attrs) != nil {
			return // a foreign sender's attributes may break gizmo's rules; the publisher would refuse them
		}
		for _, c := range []wire.Codec{rawCodec, envelopeCodec} {
			b, w := c.Encode(in.key, in.payload, in.attrs)
			p, k, a, err := wire.Decode(b, w)
			if !c.KeyAttr {
				k = in.key // the envelope's orderingKey
			}
			if err != nil || string(p) != string(in.payload) || k != in.key || !(maps.Equal(a, in.attrs) || len(a)+len(in.attrs) == 0) {
				t.Fatalf("re-encoding %q %q %q gave %q %q %q, %v", in.payload, in.key, in.attrs, p, k, a, err)
			}
		}
	})
}

// FuzzParseRetryAfter: whatever a server sends, the wait is between zero
// and the cap.
func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"0", "120", "Wed, 02 Dec 2026 12:01:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT", "-1", "1e9", "99999999999999999999", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d := parseRetryAfter(v, now)
		if d < 0 || d > maxRetryAfter {
			t.Fatalf("parseRetryAfter(%q) = %v", v, d)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		" 7 ":                           7 * time.Second,
		"Wed, 02 Dec 2026 12:01:00 GMT": time.Minute,
		"Wed, 02 Dec 2026 11:00:00 GMT": 0,
		"soon":                          0,
		"-5":                            0,
		"99999999999":                   maxRetryAfter,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}
