package aws

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/internal/wire"
)

// Envelope is the JSON document an SNS topic delivers to an SQS queue
// whose subscription does not use raw delivery. The subscriber unwraps it:
// the message is Message, its attributes are MessageAttributes, and its ID
// is MessageId. [Message.Envelope] returns it.
type Envelope struct {
	// Type is "Notification".
	Type string `json:"Type"`
	// MessageID is SNS's ID of the message, the same in every queue the
	// topic delivers it to.
	MessageID string `json:"MessageId"`
	// TopicArn is the topic the message was published to.
	TopicArn string `json:"TopicArn"`
	// Subject is the publish call's Subject, if it had one.
	Subject string `json:"Subject,omitempty"`
	// Message is the published message body.
	Message string `json:"Message"`
	// Timestamp is when SNS accepted the message, in RFC 3339.
	Timestamp string `json:"Timestamp"`
	// SequenceNumber is set by FIFO topics.
	SequenceNumber string `json:"SequenceNumber,omitempty"`
	// MessageAttributes are the published message attributes.
	MessageAttributes map[string]EnvelopeAttribute `json:"MessageAttributes,omitempty"`
	// SignatureVersion, Signature and SigningCertURL sign the envelope.
	SignatureVersion string `json:"SignatureVersion,omitempty"`
	// Signature is the envelope's signature.
	Signature string `json:"Signature,omitempty"`
	// SigningCertURL locates the certificate that signed it.
	SigningCertURL string `json:"SigningCertURL,omitempty"`
	// UnsubscribeURL ends the subscription.
	UnsubscribeURL string `json:"UnsubscribeURL,omitempty"`
}

// EnvelopeAttribute is one message attribute in an [Envelope]: its data
// type (String, Number, Binary, String.Array) and its value, base64 for
// Binary.
type EnvelopeAttribute struct {
	// Type is the attribute's data type.
	Type string `json:"Type"`
	// Value is its value, in base64 for Binary.
	Value string `json:"Value"`
}

// parseEnvelope returns the SNS envelope body is, or nil if body is not
// one: a JSON object of Type "Notification" with a MessageId, a topic ARN
// and a message.
func parseEnvelope(body string) *Envelope {
	t := strings.TrimLeft(body, " \t\r\n")
	if !strings.HasPrefix(t, "{") || !strings.Contains(t, `"TopicArn"`) {
		return nil
	}
	var e Envelope
	if json.Unmarshal([]byte(t), &e) != nil {
		return nil
	}
	if e.Type != "Notification" || e.MessageID == "" || !strings.HasPrefix(e.TopicArn, "arn:") || e.Message == "" {
		return nil
	}
	return &e
}

// decoded is a received message as the application sees it.
type decoded struct {
	payload []byte
	key     string
	attrs   map[string]string
	id      string
	attempt int
	env     *Envelope
	err     error // the body or attributes could not be decoded
}

// decodeMessage unwraps an SNS envelope if there is one and undoes the wire
// encoding. A message whose encoding is malformed (a foreign producer's,
// or a damaged one) is still returned, with its body as the payload, no
// key or attributes, and err set. compat reads a body without gizmo's
// encoding flag as base64, as NYT Gizmo wrote it.
func decodeMessage(m *sqstypes.Message, compat bool) decoded {
	body := awssdk.ToString(m.Body)
	d := decoded{id: awssdk.ToString(m.MessageId)}
	if n, err := strconv.Atoi(m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)]); err == nil {
		d.attempt = n
	}
	var wattrs map[string]string
	if len(m.MessageAttributes) == 0 {
		d.env = parseEnvelope(body)
		if d.env == nil && !compat {
			// A body as it is, with nothing of gizmo's to undo.
			d.payload = []byte(body)
			d.key = fallbackKey(m, nil, false)
			return d
		}
	}
	if d.env != nil {
		body, d.id = d.env.Message, d.env.MessageID
		wattrs = make(map[string]string, len(d.env.MessageAttributes)+1)
		for name, a := range d.env.MessageAttributes {
			wattrs[name] = a.Value
		}
	} else {
		wattrs = make(map[string]string, len(m.MessageAttributes)+1)
		for name, a := range m.MessageAttributes {
			wattrs[name] = attributeString(a)
		}
	}
	if compat {
		if _, ok := wattrs[wire.AttrEncoding]; !ok {
			wattrs[wire.AttrEncoding] = wire.EncodingBase64
		}
	}
	payload, key, attrs, err := wire.Decode([]byte(body), wattrs)
	if err != nil {
		d.payload = []byte(body)
		d.err = fmt.Errorf("aws: message %s: %w", d.id, err)
		return d
	}
	d.payload, d.key, d.attrs = payload, key, attrs
	if d.key == "" {
		d.key = fallbackKey(m, d.env, compat)
	}
	return d
}

// fallbackKey finds the key of a message that has no gizmo key attribute:
// the FIFO message group of a foreign producer, or the Subject that NYT
// Gizmo put it in.
func fallbackKey(m *sqstypes.Message, env *Envelope, compat bool) string {
	if compat && env != nil && env.Subject != "" {
		return env.Subject
	}
	g := m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)]
	if strings.HasPrefix(g, pubsub.ReservedPrefix) {
		return "" // gizmo's group for a message without a key
	}
	return g
}

// attributeString returns an SQS attribute's value as a string: String and
// Number values as they are, Binary values in standard base64.
func attributeString(a sqstypes.MessageAttributeValue) string {
	if a.StringValue != nil {
		return *a.StringValue
	}
	if a.BinaryValue != nil {
		return base64.StdEncoding.EncodeToString(a.BinaryValue)
	}
	return ""
}
