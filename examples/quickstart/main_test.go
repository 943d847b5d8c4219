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
		"published 50 orders for 5 customers; 4 handlers",
		"planted on purpose",
		"processed 45 orders; 7 of them succeeded on a retry",
		"customer-0: orders 0 5 10 15 20 25 30 35 40 45 (in publish order)\n",
		"customer-4: orders 4 14 24 34 44 (in publish order)\n",
		"dead-lettered 5 malformed orders",
		`order 49 (customer-4): 1 attempt, error "malformed order: unexpected end of JSON input"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q; got:\n%s", want, got)
		}
	}
	if strings.Contains(got, "OUT OF ORDER") {
		t.Errorf("a customer's orders were processed out of order:\n%s", got)
	}
}

// Out-of-range flags get a message naming the flag, not a panic.
func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  config
		want string
	}{
		{config{Orders: -3, Concurrency: 4}, "-orders -3: want a number from 1 to 100000"},
		{config{Orders: 0, Concurrency: 4}, "-orders 0"},
		{config{Orders: 200000, Concurrency: 4}, "-orders 200000"},
		{config{Orders: 10, Concurrency: 0}, "-concurrency 0: want a number from 1 to 1024"},
		{config{Orders: 10, Concurrency: 5000}, "-concurrency 5000"},
		{config{Orders: 1, Concurrency: 1}, ""},
	} {
		err := c.cfg.validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v, want nil", c.cfg, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: %v, want an error containing %q", c.cfg, err, c.want)
		}
	}
}
