package kafka_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/internal/testenv"
	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/kafka"
)

// kcatRecord is one line of kcat -J.
type kcatRecord struct {
	Partition int32    `json:"partition"`
	Offset    int64    `json:"offset"`
	Headers   []string `json:"headers"`
	Key       *string  `json:"key"`
	Payload   *string  `json:"payload"`
}

func kcat(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	bin := testenv.Require(t, "GIZMO_TEST_KCAT", "kafka")
	ctx := withTimeout(t, time.Minute)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// TestKcatReadsGizmo: records published by gizmo are read by kcat
// (librdkafka, a client written outside this project) with key, headers
// and payload intact, and a key lands on the partition the Java client's
// partitioner (librdkafka's murmur2_random) picks for it.
func TestKcatReadsGizmo(t *testing.T) {
	addr := sharedBroker(t)
	topic := createTopic(t, addr, 3)
	p, err := kafka.NewPublisher(t.Context(), testConfig(addr, []string{topic}, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	type sent struct {
		key     string
		payload string
		attrs   map[string]string
	}
	var want []sent
	for i := range 12 {
		s := sent{
			key:     fmt.Sprint("clé-", i%4),
			payload: fmt.Sprintf("payload %d: ünïcødé ✓\ttab \"quoted\" line\nbreak", i),
			attrs:   map[string]string{"index": fmt.Sprint(i), "ключ 🔑": "значение", "empty": "", "spaced": "  both ends  "},
		}
		if i == 11 {
			s.key = "" // a null key
			s.attrs = nil
		}
		want = append(want, s)
		if err := p.PublishRaw(t.Context(), s.key, []byte(s.payload), pubsub.WithAttributes(s.attrs)); err != nil {
			t.Fatal(err)
		}
	}
	out := kcat(t, nil, "-C", "-b", addr, "-t", topic, "-o", "beginning", "-e", "-q", "-J")
	got := make(map[string]kcatRecord)
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r kcatRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("kcat line %q: %v", sc.Text(), err)
		}
		if r.Payload == nil {
			t.Fatalf("kcat record without payload: %s", sc.Text())
		}
		got[*r.Payload] = r
	}
	keyPartition := make(map[string]int32)
	for _, s := range want {
		r, ok := got[s.payload]
		if !ok {
			t.Errorf("kcat did not read %q", s.payload)
			continue
		}
		switch {
		case s.key == "" && r.Key != nil:
			t.Errorf("%q: key %q, want a null key", s.payload, *r.Key)
		case s.key != "" && (r.Key == nil || *r.Key != s.key):
			t.Errorf("%q: key %v, want %q", s.payload, r.Key, s.key)
		}
		hs := make(map[string]string)
		for i := 0; i+1 < len(r.Headers); i += 2 {
			hs[r.Headers[i]] = r.Headers[i+1]
		}
		if !maps.Equal(hs, s.attrs) && len(hs)+len(s.attrs) > 0 {
			t.Errorf("%q: headers %q, want %q", s.payload, hs, s.attrs)
		}
		if s.key != "" {
			keyPartition[s.key] = r.Partition
		}
	}
	// The same keys from kcat with the Java client's partitioner.
	var lines bytes.Buffer
	for k := range keyPartition {
		fmt.Fprintf(&lines, "%s\tfrom kcat %s\n", k, k)
	}
	kcat(t, lines.Bytes(), "-P", "-b", addr, "-t", topic, "-K", "\t", "-X", "partitioner=murmur2_random")
	out = kcat(t, nil, "-C", "-b", addr, "-t", topic, "-o", "beginning", "-e", "-q", "-J")
	sc = bufio.NewScanner(bytes.NewReader(out))
	compared := 0
	for sc.Scan() {
		var r kcatRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Key == nil || r.Payload == nil || !strings.HasPrefix(*r.Payload, "from kcat ") {
			continue
		}
		if p := keyPartition[*r.Key]; p != r.Partition {
			t.Errorf("key %q: gizmo wrote partition %d, kcat's murmur2 partitioner %d", *r.Key, p, r.Partition)
		}
		compared++
	}
	if compared != len(keyPartition) {
		t.Errorf("compared the partitions of %d keys, want %d", compared, len(keyPartition))
	}
}

// TestGizmoReadsKcat: records produced by kcat in gzip, snappy, lz4 and
// zstd batches, with keys and headers, are consumed by a gizmo
// subscriber intact.
func TestGizmoReadsKcat(t *testing.T) {
	addr := sharedBroker(t)
	topic := createTopic(t, addr, 3)
	const perCodec = 50
	codecs := []string{"gzip", "snappy", "lz4", "zstd"}
	want := make(map[string]string) // payload -> key
	for _, codec := range codecs {
		var lines bytes.Buffer
		for i := range perCodec {
			key := fmt.Sprintf("%s-key-%d", codec, i%5)
			payload := fmt.Sprintf("%s payload %d ✓ with spaces", codec, i)
			want[payload] = key
			fmt.Fprintf(&lines, "%s\t%s\n", key, payload)
		}
		kcat(t, lines.Bytes(), "-P", "-b", addr, "-t", topic, "-K", "\t", "-z", codec,
			"-H", "codec="+codec, "-H", "note=ünïcødé value", "-X", "linger.ms=50")
	}
	cfg := testConfig(addr, []string{topic}, randomName("gizmo-g-"))
	s, err := kafka.NewSubscriber(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(withTimeout(t, 10*time.Second)) })
	ch := s.Start()
	deadline := time.After(30 * time.Second)
	for len(want) > 0 {
		select {
		case m := <-ch:
			key, ok := want[string(m.Message())]
			if !ok {
				t.Fatalf("unexpected or repeated payload %q", m.Message())
			}
			codec := strings.SplitN(string(m.Message()), " ", 2)[0]
			if m.Key() != key {
				t.Errorf("%q: key %q, want %q", m.Message(), m.Key(), key)
			}
			if wantAttrs := map[string]string{"codec": codec, "note": "ünïcødé value"}; !maps.Equal(m.Attributes(), wantAttrs) {
				t.Errorf("%q: attributes %q, want %q", m.Message(), m.Attributes(), wantAttrs)
			}
			delete(want, string(m.Message()))
			if err := m.Done(); err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			t.Fatalf("%d of %d records produced by kcat never arrived", len(want), perCodec*len(codecs))
		}
	}
}
