package aws

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/internal/wire"
)

// The codecs: what SQS and SNS carry as is, and Gizmo's format, whose body
// is always base64.
var (
	sqsCodec    = wire.Codec{BodyOK: wire.SQSBody, NameOK: wire.SQSName, ValueOK: wire.SQSValue, KeyAttr: true}
	compatCodec = wire.Codec{BodyOK: func([]byte) bool { return false }, NameOK: wire.SQSName, ValueOK: wire.SQSValue, KeyAttr: true}
)

// dataTypeString is the data type of every attribute gizmo sends.
const dataTypeString = "String"

// groupPrefix starts the MessageGroupId of a FIFO message that has no key
// of its own or whose key cannot be a group ID.
const groupPrefix = pubsub.ReservedPrefix

// encoder turns messages into what goes on the wire for one queue or topic.
type encoder struct {
	codec    wire.Codec
	fifo     bool
	subject  bool // put the key in the SNS Subject (Gizmo's format)
	maxBytes int
}

// outMsg is one encoded message.
type outMsg struct {
	key     string
	body    string
	attrs   map[string]string // wire attributes, all of data type String
	group   string            // FIFO only
	dedup   string            // FIFO only
	subject string            // Gizmo's format on SNS only
	size    int               // as AWS counts it
}

func newEncoder(fifo, compat, sns bool, maxBytes int) encoder {
	e := encoder{codec: sqsCodec, fifo: fifo, maxBytes: maxBytes}
	if compat {
		e.codec = compatCodec
		e.subject = sns
	}
	return e
}

// encode checks a message against the contract's rules and AWS's limits
// and encodes it. Its errors wrap pubsub.ErrInvalidMessage,
// pubsub.ErrTooLarge or pubsub.ErrNotSupported.
func (e encoder) encode(key string, payload []byte, attrs map[string]string, dedupID string) (outMsg, error) {
	if err := wire.Validate(key, attrs); err != nil {
		return outMsg{}, err
	}
	if dedupID != "" && !e.fifo {
		return outMsg{}, fmt.Errorf("%w: deduplication IDs need a FIFO queue or topic", pubsub.ErrNotSupported)
	}
	body, wattrs := e.codec.Encode(key, payload, attrs)
	m := outMsg{key: key, body: string(body), attrs: wattrs, size: len(body)}
	if len(wattrs) > MaxAttributes {
		return outMsg{}, fmt.Errorf("%w: %d attributes on the wire (%d of the message's own, the rest gizmo's key and body encoding); SQS allows %d",
			pubsub.ErrTooLarge, len(wattrs), len(attrs), MaxAttributes)
	}
	for name, v := range wattrs {
		if len(name) > MaxAttributeNameBytes {
			return outMsg{}, fmt.Errorf("%w: attribute name %.40q... is %d bytes on the wire; AWS allows %d",
				pubsub.ErrTooLarge, name, len(name), MaxAttributeNameBytes)
		}
		m.size += len(name) + len(dataTypeString) + len(v)
	}
	if m.size > e.maxBytes {
		return outMsg{}, fmt.Errorf("%w: message of %d bytes (body and attributes as AWS counts them); the limit is %d",
			pubsub.ErrTooLarge, m.size, e.maxBytes)
	}
	if e.subject && key != "" {
		if !validSubject(key) {
			return outMsg{}, fmt.Errorf("%w: Gizmo's format carries the key in the SNS Subject, which takes 1 to 99 characters with no control characters and no leading space; key %.40q cannot be one",
				pubsub.ErrInvalidMessage, key)
		}
		m.subject = key
	}
	if e.fifo {
		m.dedup = dedupID
		switch {
		case dedupID == "":
			m.dedup = contentID(key, payload, attrs)
		case !validFIFOID(dedupID):
			m.dedup = hashID("gizmo-d-", dedupID)
		}
		switch {
		case validFIFOID(key):
			m.group = key
		case key != "":
			m.group = hashID(groupPrefix+"k-", key)
		default:
			m.group = hashID(groupPrefix, m.dedup)
		}
	}
	return m, nil
}

// validFIFOID reports whether s can be a MessageGroupId or
// MessageDeduplicationId: 1 to 128 printable ASCII characters, no space.
func validFIFOID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// hashID stands for s where s cannot be a FIFO ID: prefix and 40 hex
// digits of its SHA-256.
func hashID(prefix, s string) string {
	sum := sha256.Sum256([]byte(s))
	return prefix + hex.EncodeToString(sum[:20])
}

// contentID is the deduplication ID of a FIFO message published without
// one: the SHA-256 of its key, payload and attributes, so that only an
// identical message within the five-minute window is dropped.
func contentID(key string, payload []byte, attrs map[string]string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d:%s%d:", len(key), key, len(payload))
	h.Write(payload)
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(h, "%d:%s%d:%s", len(n), n, len(attrs[n]), attrs[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// validSubject reports whether key can be an SNS Subject: 1 to 99
// characters, no control characters, not starting with a space.
func validSubject(key string) bool {
	if key == "" || key[0] == ' ' || utf8.RuneCountInString(key) > 99 {
		return false
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}
