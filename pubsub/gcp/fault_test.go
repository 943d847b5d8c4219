package gcp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seed8104ecd5/gizmo/internal/testenv"
	gizmo "github.com/seed8104ecd5/gizmo/pubsub"
)

// TestKillConsumer runs a consumer in a process of its own, kills it with
// SIGKILL a third of the way through, and finishes with another: every
// message is handled at least once.
func TestKillConsumer(t *testing.T) {
	t.Parallel()
	const n = 90
	f := newFixture(t)
	topic, sub := f.topicAndSub(nil)
	cfg := f.config(topic, sub)
	list, want := payloads("kill", n)
	p := f.publisher(cfg)
	msgs := make([]gizmo.Message, n)
	for i, pl := range list {
		msgs[i] = gizmo.Message{Payload: []byte(pl)}
	}
	if err := p.PublishBatch(t.Context(), msgs); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperSubEnv+"="+sub, helperAddrEnv+"="+f.addr)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	c := newTally(want)
	sc := bufio.NewScanner(stdout)
	byChild := 0
	for sc.Scan() {
		payload, ok := strings.CutPrefix(sc.Text(), "handled ")
		if !ok {
			continue
		}
		c.add(payload)
		if byChild++; byChild == n/3 {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	if !killed {
		t.Fatalf("the consumer process ended after handling %d messages: %v", byChild, cmd.Wait())
	}
	_ = cmd.Wait()

	ctx, cancel := context.WithCancel(t.Context())
	go drainInto(ctx, t, f.subscriber(cfg).Start(), c)
	c.wait(waitFor + testAckExtension)
	cancel()
	if missing := c.missing(); len(missing) > 0 {
		t.Errorf("%d of %d messages lost when the consumer was killed: %v", len(missing), n, missing)
	}
	t.Logf("killed consumer: %d handled before SIGKILL, %d duplicate deliveries", byChild, c.duplicates())
}

// emulator is a pstest process of the test's own.
type emulator struct {
	addr string
	cmd  *exec.Cmd
}

// startEmulator starts the pubsubemu that scripts/testenv built, on a
// free port, and stops it (by its PID) when the test ends.
func startEmulator(t testing.TB) *emulator {
	t.Helper()
	bin := testenv.Require(t, "GIZMO_TEST_PUBSUB_BIN", "pubsub")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cmd := exec.Command(bin, "-addr", addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &emulator{addr: addr, cmd: cmd}
	t.Cleanup(e.stop)
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "PUBSUB READY") {
				ready <- true
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("pubsubemu on %s exited before it was ready: %v", addr, cmd.Wait())
		}
	case <-time.After(waitFor):
		t.Fatalf("pubsubemu on %s not ready within %v", addr, waitFor)
	}
	return e
}

func (e *emulator) stop() {
	if e.cmd.ProcessState != nil {
		return
	}
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	_ = e.cmd.Wait()
}

// TestServerProcessRestart restarts the pstest process under a running
// publisher and subscriber. pstest keeps nothing across a restart, so the
// test makes the topic and subscription again before the server is
// reachable (behind a proxy), as a durable server would have them. The
// subscriber and publisher ride out the outage: messages published while
// the server is down and after it is back all arrive, and the subscriber
// does not end.
func TestServerProcessRestart(t *testing.T) {
	t.Parallel()
	em := startEmulator(t)
	proxy := newProxy(t, em.addr)
	// The topic and subscription live and die with the private servers.
	topic := fmt.Sprintf("projects/%s/topics/restart", testProject)
	sub := fmt.Sprintf("projects/%s/subscriptions/restart", testProject)
	create := func(addr string) {
		admin := newAdmin(t, addr)
		if _, err := admin.TopicAdminClient.CreateTopic(t.Context(), &pubsubpb.Topic{Name: topic}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.SubscriptionAdminClient.CreateSubscription(t.Context(), &pubsubpb.Subscription{Name: sub, Topic: topic, AckDeadlineSeconds: 10}); err != nil {
			t.Fatal(err)
		}
		_ = admin.Close()
	}
	create(em.addr)
	cfg := testConfig(proxy.addr)
	cfg.Topic, cfg.Subscription = topic, sub
	f := &fixture{t: t, addr: proxy.addr}
	p := f.publisher(cfg)
	r := f.subscriber(cfg)
	before, wantBefore := payloads("before", 20)
	after, wantAfter := payloads("after", 20)
	all := make(map[string]bool)
	for _, m := range []map[string]bool{wantBefore, wantAfter} {
		for k := range m {
			all[k] = true
		}
	}
	c := newTally(all)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go drainInto(ctx, t, r.Start(), c)
	for _, pl := range before {
		f.publish(p, "", pl)
	}
	waitTally(t, c, wantBefore)

	start := time.Now()
	proxy.down()
	em.stop()
	t.Logf("%v: old server stopped", time.Since(start))
	var pubErrs atomic.Int32
	var wg sync.WaitGroup
	wg.Go(func() { // publishes while the server is away; the client retries
		for _, pl := range after {
			pctx, pcancel := context.WithTimeout(t.Context(), 2*waitFor)
			if err := p.PublishRaw(pctx, "", []byte(pl)); err != nil {
				t.Errorf("publish across the restart: %v", err)
				pubErrs.Add(1)
			}
			pcancel()
		}
	})
	em2 := startEmulator(t)
	create(em2.addr)
	if err := proxy.up(em2.addr); err != nil {
		t.Fatal(err)
	}
	t.Logf("%v: new server up", time.Since(start))
	wg.Wait()
	t.Logf("%v: published", time.Since(start))
	c.wait(2 * waitFor)
	t.Logf("%v: received", time.Since(start))
	if missing := c.missing(); len(missing) > 0 {
		t.Errorf("%d messages lost across the restart: %v", len(missing), missing)
	}
	if err := r.Err(); err != nil {
		t.Errorf("the subscriber ended: %v", err)
	}
	t.Logf("server restart: %d publish errors, %d duplicate deliveries", pubErrs.Load(), c.duplicates())

}

// waitTally waits until c has seen every payload of want.
func waitTally(t *testing.T, c *tally, want map[string]bool) {
	t.Helper()
	timer := time.NewTimer(waitFor)
	defer timer.Stop()
	for {
		c.mu.Lock()
		n := 0
		for p := range want {
			if c.seen[p] > 0 {
				n++
			}
		}
		c.mu.Unlock()
		if n == len(want) {
			return
		}
		select {
		case <-c.added:
		case <-timer.C:
			t.Fatalf("%d of %d messages arrived within %v", n, len(want), waitFor)
		}
	}
}

// TestConnectionCuts drops every connection of a publisher and a
// subscriber four times while messages flow: nothing is lost.
func TestConnectionCuts(t *testing.T) {
	t.Parallel()
	const n, cutEvery, cuts = 160, 30, 4
	f := newFixture(t)
	topic, sub := f.topicAndSub(nil)
	proxy := newProxy(t, f.addr)
	cfg := testConfig(proxy.addr)
	cfg.Topic, cfg.Subscription = topic, sub
	p := f.publisher(cfg)
	r := f.subscriber(cfg)
	list, want := payloads("cut", n)
	c := newTally(want)
	cut := make(chan struct{}, cuts)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch := r.Start()
	go func() {
		firsts := 0
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				if c.add(string(m.Message())) {
					if firsts++; firsts%cutEvery == 0 && firsts/cutEvery <= cuts {
						cut <- struct{}{}
					}
				}
				if err := m.Done(); err != nil && !errors.Is(err, gizmo.ErrLeaseLost) {
					t.Errorf("Done: %v", err)
				}
			}
		}
	}()
	go func() {
		for range cuts {
			select {
			case <-ctx.Done():
				return
			case <-cut:
				proxy.cut()
			}
		}
	}()
	var pubErrs atomic.Int32
	for _, pl := range list {
		pctx, pcancel := context.WithTimeout(t.Context(), waitFor)
		if err := p.PublishRaw(pctx, "", []byte(pl)); err != nil {
			t.Errorf("publish: %v", err)
			pubErrs.Add(1)
		}
		pcancel()
	}
	c.wait(2 * waitFor)
	if missing := c.missing(); len(missing) > 0 {
		t.Errorf("%d of %d messages lost to the connection cuts: %v", len(missing), n, missing)
	}
	if err := r.Err(); err != nil {
		t.Errorf("the subscriber ended: %v", err)
	}
	t.Logf("connection cuts: %d publish errors, %d duplicate deliveries", pubErrs.Load(), c.duplicates())
}

// streamFault returns a client option whose StreamingPull streams fail
// with err instead of passing on a message whose data is trigger (any
// message if trigger is empty), once (or every time, if always).
func streamFault(trigger string, err error, always bool) Option {
	var fired atomic.Bool
	icpt := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, e := streamer(ctx, desc, cc, method, opts...)
		if e != nil || method != streamingPull {
			return s, e
		}
		return &faultyStream{ClientStream: s, trigger: trigger, err: err, fire: func() bool { return always || fired.CompareAndSwap(false, true) }}, nil
	}
	return WithClientOptions(option.WithGRPCDialOption(grpc.WithChainStreamInterceptor(icpt)))
}

type faultyStream struct {
	grpc.ClientStream
	trigger string
	err     error
	fire    func() bool
}

func (s *faultyStream) RecvMsg(m any) error {
	if err := s.ClientStream.RecvMsg(m); err != nil {
		return err
	}
	res := m.(*pubsubpb.StreamingPullResponse)
	for _, rm := range res.ReceivedMessages {
		if (s.trigger == "" || string(rm.Message.Data) == s.trigger) && s.fire() {
			return s.err
		}
	}
	return nil
}

// TestReceiveRecoversFromStreamError makes the client's stream fail with an
// error the client does not retry. The subscriber receives again; what the
// failed stream delivered cannot be acknowledged any more, so settling it
// reports a lost lease, and it comes back.
func TestReceiveRecoversFromStreamError(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	topic, sub := f.topicAndSub(nil)
	cfg := f.config(topic, sub)
	cfg.Receive.NumGoroutines = 1
	p := f.publisher(cfg)
	r := f.subscriber(cfg, streamFault("trigger", status.Error(codes.Unknown, "injected stream failure"), false))
	ch := r.Start()
	f.publish(p, "", "held")
	held := recv(t, ch, "the message to hold")
	f.publish(p, "", "trigger")
	seen := map[string]bool{}
	for !seen["held"] || !seen["trigger"] {
		m := recv(t, ch, "the messages again, from the next stream")
		seen[string(m.Message())] = true
		if err := m.Done(); err != nil {
			t.Errorf("Done on the new stream: %v", err)
		}
	}
	if err := held.Done(); !errors.Is(err, gizmo.ErrLeaseLost) {
		t.Errorf("Done of a delivery from the failed stream = %v, want ErrLeaseLost", err)
	}
	f.publish(p, "", "later")
	if m := recv(t, ch, "a later message"); string(m.Message()) != "later" {
		t.Errorf("got %q, want the later message", m.Message())
	}
	if err := r.Err(); err != nil {
		t.Errorf("Err = %v: the subscriber should ride out the failure", err)
	}
}

// TestPermissionDenied makes Pub/Sub refuse access: the subscriber ends
// with Err wrapping ErrPermissionDenied, and a publish fails with it.
func TestPermissionDenied(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	topic, sub := f.topicAndSub(nil)
	cfg := f.config(topic, sub)
	denied := status.Error(codes.PermissionDenied, "injected: caller lacks pubsub.subscriptions.consume")
	f.publish(f.publisher(cfg), "", "m")
	r := f.subscriber(cfg, streamFault("", denied, true))
	for m := range r.Start() {
		t.Errorf("delivered %q although access is denied", m.Message())
	}
	if err := r.Err(); !errors.Is(err, ErrPermissionDenied) || !errors.Is(err, gizmo.ErrAccessDenied) {
		t.Errorf("Err = %v, want ErrPermissionDenied, which wraps pubsub.ErrAccessDenied", err)
	}

	deny := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if method == publishMethod {
			return status.Error(codes.PermissionDenied, "injected: caller lacks pubsub.topics.publish")
		}
		return invoke(ctx, method, req, reply, cc, opts...)
	}
	p := f.publisher(cfg, WithClientOptions(option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(deny))))
	if err := p.PublishRaw(t.Context(), "", []byte("x")); !errors.Is(err, ErrPermissionDenied) {
		t.Errorf("PublishRaw = %v, want ErrPermissionDenied", err)
	}
}
