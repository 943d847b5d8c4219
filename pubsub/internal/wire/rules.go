package wire

import (
	"strings"
	"unicode/utf8"
)

// SQSText reports whether s holds only the characters SQS and SNS accept in
// a message body and in String attribute values: tab, newline, carriage
// return, and U+0020 to U+D7FF, U+E000 to U+FFFD and U+10000 to U+10FFFF,
// in valid UTF-8.
func SQSText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
		case r >= 0x20 && r <= 0xD7FF:
		case r >= 0xE000 && r <= 0xFFFD:
		case r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}

// SQSBody reports whether b can be an SQS or SNS body as is: non-empty,
// valid UTF-8, and SQSText.
func SQSBody(b []byte) bool {
	return len(b) > 0 && SQSText(string(b))
}

// SQSValue reports whether v can be an SQS String attribute value as is:
// non-empty and SQSText.
func SQSValue(v string) bool { return v != "" && SQSText(v) }

// SQSName reports whether name can be an SQS or SNS message attribute name
// as is: 1 to 256 characters from A-Z, a-z, 0-9, '_', '-' and '.', not
// starting or ending with '.', no "..", and not starting with "AWS." or
// "Amazon." in any case.
func SQSName(name string) bool {
	if name == "" || len(name) > 256 || name[0] == '.' || name[len(name)-1] == '.' || strings.Contains(name, "..") {
		return false
	}
	lower := strings.ToLower(name)
	if strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon.") {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// HeaderName reports whether name can be the tail of an HTTP header name as
// is, keeping its case through a case-insensitive transport: lower-case
// letters, digits and '-', not empty.
func HeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// HeaderValue reports whether v can be an HTTP header value as is: printable
// ASCII and inner spaces, with no space at either end (which HTTP trims).
// The empty value is allowed.
func HeaderValue(v string) bool {
	if v != "" && (v[0] == ' ' || v[len(v)-1] == ' ') {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}
