package kafka_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/seed8104ecd5/gizmo/internal/testenv"
	"github.com/seed8104ecd5/gizmo/pubsub/kafka"
)

// sharedBroker returns the address of the kfake broker scripts/testenv
// started. It auto-creates topics with 3 partitions.
func sharedBroker(t testing.TB) string {
	t.Helper()
	return testenv.Addr(t, "kafka")
}

func randomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// testConfig is a Config for the tests: fast heartbeats and commits, so
// that rebalances and commits happen within a second or two.
func testConfig(addr string, topics []string, group string) kafka.Config {
	return kafka.Config{
		Brokers:           []string{addr},
		Topics:            topics,
		Group:             group,
		InitialOffset:     "oldest",
		SessionTimeout:    6 * time.Second, // kfake's minimum
		HeartbeatInterval: 200 * time.Millisecond,
		RebalanceTimeout:  20 * time.Second,
		RevokeTimeout:     2 * time.Second,
		CommitInterval:    100 * time.Millisecond,
		RetryBackoff:      100 * time.Millisecond,
		DialTimeout:       5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
	}
}

// createTopic creates a topic with CreateTopics (which kfake writes to its
// data dir at once) and deletes it when the test ends.
func createTopic(t testing.TB, addr string, partitions int32) string {
	t.Helper()
	name := randomName("gizmo-t-")
	createNamedTopic(t, addr, name, partitions)
	return name
}

func createNamedTopic(t testing.TB, addr, name string, partitions int32) {
	t.Helper()
	admin := newAdmin(t, addr)
	defer admin.Close()
	err := admin.CreateTopic(name, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false)
	if err != nil {
		t.Fatalf("create topic %q: %v", name, err)
	}
	t.Cleanup(func() {
		a, err := sarama.NewClusterAdmin([]string{addr}, saramaTestConfig())
		if err != nil {
			return
		}
		defer a.Close()
		_ = a.DeleteTopic(name)
	})
}

func saramaTestConfig() *sarama.Config {
	sc := sarama.NewConfig()
	sc.Version = sarama.V2_8_0_0
	sc.Net.DialTimeout = 5 * time.Second
	sc.Metadata.AllowAutoTopicCreation = false
	return sc
}

func newAdmin(t testing.TB, addr string) sarama.ClusterAdmin {
	t.Helper()
	a, err := sarama.NewClusterAdmin([]string{addr}, saramaTestConfig())
	if err != nil {
		t.Fatalf("cluster admin on %s: %v", addr, err)
	}
	return a
}

// committedOffsets reads a group's committed offsets of topic's
// partitions (-1 where none).
func committedOffsets(t testing.TB, addr, group, topic string, partitions int32) []int64 {
	t.Helper()
	admin := newAdmin(t, addr)
	defer admin.Close()
	parts := make([]int32, partitions)
	for i := range parts {
		parts[i] = int32(i)
	}
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
	if err != nil {
		t.Fatalf("list offsets of group %q: %v", group, err)
	}
	out := make([]int64, partitions)
	for i := range out {
		out[i] = -1
		if b := resp.GetBlock(topic, int32(i)); b != nil {
			out[i] = b.Offset
		}
	}
	return out
}

// produceN writes n records with raw sarama, keys key-0..key-(keys-1),
// values prefix-i, and returns the values.
func produceN(t testing.TB, addr, topic, prefix string, n, keys int) []string {
	t.Helper()
	sc := saramaTestConfig()
	sc.Producer.Return.Successes = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	p, err := sarama.NewSyncProducer([]string{addr}, sc)
	if err != nil {
		t.Fatalf("sync producer: %v", err)
	}
	defer p.Close()
	vals := make([]string, n)
	msgs := make([]*sarama.ProducerMessage, 0, 500)
	flush := func() {
		if err := p.SendMessages(msgs); err != nil {
			t.Fatalf("SendMessages: %v", err)
		}
		msgs = msgs[:0]
	}
	for i := range n {
		vals[i] = fmt.Sprintf("%s-%d", prefix, i)
		m := &sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(vals[i])}
		if keys > 0 {
			m.Key = sarama.StringEncoder(fmt.Sprint("key-", i%keys))
		}
		msgs = append(msgs, m)
		if len(msgs) == cap(msgs) {
			flush()
		}
	}
	if len(msgs) > 0 {
		flush()
	}
	return vals
}

// broker is a kfake broker of the test's own, for restarts and special
// settings, on a port of its own, stopped when the test ends.
type broker struct {
	t       testing.TB
	bin     string
	port    int
	dataDir string
	extra   []string

	mu  sync.Mutex
	cmd *exec.Cmd
}

func (b *broker) Addr() string { return fmt.Sprintf("127.0.0.1:%d", b.port) }

// startBroker starts a private kfake from the binary scripts/testenv
// built. dataDir, if not empty, keeps its data across restarts.
func startBroker(t testing.TB, dataDir string, extra ...string) *broker {
	t.Helper()
	bin := testenv.Require(t, "GIZMO_TEST_KAFKA_BIN", "kafka")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	b := &broker{t: t, bin: bin, port: port, dataDir: dataDir, extra: extra}
	b.start()
	t.Cleanup(func() { b.stop(syscall.SIGTERM) })
	return b
}

func (b *broker) start() {
	b.t.Helper()
	args := []string{"-ports", fmt.Sprint(b.port), "-partitions", "3"}
	if b.dataDir != "" {
		args = append(args, "-data-dir", b.dataDir)
	}
	args = append(args, b.extra...)
	for attempt := 0; ; attempt++ {
		cmd := exec.Command(b.bin, args...)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.t.Fatalf("start %s: %v", b.bin, err)
		}
		ready := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(out)
			ok := false
			for sc.Scan() {
				if !ok && strings.HasPrefix(sc.Text(), "KFAKE READY") {
					ok = true
					ready <- true
				}
			}
			if !ok {
				ready <- false
			}
		}()
		if <-ready {
			b.mu.Lock()
			b.cmd = cmd
			b.mu.Unlock()
			return
		}
		_ = cmd.Wait()
		if attempt == 20 {
			b.t.Fatalf("kfake on port %d did not start", b.port)
		}
		time.Sleep(100 * time.Millisecond) // the port may still be held by the last instance
	}
}

// stop stops the broker with sig (SIGTERM: clean, data written; SIGKILL)
// and waits for it to exit.
func (b *broker) stop(sig syscall.Signal) {
	b.mu.Lock()
	cmd := b.cmd
	b.cmd = nil
	b.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	_ = cmd.Wait()
}

// restart stops the broker cleanly and starts it again on the same port.
func (b *broker) restart() {
	b.stop(syscall.SIGTERM)
	b.start()
}

// withTimeout returns a context that ends after d. It does not end with
// the test (t.Context does, before cleanups run), so cleanups may use it.
func withTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
