package kafka_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/kafka"
)

// TestMain runs the test binary as a helper consumer when the consumer-kill
// test starts it so (GIZMO_KAFKA_HELPER=consume).
func TestMain(m *testing.M) {
	if os.Getenv("GIZMO_KAFKA_HELPER") == "consume" {
		os.Exit(helperConsume())
	}
	os.Exit(m.Run())
}

// helperConsume consumes the group GIZMO_KAFKA_GROUP of GIZMO_KAFKA_TOPIC
// and prints each payload on receipt, then Dones it, until it is killed.
func helperConsume() int {
	cfg := testConfig(os.Getenv("GIZMO_KAFKA_ADDR"), []string{os.Getenv("GIZMO_KAFKA_TOPIC")}, os.Getenv("GIZMO_KAFKA_GROUP"))
	s, err := kafka.NewSubscriber(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	w := bufio.NewWriter(os.Stdout)
	for m := range s.Start() {
		fmt.Fprintf(w, "%s\n", m.Message())
		_ = w.Flush()
		_ = m.Done()
	}
	fmt.Fprintln(os.Stderr, "helper: channel closed:", s.Err())
	return 3
}

// seen counts deliveries per payload across consumers.
type seen struct {
	mu    sync.Mutex
	count map[string]int
	want  int
	all   chan struct{}
	once  sync.Once
}

func newSeen(want int) *seen {
	return &seen{count: make(map[string]int, want), want: want, all: make(chan struct{})}
}

func (s *seen) add(payload string) {
	s.mu.Lock()
	s.count[payload]++
	reached := s.want > 0 && len(s.count) >= s.want
	s.mu.Unlock()
	if reached {
		s.once.Do(func() { close(s.all) })
	}
}

// expect sets how many distinct payloads waitAll waits for, for a test
// that learns the number only as it produces (newSeen(0)).
func (s *seen) expect(want int) {
	s.mu.Lock()
	s.want = want
	reached := len(s.count) >= want
	s.mu.Unlock()
	if reached {
		s.once.Do(func() { close(s.all) })
	}
}

// report returns the payloads of vals never seen, and the duplicate
// deliveries.
func (s *seen) report(vals []string) (missing []string, dups int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range vals {
		if s.count[v] == 0 {
			missing = append(missing, v)
		}
	}
	for _, c := range s.count {
		dups += c - 1
	}
	return missing, dups
}

// consumeInto runs a subscriber of cfg that records and Dones every
// message, until the returned stop is called.
func consumeInto(t *testing.T, cfg kafka.Config, s *seen, member string, parts *sync.Map) (stop func()) {
	t.Helper()
	sub, err := kafka.NewSubscriber(t.Context(), cfg)
	if err != nil {
		t.Fatalf("%s: %v", member, err)
	}
	ch := sub.Start()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range ch {
			s.add(string(m.Message()))
			if parts != nil {
				km, _ := pubsub.MessageAs[*kafka.Message](m)
				parts.Store(fmt.Sprintf("%s/%d", member, km.Record().Partition), true)
			}
			if err := m.Done(); err != nil {
				t.Logf("%s: Done: %v", member, err) // a revoked partition: delivered again elsewhere
			}
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if err := sub.Stop(withTimeout(t, 10*time.Second)); err != nil {
				t.Errorf("%s: Stop: %v", member, err)
			}
			<-done
			if err := sub.Err(); err != nil {
				t.Errorf("%s: Err: %v", member, err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func waitAll(t *testing.T, s *seen, d time.Duration, what string) {
	t.Helper()
	select {
	case <-s.all:
	case <-time.After(d):
		s.mu.Lock()
		n := len(s.count)
		s.mu.Unlock()
		t.Fatalf("%s: %d of %d messages seen after %v", what, n, s.want, d)
	}
}

// TestConsumerKilled kills a consumer process with SIGKILL mid-stream (no
// Stop, no final commit) and restarts the group with a new member: every
// message is delivered, and the duplicates are counted.
func TestConsumerKilled(t *testing.T) {
	addr := sharedBroker(t)
	topic := createTopic(t, addr, 3)
	group := randomName("gizmo-g-")
	const n = 6000
	vals := produceN(t, addr, topic, "killed", n, 30)
	s := newSeen(n)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GIZMO_KAFKA_HELPER=consume", "GIZMO_KAFKA_ADDR="+addr, "GIZMO_KAFKA_TOPIC="+topic, "GIZMO_KAFKA_GROUP="+group)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	first := 0
	var committed []int64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		s.add(sc.Text())
		if first++; first == n/3 {
			// The helper is blocked writing to us now. Kill it once
			// its background commits have made some progress, so that
			// the kill falls between a commit and later Dones.
			waitFor(t, func() bool {
				committed = committedOffsets(t, addr, group, topic, 3)
				return committed[0]+committed[1]+committed[2] > 0
			}, "the helper's first commit")
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
	}
	_ = cmd.Wait()
	if first < n/3 {
		t.Fatalf("the helper consumer delivered %d messages before it ended; want at least %d", first, n/3)
	}
	stop := consumeInto(t, testConfig(addr, []string{topic}, group), s, "second", nil)
	waitAll(t, s, time.Minute, "after the kill")
	stop()
	missing, dups := s.report(vals)
	t.Logf("consumer killed after %d deliveries (committed offsets then %v); %d duplicate deliveries in all, %d lost", first, committed, dups, len(missing))
	if len(missing) > 0 {
		t.Errorf("%d messages lost, such as %q", len(missing), missing[0])
	}
}

// TestGroupSplit: two members of one group split the partitions and
// together see every message; a third joins mid-stream and nothing is
// lost.
func TestGroupSplit(t *testing.T) {
	addr := sharedBroker(t)
	topic := createTopic(t, addr, 6)
	group := randomName("gizmo-g-")
	const n = 9000
	cfg := testConfig(addr, []string{topic}, group)
	cfg.InitialOffset = "newest"
	if err := kafka.InitGroup(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	s := newSeen(0) // the number produced is known at the end
	var parts sync.Map
	consumeInto(t, cfg, s, "A", &parts)
	consumeInto(t, cfg, s, "B", &parts)

	// Each phase produces n/3 messages, then more in batches until its
	// condition holds: a member that joins while the others are reading
	// can find its partitions already drained (the first member may take
	// every message before the rebalance that gives the second its share),
	// and only messages produced after its assignment reach it.
	var vals []string
	phase := func(name string, cond func() bool, what string) {
		t.Helper()
		vals = append(vals, produceN(t, addr, topic, name, n/3, 60)...)
		deadline := time.Now().Add(time.Minute)
		for i := 0; !waitUntil(cond, 2*time.Second); i++ {
			if time.Now().After(deadline) {
				t.Fatalf("waited a minute for %s", what)
			}
			vals = append(vals, produceN(t, addr, topic, fmt.Sprintf("%s-more%d", name, i), 300, 60)...)
		}
	}
	phase("split-1", func() bool { return owners(&parts, "A") > 0 && owners(&parts, "B") > 0 }, "both members to deliver")
	consumeInto(t, cfg, s, "C", &parts)
	phase("split-2", func() bool { return owners(&parts, "C") > 0 }, "the third member to deliver")
	vals = append(vals, produceN(t, addr, topic, "split-3", n/3, 60)...)
	s.expect(len(vals))
	waitAll(t, s, time.Minute, "three members")
	missing, dups := s.report(vals)
	t.Logf("partitions delivered per member: A %d, B %d, C %d; %d duplicate deliveries", owners(&parts, "A"), owners(&parts, "B"), owners(&parts, "C"), dups)
	if len(missing) > 0 {
		t.Errorf("%d messages lost, such as %q", len(missing), missing[0])
	}
}

func owners(parts *sync.Map, member string) int {
	n := 0
	parts.Range(func(k, _ any) bool {
		if strings.HasPrefix(k.(string), member+"/") {
			n++
		}
		return true
	})
	return n
}

// waitFor polls cond, which watches state other goroutines change, for up
// to a minute.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	if !waitUntil(cond, time.Minute) {
		t.Fatalf("waited a minute for %s", what)
	}
}

// waitUntil polls cond, which watches state other goroutines change, for
// up to d, and reports whether it came true.
func waitUntil(cond func() bool, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// TestBrokerRestart stops and restarts the broker (with a data dir) twice
// while 50,000 messages flow through one publisher and one subscriber.
// Nothing published is lost, and both recover by themselves: the same
// publisher and subscriber carry on.
func TestBrokerRestart(t *testing.T) {
	b := startBroker(t, t.TempDir())
	addr := b.Addr()
	topic := createTopic(t, addr, 3)
	group := randomName("gizmo-g-")
	const n, publishers = 50000, 16
	cfg := testConfig(addr, []string{topic}, group)
	cfg.Retries = 8 // rides out a restart: 100ms doubling, capped at 10s
	if err := kafka.InitGroup(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	pub, err := kafka.NewPublisher(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	s := newSeen(n)
	consumeInto(t, cfg, s, "sub", nil)

	vals := make([]string, n)
	var published, retried atomic.Int64
	var wg sync.WaitGroup
	for w := range publishers {
		wg.Go(func() {
			for i := w; i < n; i += publishers {
				vals[i] = fmt.Sprint("restart-", i)
				for attempt := 0; ; attempt++ {
					ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
					err := pub.PublishRaw(ctx, fmt.Sprint("key-", i%100), []byte(vals[i]))
					cancel()
					if err == nil {
						break
					}
					retried.Add(1)
					if attempt == 20 {
						t.Errorf("publish %d failed 20 times; last: %v", i, err)
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
				published.Add(1)
			}
		})
	}
	for _, at := range []int64{n / 4, n / 2} {
		waitFor(t, func() bool { return published.Load() >= at }, fmt.Sprintf("%d messages published", at))
		b.restart()
		t.Logf("broker restarted after %d messages published", published.Load())
	}
	wg.Wait()
	waitAll(t, s, 2*time.Minute, "after two broker restarts")
	missing, dups := s.report(vals)
	t.Logf("%d published (%d publishes failed and were retried by the caller), %d duplicate deliveries, %d lost", published.Load(), retried.Load(), dups, len(missing))
	if len(missing) > 0 {
		t.Errorf("%d messages lost, such as %q", len(missing), missing[0])
	}
}
