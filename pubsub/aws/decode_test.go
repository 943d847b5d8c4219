package aws

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/internal/wire"
)

// rawMessage builds what ReceiveMessage returns for a message that enc
// encoded and sent to a queue directly (or through SNS with raw delivery).
func rawMessage(m outMsg) sqstypes.Message {
	return sqstypes.Message{
		MessageId:         awssdk.String("sqs-id"),
		Body:              awssdk.String(m.body),
		MessageAttributes: sqsAttributes(m.attrs),
		Attributes:        map[string]string{"ApproximateReceiveCount": "3"},
	}
}

// envelopeMessage builds what an SQS queue gets from SNS without raw
// delivery.
func envelopeMessage(t testing.TB, m outMsg) sqstypes.Message {
	t.Helper()
	e := Envelope{Type: "Notification", MessageID: "sns-id", TopicArn: "arn:aws:sns:us-east-1:000000000000:t",
		Subject: m.subject, Message: m.body, Timestamp: "2026-12-02T10:00:00.000Z", SignatureVersion: "1"}
	if len(m.attrs) > 0 {
		e.MessageAttributes = make(map[string]EnvelopeAttribute, len(m.attrs))
		for n, v := range m.attrs {
			e.MessageAttributes[n] = EnvelopeAttribute{Type: "String", Value: v}
		}
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return sqstypes.Message{MessageId: awssdk.String("sqs-id"), Body: awssdk.String(string(b))}
}

func TestDecodeRoundTrip(t *testing.T) {
	attrs := map[string]string{"plain": "v", "space name": "", "AWS.x": "ünï", "ctl": "\x01"}
	for _, tc := range []struct {
		name    string
		key     string
		payload []byte
		compat  bool
		fifo    bool
	}{
		{name: "text", key: "k", payload: []byte("héllo")},
		{name: "binary", key: "k", payload: []byte{0, 0xff, 0x80}},
		{name: "empty", payload: []byte{}},
		{name: "gizmo format", key: "k", payload: []byte("text"), compat: true},
		{name: "fifo without key", payload: []byte("x"), fifo: true},
		{name: "fifo with odd key", key: "ключ with spaces", payload: []byte("x"), fifo: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := newEncoder(tc.fifo, tc.compat, true, MaxSNSMessageBytes)
			m, err := enc.encode(tc.key, tc.payload, attrs, "")
			if err != nil {
				t.Fatal(err)
			}
			for via, raw := range map[string]sqstypes.Message{"raw": rawMessage(m), "envelope": envelopeMessage(t, m)} {
				if tc.fifo {
					raw.Attributes = map[string]string{"MessageGroupId": m.group}
				}
				d := decodeMessage(&raw, tc.compat)
				if d.err != nil {
					t.Fatalf("%s: %v", via, d.err)
				}
				if string(d.payload) != string(tc.payload) || d.key != tc.key || !maps.Equal(d.attrs, attrs) {
					t.Errorf("%s: payload %q key %q attrs %q; want %q %q %q", via, d.payload, d.key, d.attrs, tc.payload, tc.key, attrs)
				}
				if wantID := map[string]string{"raw": "sqs-id", "envelope": "sns-id"}[via]; d.id != wantID {
					t.Errorf("%s: ID %q, want %q", via, d.id, wantID)
				}
				if (via == "envelope") != (d.env != nil) {
					t.Errorf("%s: envelope %v", via, d.env)
				}
			}
		})
	}
}

func TestDecodeForeignProducers(t *testing.T) {
	// A message another producer sent to a FIFO queue: no gizmo attributes,
	// a Binary and a Number attribute, the group as key.
	raw := sqstypes.Message{
		MessageId: awssdk.String("id"), Body: awssdk.String(`{"order":1}`),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"bin": {DataType: awssdk.String("Binary"), BinaryValue: []byte{1, 2, 3}},
			"num": {DataType: awssdk.String("Number"), StringValue: awssdk.String("42")},
		},
		Attributes: map[string]string{"MessageGroupId": "customer-9", "ApproximateReceiveCount": "2"},
	}
	d := decodeMessage(&raw, false)
	want := map[string]string{"bin": base64.StdEncoding.EncodeToString([]byte{1, 2, 3}), "num": "42"}
	if d.err != nil || d.key != "customer-9" || string(d.payload) != `{"order":1}` || !maps.Equal(d.attrs, want) || d.attempt != 2 {
		t.Errorf("decoded %+v", d)
	}

	// NYT Gizmo published to SNS: base64 body, key in the Subject, no
	// attributes; the queue gets the envelope.
	old := outMsg{body: base64.StdEncoding.EncodeToString([]byte{0xde, 0xad}), subject: "user-1"}
	raw = envelopeMessage(t, old)
	d = decodeMessage(&raw, true)
	if d.err != nil || string(d.payload) != "\xde\xad" || d.key != "user-1" {
		t.Errorf("Gizmo's format read with GizmoCompat: %+v", d)
	}
	d = decodeMessage(&raw, false)
	if d.err != nil || d.payload == nil || string(d.payload) != old.body || d.key != "" {
		t.Errorf("Gizmo's format read without GizmoCompat: %+v; want the base64 text as it is", d)
	}
}

func TestDecodeMalformed(t *testing.T) {
	for name, raw := range map[string]sqstypes.Message{
		"bad base64 body":  {Body: awssdk.String("not base64!"), MessageAttributes: sqsAttributes(map[string]string{wire.AttrEncoding: wire.EncodingBase64})},
		"unknown encoding": {Body: awssdk.String("x"), MessageAttributes: sqsAttributes(map[string]string{wire.AttrEncoding: "rot13"})},
		"bad escaped name": {Body: awssdk.String("x"), MessageAttributes: sqsAttributes(map[string]string{wire.EscapePrefix + "!!": "eA=="})},
	} {
		d := decodeMessage(&raw, false)
		if d.err == nil || string(d.payload) != awssdk.ToString(raw.Body) || d.key != "" || d.attrs != nil {
			t.Errorf("%s: decoded %+v; want the body as it is, no key or attributes, and an error", name, d)
		}
	}
}

func TestParseEnvelopeRefusesLookalikes(t *testing.T) {
	for _, body := range []string{
		`{"Type":"Notification","MessageId":"1","TopicArn":"arn:x","Message":""}`,
		`{"Type":"SubscriptionConfirmation","MessageId":"1","TopicArn":"arn:x","Message":"m"}`,
		`{"Type":"Notification","MessageId":"1","TopicArn":"not-an-arn","Message":"m"}`,
		`{"Type":"Notification","TopicArn":"arn:x","Message":"m"}`,
		`["TopicArn"]`,
		`{"TopicArn": 5}`,
		`plain text with "TopicArn"`,
	} {
		if e := parseEnvelope(body); e != nil {
			t.Errorf("parseEnvelope(%s) = %+v, want nil", body, e)
		}
	}
	if e := parseEnvelope(` {"Type":"Notification","MessageId":"1","TopicArn":"arn:x","Message":"m"}`); e == nil || e.Message != "m" {
		t.Errorf("a minimal envelope was not recognised")
	}
}

func TestEncodeLimits(t *testing.T) {
	enc := newEncoder(false, false, false, MaxSQSMessageBytes)
	// The size is the body plus each attribute's name, data type and value.
	key := "k1"
	overhead := len(pubsub.AttrKey) + len("String") + len(key)
	m, err := enc.encode(key, []byte(strings.Repeat("a", MaxSQSMessageBytes-overhead)), nil, "")
	if err != nil || m.size != MaxSQSMessageBytes {
		t.Fatalf("a message at the limit: size %d, %v", m.size, err)
	}
	if _, err := enc.encode(key, []byte(strings.Repeat("a", MaxSQSMessageBytes-overhead+1)), nil, ""); !errors.Is(err, pubsub.ErrTooLarge) {
		t.Errorf("one byte over: %v, want ErrTooLarge", err)
	}
	attrs := map[string]string{}
	for i := range 10 {
		attrs[string(rune('a'+i))] = "v"
	}
	_, err = enc.encode("key", []byte("x"), attrs, "")
	if !errors.Is(err, pubsub.ErrTooLarge) || !strings.Contains(err.Error(), "11 attributes on the wire") || !strings.Contains(err.Error(), "SQS allows 10") {
		t.Errorf("10 attributes and a key: %v, want ErrTooLarge saying 11 on the wire, SQS allows 10", err)
	}
	if _, err := enc.encode("", []byte("x"), attrs, ""); err != nil {
		t.Errorf("10 attributes, no key, a text payload: %v", err)
	}
	delete(attrs, "a")
	if _, err := enc.encode("key", []byte("x"), attrs, ""); err != nil {
		t.Errorf("9 attributes and a key, a text payload: %v", err)
	}
	if _, err := enc.encode("key", []byte{0xff}, attrs, ""); !errors.Is(err, pubsub.ErrTooLarge) {
		t.Errorf("9 attributes, a key and a binary payload: %v, want ErrTooLarge", err)
	}
	long := strings.Repeat("é", 80) // 160 bytes; escaped, 8 + 256
	if _, err := enc.encode("", []byte("x"), map[string]string{long: "v"}, ""); !errors.Is(err, pubsub.ErrTooLarge) {
		t.Errorf("an attribute name over 256 bytes once escaped: %v, want ErrTooLarge", err)
	}
	if _, err := enc.encode("", []byte("x"), nil, "dedup"); !errors.Is(err, pubsub.ErrNotSupported) {
		t.Errorf("a deduplication ID on a standard queue: %v, want ErrNotSupported", err)
	}
	compat := newEncoder(false, true, true, MaxSNSMessageBytes)
	if _, err := compat.encode("line\nbreak", []byte("x"), nil, ""); !errors.Is(err, pubsub.ErrInvalidMessage) {
		t.Errorf("Gizmo's format with a key that cannot be a Subject: %v, want ErrInvalidMessage", err)
	}
}

func TestEncodeFIFOIDs(t *testing.T) {
	enc := newEncoder(true, false, false, MaxSQSMessageBytes)
	a, _ := enc.encode("order-1", []byte("x"), map[string]string{"a": "1"}, "")
	b, _ := enc.encode("order-1", []byte("x"), map[string]string{"a": "2"}, "")
	if a.group != "order-1" || a.dedup == b.dedup || !validFIFOID(a.dedup) {
		t.Errorf("group %q, dedup IDs %q and %q: want the key as group and distinct content IDs", a.group, a.dedup, b.dedup)
	}
	c, _ := enc.encode("", []byte("x"), nil, "my id with spaces")
	d, _ := enc.encode("", []byte("y"), nil, "my id with spaces")
	if c.dedup != d.dedup || !validFIFOID(c.dedup) || !strings.HasPrefix(c.group, pubsub.ReservedPrefix) || !validFIFOID(c.group) {
		t.Errorf("dedup IDs %q %q, group %q: want one valid hashed ID and a gizmo group", c.dedup, d.dedup, c.group)
	}
	e, _ := enc.encode(strings.Repeat("k", 200), []byte("x"), nil, "")
	if !validFIFOID(e.group) {
		t.Errorf("group for a 200-character key: %q", e.group)
	}
}

func TestNextChunk(t *testing.T) {
	mk := func(keys ...string) []outMsg {
		out := make([]outMsg, len(keys))
		for i, k := range keys {
			out[i] = outMsg{key: k, size: 10}
		}
		return out
	}
	run := func(fifo bool, maxBytes int, out []outMsg) [][]int {
		b := batchPublisher{enc: encoder{fifo: fifo}, maxBytes: maxBytes}
		ready := make([]bool, len(out))
		for i := range ready {
			ready[i] = true
		}
		var chunks [][]int
		for {
			var gate wire.KeyGate
			c := b.nextChunk(out, ready, &gate, func(int, error) { t.Fatal("nothing should fail") })
			if len(c) == 0 {
				return chunks
			}
			chunks = append(chunks, c)
		}
	}
	// FIFO: at most one message of a key per call, each key in order, and
	// other keys fill the calls.
	got := run(true, 1<<20, mk("a", "a", "b", "", "a", "b", ""))
	want := [][]int{{0, 2, 3, 6}, {1, 5}, {4}}
	if !equalChunks(got, want) {
		t.Errorf("FIFO chunks %v, want %v", got, want)
	}
	// Standard: ten to a call, in order.
	keys := make([]string, 23)
	for i := range keys {
		keys[i] = "same"
	}
	if got := run(false, 1<<20, mk(keys...)); len(got) != 3 || len(got[0]) != 10 || got[2][2] != 22 {
		t.Errorf("standard chunks %v, want 10, 10, 3 in order", got)
	}
	// The byte limit: a message that does not fit holds back its key.
	got = run(false, 25, mk("a", "b", "a", "c"))
	want = [][]int{{0, 1}, {2, 3}}
	if !equalChunks(got, want) {
		t.Errorf("chunks by size %v, want %v", got, want)
	}
}

func equalChunks(a, b [][]int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

func TestClassify(t *testing.T) {
	for code, want := range map[string]errKind{
		"QueueDoesNotExist": errNotFound, "AWS.SimpleQueueService.NonExistentQueue": errNotFound, "NotFound": errNotFound,
		"AccessDenied": errDenied, "AuthorizationError": errDenied, "KmsAccessDenied": errDenied,
		"MessageNotInflight": errLeaseLost, "ReceiptHandleIsInvalid": errLeaseLost,
		"InvalidParameterValue": errInvalid, "ThrottlingException": errRetry, "InternalError": errRetry,
	} {
		if got := classify(&entryError{Code: code}); got != want {
			t.Errorf("classify(%s) = %d, want %d", code, got, want)
		}
	}
	stale := &entryError{Code: "InvalidParameterValue", Message: "Value x for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change."}
	if classify(stale) != errLeaseLost {
		t.Error("AWS's answer for a stale receipt handle is not a lost lease")
	}
	if classifyEntry("InternalError", false, "") != errRetry || classifyEntry("InvalidMessageContents", true, "") != errInvalid {
		t.Error("classifyEntry")
	}
}

// FuzzDecodeMessage feeds decodeMessage what any producer can put on a
// queue, raw or in an SNS envelope. It must never panic; what it decodes
// must hold no reserved attribute name but the public ones; and what it
// cannot decode is delivered with its body as it is.
func FuzzDecodeMessage(f *testing.F) {
	enc := newEncoder(false, false, false, MaxSQSMessageBytes)
	m, _ := enc.encode("key", []byte{0xff, 1}, map[string]string{"a b": "c"}, "")
	b, _ := json.Marshal(Envelope{Type: "Notification", MessageID: "1", TopicArn: "arn:x", Message: m.body,
		MessageAttributes: map[string]EnvelopeAttribute{wire.AttrEncoding: {Type: "String", Value: "base64"}}})
	f.Add(m.body, wire.AttrEncoding, "base64", wire.EscapeName("a b"), "Yw==", false)
	f.Add(string(b), "", "", "", "", false)
	f.Add(string(b), "", "", "", "", true)
	f.Add(`{"Type":"Notification","MessageId":"1","TopicArn":"arn:x","Message":"aGk=","Subject":"k"}`, "", "", "", "", true)
	f.Add("=", wire.AttrEncoding, "base64", pubsub.AttrKey, "k", false)
	f.Fuzz(func(t *testing.T, body, n1, v1, n2, v2 string, compat bool) {
		raw := sqstypes.Message{MessageId: awssdk.String("id"), Body: &body}
		if n1 != "" || n2 != "" {
			raw.MessageAttributes = map[string]sqstypes.MessageAttributeValue{
				n1: {DataType: awssdk.String("String"), StringValue: &v1},
				n2: {DataType: awssdk.String("Binary"), BinaryValue: []byte(v2)},
			}
		}
		d := decodeMessage(&raw, compat)
		if d.err != nil {
			if d.attrs != nil || d.key != "" || d.payload == nil && body != "" {
				t.Fatalf("undecodable message delivered with key %q attrs %q payload %q", d.key, d.attrs, d.payload)
			}
			return
		}
		for name := range d.attrs {
			if strings.HasPrefix(name, pubsub.ReservedPrefix) && name != pubsub.AttrDeadLetter {
				t.Fatalf("decoded the reserved attribute %q", name)
			}
		}
		if d.id == "" {
			t.Fatal("no ID")
		}
	})
}
