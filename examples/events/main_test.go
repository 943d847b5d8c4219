package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/config"
	"github.com/seed8104ecd5/gizmo/internal/testlog"
)

// A bad setting is reported with its whole variable name.
func TestConfigErrorNamesTheVariable(t *testing.T) {
	t.Setenv("EVENTS_SERVER_HTTP_PORT", "70000")
	var cfg Config
	err := config.Load(context.Background(), &cfg, config.Defaults(), config.Env("EVENTS"))
	if err == nil || !strings.Contains(err.Error(), "EVENTS_SERVER_HTTP_PORT: 70000 is not a valid port") {
		t.Errorf("config.Load = %v, want an error naming EVENTS_SERVER_HTTP_PORT", err)
	}
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func userCounts(t *testing.T, base, user string) map[string]int {
	t.Helper()
	resp, err := http.Get(base + "/v1/users/" + user + "/counts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Counts map[string]int }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Counts
}

// TestEvents runs both halves in one process: events posted over HTTP by
// concurrent clients are all counted by the consumer, bad events are
// refused before they are published, and cancelling stops both halves
// cleanly.
func TestEvents(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var out testlog.Buffer
	go func() { done <- run(ctx, Config{Concurrency: 4}, logger, &out, ln) }()

	// 4 users x 3 kinds x 5 events, from 12 concurrent clients.
	users, kinds := []string{"ann", "bob", "cy", "dee"}, []string{"click", "view", "buy"}
	var wg sync.WaitGroup
	errs := make(chan string, len(users)*len(kinds))
	for _, u := range users {
		for _, k := range kinds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 5 {
					resp, err := http.Post(base+"/v1/events", "application/json",
						strings.NewReader(fmt.Sprintf(`{"user": %q, "kind": %q}`, u, k)))
					if err != nil {
						errs <- err.Error()
						return
					}
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusAccepted {
						errs <- fmt.Sprintf("%s/%s: status %d", u, k, resp.StatusCode)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}

	// Every event is counted, soon.
	deadline := time.Now().Add(10 * time.Second)
	for _, u := range users {
		for {
			got := userCounts(t, base, u)
			if got["click"] == 5 && got["view"] == 5 && got["buy"] == 5 && len(got) == 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("counts for %s = %v, want 5 of each kind", u, got)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// Bad events are refused with a 4xx naming the problem, and nothing is
	// published for them.
	for _, tc := range []struct {
		body, want string
		status     int
	}{
		{`{"user": "Ann!", "kind": "click"}`, `"field":"user"`, http.StatusUnprocessableEntity},
		{`{"user": "ann"}`, `"field":"kind"`, http.StatusUnprocessableEntity},
		{`{"user": "ann", "kind": "click", "extra": 1}`, `unknown field \"extra\"`, http.StatusBadRequest},
		{`{"user": `, `malformed JSON: unexpected end of body at line 1, column 10`, http.StatusBadRequest},
		{`null`, `must be a JSON object, not null`, http.StatusBadRequest},
	} {
		if status, body := post(t, base+"/v1/events", tc.body); status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("POST %s: %d %s, want %d with %s", tc.body, status, body, tc.status, tc.want)
		}
	}
	if got := userCounts(t, base, "ann"); got["click"] != 5 {
		t.Errorf("a refused event was counted: %v", got)
	}

	// Every invalid field is reported, in a stable order, every time.
	for range 50 {
		status, body := post(t, base+"/v1/events", `{}`)
		want := `"detail":"invalid user, kind: each must be`
		if status != http.StatusUnprocessableEntity || !strings.Contains(body, want) || !strings.Contains(body, `"field":"user"`) ||
			!strings.Contains(body, `"invalid_fields":[{"detail":"user must be`) || !strings.Contains(body, `},{"detail":"kind must be`) {
			t.Fatalf("POST {}: %d %s, want 422 naming user, then kind", status, body)
		}
	}

	// An unknown user has empty counts, {} not null; a name the POST
	// refuses is refused by the GET too.
	if resp, err := http.Get(base + "/v1/users/nobody/counts"); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `"counts":{}`) {
			t.Errorf("counts of an unknown user: %s, want {}", b)
		}
	}
	if resp, err := http.Get(base + "/v1/users/Ann!/counts"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET with an invalid user name: %d, want 400", resp.StatusCode)
		}
	}

	// One /metrics for the API and the consumer.
	if resp, err := http.Get(base + "/metrics"); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{`http_server_requests_total{`, `pubsub_consumer_handled_total{consumer="counter",outcome="done"} 60`, `pubsub_publisher_messages_total{outcome="ok",publisher="events"} 60`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	}

	// It said where it listens and how to try it.
	if got := out.String(); !strings.Contains(got, "events: listening on "+base) || !strings.Contains(got, "try: curl -s "+base+"/v1/events") {
		t.Errorf("start-up lines:\n%s", got)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v after cancel, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return within 15s of cancel")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the HTTP server still answers after run returned")
	}
}
