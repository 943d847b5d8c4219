package pubsub

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"
	"unicode/utf8"
)

// ReservedPrefix starts the names of the attributes gizmo itself puts on
// messages. A publish whose attributes use it fails with an error wrapping
// [ErrInvalidMessage], except for the public names defined here
// ([AttrDeadLetter]); the wire attributes an adapter adds ([AttrKey], the
// body encoding flag, escaped names) are removed again on receive.
const ReservedPrefix = "gizmo-"

// AttrKey is the attribute that carries a message's key on backends with no
// key field of their own (SQS standard queues, SNS, Pub/Sub without
// ordering, HTTP). Adapters add it on publish and turn it back into
// [SubscriberMessage.Key] on receive, so it never shows in Attributes.
// Programs outside gizmo that read such a queue find the key here.
const AttrKey = "gizmo-key"

// AttrDeadLetter is the attribute [Consume] adds to a message it publishes
// to the dead-letter publisher. Its value is a JSON object describing the
// failure (see [DeadLetterInfo] and [ParseDeadLetter]). It is one attribute,
// so that a dead-lettered message with several attributes of its own still
// fits SQS's limit of ten, and it is delivered like any user attribute.
const AttrDeadLetter = "gizmo-dead-letter"

// MaxDeadLetterLen bounds the length in bytes of the [AttrDeadLetter]
// value, so that it fits every backend's attribute limits (Pub/Sub allows
// 1024 bytes). The error text is cut to fit.
const MaxDeadLetterLen = 1024

// DeadLetterInfo is the content of the [AttrDeadLetter] attribute.
type DeadLetterInfo struct {
	// Error is the last attempt's error text, cut so that the attribute
	// stays within [MaxDeadLetterLen] bytes.
	Error string `json:"error"`
	// Attempts is the number of the last attempt, counted from the
	// backend's delivery attempt where it has one.
	Attempts int `json:"attempts"`
	// MessageID is the original message's ID.
	MessageID string `json:"message_id"`
	// FirstFailedAt is when this delivery first failed. Failures of earlier
	// deliveries are not known to the runner.
	FirstFailedAt time.Time `json:"first_failed_at"`
	// FailedAt is when the last attempt failed.
	FailedAt time.Time `json:"failed_at"`
}

// ParseDeadLetter decodes the [AttrDeadLetter] attribute of attrs. ok is
// false if there is none; err reports one that is malformed.
func ParseDeadLetter(attrs map[string]string) (info DeadLetterInfo, ok bool, err error) {
	v, ok := attrs[AttrDeadLetter]
	if !ok {
		return DeadLetterInfo{}, false, nil
	}
	if err := json.Unmarshal([]byte(v), &info); err != nil {
		return DeadLetterInfo{}, true, fmt.Errorf("pubsub: attribute %s: %w", AttrDeadLetter, err)
	}
	return info, true, nil
}

// publishDeadLetter publishes m, with the failure attribute, to the
// dead-letter publisher. It uses the handlers' context, which outlives the
// consume context by the drain timeout.
func (r *runner) publishDeadLetter(m SubscriberMessage, err error, attempts int, firstFailed time.Time) error {
	info := encodeDeadLetter(DeadLetterInfo{
		Error:         err.Error(),
		Attempts:      attempts,
		MessageID:     m.ID(),
		FirstFailedAt: firstFailed.UTC(),
		FailedAt:      time.Now().UTC(),
	})
	orig := m.Attributes()
	attrs := make(map[string]string, len(orig)+1)
	maps.Copy(attrs, orig)
	attrs[AttrDeadLetter] = info
	return r.cfg.deadLetter.PublishRaw(r.hctx, m.Key(), m.Message(), WithAttributes(attrs))
}

// encodeDeadLetter encodes info as JSON of at most MaxDeadLetterLen bytes,
// cutting the error text (and, for an absurdly long message ID, the ID) as
// needed. JSON escaping can make the text longer than it is, so it cuts by
// the excess and encodes again.
func encodeDeadLetter(info DeadLetterInfo) string {
	for {
		b, err := json.Marshal(info)
		if err != nil {
			return `{"error":"unencodable dead-letter info"}` // cannot happen: every field marshals
		}
		over := len(b) - MaxDeadLetterLen
		if over <= 0 {
			return string(b)
		}
		switch {
		case info.Error != "":
			info.Error = truncateUTF8(info.Error, max(len(info.Error)-over, 0))
		case info.MessageID != "":
			info.MessageID = truncateUTF8(info.MessageID, max(len(info.MessageID)-over, 0))
		default:
			return string(b)
		}
	}
}

// truncateUTF8 cuts s to at most n bytes without splitting a UTF-8
// sequence.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
