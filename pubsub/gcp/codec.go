package gcp

import (
	"bytes"
	"fmt"
	"strings"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	gizmo "github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/internal/wire"
)

// codec says what Pub/Sub carries as is: any non-empty payload (a message
// must have data or an attribute, so the empty payload travels flagged as
// base64 "="), any attribute name that does not start with "goog", which
// Pub/Sub reserves, and any UTF-8 value. The key travels as gizmo-key.
var codec = wire.Codec{
	BodyOK:  func(b []byte) bool { return len(b) > 0 },
	NameOK:  func(name string) bool { return !hasGoogPrefix(name) },
	KeyAttr: true,
}

func hasGoogPrefix(name string) bool {
	return len(name) >= 4 && strings.EqualFold(name[:4], "goog")
}

// encode validates a message, puts it in the form it travels in, and
// checks it against Pub/Sub's limits. The returned message shares nothing
// with the caller's payload or attributes.
func encode(topic string, ordering bool, maxBytes int, key string, payload []byte, attrs map[string]string) (*pubsub.Message, error) {
	if err := wire.Validate(key, attrs); err != nil {
		return nil, fmt.Errorf("gcp: publish to %q: %w", topic, err)
	}
	if len(key) > MaxAttributeValueBytes {
		return nil, fmt.Errorf("gcp: publish to %q: key of %d bytes, Pub/Sub allows %d: %w", topic, len(key), MaxAttributeValueBytes, gizmo.ErrTooLarge)
	}
	var m *pubsub.Message
	if key == "" && len(attrs) == 0 && len(payload) > 0 {
		// Nothing to encode: skip the codec's attribute map.
		m = &pubsub.Message{Data: bytes.Clone(payload)}
	} else {
		body, wattrs := codec.Encode(key, payload, attrs)
		if len(body) > 0 && len(payload) > 0 && &body[0] == &payload[0] {
			body = bytes.Clone(payload)
		}
		m = &pubsub.Message{Data: body}
		if len(wattrs) > 0 {
			m.Attributes = wattrs
		}
	}
	if ordering {
		m.OrderingKey = key
	}
	if err := checkLimits(topic, maxBytes, m); err != nil {
		return nil, err
	}
	return m, nil
}

// checkLimits applies Pub/Sub's limits to a message as it will be sent.
// It computes the exact encoded size only when a cheap upper bound of it
// is over the limit.
func checkLimits(topic string, maxBytes int, m *pubsub.Message) error {
	if n := len(m.Attributes); n > MaxAttributes {
		return fmt.Errorf("gcp: publish to %q: %d attributes on the wire (the key and encoding flags count), Pub/Sub allows %d: %w", topic, n, MaxAttributes, gizmo.ErrTooLarge)
	}
	for name, v := range m.Attributes {
		if len(name) > MaxAttributeNameBytes {
			return fmt.Errorf("gcp: publish to %q: attribute name %.40q... is %d bytes on the wire, Pub/Sub allows %d: %w", topic, name, len(name), MaxAttributeNameBytes, gizmo.ErrTooLarge)
		}
		if len(v) > MaxAttributeValueBytes {
			return fmt.Errorf("gcp: publish to %q: value of attribute %.40q is %d bytes on the wire, Pub/Sub allows %d: %w", topic, name, len(v), MaxAttributeValueBytes, gizmo.ErrTooLarge)
		}
	}
	if len(m.OrderingKey) > MaxOrderingKeyBytes {
		return fmt.Errorf("gcp: publish to %q: ordering key of %d bytes, Pub/Sub allows %d: %w", topic, len(m.OrderingKey), MaxOrderingKeyBytes, gizmo.ErrTooLarge)
	}
	limit := min(maxBytes, MaxRequestBytes)
	if sizeBound(topic, m) <= limit {
		return nil
	}
	if n := requestSize(topic, m); n > limit {
		return fmt.Errorf("gcp: publish to %q: message of %d bytes as a publish request, the limit is %d: %w", topic, n, limit, gizmo.ErrTooLarge)
	}
	return nil
}

// sizeBound is at least requestSize(topic, m): every length prefix is
// taken at its largest for a message under MaxRequestBytes (4 bytes), and
// every tag at 1 byte.
func sizeBound(topic string, m *pubsub.Message) int {
	const field = 1 + 4 // tag and length of a length-delimited field
	n := field + len(m.Data) + field + len(m.OrderingKey)
	for k, v := range m.Attributes {
		n += field + field + len(k) + field + len(v) // map entry: key and value fields
	}
	return field + len(topic) + field + n
}

// messageSize is the encoded size of m in a publish request, as the client
// counts it for batching.
func messageSize(m *pubsub.Message) int {
	return proto.Size(&pubsubpb.PubsubMessage{Data: m.Data, Attributes: m.Attributes, OrderingKey: m.OrderingKey})
}

// requestSize is the size of a publish request that carries m alone to
// topic (a full name): the topic field plus the message field.
func requestSize(topic string, m *pubsub.Message) int {
	n := messageSize(m)
	return protowire.SizeTag(1) + protowire.SizeBytes(len(topic)) + protowire.SizeTag(2) + protowire.SizeBytes(n)
}

// decoded is a received message in the contract's terms.
type decoded struct {
	payload []byte
	key     string
	attrs   map[string]string
	err     error // the wire encoding was malformed; the rest is raw
}

// decode undoes the wire encoding of a received message. The key comes
// from gizmo-key, or else from the ordering key (a message from a
// publisher outside gizmo). A malformed encoding (a foreign producer using
// gizmo's reserved names) yields the message as it travelled, with err
// set, rather than losing it.
func decode(m *pubsub.Message) decoded {
	payload, key, attrs, err := wire.Decode(m.Data, m.Attributes)
	if err != nil {
		return decoded{payload: m.Data, key: m.OrderingKey, attrs: m.Attributes, err: err}
	}
	if key == "" {
		key = m.OrderingKey
	}
	return decoded{payload: payload, key: key, attrs: attrs}
}
