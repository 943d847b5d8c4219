// Package testlog gives gizmo's tests a log sink that many goroutines may
// write to at once, and reads back what slog's JSON handler wrote to it.
package testlog

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
	"testing"
)

// Buffer is a bytes.Buffer safe for concurrent use. Its zero value is an
// empty buffer with no size limit.
type Buffer struct {
	// Max, when positive, caps the bytes kept; later writes are discarded
	// (and reported as written), so a chatty child process cannot fill
	// memory.
	Max int

	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.Max > 0 && b.b.Len()+len(p) > b.Max {
		return len(p), nil
	}
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Records decodes what was written so far as a stream of JSON objects, one
// per log record, failing the test if it is not one.
func (b *Buffer) Records(t testing.TB) []map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(b.String())))
	var out []map[string]any
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("testlog: decoding the log: %v", err)
		}
		out = append(out, m)
	}
}

// Find returns the JSON records whose "msg" is msg.
func (b *Buffer) Find(t testing.TB, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range b.Records(t) {
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}
