package daemon_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/daemon"
	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/mem"
	"github.com/seed8104ecd5/gizmo/server"
)

// setup returns a broker with topic "t" and subscription "s", and a
// server on a 127.0.0.1 listener.
func setup(t *testing.T, cfg server.Config) (*mem.Broker, *server.SimpleServer, string) {
	t.Helper()
	b := mem.NewBroker()
	t.Cleanup(func() { _ = b.Close() })
	if err := b.CreateTopic("t"); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateSubscription("s", "t", mem.SubscriptionConfig{}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.NewSimpleServer(cfg, server.WithListener(ln))
	if err != nil {
		t.Fatal(err)
	}
	return b, srv, "http://" + ln.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Liveness fails once the subscriber has failed for good; the server goes
// on serving.
func TestLivenessFailsWhenSubscriberFails(t *testing.T) {
	b, srv, base := setup(t, server.Config{})
	sub, _ := b.NewSubscriber("s")
	if err := daemon.AddConsumer(srv, daemon.Consumer{Name: "s", Subscriber: sub,
		Handler: func(context.Context, pubsub.SubscriberMessage) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	waitStatus(t, base+"/healthz", http.StatusOK)
	if err := b.DeleteSubscription("s"); err != nil {
		t.Fatal(err)
	}
	body := waitStatus(t, base+"/healthz", http.StatusServiceUnavailable)
	if !strings.Contains(body, `"worker consumer s":"failed"`) {
		t.Errorf("healthz body %s does not name the consumer", body)
	}
	if code, _ := get(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("readyz = %d: the server itself still serves", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

// One /metrics serves the API's and the consumer's metrics, and the
// trivial AddConsumer mistakes are refused.
func TestOneMetricsEndpoint(t *testing.T) {
	b, srv, base := setup(t, server.Config{})
	sub, _ := b.NewSubscriber("s")
	h := func(context.Context, pubsub.SubscriberMessage) error { return nil }
	if err := daemon.AddConsumer(srv, daemon.Consumer{Name: "s", Subscriber: sub, Handler: h}); err != nil {
		t.Fatal(err)
	}
	if err := daemon.AddConsumer(srv, daemon.Consumer{Subscriber: sub, Handler: h}); err == nil {
		t.Error("AddConsumer without a name succeeded")
	}
	raw, _ := b.NewPublisher("t")
	pub, err := daemon.Publisher(srv, raw, "t")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	if err := pub.PublishRaw(ctx, "", []byte("x")); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, base+"/healthz", http.StatusOK)
	var body string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		_, body = get(t, base+"/metrics")
		if strings.Contains(body, `pubsub_consumer_handled_total{consumer="s",outcome="done"} 1`) {
			break
		}
	}
	for _, want := range []string{
		`pubsub_consumer_handled_total{consumer="s",outcome="done"} 1`,
		`pubsub_publisher_messages_total{outcome="ok",publisher="t"} 1`,
		`pubsub_consumer_backlog_messages{consumer="s"} 0`,
		`http_server_requests_total{`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

// waitStatus polls url until it answers code, within 10s, and returns the
// body.
func waitStatus(t *testing.T, url string, code int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, body := get(t, url)
		if got == code {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d %s, want %d", url, got, body, code)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The SIGTERM test runs a daemon in a child process (this test binary
// again, selected by childEnv), because the signal goes to the process.
const childEnv = "GIZMO_DAEMON_SIGTERM_CHILD"

const (
	childPublished = 2000
	childInFlight  = 200
)

// SIGTERM flips readiness at once; the consumer goes on through the drain
// delay, then stops fetching; the 200 messages in flight then finish
// within the drain timeout, with live contexts; what never started is
// handed back; nothing is lost.
func TestSIGTERMDrains(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		runChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSIGTERMDrains$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := bufio.NewScanner(stdout)
	var base string
	for lines.Scan() {
		if addr, ok := strings.CutPrefix(lines.Text(), "READY-IN-FLIGHT "); ok {
			base = "http://" + addr
			break
		}
	}
	if base == "" {
		t.Fatal("the child did not report its in-flight messages")
	}
	if code, _ := get(t, base+"/readyz"); code != http.StatusOK {
		t.Fatalf("readyz before SIGTERM: %d", code)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The child's drain delay keeps the listener up for a while: readiness
	// must fail during it.
	waitStatus(t, base+"/readyz", http.StatusServiceUnavailable)
	var result string
	for lines.Scan() {
		if r, ok := strings.CutPrefix(lines.Text(), "RESULT "); ok {
			result = r
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v (result %q)", err, result)
	}
	var runErr string
	var handled, backlog, cancelled int
	if _, err := fmt.Sscanf(result, "run=%s handled=%d backlog=%d cancelled=%d", &runErr, &handled, &backlog, &cancelled); err != nil {
		t.Fatalf("child result %q: %v", result, err)
	}
	t.Logf("child: %s", result)
	if runErr != "<nil>" || cancelled != 0 {
		t.Errorf("child: Run = %s, %d handlers saw their context cancelled: the in-flight messages did not finish within the drain timeout", runErr, cancelled)
	}
	if handled < childInFlight || handled+backlog != childPublished {
		t.Errorf("child: %d handled + %d left in the subscription, want at least %d handled and %d in all: nothing lost",
			handled, backlog, childInFlight, childPublished)
	}
}

// runChild is the daemon the SIGTERM test signals: 300 messages, 200
// handlers that each take a while, and a drain delay.
func runChild(t *testing.T) {
	b, srv, base := setup(t, server.Config{DrainDelay: 500 * time.Millisecond, ShutdownTimeout: 20 * time.Second})
	pub, _ := b.NewPublisher("t")
	for i := range childPublished {
		if err := pub.PublishRaw(context.Background(), "", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	sub, _ := b.NewSubscriber("s", mem.WithPrefetch(childInFlight), mem.WithMaxOutstanding(childInFlight))
	var inFlight, handled, cancelled atomic.Int32
	signalled := make(chan struct{})
	if err := daemon.AddConsumer(srv, daemon.Consumer{Name: "s", Subscriber: sub,
		Handler: func(ctx context.Context, m pubsub.SubscriberMessage) error {
			if inFlight.Add(1) == childInFlight {
				fmt.Println("READY-IN-FLIGHT", strings.TrimPrefix(base, "http://"))
			}
			<-signalled                        // every handler is busy when SIGTERM comes
			time.Sleep(200 * time.Millisecond) // and has work left to finish
			if ctx.Err() != nil {
				cancelled.Add(1)
			}
			handled.Add(1)
			return nil
		},
		Options: []pubsub.ConsumeOption{pubsub.WithConcurrency(childInFlight)},
	}); err != nil {
		t.Fatal(err)
	}
	ctx, stop := server.SignalContext(context.Background())
	defer stop()
	context.AfterFunc(ctx, func() { close(signalled) })
	err := srv.Run(ctx)
	backlog, _ := sub.Backlog(context.Background())
	fmt.Printf("RESULT run=%v handled=%d backlog=%d cancelled=%d\n", err, handled.Load(), backlog, cancelled.Load())
}
