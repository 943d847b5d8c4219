package pubsub

import (
	"maps"
	"strconv"
	"time"
	"unicode/utf8"
)

// Attributes [Consume] adds to a message it publishes to the dead-letter
// publisher, on top of the message's own attributes (which it overwrites
// if they share a name).
const (
	// AttrDeadLetterError holds the last attempt's error text, cut to
	// [MaxDeadLetterErrorLen] bytes.
	AttrDeadLetterError = "gizmo-dead-letter-error"
	// AttrDeadLetterAttempts holds the number of the last attempt, in
	// decimal, counted from the backend's delivery attempt where it has one.
	AttrDeadLetterAttempts = "gizmo-dead-letter-attempts"
	// AttrDeadLetterMessageID holds the original message's ID.
	AttrDeadLetterMessageID = "gizmo-dead-letter-message-id"
	// AttrDeadLetterFirstFailedAt holds when this delivery first failed, in
	// RFC 3339 UTC with nanoseconds. Failures of earlier deliveries, before
	// a redelivery, are not known to the runner.
	AttrDeadLetterFirstFailedAt = "gizmo-dead-letter-first-failed-at"
	// AttrDeadLetterFailedAt holds when the last attempt failed, in the same
	// format as AttrDeadLetterFirstFailedAt.
	AttrDeadLetterFailedAt = "gizmo-dead-letter-failed-at"
)

// MaxDeadLetterErrorLen bounds the error text in [AttrDeadLetterError], so
// that it fits every backend's attribute limits.
const MaxDeadLetterErrorLen = 1024

// publishDeadLetter publishes m, with the failure attributes, to the
// dead-letter publisher. It uses the handlers' context, which outlives the
// consume context by the drain timeout.
func (r *runner) publishDeadLetter(m SubscriberMessage, err error, attempts int, firstFailed time.Time) error {
	orig := m.Attributes()
	attrs := make(map[string]string, len(orig)+5)
	maps.Copy(attrs, orig)
	attrs[AttrDeadLetterError] = truncateUTF8(err.Error(), MaxDeadLetterErrorLen)
	attrs[AttrDeadLetterAttempts] = strconv.Itoa(attempts)
	attrs[AttrDeadLetterMessageID] = m.ID()
	attrs[AttrDeadLetterFirstFailedAt] = firstFailed.UTC().Format(time.RFC3339Nano)
	attrs[AttrDeadLetterFailedAt] = time.Now().UTC().Format(time.RFC3339Nano)
	return r.cfg.deadLetter.PublishRaw(r.hctx, m.Key(), m.Message(), WithAttributes(attrs))
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
