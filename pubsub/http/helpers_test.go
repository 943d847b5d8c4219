package http_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
	pubsubhttp "github.com/seed8104ecd5/gizmo/pubsub/http"
)

// startSub makes a started subscriber from cfg, serves it on a test server
// on 127.0.0.1, and stops both when the test ends.
func startSub(t *testing.T, cfg pubsubhttp.Config, opts ...pubsubhttp.SubscriberOption) (*pubsubhttp.Subscriber, <-chan pubsub.SubscriberMessage, *httptest.Server) {
	t.Helper()
	sub, err := pubsubhttp.NewSubscriber(cfg, opts...)
	if err != nil {
		t.Fatalf("NewSubscriber: %v", err)
	}
	ch := sub.Start()
	srv := httptest.NewServer(sub)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = sub.Stop(ctx)
		srv.Close()
	})
	return sub, ch, srv
}

// newPub makes a publisher from cfg, closed when the test ends.
func newPub(t *testing.T, cfg pubsubhttp.Config, opts ...pubsubhttp.PublisherOption) *pubsubhttp.Publisher {
	t.Helper()
	p, err := pubsubhttp.NewPublisher(t.Context(), cfg, opts...)
	if err != nil {
		t.Fatalf("NewPublisher: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// response is what a raw request got back.
type response struct {
	status int
	header http.Header
	body   string
}

// post sends a POST with the given headers and body and reads the answer.
func post(t *testing.T, url string, header http.Header, body string) response {
	t.Helper()
	return do(t, http.MethodPost, url, header, body)
}

func do(t *testing.T, method, url string, header http.Header, body string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// recv returns the next message from ch, failing the test if none comes
// within 10 seconds.
func recv(t *testing.T, ch <-chan pubsub.SubscriberMessage) pubsub.SubscriberMessage {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("the subscriber's channel closed")
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10s")
		return nil
	}
}

// goPublish publishes in the background (Publish returns only once the
// message is settled) and returns the result's channel.
func goPublish(t *testing.T, p pubsub.Publisher, key string, payload []byte, opts ...pubsub.PublishOption) <-chan error {
	res := make(chan error, 1)
	go func() { res <- p.PublishRaw(t.Context(), key, payload, opts...) }()
	return res
}

// result waits for a background publish's result, at most 10 seconds.
func result(t *testing.T, res <-chan error) error {
	t.Helper()
	select {
	case err := <-res:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the publish did not return within 10s")
		return nil
	}
}

// rawHeader returns the headers of a raw request with message ID id.
func rawHeader(id string, kv ...string) http.Header {
	h := http.Header{pubsubhttp.HeaderID: {id}}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = append(h[kv[i]], kv[i+1])
	}
	return h
}

// httptestRecorder serves one POST on h in process.
func httptestRecorder(h http.Handler, header http.Header, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
