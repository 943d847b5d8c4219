package wire

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// Validate checks key and attrs against the contract's rules. The error
// wraps [pubsub.ErrInvalidMessage] and names the key or attribute.
func Validate(key string, attrs map[string]string) error {
	if !utf8.ValidString(key) {
		return fmt.Errorf("%w: key %q is not valid UTF-8", pubsub.ErrInvalidMessage, key)
	}
	for name, v := range attrs {
		switch {
		case name == "":
			return fmt.Errorf("%w: empty attribute name", pubsub.ErrInvalidMessage)
		case !utf8.ValidString(name):
			return fmt.Errorf("%w: attribute name %q is not valid UTF-8", pubsub.ErrInvalidMessage, name)
		case !utf8.ValidString(v):
			return fmt.Errorf("%w: value of attribute %q is not valid UTF-8", pubsub.ErrInvalidMessage, name)
		case strings.HasPrefix(name, pubsub.ReservedPrefix) && name != pubsub.AttrDeadLetter:
			return fmt.Errorf("%w: attribute name %q uses the reserved prefix %q", pubsub.ErrInvalidMessage, name, pubsub.ReservedPrefix)
		}
	}
	return nil
}

// KeyGate enforces, across the calls an adapter makes for one
// PublishBatch, that no message of a key is sent after an earlier one of
// that key failed. Messages with an empty key carry no order and are never
// held back. The zero value is ready to use.
type KeyGate struct {
	failed map[string]bool
}

// Check returns an error wrapping [pubsub.ErrKeyBlocked] if an earlier
// message with key failed.
func (g *KeyGate) Check(key string) error {
	if key != "" && g.failed[key] {
		return fmt.Errorf("%w (key %q)", pubsub.ErrKeyBlocked, key)
	}
	return nil
}

// Fail records that a message with key failed.
func (g *KeyGate) Fail(key string) {
	if key == "" {
		return
	}
	if g.failed == nil {
		g.failed = make(map[string]bool)
	}
	g.failed[key] = true
}
