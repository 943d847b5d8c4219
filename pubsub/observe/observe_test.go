package observe_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/seed8104ecd5/gizmo/internal/testlog"
	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/mem"
	"github.com/seed8104ecd5/gizmo/pubsub/observe"
	"github.com/seed8104ecd5/gizmo/server"
)

// broker returns a broker with topics "t" and "dlq", a subscription "s" on
// "t" (ack deadline ack) and one "dl" on "dlq".
func broker(t *testing.T, ack time.Duration) *mem.Broker {
	t.Helper()
	b := mem.NewBroker()
	t.Cleanup(func() { _ = b.Close() })
	for _, topic := range []string{"t", "dlq"} {
		if err := b.CreateTopic(topic); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.CreateSubscription("s", "t", mem.SubscriptionConfig{AckDeadline: ack}); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateSubscription("dl", "dlq", mem.SubscriptionConfig{}); err != nil {
		t.Fatal(err)
	}
	return b
}

// consumeUntil runs Consume on sub until done is closed, then stops it.
func consumeUntil(t *testing.T, sub pubsub.Subscriber, done <-chan struct{}, h pubsub.Handler, opts ...pubsub.ConsumeOption) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- pubsub.Consume(ctx, sub, h, opts...) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Error("the scripted messages were not all handled within 20s")
	}
	cancel()
	if err := <-res; err != nil {
		t.Fatalf("Consume: %v", err)
	}
}

// A scripted run of successes, failures, panics, retries and dead letters:
// every metric and label value appears, with the counts the script drove.
func TestConsumerMetrics(t *testing.T) {
	b := broker(t, 10*time.Second)
	reg := prometheus.NewRegistry()
	m, err := observe.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := b.NewPublisher("t")
	pub := observe.Publisher(raw, "orders", observe.WithMetrics(m))
	dlq, _ := b.NewPublisher("dlq")
	// 5 succeed, 2 fail once, 1 panics once, 2 always fail (3 attempts,
	// then the dead-letter topic), 1 is slow enough to need an extension.
	script := map[string]int{}
	for i := range 5 {
		script[fmt.Sprint("ok-", i)] = 0
	}
	script["flaky-1"], script["flaky-2"], script["panic"], script["slow"] = 1, 1, 1, 0
	script["poison-1"], script["poison-2"] = 99, 99
	for p := range script {
		if err := pub.PublishRaw(t.Context(), "", []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	sub, _ := b.NewSubscriber("s")
	hooks := observe.Consumer("billing", sub, observe.WithMetrics(m))
	if got := testutil.ToFloat64(backlog(t, reg, "billing")); got != float64(len(script)) {
		t.Errorf("backlog before consuming = %v, want %d", got, len(script))
	}

	var mu sync.Mutex
	calls := map[string]int{}
	var settled atomic.Int32
	done := make(chan struct{})
	consumeUntil(t, sub, done, func(_ context.Context, msg pubsub.SubscriberMessage) error {
		p := string(msg.Message())
		mu.Lock()
		calls[p]++
		n := calls[p]
		mu.Unlock()
		fail := n <= script[p]
		switch {
		case p == "slow":
			time.Sleep(120 * time.Millisecond) // several keeper ticks of a 160ms lease
		case p == "panic" && fail:
			panic("scripted panic")
		case fail:
			return errors.New("scripted failure")
		}
		if settled.Add(1) == int32(len(script)-2) {
			close(done)
		}
		return nil
	}, pubsub.WithHooks(hooks), pubsub.WithDeadLetter(dlq), pubsub.WithLease(160*time.Millisecond),
		pubsub.WithRetry(pubsub.RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}))
	// The poison messages may still be in their last attempts: wait for
	// both dead letters.
	dl, _ := b.NewSubscriber("dl")
	ch := dl.Start()
	for range 2 {
		select {
		case m := <-ch:
			_ = m.Done()
		case <-time.After(10 * time.Second):
			t.Fatal("dead letters missing")
		}
	}
	_ = dl.Stop(context.Background())

	want := map[string]float64{
		`pubsub_consumer_received_total{consumer="billing"}`:                        11,
		`pubsub_consumer_handled_total{consumer="billing",outcome="done"}`:          9,
		`pubsub_consumer_handled_total{consumer="billing",outcome="retried"}`:       3 + 2*2,
		`pubsub_consumer_handled_total{consumer="billing",outcome="dead_lettered"}`: 2,
		`pubsub_consumer_handled_total{consumer="billing",outcome="given_up"}`:      0,
		`pubsub_consumer_handled_total{consumer="billing",outcome="abandoned"}`:     0,
		`pubsub_consumer_panics_total{consumer="billing"}`:                          1,
		`pubsub_consumer_in_flight{consumer="billing"}`:                             0,
		`pubsub_consumer_handler_duration_seconds_count{consumer="billing"}`:        9 + 7 + 2,
		`pubsub_consumer_retry_backoff_seconds_count{consumer="billing"}`:           7,
		`pubsub_consumer_backlog_messages{consumer="billing"}`:                      0,
		`pubsub_publisher_messages_total{outcome="ok",publisher="orders"}`:          11,
		`pubsub_publisher_messages_total{outcome="error",publisher="orders"}`:       0,
		`pubsub_publisher_duration_seconds_count{publisher="orders"}`:               11,
	}
	got := gather(t, reg)
	for series, v := range want {
		if g, ok := got[series]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", series, g, ok, v)
		}
	}
	if ext := got[`pubsub_consumer_lease_extensions_total{consumer="billing"}`]; ext < 1 {
		t.Errorf("lease extensions = %v, want at least one for the slow handler", ext)
	}
	if _, ok := got[`pubsub_consumer_leases_lost_total{consumer="billing"}`]; !ok {
		t.Error("the lease-loss counter is missing")
	}
}

// A lease Consume finds lost is counted.
func TestConsumerMetricsLeaseLost(t *testing.T) {
	b := broker(t, 100*time.Millisecond) // Consume is told 1s below: its first extension comes too late
	reg := prometheus.NewRegistry()
	m, _ := observe.NewMetrics(reg)
	raw, _ := b.NewPublisher("t")
	if err := raw.PublishRaw(t.Context(), "", []byte("x")); err != nil {
		t.Fatal(err)
	}
	sub, _ := b.NewSubscriber("s")
	var once sync.Once
	done := make(chan struct{})
	consumeUntil(t, sub, done, func(context.Context, pubsub.SubscriberMessage) error {
		time.Sleep(400 * time.Millisecond)
		once.Do(func() { close(done) })
		return nil
	}, pubsub.WithHooks(observe.Consumer("c", sub, observe.WithMetrics(m))), pubsub.WithLease(time.Second), pubsub.WithConcurrency(1))
	if got := gather(t, reg)[`pubsub_consumer_leases_lost_total{consumer="c"}`]; got < 1 {
		t.Errorf("leases lost = %v, want at least 1", got)
	}
}

// Publisher metrics count failed messages and batches by outcome.
func TestPublisherMetrics(t *testing.T) {
	b := broker(t, time.Second)
	reg := prometheus.NewRegistry()
	m, _ := observe.NewMetrics(reg)
	raw, _ := b.NewPublisher("t")
	pub := observe.Publisher(raw, "t", observe.WithMetrics(m))
	bad := map[string]string{"gizmo-reserved": "x"}
	_ = pub.PublishRaw(t.Context(), "", []byte("bad"), pubsub.WithAttributes(bad))
	_ = pub.PublishBatch(t.Context(), []pubsub.Message{{Payload: []byte("a")}, {Payload: []byte("b")}})
	_ = pub.PublishBatch(t.Context(), []pubsub.Message{{Payload: []byte("c")}, {Payload: []byte("d"), Attributes: bad}})
	_ = pub.PublishBatch(t.Context(), []pubsub.Message{{Payload: []byte("e"), Attributes: bad}})
	got := gather(t, reg)
	for series, v := range map[string]float64{
		`pubsub_publisher_messages_total{outcome="ok",publisher="t"}`:     3,
		`pubsub_publisher_messages_total{outcome="error",publisher="t"}`:  3,
		`pubsub_publisher_batches_total{outcome="ok",publisher="t"}`:      1,
		`pubsub_publisher_batches_total{outcome="partial",publisher="t"}`: 1,
		`pubsub_publisher_batches_total{outcome="error",publisher="t"}`:   1,
	} {
		if got[series] != v {
			t.Errorf("%s = %v, want %v", series, got[series], v)
		}
	}
}

// 10,000 messages with distinct keys and IDs add no label values.
func TestMetricsCardinality(t *testing.T) {
	b := broker(t, 10*time.Second)
	reg := prometheus.NewRegistry()
	m, _ := observe.NewMetrics(reg)
	raw, _ := b.NewPublisher("t")
	pub := observe.Publisher(raw, "t", observe.WithMetrics(m))
	const n = 10000
	batch := make([]pubsub.Message, 0, 500)
	for i := range n {
		batch = append(batch, pubsub.Message{Key: fmt.Sprint("key-", i), Payload: []byte("x")})
		if len(batch) == cap(batch) {
			if err := pub.PublishBatch(t.Context(), batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	sub, _ := b.NewSubscriber("s")
	var handled atomic.Int32
	done := make(chan struct{})
	consumeUntil(t, sub, done, func(context.Context, pubsub.SubscriberMessage) error {
		if handled.Add(1) == n {
			close(done)
		}
		return nil
	}, pubsub.WithHooks(observe.Consumer("c", sub, observe.WithMetrics(m))))
	series := 0
	for s := range gather(t, reg) {
		series++
		if strings.Contains(s, "key-") {
			t.Errorf("a key became a label: %s", s)
		}
	}
	// Each family has one series per outcome at most: a fixed number,
	// whatever the traffic.
	if series > 40 {
		t.Errorf("%d series after %d distinct keys, want a fixed handful", series, n)
	}
}

// A trace started in an HTTP handler that publishes reaches the
// consumer's span, which is a child of the producer's; the request ID
// travels too, into Consume's logs and the handler's context.
func TestTraceAndRequestIDFromHTTPToConsumer(t *testing.T) {
	b := broker(t, 10*time.Second)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	raw, _ := b.NewPublisher("t")
	pub := observe.Publisher(raw, "events", observe.WithTracing(tp, nil), observe.WithRequestID(server.RequestID))

	srv, err := server.NewSimpleServer(server.Config{}, server.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Register(publishService{pub}); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/publish", strings.NewReader("hello"))
	req.Header.Set(server.RequestIDHeader, "req-42")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("POST /publish: %d %s", rec.Code, rec.Body)
	}

	sub, _ := b.NewSubscriber("s")
	var logs testlog.Buffer
	var handlerSpan trace.SpanContext
	var handlerRequestID string
	done := make(chan struct{})
	first := true
	consumeUntil(t, sub, done, func(ctx context.Context, m pubsub.SubscriberMessage) error {
		if first { // fail once, so that Consume logs about the message
			first = false
			return errors.New("once")
		}
		handlerSpan = trace.SpanContextFromContext(ctx)
		handlerRequestID = server.RequestID(ctx)
		close(done)
		return nil
	}, pubsub.WithConcurrency(1), pubsub.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		pubsub.WithRetry(pubsub.RetryPolicy{InitialBackoff: time.Millisecond}),
		pubsub.WithHooks(observe.Consumer("s", sub, observe.WithTracing(tp, nil),
			observe.WithRequestIDContext(server.ContextWithRequestID))))

	spans := exp.GetSpans()
	byName := map[string][]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = append(byName[s.Name], s)
	}
	send, process := byName["send events"], byName["process s"]
	if len(send) != 1 || len(process) != 2 {
		t.Fatalf("spans: %d send, %d process (want 1 and 2); all: %v", len(send), len(process), names(spans))
	}
	if send[0].Parent.TraceID() != send[0].SpanContext.TraceID() || !send[0].Parent.IsValid() {
		t.Errorf("the producer span is not part of the HTTP request's trace")
	}
	for _, p := range process {
		if p.Parent.SpanID() != send[0].SpanContext.SpanID() || p.SpanContext.TraceID() != send[0].SpanContext.TraceID() {
			t.Errorf("consumer span %v is not a child of the producer span %v", p.Parent, send[0].SpanContext)
		}
		if p.SpanKind != trace.SpanKindConsumer {
			t.Errorf("consumer span kind %v", p.SpanKind)
		}
	}
	if process[0].Status.Code.String() != "Error" {
		t.Errorf("the failed attempt's span status = %v, want Error", process[0].Status)
	}
	if handlerSpan.TraceID() != send[0].SpanContext.TraceID() {
		t.Error("the handler's context is not in the trace")
	}
	if handlerRequestID != "req-42" {
		t.Errorf("request ID in the handler's context = %q, want req-42", handlerRequestID)
	}
	if !strings.Contains(logs.String(), "request_id=req-42") {
		t.Errorf("Consume's log lines lack the request ID:\n%s", logs.String())
	}
}

// With tracing off, nothing is added to the message.
func TestNoTracingNothingInjected(t *testing.T) {
	b := broker(t, time.Second)
	raw, _ := b.NewPublisher("t")
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("test").Start(context.Background(), "outer") // a live span the wrapper must ignore
	defer span.End()
	pub := observe.Publisher(raw, "t")
	if err := pub.PublishRaw(ctx, "", []byte("x"), pubsub.WithAttribute("a", "1")); err != nil {
		t.Fatal(err)
	}
	sub, _ := b.NewSubscriber("s")
	defer sub.Stop(context.Background())
	m := <-sub.Start()
	if attrs := m.Attributes(); len(attrs) != 1 || attrs["a"] != "1" {
		t.Errorf("attributes = %v, want only the caller's", attrs)
	}
}

type publishService struct{ pub pubsub.Publisher }

func (publishService) Prefix() string                         { return "" }
func (publishService) Middleware(h http.Handler) http.Handler { return h }
func (s publishService) Endpoints() []server.Endpoint {
	return []server.Endpoint{{Method: http.MethodPost, Path: "/publish", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		_, _ = body.ReadFrom(r.Body)
		if err := s.pub.PublishRaw(r.Context(), "k", body.Bytes()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})}}
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

// gather returns every series of reg as "name{labels}" -> value (counts for
// histograms as name_count).
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			key := "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[mf.GetName()+key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[mf.GetName()+key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[mf.GetName()+"_count"+key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// backlog returns the backlog gauge of consumer name, as a collector
// testutil can read.
func backlog(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	v := gather(t, reg)[fmt.Sprintf("pubsub_consumer_backlog_messages{consumer=%q}", name)]
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "backlog", Help: "copy"})
	g.Set(v)
	return g
}
