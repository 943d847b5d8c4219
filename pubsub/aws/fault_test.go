package aws_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seed8104ecd5/gizmo/pubsub"
	gaws "github.com/seed8104ecd5/gizmo/pubsub/aws"
)

// crashChildEnv selects the consumer half of TestCrashRecovery in a child
// process: it holds the endpoint and queue URL.
const crashChildEnv = "GIZMO_AWS_CRASH_CHILD"

// TestCrashRecovery runs a consumer in a child process that confirms the
// delete of some messages, holds others unsettled, has more prefetched,
// and is then killed with SIGKILL, mid-batch. A new consumer must get
// every message whose delete was not confirmed: none is lost. Duplicates
// are counted and reported.
func TestCrashRecovery(t *testing.T) {
	if v := os.Getenv(crashChildEnv); v != "" {
		crashChild(t, v)
		return
	}
	t.Parallel()
	cfg := sharedConfig(t)
	sq, _ := clients(t, cfg)
	queue := newQueue(t, sq, gaws.QueueOptions{})
	const n = 60
	all := sendBatch(t, sq, queue, "crash", n)

	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCrashRecovery$", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+cfg.Endpoint+" "+queue)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked, held := map[string]bool{}, 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "ACKED" {
			acked[f[1]] = true
		}
		if len(f) == 2 && f[0] == "HELD" {
			held++
		}
		if len(f) == 1 && f[0] == "READY" {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(acked) == 0 || held == 0 {
		t.Fatalf("the child confirmed %d deletes and held %d messages before it was killed; stderr:\n%s", len(acked), held, stderr.String())
	}

	cfg.VisibilityTimeout = 2 * time.Second
	_, ch := startSubscriber(t, cfg, queue)
	got := map[string]int{}
	missing := func() int {
		k := 0
		for body := range all {
			if !acked[body] && got[body] == 0 {
				k++
			}
		}
		return k
	}
	deadline := time.After(30 * time.Second)
	for missing() > 0 {
		select {
		case m := <-ch:
			got[string(m.Message())]++
			if acked[string(m.Message())] {
				t.Errorf("message %q came back although its delete was confirmed", m.Message())
			}
			_ = m.Done()
		case <-deadline:
			t.Fatalf("%d of the %d messages not confirmed deleted never came back", missing(), n-len(acked))
		}
	}
	dups := 0
	for _, c := range got {
		dups += c - 1
	}
	t.Logf("crash: %d confirmed deleted, %d held unsettled, %d came back to the next consumer, 0 lost, %d duplicates",
		len(acked), held, len(got), dups)
}

// crashChild is the consumer TestCrashRecovery kills.
func crashChild(t *testing.T, arg string) {
	endpoint, queue, _ := strings.Cut(arg, " ")
	cfg := endpointConfig(endpoint)
	cfg.VisibilityTimeout = 2 * time.Second
	cfg.Queue = queue
	sub, err := gaws.NewSubscriber(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ch := sub.Start()
	for i := 0; i < 20; i++ {
		m := <-ch
		if i%2 == 0 {
			if err := pubsub.DoneWait(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			fmt.Printf("ACKED %s\n", m.Message())
		} else {
			fmt.Printf("HELD %s\n", m.Message())
		}
	}
	fmt.Println("READY")
	select {} // until killed
}

// sendBatch sends n messages "prefix-i" with SendMessageBatch.
func sendBatch(t testing.TB, c *sqs.Client, url, prefix string, n int) map[string]bool {
	t.Helper()
	ctx := t.Context()
	cfg := gaws.Config{Queue: url}
	p, err := gaws.NewSQSPublisher(ctx, cfg, gaws.WithSQSClient(c))
	if err != nil {
		t.Fatal(err)
	}
	want := make(map[string]bool, n)
	var msgs []pubsub.Message
	for i := range n {
		body := fmt.Sprintf("%s-%d", prefix, i)
		want[body] = true
		msgs = append(msgs, pubsub.Message{Payload: []byte(body)})
	}
	if err := p.PublishBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	return want
}

// TestRestart restarts the server in the middle of a stream. The
// publisher reports errors while the server is down and publishes again
// once it is back; the subscriber retries its receives by itself, keeps
// its channel open, and gets every message that was published.
func TestRestart(t *testing.T) {
	t.Parallel()
	srv := startFauxqs(t)
	cfg := endpointConfig(srv.endpoint())
	cfg.RetryMaxAttempts = 2
	sq, _ := clients(t, cfg)
	queue := newQueue(t, sq, gaws.QueueOptions{})
	pcfg := cfg
	pcfg.Queue = queue
	pub, err := gaws.NewSQSPublisher(t.Context(), pcfg, gaws.WithSQSClient(sq))
	if err != nil {
		t.Fatal(err)
	}
	scfg := cfg
	scfg.VisibilityTimeout = 3 * time.Second
	scfg.WaitTime = 2 * time.Second
	sub, ch := startSubscriber(t, scfg, queue, gaws.WithSQSClient(sq))

	const n = 200
	var mu sync.Mutex
	published := map[string]bool{}
	var pubErrs int
	down := make(chan struct{})      // closed once the server is stopped
	failed := make(chan struct{})    // closed at the first publish error after that
	restarted := make(chan struct{}) // closed once it serves again
	go func() {
		<-down
		<-failed
		if err := srv.start(context.Background()); err != nil {
			t.Errorf("restart: %v", err)
		}
		close(restarted)
	}()
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		var once sync.Once
		for i := 0; i < n; {
			body := fmt.Sprintf("restart-%d", i)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := pub.PublishRaw(ctx, "", []byte(body))
			cancel()
			if err != nil {
				mu.Lock()
				pubErrs++
				mu.Unlock()
				select {
				case <-down:
					once.Do(func() { close(failed) })
				default:
					t.Errorf("publish failed with the server up: %v", err)
					return
				}
				select {
				case <-restarted:
				case <-time.After(time.Second):
				}
				continue // try the same message again
			}
			mu.Lock()
			published[body] = true
			mu.Unlock()
			if i == n/3 {
				srv.stop()
				close(down)
			}
			i++
		}
	}()

	got := map[string]int{}
	timeout := time.After(2 * time.Minute)
	wakePub := pubDone
	for {
		mu.Lock()
		complete := len(published) == n
		missing := 0
		for body := range published {
			if got[body] == 0 {
				missing++
			}
		}
		mu.Unlock()
		if complete && missing == 0 {
			break
		}
		select {
		case <-wakePub:
			wakePub = nil // the publisher finished: check again
		case m, ok := <-ch:
			if !ok {
				t.Fatalf("the subscriber ended across the restart: %v", sub.Err())
			}
			got[string(m.Message())]++
			if err := m.Done(); err != nil {
				t.Logf("Done across the restart: %v", err)
			}
		case <-timeout:
			t.Fatalf("%d published messages never arrived (published %d of %d)", missing, len(published), n)
		}
	}
	<-pubDone
	dups := 0
	for _, c := range got {
		dups += c - 1
	}
	st := sub.Stats()
	t.Logf("restart: %d published, %d publish errors while down, %d receive errors, %d delete failures, 0 lost, %d duplicates",
		n, pubErrs, st.ReceiveErrors, st.DeleteFailures, dups)
	if pubErrs == 0 || st.ReceiveErrors == 0 {
		t.Errorf("the publisher saw %d errors and the subscriber %d receive errors: the restart was not noticed", pubErrs, st.ReceiveErrors)
	}
	if err := sub.Err(); err != nil {
		t.Errorf("Err after the restart: %v", err)
	}
}

// TestQueueDeletedEndsSubscriber deletes the queue under a subscriber: it
// ends, and Err wraps pubsub.ErrSubscriptionNotFound.
func TestQueueDeletedEndsSubscriber(t *testing.T) {
	t.Parallel()
	cfg := sharedConfig(t)
	sq, _ := clients(t, cfg)
	queue := newQueue(t, sq, gaws.QueueOptions{})
	cfg.WaitTime = time.Second
	ac, err := cfg.AWSConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sub, ch := startSubscriber(t, gaws.Config{Queue: queue, WaitTime: time.Second}, queue, gaws.WithAWSConfig(ac))
	deleteQueue(sq, queue)
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("a message from a deleted queue")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the subscriber did not end after its queue was deleted")
	}
	if err := sub.Err(); !errors.Is(err, pubsub.ErrSubscriptionNotFound) {
		t.Errorf("Err = %v, want ErrSubscriptionNotFound", err)
	}
	if err := sub.Stop(t.Context()); err != nil {
		t.Errorf("Stop after the failure = %v, want nil", err)
	}
}

// TestMetrics registers a subscriber's counters with Prometheus.
func TestMetrics(t *testing.T) {
	t.Parallel()
	cfg := sharedConfig(t)
	sq, _ := clients(t, cfg)
	queue := newQueue(t, sq, gaws.QueueOptions{})
	reg := prometheus.NewRegistry()
	sub, ch := startSubscriber(t, cfg, queue, gaws.WithRegisterer(reg))
	sendRaw(t, sq, queue, "metric", 3)
	for range 3 {
		if err := pubsub.DoneWait(t.Context(), recv(t, ch, 10*time.Second, "a message")); err != nil {
			t.Fatal(err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			values[mf.GetName()] = m.GetCounter().GetValue()
		}
	}
	if values["gizmo_sqs_subscriber_deleted_total"] != 3 || values["gizmo_sqs_subscriber_received_total"] != 3 ||
		values["gizmo_sqs_subscriber_delete_failures_total"] != 0 {
		t.Errorf("metrics %v; want 3 received and deleted, no failures", values)
	}
	if st := sub.Stats(); st.Deleted != 3 {
		t.Errorf("Stats %+v", st)
	}
	cfg.Queue = queue
	if _, err := gaws.NewSubscriber(t.Context(), cfg, gaws.WithRegisterer(reg)); err == nil {
		t.Error("a second subscriber of the queue registered the same metrics")
	}
}
