package aws_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/seed8104ecd5/gizmo/pubsub"
	gaws "github.com/seed8104ecd5/gizmo/pubsub/aws"
	"github.com/seed8104ecd5/gizmo/pubsub/pubsubtest"
)

var nameSeq atomic.Int64

// uniqueName returns a queue or topic name no other test uses.
func uniqueName(t testing.TB, suffix string) string {
	return fmt.Sprintf("t%d-%d%s", time.Now().UnixNano()%1e9, nameSeq.Add(1), suffix)
}

// newQueue creates a queue that is deleted when the test ends.
func newQueue(t testing.TB, c *sqs.Client, o gaws.QueueOptions) string {
	t.Helper()
	suffix := ""
	if o.FIFO {
		suffix = ".fifo"
	}
	url, err := gaws.EnsureQueue(t.Context(), c, uniqueName(t, suffix), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteQueue(c, url) })
	return url
}

// newTopic creates a topic that is deleted when the test ends.
func newTopic(t testing.TB, c *sns.Client, o gaws.TopicOptions) string {
	t.Helper()
	suffix := ""
	if o.FIFO {
		suffix = ".fifo"
	}
	arn, err := gaws.EnsureTopic(t.Context(), c, uniqueName(t, suffix), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteTopic(c, arn) })
	return arn
}

// startSubscriber makes and starts a subscriber of queue, stopped when the
// test ends.
func startSubscriber(t testing.TB, cfg gaws.Config, queue string, opts ...gaws.Option) (*gaws.Subscriber, <-chan pubsub.SubscriberMessage) {
	t.Helper()
	cfg.Queue = queue
	s, err := gaws.NewSubscriber(t.Context(), cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return s, s.Start()
}

// recv and expectNone are pubsubtest's helpers under shorter names.
var recv, expectNone = pubsubtest.Receive, pubsubtest.ExpectNone

// injector sits between an SDK client and fauxqs. For the actions it has
// a rule for, the rule may answer in fauxqs's place; it records every
// request's action and body.
type injector struct {
	base http.RoundTripper

	mu       sync.Mutex
	rules    map[string]func(n int, body []byte) *http.Response
	rewrites map[string]func(body []byte) []byte
	calls    map[string]int
	sent     []injected
}

type injected struct {
	action string
	body   []byte
}

func newInjector() *injector {
	return &injector{
		base:     http.DefaultTransport,
		rules:    make(map[string]func(int, []byte) *http.Response),
		rewrites: make(map[string]func([]byte) []byte),
		calls:    make(map[string]int),
	}
}

// rewrite sets a function that changes the body of every request for an
// action before it goes to fauxqs (which does not check signatures).
func (in *injector) rewrite(action string, fn func(body []byte) []byte) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.rewrites[action] = fn
}

// on sets the rule for an action ("DeleteMessageBatch"). The rule gets the
// 1-based number of the call and the request body, and returns a response,
// or nil to let fauxqs answer.
func (in *injector) on(action string, rule func(n int, body []byte) *http.Response) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.rules[action] = rule
}

func (in *injector) requests(action string) [][]byte {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out [][]byte
	for _, s := range in.sent {
		if s.action == action {
			out = append(out, s.body)
		}
	}
	return out
}

func (in *injector) RoundTrip(req *http.Request) (*http.Response, error) {
	action := strings.TrimPrefix(req.Header.Get("X-Amz-Target"), "AmazonSQS.")
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	in.mu.Lock()
	in.calls[action]++
	n := in.calls[action]
	in.sent = append(in.sent, injected{action, body})
	rule, rw := in.rules[action], in.rewrites[action]
	in.mu.Unlock()
	if rw != nil {
		body = rw(body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
	}
	if rule != nil {
		if resp := rule(n, body); resp != nil {
			resp.Request = req
			return resp, nil
		}
	}
	return in.base.RoundTrip(req)
}

// jsonResponse is an SQS JSON-protocol answer.
func jsonResponse(status int, v any) *http.Response {
	b, _ := json.Marshal(v)
	return &http.Response{
		StatusCode: status, Status: http.StatusText(status),
		Header:        http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amzn-Requestid": {"injected"}},
		Body:          io.NopCloser(bytes.NewReader(b)),
		ContentLength: int64(len(b)),
	}
}

// failEntries answers a batch request by failing every entry with code;
// senderFault false makes it worth retrying.
func failEntries(body []byte, code string, senderFault bool) *http.Response {
	var req struct{ Entries []struct{ Id string } }
	_ = json.Unmarshal(body, &req)
	failed := make([]map[string]any, len(req.Entries))
	for i, e := range req.Entries {
		failed[i] = map[string]any{"Id": e.Id, "Code": code, "Message": "injected by the test", "SenderFault": senderFault}
	}
	return jsonResponse(200, map[string]any{"Successful": []any{}, "Failed": failed})
}

// injectedSQS returns an SQS client for cfg whose requests go through in.
func injectedSQS(t testing.TB, cfg gaws.Config, in *injector) *sqs.Client {
	t.Helper()
	ac, err := cfg.AWSConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ac.HTTPClient = &http.Client{Transport: in}
	return sqs.NewFromConfig(ac)
}

// recorder is a slog handler that keeps every record's level and message.
type recorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}

func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// has reports whether a record at level with msg containing text was
// logged.
func (r *recorder) has(level slog.Level, text string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.recs {
		if rec.Level == level && strings.Contains(rec.Message, text) {
			return true
		}
	}
	return false
}
