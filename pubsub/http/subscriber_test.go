package http_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
	pubsubhttp "github.com/seed8104ecd5/gizmo/pubsub/http"
	"github.com/seed8104ecd5/gizmo/web"
)

// TestSubscriberRefusesBadInput posts requests a push subscriber must
// refuse, and checks the status, that the answer is problem+json naming
// the reason, and that nothing was delivered.
func TestSubscriberRefusesBadInput(t *testing.T) {
	t.Parallel()
	cfg := pubsubhttp.Config{
		MaxBodyBytes:  2048,
		MaxAttributes: 2,
		Formats:       []pubsubhttp.Format{pubsubhttp.FormatRaw, pubsubhttp.FormatPubSub, pubsubhttp.FormatSNS},
		SNSTopicARNs:  []string{"arn:aws:sns:us-west-2:123456789012:Allowed"},
		SNSConfirm:    true,
		SNSSkipVerify: true,
	}
	_, ch, srv := startSub(t, cfg)
	snsConfirm, err := os.ReadFile("testdata/sns-subscription-confirmation.json")
	if err != nil {
		t.Fatal(err)
	}
	snsHeader := http.Header{"X-Amz-Sns-Message-Type": {"SubscriptionConfirmation"}, "Content-Type": {"text/plain; charset=UTF-8"}}
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	for _, tc := range []struct {
		name   string
		method string
		header http.Header
		body   string
		status int
		reason string
	}{
		{name: "wrong method", method: http.MethodGet, header: rawHeader("id-1"), status: 405, reason: "POST"},
		{name: "PUT", method: http.MethodPut, header: rawHeader("id-1"), body: "x", status: 405, reason: "POST"},
		{name: "missing headers", header: http.Header{"Content-Type": {"application/octet-stream"}}, body: "x", status: 400, reason: pubsubhttp.HeaderID},
		{name: "empty ID", header: rawHeader(""), body: "x", status: 400, reason: pubsubhttp.HeaderID},
		{name: "two IDs", header: rawHeader("a", pubsubhttp.HeaderID, "b"), body: "x", status: 400, reason: pubsubhttp.HeaderID},
		{name: "bad attempt", header: rawHeader("id-1", pubsubhttp.HeaderAttempt, "0"), body: "x", status: 400, reason: pubsubhttp.HeaderAttempt},
		{name: "repeated attribute", header: rawHeader("id-1", "Gizmo-Attr-a", "1", "Gizmo-Attr-a", "2"), body: "x", status: 400, reason: "more than once"},
		{name: "bad escaped name", header: rawHeader("id-1", "Gizmo-Attr-gizmo-x-!!", "eA=="), body: "x", status: 400, reason: "malformed escaped name"},
		{name: "bad escaped value", header: rawHeader("id-1", "Gizmo-Attr-gizmo-x-c4", "%%%"), body: "x", status: 400, reason: "malformed value"},
		{name: "unknown body encoding", header: rawHeader("id-1", "Gizmo-Attr-gizmo-enc", "rot13"), body: "x", status: 400, reason: "rot13"},
		{name: "oversize body", header: rawHeader("id-1"), body: strings.Repeat("x", 2049), status: 413, reason: "2048"},
		{name: "too many attributes", header: rawHeader("id-1", "Gizmo-Attr-a", "1", "Gizmo-Attr-b", "2", "Gizmo-Attr-c", "3"), body: "x", status: 413, reason: "3 attributes"},
		{name: "bad JSON", header: jsonHeader, body: `{"message": {`, status: 400, reason: "Pub/Sub push envelope"},
		{name: "JSON of the wrong shape", header: jsonHeader, body: `{"message": "hello"}`, status: 400, reason: "Pub/Sub push envelope"},
		{name: "no message", header: jsonHeader, body: `{"subscription": "s"}`, status: 400, reason: "no message"},
		{name: "bad base64", header: jsonHeader, body: `{"message": {"data": "not base64!", "messageId": "1"}}`, status: 400, reason: "not base64"},
		{name: "no message ID", header: jsonHeader, body: `{"message": {"data": "eA=="}}`, status: 400, reason: "messageId"},
		{name: "trailing data", header: jsonHeader, body: `{"message": {"messageId": "1"}} {}`, status: 400, reason: "envelope"},
		{name: "SNS confirmation for a topic not allowed", header: snsHeader, body: string(snsConfirm), status: 403, reason: "MyTopic"},
		{name: "SNS type disagrees with its header", header: http.Header{"X-Amz-Sns-Message-Type": {"Notification"}}, body: string(snsConfirm), status: 400, reason: "SubscriptionConfirmation"},
		{name: "SNS bad JSON", header: snsHeader, body: `{"Type": `, status: 400, reason: "SNS"},
		{name: "SNS raw delivery", header: http.Header{"X-Amz-Sns-Message-Type": {"Notification"}, "X-Amz-Sns-Rawdelivery": {"true"}}, body: "x", status: 400, reason: "raw message delivery"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			got := do(t, method, srv.URL, tc.header, tc.body)
			if got.status != tc.status {
				t.Fatalf("status %d (%s), want %d", got.status, got.body, tc.status)
			}
			if ct := got.header.Get("Content-Type"); ct != web.ProblemContentType {
				t.Errorf("Content-Type %q, want %s", ct, web.ProblemContentType)
			}
			if !strings.Contains(got.body, tc.reason) {
				t.Errorf("body %s does not give the reason (%q)", got.body, tc.reason)
			}
			if tc.status == 405 && got.header.Get("Allow") != http.MethodPost {
				t.Errorf("Allow: %q, want POST", got.header.Get("Allow"))
			}
		})
	}
	select {
	case m := <-ch:
		t.Errorf("a refused request was delivered: %q", m.Message())
	default:
	}
}

func TestSubscriberRefusesChunkedOversizeBody(t *testing.T) {
	t.Parallel()
	_, _, srv := startSub(t, pubsubhttp.Config{MaxBodyBytes: 64})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, struct{ *strings.Reader }{strings.NewReader(strings.Repeat("x", 1000))})
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(pubsubhttp.HeaderID, "chunked")
	req.ContentLength = -1 // sent chunked: the subscriber learns the size only by reading
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a body of unknown length over the limit: status %d, want 413", resp.StatusCode)
	}
}

func TestSubscriberAuthentication(t *testing.T) {
	t.Parallel()
	verify := func(_ context.Context, tok string) error {
		if tok != "good-token" {
			return errors.New("unknown token")
		}
		return nil
	}
	_, ch, srv := startSub(t, pubsubhttp.Config{Secret: "s3cret", SecretHeader: "X-Secret"}, pubsubhttp.WithTokenVerifier(verify))
	for name, tc := range map[string]struct {
		header http.Header
		reason string
	}{
		"no secret":      {rawHeader("a", "Authorization", "Bearer good-token"), "X-Secret"},
		"wrong secret":   {rawHeader("a", "X-Secret", "guess", "Authorization", "Bearer good-token"), "X-Secret"},
		"no token":       {rawHeader("a", "X-Secret", "s3cret"), "no bearer token"},
		"basic auth":     {rawHeader("a", "X-Secret", "s3cret", "Authorization", "Basic Z29vZA=="), "no bearer token"},
		"token refused":  {rawHeader("a", "X-Secret", "s3cret", "Authorization", "Bearer bad-token"), "refused"},
		"empty token":    {rawHeader("a", "X-Secret", "s3cret", "Authorization", "Bearer "), "no bearer token"},
		"secret twice":   {rawHeader("a", "X-Secret", "s3cret", "X-Secret", "s3cret", "Authorization", "Bearer good-token"), "X-Secret"},
		"secret as a ID": {rawHeader("s3cret", "Authorization", "Bearer good-token"), "X-Secret"},
	} {
		got := post(t, srv.URL, tc.header, "x")
		if got.status != http.StatusUnauthorized || !strings.Contains(got.body, tc.reason) {
			t.Errorf("%s: status %d %s, want 401 naming %q", name, got.status, got.body, tc.reason)
		}
		if strings.Contains(got.body, "unknown token") {
			t.Errorf("%s: the answer shows the verifier's error: %s", name, got.body)
		}
		if got.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate header", name)
		}
	}
	res := make(chan response, 1)
	go func() {
		res <- post(t, srv.URL, rawHeader("ok", "X-Secret", "s3cret", "Authorization", "bearer good-token"), "x")
	}()
	m := recv(t, ch)
	_ = m.Done()
	if got := <-res; got.status != http.StatusNoContent {
		t.Errorf("the authenticated request got %d %s, want 204", got.status, got.body)
	}
}

func TestSubscriberNotServing(t *testing.T) {
	t.Parallel()
	sub, err := pubsubhttp.NewSubscriber(pubsubhttp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if sub.Ready(t.Context()) == nil {
		t.Error("Ready before Start = nil")
	}
	rec := httptestRecorder(sub, rawHeader("a"), "x")
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("before Start: %d, want 503", rec.Code)
	}
	sub.Start()
	if err := sub.Ready(t.Context()); err != nil {
		t.Errorf("Ready after Start = %v", err)
	}
	if err := sub.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if sub.Ready(t.Context()) == nil {
		t.Error("Ready after Stop = nil")
	}
	rec = httptestRecorder(sub, rawHeader("a"), "x")
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "stopping") {
		t.Errorf("after Stop: %d %s, want 503", rec.Code, rec.Body)
	}
}

// TestSubscriberAnswers checks the answer each outcome gets.
func TestSubscriberAnswers(t *testing.T) {
	t.Parallel()
	// A lease of 2s: the test takes each message well within half of it,
	// even on a loaded machine, and the lapse case waits it out.
	cfg := pubsubhttp.Config{AckDeadline: 2 * time.Second, MaxLease: 4 * time.Second}
	_, ch, srv := startSub(t, cfg)
	for _, tc := range []struct {
		name      string
		settle    func(t *testing.T, m pubsub.SubscriberMessage)
		status    int
		delivered bool
	}{
		{name: "Done", settle: func(t *testing.T, m pubsub.SubscriberMessage) {
			if err := m.Done(); err != nil {
				t.Error(err)
			}
		}, status: 204},
		{name: "DoneWait", settle: func(t *testing.T, m pubsub.SubscriberMessage) {
			if err := pubsub.DoneWait(t.Context(), m); err != nil {
				t.Errorf("DoneWait = %v, want nil once the answer is written", err)
			}
		}, status: 204},
		{name: "Nack", settle: func(t *testing.T, m pubsub.SubscriberMessage) { _ = m.Nack() }, status: 503, delivered: true},
		{name: "ExtendDoneDeadline(0)", settle: func(t *testing.T, m pubsub.SubscriberMessage) {
			if err := m.ExtendDoneDeadline(0); err != nil {
				t.Error(err)
			}
			if s := m.(pubsub.SettlementReporter).Settlement(); s != pubsub.Nacked {
				t.Errorf("Settlement after ExtendDoneDeadline(0) = %v, want Nacked", s)
			}
		}, status: 503, delivered: true},
		{name: "lease lapses", settle: func(t *testing.T, m pubsub.SubscriberMessage) {}, status: 503, delivered: true},
		{name: "extended, then Done", settle: func(t *testing.T, m pubsub.SubscriberMessage) {
			if err := m.ExtendDoneDeadline(time.Second); err != nil {
				t.Error(err)
			}
			if err := m.ExtendDoneDeadline(time.Hour); err == nil || !strings.Contains(err.Error(), "MaxLease") {
				t.Errorf("ExtendDoneDeadline past MaxLease = %v, want an error naming the limit", err)
			}
			if err := m.Done(); err != nil {
				t.Error(err)
			}
		}, status: 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := make(chan response, 1)
			go func() { res <- post(t, srv.URL, rawHeader("answer-"+tc.name), "x") }()
			m := recv(t, ch)
			tc.settle(t, m)
			got := <-res
			if got.status != tc.status {
				t.Errorf("status %d %s, want %d", got.status, got.body, tc.status)
			}
			if d := got.header.Get(pubsubhttp.HeaderDelivered) != ""; d != tc.delivered {
				t.Errorf("%s header present: %v, want %v", pubsubhttp.HeaderDelivered, d, tc.delivered)
			}
			if tc.name == "lease lapses" {
				if err := m.Done(); !errors.Is(err, pubsub.ErrLeaseLost) {
					t.Errorf("Done after the lease lapsed = %v, want ErrLeaseLost", err)
				}
				if err := m.ExtendDoneDeadline(time.Second); !errors.Is(err, pubsub.ErrLeaseLost) {
					t.Errorf("ExtendDoneDeadline after the lease lapsed = %v, want ErrLeaseLost", err)
				}
			}
		})
	}
}

func TestSubscriberLeaseHonoursTheSendersTimeout(t *testing.T) {
	t.Parallel()
	_, ch, srv := startSub(t, pubsubhttp.Config{AckDeadline: 10 * time.Second, MaxLease: time.Minute})
	res := make(chan response, 1)
	go func() { res <- post(t, srv.URL, rawHeader("patient", pubsubhttp.HeaderTimeout, "10000"), "x") }()
	m := recv(t, ch)
	if err := m.ExtendDoneDeadline(15 * time.Second); err == nil || !strings.Contains(err.Error(), pubsubhttp.HeaderTimeout) {
		t.Errorf("ExtendDoneDeadline past the sender's Gizmo-Timeout of 10s = %v, want an error naming it", err)
	}
	if err := m.ExtendDoneDeadline(time.Second); err != nil {
		t.Errorf("ExtendDoneDeadline within the sender's timeout = %v", err)
	}
	_ = m.Done()
	if got := <-res; got.status != http.StatusNoContent {
		t.Errorf("status %d, want 204", got.status)
	}
}

func TestSubscriberSenderHangsUp(t *testing.T) {
	t.Parallel()
	_, ch, srv := startSub(t, pubsubhttp.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(pubsubhttp.HeaderID, "gone")
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	m := recv(t, ch).(*pubsubhttp.Message)
	cancel()
	<-errc
	// The subscriber notices the closed connection on its own time; the
	// lease is lost once it has.
	for {
		err := m.ExtendDoneDeadline(time.Second)
		if errors.Is(err, pubsub.ErrLeaseLost) {
			if !strings.Contains(err.Error(), "hung up") {
				t.Errorf("error %v does not say the sender hung up", err)
			}
			break
		}
		select {
		case <-t.Context().Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := m.Done(); !errors.Is(err, pubsub.ErrLeaseLost) {
		t.Errorf("Done after the sender hung up = %v, want ErrLeaseLost", err)
	}
}

func TestSubscriberDeduplicates(t *testing.T) {
	t.Parallel()
	_, ch, srv := startSub(t, pubsubhttp.Config{})
	res := make(chan response, 1)
	go func() { res <- post(t, srv.URL, rawHeader("once"), "first") }()
	_ = recv(t, ch).Done()
	if got := <-res; got.status != http.StatusNoContent {
		t.Fatalf("status %d, want 204", got.status)
	}
	// The same ID again, as a retry whose answer was lost: answered, and
	// not delivered.
	if got := post(t, srv.URL, rawHeader("once"), "again"); got.status != http.StatusNoContent {
		t.Errorf("repeat of an acknowledged ID: status %d, want 204", got.status)
	}
	select {
	case m := <-ch:
		t.Errorf("the repeat was delivered: %q", m.Message())
	default:
	}
	// A Nacked ID is not remembered.
	go func() { res <- post(t, srv.URL, rawHeader("nacked"), "n") }()
	_ = recv(t, ch).Nack()
	<-res
	go func() { res <- post(t, srv.URL, rawHeader("nacked"), "n") }()
	if m := recv(t, ch); m.ID() != "nacked" {
		t.Errorf("got %q", m.ID())
	} else {
		_ = m.Done()
	}
	<-res

	_, ch2, srv2 := startSub(t, pubsubhttp.Config{DedupWindow: -1})
	for range 2 {
		go func() { res <- post(t, srv2.URL, rawHeader("twice"), "t") }()
		_ = recv(t, ch2).Done()
		<-res
	}
}

func TestSubscriberStop(t *testing.T) {
	t.Parallel()
	t.Run("HandsBackUntakenAtOnce", func(t *testing.T) {
		t.Parallel()
		sub, ch, srv := startSub(t, pubsubhttp.Config{AckDeadline: time.Minute, MaxLease: time.Minute})
		res := make(chan response, 2)
		go func() { res <- post(t, srv.URL, rawHeader("taken"), "1") }()
		taken := recv(t, ch)
		go func() { res <- post(t, srv.URL, rawHeader("untaken"), "2") }()
		waitActive(t, sub, 2)
		stopped := make(chan error, 1)
		go func() { stopped <- sub.Stop(t.Context()) }()
		// The untaken message is answered before the taken one is settled.
		if got := <-res; got.status != http.StatusServiceUnavailable || got.header.Get(pubsubhttp.HeaderDelivered) != "" {
			t.Errorf("the message no consumer took: %d (delivered %q), want 503, not delivered", got.status, got.header.Get(pubsubhttp.HeaderDelivered))
		}
		_ = taken.Done()
		if got := <-res; got.status != http.StatusNoContent {
			t.Errorf("the message Done during Stop: %d, want 204", got.status)
		}
		if err := <-stopped; err != nil {
			t.Errorf("Stop = %v, want nil", err)
		}
		if _, ok := <-ch; ok {
			t.Error("the channel is open after Stop")
		}
	})
	t.Run("DrainTimeout", func(t *testing.T) {
		t.Parallel()
		sub, ch, srv := startSub(t, pubsubhttp.Config{AckDeadline: time.Minute, MaxLease: time.Minute})
		res := make(chan response, 1)
		go func() { res <- post(t, srv.URL, rawHeader("held"), "1") }()
		held := recv(t, ch)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		if err := sub.Stop(ctx); !errors.Is(err, pubsub.ErrDrainTimeout) {
			t.Errorf("Stop with a message unsettled past its context = %v, want ErrDrainTimeout", err)
		}
		if got := <-res; got.status != http.StatusServiceUnavailable || got.header.Get(pubsubhttp.HeaderDelivered) == "" {
			t.Errorf("the message handed back: %d, want 503 with %s", got.status, pubsubhttp.HeaderDelivered)
		}
		if err := held.Done(); !errors.Is(err, pubsub.ErrLeaseLost) || !errors.Is(err, pubsub.ErrStopped) {
			t.Errorf("Done after Stop handed the message back = %v, want ErrLeaseLost and ErrStopped", err)
		}
		if err := sub.Stop(t.Context()); !errors.Is(err, pubsub.ErrDrainTimeout) {
			t.Errorf("a second Stop = %v, want the first one's result", err)
		}
	})
	t.Run("NoConsumer", func(t *testing.T) {
		t.Parallel()
		_, _, srv := startSub(t, pubsubhttp.Config{AckDeadline: 200 * time.Millisecond})
		got := post(t, srv.URL, rawHeader("nobody"), "x")
		if got.status != http.StatusServiceUnavailable || !strings.Contains(got.body, "no consumer") {
			t.Errorf("a message no consumer takes: %d %s, want 503", got.status, got.body)
		}
	})
}

// waitActive waits until sub serves n requests (Ready's view is not
// enough; this polls the harness-visible effect: n requests in flight).
func waitActive(t *testing.T, sub *pubsubhttp.Subscriber, n int) {
	t.Helper()
	for pubsubhttp.ActiveRequests(sub) < n {
		select {
		case <-t.Context().Done():
			return
		case <-time.After(time.Millisecond):
		}
	}
}
