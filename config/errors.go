package config

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound reports that a source has no document at all: a missing file
// or a missing Consul key. [Optional] skips a source whose error wraps it (or
// wraps [io/fs.ErrNotExist]).
var ErrNotFound = errors.New("not found")

// Error describes why a source could not be applied. Every error returned by
// this package's loaders is an *Error; use [errors.As] to inspect it.
type Error struct {
	// Source names where the bad input came from, for example
	// `file "/etc/app.json"`, `consul key "app/config"`, "env" or "defaults".
	Source string
	// Field names what was wrong inside the source: a JSON path such as
	// "http.port" or "workers[2].name", an environment variable such as
	// "APP_HTTP_PORT", or a Go field path for a bad default tag. It is empty
	// when the error concerns the source as a whole.
	Field string
	// Line and Column give the 1-based position in a JSON document (Column
	// counts runes). They are zero when unknown.
	Line, Column int
	// Err is the underlying cause.
	Err error
}

// Error formats the error as
// "config: SOURCE[: line L, column C][: FIELD]: CAUSE".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	b.WriteString(e.Source)
	if e.Line > 0 {
		fmt.Fprintf(&b, ": line %d, column %d", e.Line, e.Column)
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("unknown error")
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// sourceError makes sure err names its source: an *Error is returned as is
// (filling in an empty Source), anything else is wrapped.
func sourceError(source string, err error) error {
	if err == nil {
		return nil
	}
	var ce *Error
	if errors.As(err, &ce) {
		if ce.Source == "" {
			ce.Source = source
		}
		return err
	}
	return &Error{Source: source, Err: err}
}

// fileSourceName is the Source of errors about the JSON file at path.
func fileSourceName(path string) string { return fmt.Sprintf("file %q", path) }

// consulSourceName is the Source of errors about the Consul key.
func consulSourceName(key string) string { return fmt.Sprintf("consul key %q", key) }

// redactedInError stands for the value of a secret field in error messages.
const redactedInError = "<redacted>"

// causeError gives a cause a clearer text while keeping it for errors.Is/As.
type causeError struct {
	msg string
	err error
}

func (e *causeError) Error() string { return e.msg }
func (e *causeError) Unwrap() error { return e.err }
