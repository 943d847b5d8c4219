package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// The example must do what its doc says: every order is either processed or
// dead-lettered, flaky ones succeed on retry, malformed ones are dead-lettered
// once with the failure recorded.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, config{Orders: 50, Concurrency: 4}, slog.New(slog.NewTextHandler(io.Discard, nil)), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	// Orders 9, 19, ..., 49 are malformed; of the rest, 0, 7, 14, 21, 28,
	// 35 and 42 fail once and then succeed.
	for _, want := range []string{
		"published 50 orders\n",
		"processed 45 orders (7 needed a retry)\n",
		"dead-lettered 5 orders\n",
		`key=customer-4 attempts=1 error="order 49: unexpected end of JSON input"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q; got:\n%s", want, got)
		}
	}
}
