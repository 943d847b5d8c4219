package kafka

import (
	"strings"
	"testing"

	"github.com/IBM/sarama"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// FuzzDecodeRecord feeds records as any client may write them: a key and
// headers of arbitrary bytes, names repeated or empty, gizmo's reserved
// names. Decoding never fails, keeps the key's bytes, drops empty and
// reserved names (except the dead-letter attribute) and keeps the last of
// repeated names.
func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte("key"), []byte("a"), []byte("1"), []byte("a"), []byte("2"))
	f.Add([]byte(nil), []byte(pubsub.AttrKey), []byte("forged"), []byte(pubsub.AttrDeadLetter), []byte(`{"error":"x"}`))
	f.Add([]byte("\xff\xfe"), []byte(""), []byte("v"), []byte("gizmo-enc"), []byte("base64"))
	f.Fuzz(func(t *testing.T, key, n1, v1, n2, v2 []byte) {
		headers := []*sarama.RecordHeader{{Key: n1, Value: v1}, nil, {Key: n2, Value: v2}}
		k, attrs := decodeRecord(key, headers)
		if k != string(key) {
			t.Fatalf("key %q, want %q", k, key)
		}
		want := map[string]string{}
		for _, h := range headers {
			if h == nil || len(h.Key) == 0 {
				continue
			}
			name := string(h.Key)
			if strings.HasPrefix(name, pubsub.ReservedPrefix) && name != pubsub.AttrDeadLetter {
				continue
			}
			want[name] = string(h.Value)
		}
		if len(attrs) != len(want) {
			t.Fatalf("attributes %q, want %q", attrs, want)
		}
		for name, v := range want {
			if got, ok := attrs[name]; !ok || got != v {
				t.Fatalf("attribute %q = %q, want %q", name, got, v)
			}
		}
	})
}

// FuzzSCRAMServer feeds arbitrary server messages to the SCRAM client,
// which talks to brokers before it trusts them: it never panics, and it
// completes only on a server-final message carrying the right signature.
func FuzzSCRAMServer(f *testing.F) {
	f.Add("r=nonceX,s=c2FsdA==,i=16", "v=AAAA")
	f.Add("r=nonce,s=,i=99999999999", "e=other-error")
	f.Add("e=invalid-encoding", "")
	f.Add("r=nonceX,s=c2FsdA==,i=16,m=ext", "v=,v=")
	f.Fuzz(func(t *testing.T, serverFirst, serverFinal string) {
		c := newSCRAMClient(scramSHA256)
		_ = c.begin("user", "pencil", "nonce")
		if _, err := c.Step(""); err != nil {
			t.Fatal(err)
		}
		final, err := c.Step(serverFirst)
		if err != nil {
			return
		}
		if !strings.HasPrefix(final, "c=biws,r=nonce") || !strings.Contains(final, ",p=") {
			t.Fatalf("client-final %q", final)
		}
		if _, err := c.Step(serverFinal); err == nil && !c.Done() {
			t.Fatal("accepted the server-final message without completing")
		}
	})
}
