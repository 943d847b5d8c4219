package http_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
	pubsubhttp "github.com/seed8104ecd5/gizmo/pubsub/http"
)

// TestPublishBatchBoundsConcurrency holds every request until as many as
// Config.Concurrency are in flight: the batch must get there, and never
// past it.
func TestPublishBatchBoundsConcurrency(t *testing.T) {
	t.Parallel()
	const limit = 4
	var mu sync.Mutex
	inflight, most := 0, 0
	reached, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		mu.Lock()
		inflight++
		most = max(most, inflight)
		if inflight == limit {
			once.Do(func() { close(reached) })
		}
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		mu.Lock()
		inflight--
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	cfg := fastRetries(srv.URL)
	cfg.Concurrency = limit
	p := newPub(t, cfg)
	msgs := make([]pubsub.Message, 40)
	for i := range msgs {
		msgs[i] = pubsub.Message{Key: fmt.Sprint("key-", i), Payload: []byte("x")}
	}
	res := make(chan error, 1)
	go func() { res <- p.PublishBatch(t.Context(), msgs) }()
	select {
	case <-reached:
	case err := <-res:
		t.Fatalf("PublishBatch returned (%v) before %d requests were in flight", err, limit)
	case <-time.After(10 * time.Second):
		t.Fatalf("PublishBatch never had %d requests in flight", limit)
	}
	close(release)
	if err := result(t, res); err != nil {
		t.Fatal(err)
	}
	if most != limit {
		t.Errorf("at most %d requests were in flight at once, want exactly Concurrency = %d", most, limit)
	}
}

// TestPublishBatchKeyOrder sends keys concurrently: each key's messages
// must arrive in order, each only after the one before was accepted, even
// when some are refused with 503 at first.
func TestPublishBatchKeyOrder(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	accepted := map[string]int{} // key -> last sequence number accepted
	tried := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var key string
		var seq int
		if _, err := fmt.Sscanf(string(body), "%s %d", &key, &seq); err != nil {
			t.Errorf("body %q", body)
		}
		mu.Lock()
		defer mu.Unlock()
		if key != "none" {
			if last, ok := accepted[key]; (ok && seq != last+1) || (!ok && seq != 0) {
				t.Errorf("key %s: message %d arrived after %d was accepted", key, seq, last)
			}
		}
		if seq%4 == 1 && !tried[string(body)] {
			tried[string(body)] = true
			w.WriteHeader(http.StatusServiceUnavailable) // refused once: retried in place
			return
		}
		accepted[key] = seq
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	cfg := fastRetries(srv.URL)
	cfg.Concurrency = 8
	var msgs []pubsub.Message
	for seq := range 10 {
		for _, key := range []string{"a", "b", "c"} {
			msgs = append(msgs, pubsub.Message{Key: key, Payload: fmt.Appendf(nil, "%s %d", key, seq)})
		}
		msgs = append(msgs, pubsub.Message{Payload: fmt.Appendf(nil, "none %d", seq)})
	}
	if err := newPub(t, cfg).PublishBatch(t.Context(), msgs); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"a", "b", "c"} {
		if accepted[key] != 9 {
			t.Errorf("key %s: last accepted %d, want 9", key, accepted[key])
		}
	}
}

// TestPublishBatchErrors refuses one message for good: the later messages
// of its key are not sent, and every other message is.
func TestPublishBatchErrors(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	got := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[string(body)] = true
		mu.Unlock()
		if strings.HasSuffix(string(body), "bad") {
			http.Error(w, "refused: bad", http.StatusUnprocessableEntity)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	msgs := []pubsub.Message{
		{Key: "K", Payload: []byte("K1")},
		{Key: "K", Payload: []byte("K2 bad")},
		{Key: "K", Payload: []byte("K3")},
		{Key: "J", Payload: []byte("J1")},
		{Payload: []byte("none bad")},
		{Payload: []byte("none")},
		{Key: "K", Payload: []byte("K4")},
		{Key: "L", Payload: []byte("L1"), Attributes: map[string]string{"gizmo-forged": "x"}},
		{Key: "L", Payload: []byte("L2")},
	}
	err := newPub(t, fastRetries(srv.URL)).PublishBatch(t.Context(), msgs)
	var be *pubsub.BatchError
	if !errors.As(err, &be) || len(be.Errs) != len(msgs) {
		t.Fatalf("PublishBatch = %v, want a *pubsub.BatchError with %d entries", err, len(msgs))
	}
	var se *pubsubhttp.StatusError
	for i, want := range []string{"", "422", "blocked", "", "422", "", "blocked", "invalid", "blocked"} {
		e := be.Errs[i]
		switch want {
		case "":
			if e != nil {
				t.Errorf("message %d (%s): %v, want nil", i, msgs[i].Payload, e)
			}
		case "422":
			if !errors.As(e, &se) || se.StatusCode != 422 {
				t.Errorf("message %d: %v, want the 422", i, e)
			}
		case "blocked":
			if !errors.Is(e, pubsub.ErrKeyBlocked) {
				t.Errorf("message %d: %v, want ErrKeyBlocked", i, e)
			}
		case "invalid":
			if !errors.Is(e, pubsub.ErrInvalidMessage) {
				t.Errorf("message %d: %v, want ErrInvalidMessage", i, e)
			}
		}
	}
	for _, never := range []string{"K3", "K4", "L1", "L2"} {
		if got[never] {
			t.Errorf("%s was sent after an earlier message of its key failed", never)
		}
	}
	if !got["J1"] || !got["none"] {
		t.Error("messages of other keys were not sent")
	}
}
