package http_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
	pubsubhttp "github.com/seed8104ecd5/gizmo/pubsub/http"
)

// tally counts the deliveries of each payload a test published.
type tally struct {
	mu    sync.Mutex
	seen  map[string]int
	total int
	want  int
	marks map[int]chan struct{} // closed once that many payloads were seen
}

func newTally(want int) *tally {
	return &tally{seen: make(map[string]int, want), want: want, marks: make(map[int]chan struct{})}
}

func (c *tally) add(payload []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[string(payload)]++
	c.total++
	if ch := c.marks[len(c.seen)]; ch != nil && c.seen[string(payload)] == 1 {
		close(ch)
	}
}

// reached returns a channel closed once k distinct payloads were seen.
func (c *tally) reached(k int) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan struct{})
	if len(c.seen) >= k {
		close(ch)
		return ch
	}
	c.marks[k] = ch
	return ch
}

// report returns how many payloads were never delivered and how many
// deliveries were duplicates.
func (c *tally) report() (lost, dups int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.want - len(c.seen), c.total - len(c.seen)
}

// publishAll publishes n distinct payloads from workers goroutines, each
// publishing its share one after another, and returns the publish errors.
func publishAll(ctx context.Context, p pubsub.Publisher, n, workers int) []error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if err := p.PublishRaw(ctx, fmt.Sprint("key-", i%50), fmt.Appendf(nil, "message %d", i)); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return errs
}

// consume runs pubsub.Consume over sub, counting into c, until the
// returned stop is called.
func consume(t *testing.T, sub pubsub.Subscriber, c *tally, opts ...pubsub.ConsumeOption) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() {
		res <- pubsub.Consume(ctx, sub, func(_ context.Context, m pubsub.SubscriberMessage) error {
			c.add(m.Message())
			return nil
		}, append([]pubsub.ConsumeOption{pubsub.WithConcurrency(16)}, opts...)...)
	}()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-res
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// flaky answers 503 to a share of the requests, at random: half of those
// before the subscriber sees the request, half after the subscriber
// handled it and answered (the answer is replaced, as when it is lost on
// the way back).
type flaky struct {
	next          http.Handler
	rate          float64
	mu            sync.Mutex
	rnd           *rand.Rand
	before, after atomic.Int64
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	roll, half := f.rnd.Float64(), f.rnd.IntN(2)
	f.mu.Unlock()
	if roll >= f.rate {
		f.next.ServeHTTP(w, r)
		return
	}
	if half == 0 {
		f.before.Add(1)
		http.Error(w, "flaky: before", http.StatusServiceUnavailable)
		return
	}
	sink := &swallow{header: http.Header{}}
	f.next.ServeHTTP(sink, r)
	if sink.status/100 == 2 {
		f.after.Add(1) // a message that was Done, and whose answer is lost
	}
	http.Error(w, "flaky: after", http.StatusServiceUnavailable)
}

// swallow is a ResponseWriter that keeps the status and drops the rest.
type swallow struct {
	header http.Header
	status int
}

func (s *swallow) Header() http.Header { return s.header }
func (s *swallow) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return len(b), nil
}
func (s *swallow) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}

// TestFlakyReceiver publishes 10,000 messages to a push subscriber behind
// a receiver that answers 503 to 30% of the requests at random. Every
// message must arrive. Duplicates come only from answers lost after the
// message was Done: at most one per such loss without deduplication, and
// none with it.
func TestFlakyReceiver(t *testing.T) {
	t.Parallel()
	const n, workers = 10_000, 32
	for _, dedup := range []bool{false, true} {
		t.Run(fmt.Sprintf("dedup=%v", dedup), func(t *testing.T) {
			t.Parallel()
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			cfg := pubsubhttp.Config{DedupWindow: -1}
			if dedup {
				cfg.DedupWindow = time.Minute
			}
			sub, err := pubsubhttp.NewSubscriber(cfg)
			if err != nil {
				t.Fatal(err)
			}
			f := &flaky{next: sub, rate: 0.3, rnd: rand.New(rand.NewPCG(seed, seed))}
			ln, srv := serveOn(t, "127.0.0.1:0", f)
			defer srv.Close()
			c := newTally(n)
			stop := consume(t, sub, c)
			p := newPub(t, pubsubhttp.Config{URL: "http://" + ln + "/push", InitialBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			if errs := publishAll(ctx, p, n, workers); len(errs) > 0 {
				t.Fatalf("%d publishes failed; the first: %v", len(errs), errs[0])
			}
			// Every Publish returned nil, so every message was Done.
			if err := stop(); err != nil {
				t.Errorf("Consume = %v", err)
			}
			lost, dups := c.report()
			before, after := f.before.Load(), f.after.Load()
			t.Logf("%d messages: %d lost, %d duplicate deliveries; %d requests refused before delivery, %d answers lost after Done",
				n, lost, dups, before, after)
			if lost != 0 {
				t.Errorf("%d of %d messages lost", lost, n)
			}
			if before == 0 || after == 0 {
				t.Errorf("the receiver injected %d and %d failures: the test proves nothing", before, after)
			}
			if dedup && dups != 0 {
				t.Errorf("%d duplicates with deduplication on, want 0: every repeat of an acknowledged ID is answered without delivery", dups)
			}
			if int64(dups) > after {
				t.Errorf("%d duplicates, but only %d answers were lost after Done", dups, after)
			}
		})
	}
}

// serveOn serves h on addr and returns the address and the server.
func serveOn(t *testing.T, addr string, h http.Handler) (string, *http.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), srv
}

// TestConsumerKilled kills the consuming process part way through a
// stream: its server closes every connection at once and its messages are
// never settled. A new process on the same address gets every message
// that was not Done.
func TestConsumerKilled(t *testing.T) {
	t.Parallel()
	const n, workers = 2000, 16
	c := newTally(n)
	subA, err := pubsubhttp.NewSubscriber(pubsubhttp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	addr, srvA := serveOn(t, "127.0.0.1:0", subA)
	killed, quarter := make(chan struct{}), make(chan struct{})
	var handled atomic.Int32
	ctxA, cancelA := context.WithCancel(context.Background())
	doneA := make(chan error, 1)
	go func() {
		doneA <- pubsub.Consume(ctxA, subA, func(ctx context.Context, m pubsub.SubscriberMessage) error {
			if h := handled.Add(1); h > n/4 {
				if h == n/4+1 {
					close(quarter)
				}
				<-killed // the process dies with this message in hand
				return ctx.Err()
			}
			c.add(m.Message())
			return nil
		}, pubsub.WithConcurrency(16), pubsub.WithDrainTimeout(time.Millisecond))
	}()

	p := newPub(t, pubsubhttp.Config{URL: "http://" + addr + "/push", InitialBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	published := make(chan []error, 1)
	go func() { published <- publishAll(ctx, p, n, workers) }()

	select {
	case <-quarter:
	case <-ctx.Done():
		t.Fatal("the first consumer never got a quarter of the messages")
	}
	_ = srvA.Close() // the process is gone: listener and connections
	close(killed)
	cancelA()
	<-doneA

	subB, err := pubsubhttp.NewSubscriber(pubsubhttp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, srvB := serveOn(t, addr, subB)
	defer srvB.Close()
	stopB := consume(t, subB, c)
	if errs := <-published; len(errs) > 0 {
		t.Fatalf("%d publishes failed; the first: %v", len(errs), errs[0])
	}
	_ = stopB()
	lost, dups := c.report()
	t.Logf("consumer killed after %d of %d messages: %d lost, %d duplicate deliveries", n/4, n, lost, dups)
	if lost != 0 {
		t.Errorf("%d of %d messages lost", lost, n)
	}
}

// TestServerRestarts restarts the subscriber's server three times during a
// stream; the subscriber and its consumer carry on, and the publishers
// carry the messages across.
func TestServerRestarts(t *testing.T) {
	t.Parallel()
	const n, workers = 3000, 16
	c := newTally(n)
	sub, err := pubsubhttp.NewSubscriber(pubsubhttp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	addr, srv := serveOn(t, "127.0.0.1:0", sub)
	stop := consume(t, sub, c)
	p := newPub(t, pubsubhttp.Config{URL: "http://" + addr + "/push", InitialBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	published := make(chan []error, 1)
	go func() { published <- publishAll(ctx, p, n, workers) }()
	for i := 1; i <= 3; i++ {
		select {
		case <-c.reached(i * n / 4):
		case <-ctx.Done():
			t.Fatalf("fewer than %d messages arrived before restart %d", i*n/4, i)
		}
		_ = srv.Close()
		_, srv = serveOn(t, addr, sub)
	}
	defer func() { _ = srv.Close() }()
	if errs := <-published; len(errs) > 0 {
		t.Fatalf("%d publishes failed; the first: %v", len(errs), errs[0])
	}
	if err := stop(); err != nil {
		t.Errorf("Consume = %v", err)
	}
	lost, dups := c.report()
	t.Logf("3 server restarts during %d messages: %d lost, %d duplicate deliveries", n, lost, dups)
	if lost != 0 {
		t.Errorf("%d of %d messages lost", lost, n)
	}
}
