package http

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"unicode/utf8"

	"github.com/seed8104ecd5/gizmo/pubsub/internal/wire"
)

// PubSubPush is the body of a Google Cloud Pub/Sub push request, as Pub/Sub
// sends it and as the publisher sends it in [FormatPubSub].
type PubSubPush struct {
	// Message is the pushed message.
	Message PubSubMessage `json:"message"`
	// Subscription is the full name of the push subscription.
	Subscription string `json:"subscription"`
	// DeliveryAttempt counts deliveries, from 1; Pub/Sub sends it only for
	// subscriptions with a dead-letter policy.
	DeliveryAttempt int `json:"deliveryAttempt,omitempty"`
}

// PubSubMessage is the message of a [PubSubPush]. Pub/Sub writes the ID and
// the publish time twice, in camel case and in snake case.
type PubSubMessage struct {
	// Data is the payload, base64 in the JSON.
	Data []byte `json:"data,omitempty"`
	// Attributes are the message attributes.
	Attributes map[string]string `json:"attributes,omitempty"`
	// MessageID is the message ID.
	MessageID string `json:"messageId,omitempty"`
	// MessageIDSnake is the message ID, written as message_id.
	MessageIDSnake string `json:"message_id,omitempty"`
	// PublishTime is when the message was published, in RFC 3339.
	PublishTime string `json:"publishTime,omitempty"`
	// PublishTimeSnake is PublishTime, written as publish_time.
	PublishTimeSnake string `json:"publish_time,omitempty"`
	// OrderingKey is the ordering key, empty without ordering.
	OrderingKey string `json:"orderingKey,omitempty"`
}

// pubsubWire is PubSubPush as it is parsed: data as text, so that an error
// names it, and message as a pointer, so that its absence shows.
type pubsubWire struct {
	Message *struct {
		Data           *string           `json:"data"`
		Attributes     map[string]string `json:"attributes"`
		MessageID      string            `json:"messageId"`
		MessageIDSnake string            `json:"message_id"`
		PublishTime    string            `json:"publishTime"`
		PublishSnake   string            `json:"publish_time"`
		OrderingKey    string            `json:"orderingKey"`
	} `json:"message"`
	Subscription    string `json:"subscription"`
	DeliveryAttempt int    `json:"deliveryAttempt"`
}

// SNSNotification is the body of an Amazon SNS HTTP(S) request: a
// Notification, a SubscriptionConfirmation or an UnsubscribeConfirmation.
type SNSNotification struct {
	// Type is Notification, SubscriptionConfirmation or
	// UnsubscribeConfirmation.
	Type string `json:"Type"`
	// MessageID is the SNS message ID.
	MessageID string `json:"MessageId"`
	// Token is the confirmation token (confirmations only).
	Token string `json:"Token,omitempty"`
	// TopicArn is the topic's ARN.
	TopicArn string `json:"TopicArn"`
	// Subject is the optional subject (notifications only).
	Subject string `json:"Subject,omitempty"`
	// Message is the payload, or a confirmation's explanation.
	Message string `json:"Message"`
	// Timestamp is when SNS published the message, in ISO 8601.
	Timestamp string `json:"Timestamp"`
	// SignatureVersion is "1" (SHA1withRSA) or "2" (SHA256withRSA).
	SignatureVersion string `json:"SignatureVersion"`
	// Signature is the base64 signature of the message's fields.
	Signature string `json:"Signature"`
	// SigningCertURL is where the signing certificate is.
	SigningCertURL string `json:"SigningCertURL"`
	// SubscribeURL confirms the subscription (confirmations only).
	SubscribeURL string `json:"SubscribeURL,omitempty"`
	// UnsubscribeURL ends the subscription (notifications only).
	UnsubscribeURL string `json:"UnsubscribeURL,omitempty"`
	// MessageAttributes are the message attributes.
	MessageAttributes map[string]SNSAttribute `json:"MessageAttributes,omitempty"`
}

// SNSAttribute is one SNS message attribute.
type SNSAttribute struct {
	// Type is String, String.Array, Number or Binary.
	Type string `json:"Type"`
	// Value is the value; base64 for Binary.
	Value string `json:"Value"`
}

// The SNS message types.
const (
	snsNotification = "Notification"
	snsSubscribe    = "SubscriptionConfirmation"
	snsUnsubscribe  = "UnsubscribeConfirmation"
)

// incoming is a request decoded: a message, or (SNS) a confirmation.
type incoming struct {
	format  Format
	id      string
	key     string
	payload []byte
	attrs   map[string]string
	attempt int
	wbytes  int // the wire attributes' bytes, for the limit
	pubsub  *PubSubPush
	sns     *SNSNotification
}

// requestError is a request the subscriber refuses, with the status and
// the reason it answers.
type requestError struct {
	status int
	reason string
}

func (e *requestError) Error() string { return e.reason }

func badRequest(format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, reason: fmt.Sprintf(format, args...)}
}

// decodeRequest decodes a push request's headers and body, in whichever of
// the accepted formats it is, into in. It does not check SNS signatures,
// which needs the network, nor the subscriber's limits.
func decodeRequest(h http.Header, body []byte, accepts func(Format) bool, in *incoming) *requestError {
	var f Format
	switch {
	case h.Get("X-Amz-Sns-Message-Type") != "":
		f = FormatSNS
	case len(h.Values(HeaderID)) > 0:
		f = FormatRaw
	case isJSON(h.Get("Content-Type")):
		f = FormatPubSub
	default:
		return badRequest("not a push request: no %s header (raw format), no application/json body (Pub/Sub push) and no x-amz-sns-message-type header (SNS)", HeaderID)
	}
	if !accepts(f) {
		return &requestError{status: http.StatusUnsupportedMediaType, reason: fmt.Sprintf("the %s format is not accepted here", f)}
	}
	switch f {
	case FormatRaw:
		return decodeRaw(h, body, in)
	case FormatPubSub:
		return decodePubSub(body, in)
	default:
		return decodeSNS(h, body, in)
	}
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == contentTypeJSON
}

func decodeRaw(h http.Header, body []byte, in *incoming) *requestError {
	ids := h.Values(HeaderID)
	if len(ids) != 1 || !validID(ids[0]) {
		return badRequest("header %s: want one message ID of 1 to %d printable ASCII characters, got %q", HeaderID, maxIDLen, ids)
	}
	attempt, ok := positiveHeader(h, HeaderAttempt)
	if !ok || attempt > 1<<30 {
		return badRequest("header %s: %q is not a positive attempt number", HeaderAttempt, h.Values(HeaderAttempt))
	}
	wattrs, repeated := rawAttributes(h)
	if repeated != "" {
		return badRequest("header %s: given more than once", repeated)
	}
	payload, key, attrs, err := wire.Decode(body, wattrs)
	if err != nil {
		return badRequest("%v", err)
	}
	*in = incoming{format: FormatRaw, id: ids[0], key: key, payload: payload, attrs: attrs, attempt: int(attempt), wbytes: attrBytes(wattrs)}
	return nil
}

func decodePubSub(body []byte, in *incoming) *requestError {
	var w pubsubWire
	if err := json.Unmarshal(body, &w); err != nil {
		return badRequest("Pub/Sub push envelope: %v", err)
	}
	m := w.Message
	if m == nil {
		return badRequest("Pub/Sub push envelope: no message member")
	}
	id := m.MessageID
	if id == "" {
		id = m.MessageIDSnake
	}
	if !validID(id) {
		return badRequest("Pub/Sub push envelope: message.messageId %q: want 1 to %d printable ASCII characters", id, maxIDLen)
	}
	var data []byte
	if m.Data != nil {
		var err error
		if data, err = base64.StdEncoding.DecodeString(*m.Data); err != nil {
			return badRequest("Pub/Sub push envelope: message.data is not base64: %v", err)
		}
	}
	if w.DeliveryAttempt < 0 || w.DeliveryAttempt > 1<<30 {
		return badRequest("Pub/Sub push envelope: deliveryAttempt %d is out of range", w.DeliveryAttempt)
	}
	payload, key, attrs, err := wire.Decode(data, m.Attributes)
	if err != nil {
		return badRequest("Pub/Sub push envelope: %v", err)
	}
	if m.OrderingKey != "" {
		key = m.OrderingKey
	}
	push := &PubSubPush{
		Message: PubSubMessage{
			Data: data, Attributes: m.Attributes, MessageID: m.MessageID, MessageIDSnake: m.MessageIDSnake,
			PublishTime: m.PublishTime, PublishTimeSnake: m.PublishSnake, OrderingKey: m.OrderingKey,
		},
		Subscription:    w.Subscription,
		DeliveryAttempt: w.DeliveryAttempt,
	}
	*in = incoming{
		format: FormatPubSub, id: id, key: key, payload: payload, attrs: attrs, attempt: w.DeliveryAttempt,
		wbytes: attrBytes(m.Attributes) + len(m.OrderingKey), pubsub: push,
	}
	return nil
}

func decodeSNS(h http.Header, body []byte, in *incoming) *requestError {
	if h.Get("X-Amz-Sns-Rawdelivery") == "true" {
		return badRequest("SNS raw message delivery is not accepted: it carries no signature and no attributes; turn RawMessageDelivery off")
	}
	var n SNSNotification
	if err := json.Unmarshal(body, &n); err != nil {
		return badRequest("SNS message: %v", err)
	}
	if ht := h.Get("X-Amz-Sns-Message-Type"); n.Type != ht {
		return badRequest("SNS message: Type %q, but the x-amz-sns-message-type header says %q", n.Type, ht)
	}
	switch n.Type {
	case snsNotification, snsSubscribe, snsUnsubscribe:
	default:
		return badRequest("SNS message: unknown Type %q", n.Type)
	}
	if !validID(n.MessageID) {
		return badRequest("SNS message: MessageId %q: want 1 to %d printable ASCII characters", n.MessageID, maxIDLen)
	}
	if n.TopicArn == "" {
		return badRequest("SNS message: no TopicArn")
	}
	*in = incoming{format: FormatSNS, id: n.MessageID, sns: &n}
	if n.Type != snsNotification {
		if n.Type == snsSubscribe && n.SubscribeURL == "" {
			return badRequest("SNS SubscriptionConfirmation: no SubscribeURL")
		}
		return nil
	}
	wattrs := make(map[string]string, len(n.MessageAttributes))
	for name, a := range n.MessageAttributes {
		v := a.Value
		if a.Type == "Binary" {
			b, err := base64.StdEncoding.DecodeString(a.Value)
			if err != nil || !utf8.Valid(b) {
				return badRequest("SNS message: Binary attribute %q: want base64 of UTF-8 text", name)
			}
			v = string(b)
		}
		wattrs[name] = v
	}
	payload, key, attrs, err := wire.Decode([]byte(n.Message), wattrs)
	if err != nil {
		return badRequest("SNS message: %v", err)
	}
	in.key, in.payload, in.attrs, in.wbytes = key, payload, attrs, attrBytes(wattrs)
	return nil
}
