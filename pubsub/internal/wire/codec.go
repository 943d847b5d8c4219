package wire

import (
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

const (
	// AttrEncoding is set to EncodingBase64 when the body is the base64 of
	// the payload.
	AttrEncoding = pubsub.ReservedPrefix + "enc"
	// EncodingBase64 is the value of AttrEncoding for a base64 body.
	EncodingBase64 = "base64"
	// EscapePrefix starts the name of an attribute whose name or value the
	// backend cannot carry as is.
	EscapePrefix = pubsub.ReservedPrefix + "x-"
)

// emptyBase64 stands for the empty string where the backend needs a value:
// no base64 encoding of anything is "=".
const emptyBase64 = "="

var nameEncoding = base32.HexEncoding.WithPadding(base32.NoPadding)

// Codec describes what a backend carries as is. A nil predicate accepts
// everything.
type Codec struct {
	// BodyOK reports whether a payload can be the body as is.
	BodyOK func([]byte) bool
	// NameOK reports whether an attribute name can be sent as is.
	NameOK func(string) bool
	// ValueOK reports whether an attribute value can be sent as is.
	ValueOK func(string) bool
	// KeyAttr puts a non-empty key into [pubsub.AttrKey].
	KeyAttr bool
}

// Encode returns the body and the attributes to send for a message that
// passed [Validate]. It does not modify attrs.
func (c Codec) Encode(key string, payload []byte, attrs map[string]string) (body []byte, wattrs map[string]string) {
	wattrs = make(map[string]string, len(attrs)+2)
	for name, v := range attrs {
		c.put(wattrs, name, v)
	}
	if c.KeyAttr && key != "" {
		c.put(wattrs, pubsub.AttrKey, key)
	}
	body = payload
	if c.BodyOK != nil && !c.BodyOK(payload) {
		body = []byte(encodeValue(string(payload)))
		wattrs[AttrEncoding] = EncodingBase64
	}
	return body, wattrs
}

func (c Codec) put(wattrs map[string]string, name, v string) {
	if (c.NameOK == nil || c.NameOK(name)) && (c.ValueOK == nil || c.ValueOK(v)) {
		wattrs[name] = v
		return
	}
	wattrs[EscapeName(name)] = encodeValue(v)
}

// EscapeName returns the escaped form of an attribute name.
func EscapeName(name string) string {
	return EscapePrefix + strings.ToLower(nameEncoding.EncodeToString([]byte(name)))
}

func encodeValue(v string) string {
	if v == "" {
		return emptyBase64
	}
	return base64.StdEncoding.EncodeToString([]byte(v))
}

func decodeValue(v string) (string, error) {
	if v == emptyBase64 {
		return "", nil
	}
	b, err := base64.StdEncoding.DecodeString(v)
	return string(b), err
}

// Decode reverses Encode: it returns the payload, the key (from
// [pubsub.AttrKey]; an adapter with a key field of its own ignores it) and
// the user's attributes, nil if there are none. Names with the reserved
// prefix that gizmo does not define are dropped. A malformed encoding is an
// error naming the attribute.
func Decode(body []byte, wattrs map[string]string) (payload []byte, key string, attrs map[string]string, err error) {
	payload = body
	for name, v := range wattrs {
		if strings.HasPrefix(name, EscapePrefix) {
			raw, err := nameEncoding.DecodeString(strings.ToUpper(name[len(EscapePrefix):]))
			if err != nil || !utf8.Valid(raw) {
				return nil, "", nil, fmt.Errorf("pubsub: attribute %q: malformed escaped name", name)
			}
			dv, err := decodeValue(v)
			if err != nil {
				return nil, "", nil, fmt.Errorf("pubsub: attribute %q (escaped %q): malformed value: %w", raw, name, err)
			}
			name, v = string(raw), dv
		}
		switch {
		case name == pubsub.AttrKey:
			key = v
		case name == AttrEncoding:
			if v != EncodingBase64 {
				return nil, "", nil, fmt.Errorf("pubsub: attribute %s: unknown body encoding %q", AttrEncoding, v)
			}
			p, err := decodeValue(string(body))
			if err != nil {
				return nil, "", nil, fmt.Errorf("pubsub: base64 body: %w", err)
			}
			payload = []byte(p)
		case strings.HasPrefix(name, pubsub.ReservedPrefix) && name != pubsub.AttrDeadLetter:
			// Another gizmo's wire attribute: not the user's.
		default:
			if attrs == nil {
				attrs = make(map[string]string, len(wattrs))
			}
			if _, dup := attrs[name]; dup {
				return nil, "", nil, fmt.Errorf("pubsub: attribute %q given twice, escaped and as is", name)
			}
			attrs[name] = v
		}
	}
	return payload, key, attrs, nil
}
