package http

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/seed8104ecd5/gizmo/pubsub/internal/wire"
)

// The headers of the raw format, and the ones the publisher and the
// subscriber exchange in every format. Header names are case-insensitive.
const (
	// HeaderID carries the message ID (raw format). The publisher makes
	// one per message, or takes the pubsub.WithDeduplicationID value, and
	// sends it unchanged on every retry, so that it is an idempotency key.
	HeaderID = "Gizmo-Id"
	// HeaderAttrPrefix starts the header of each wire attribute (raw
	// format): "Gizmo-Attr-" followed by the attribute's name. A name that
	// is not lower-case letters, digits and '-', or whose value is not
	// printable ASCII without spaces at either end, travels escaped, and
	// the key travels as the attribute gizmo-key (see the package doc).
	HeaderAttrPrefix = "Gizmo-Attr-"
	// HeaderAttempt is the 1-based delivery attempt the publisher makes:
	// one more than the number of earlier attempts the receiver answered
	// with HeaderDelivered.
	HeaderAttempt = "Gizmo-Attempt"
	// HeaderTimeout is how long, in milliseconds, the publisher waits for
	// the answer to this attempt. The subscriber extends no lease past it.
	HeaderTimeout = "Gizmo-Timeout"
	// HeaderDelivered is set to "1" on a response whose message reached
	// a consumer before it was handed back (Nack, a lapsed lease, Stop), so
	// that the publisher counts the next attempt as a redelivery.
	HeaderDelivered = "Gizmo-Delivered"
)

// Content types the publisher sends.
const (
	contentTypeRaw  = "application/octet-stream"
	contentTypeJSON = "application/json"
)

// rawCodec carries attributes in headers: names whose case would be lost,
// and values a header cannot hold as is, are escaped. The body is bytes.
var rawCodec = wire.Codec{NameOK: wire.HeaderName, ValueOK: wire.HeaderValue, KeyAttr: true}

// envelopeCodec carries attributes in a JSON object and the key in the
// orderingKey member, so nothing needs escaping.
var envelopeCodec = wire.Codec{}

// maxIDLen bounds a message ID: Pub/Sub's are short numbers, SNS's UUIDs,
// gizmo's 40 characters; a deduplication ID gets room to spare.
const maxIDLen = 256

// validID reports whether id can be a message ID: 1 to maxIDLen bytes of
// printable ASCII without spaces at either end.
func validID(id string) bool {
	return id != "" && len(id) <= maxIDLen && wire.HeaderValue(id)
}

// attrBytes counts the bytes of wire attributes as the limits count them.
func attrBytes(wattrs map[string]string) int {
	n := 0
	for k, v := range wattrs {
		n += len(k) + len(v)
	}
	return n
}

// rawContentType is the Content-Type value of raw requests, shared:
// header values are never changed in place.
var rawContentType = []string{contentTypeRaw}

// setRawHeaders puts the message ID and the wire attributes on h.
func setRawHeaders(h http.Header, id string, wattrs map[string]string) {
	h["Content-Type"] = rawContentType
	h[HeaderID] = []string{id}
	for name, v := range wattrs {
		// The wire name is lower case; the canonical form of the header
		// would only cost an allocation, since the wire is case-blind.
		h[HeaderAttrPrefix+name] = []string{v}
	}
}

// rawAttributes collects the wire attributes of a raw request. ok is false,
// with the header's name, if one of them is repeated.
func rawAttributes(h http.Header) (wattrs map[string]string, repeated string) {
	for k, vs := range h {
		if len(k) <= len(HeaderAttrPrefix) || !strings.EqualFold(k[:len(HeaderAttrPrefix)], HeaderAttrPrefix) {
			continue
		}
		if len(vs) != 1 {
			return nil, k
		}
		if wattrs == nil {
			wattrs = make(map[string]string, len(h))
		}
		wattrs[strings.ToLower(k[len(HeaderAttrPrefix):])] = vs[0]
	}
	return wattrs, ""
}

// positiveHeader parses a header holding a positive decimal integer. ok is
// false for a malformed or repeated value; n is 0 if the header is absent.
func positiveHeader(h http.Header, name string) (n int64, ok bool) {
	vs := h.Values(name)
	switch len(vs) {
	case 0:
		return 0, true
	case 1:
	default:
		return 0, false
	}
	n, err := strconv.ParseInt(vs[0], 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}
