package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/server"
)

// service is a running notes service on a loopback port.
type service struct {
	t    *testing.T
	base string
}

func (s service) do(method, path, body string) (*http.Response, string) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp, string(b)
}

// expect sends a request and checks the status and that the body contains
// every one of want.
func (s service) expect(method, path, body string, status int, want ...string) *http.Response {
	s.t.Helper()
	resp, got := s.do(method, path, body)
	if resp.StatusCode != status {
		s.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.StatusCode, status, got)
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			s.t.Errorf("%s %s: body lacks %q; got %s", method, path, w, got)
		}
	}
	return resp
}

func writeConfig(t *testing.T, doc string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notes.json")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestNotes runs the service as main does, from a config file and the
// environment, and uses it over real HTTP on 127.0.0.1.
func TestNotes(t *testing.T) {
	path := writeConfig(t, `{"server": {"shutdown_timeout": "5s", "log_level": "error"}, "max_notes": 2}`)
	t.Setenv("NOTES_SERVER_LOG_FORMAT", "text")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, path, server.WithListener(ln)) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v after cancel, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("run did not return within 10s of cancel")
		}
	}()
	s := service{t: t, base: "http://" + ln.Addr().String()}

	// Create and read back.
	resp := s.expect("POST", "/v1/notes", `{"title": "milk", "body": "2 litres"}`, 201, `"id":1`, `"title":"milk"`)
	if resp.Header.Get(server.RequestIDHeader) == "" {
		t.Error("no request ID on the response")
	}
	resp = s.expect("GET", "/v1/notes/1", "", 200, `"body":"2 litres"`)
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-cache") {
		t.Errorf("Cache-Control = %q, want the service middleware's no-cache", cc)
	}

	// Bad input gets a 4xx naming the problem, as problem+json.
	resp = s.expect("POST", "/v1/notes", `{"titel": "typo"}`, 400, `titel`)
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("error Content-Type = %q", ct)
	}
	s.expect("POST", "/v1/notes", `{"title": "  "}`, 422, `"field":"title"`)
	s.expect("POST", "/v1/notes", `null`, 400, "must be a JSON object, not null")
	s.expect("GET", "/v1/notes/99", "", 404, "no note 99")
	s.expect("GET", "/v1/notes/abc", "", 404)
	s.expect("GET", "/v1/notes?limit=0", "", 400, "limit")
	s.expect("GET", "/v1/notes?since=yesterday", "", 400, "since")

	// Listing by date.
	today := time.Now().UTC()
	s.expect("GET", "/v1/notes?since="+today.AddDate(0, 0, -1).Format(time.DateOnly), "", 200, `"title":"milk"`)
	_, body := s.do("GET", "/v1/notes?since="+today.AddDate(0, 0, 2).Format(time.DateOnly), "")
	var list struct{ Notes []note }
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list.Notes) != 0 {
		t.Errorf("notes since the day after tomorrow: %s (err %v), want none", body, err)
	}

	// A full store turns readiness off and refuses writes; deleting a note
	// turns it back on.
	s.expect("GET", "/readyz", "", 200)
	s.expect("POST", "/v1/notes", `{"title": "eggs"}`, 201, `"id":2`)
	s.expect("GET", "/readyz", "", 503, `"store":"failed"`)
	s.expect("POST", "/v1/notes", `{"title": "bread"}`, 507, "store is full")
	s.expect("DELETE", "/v1/notes/1", "", 204)
	s.expect("DELETE", "/v1/notes/1", "", 404)
	s.expect("GET", "/readyz", "", 200)

	// Metrics are labelled by route template, not by path.
	s.expect("GET", "/metrics", "", 200, `route="/v1/notes/{id:[0-9]+}"`)
}

// TestConfigErrors checks that a bad setting stops the service with an error
// naming the source and the field, before anything listens.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, doc, env, want string
	}{
		{"wrong type in file", `{"max_notes": "many"}`, "",
			`config: file "FILE": line 1, column 15: max_notes: cannot unmarshal string into int`},
		{"bad duration in file", `{"server": {"drain_delay": "soon"}}`, "",
			`config: file "FILE": line 1, column 28: server.drain_delay: invalid duration "soon": want a number with a unit, such as "300ms" or "1m30s"`},
		{"bad environment value", `{}`, "NOTES_SERVER_HTTP_PORT=eighty",
			`config: env: NOTES_SERVER_HTTP_PORT: cannot parse "eighty" as int`},
		{"failed validation", `{"max_notes": 0}`, "",
			"config: validate: max_notes must be at least 1, got 0"},
		{"server setting out of range", `{}`, "NOTES_SERVER_HTTP_PORT=70000",
			"config: validate: NOTES_SERVER_HTTP_PORT: 70000 is not a valid port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if k, v, ok := strings.Cut(tc.env, "="); ok {
				t.Setenv(k, v)
			}
			path := writeConfig(t, tc.doc)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := run(ctx, path)
			if want := strings.ReplaceAll(tc.want, "FILE", path); err == nil || err.Error() != want {
				t.Fatalf("run: %v\nwant %s", err, want)
			}
		})
	}
}
