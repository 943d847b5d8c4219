package aws_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/seed8104ecd5/gizmo/internal/testenv"
	gaws "github.com/seed8104ecd5/gizmo/pubsub/aws"
)

// sharedConfig returns a Config for the fauxqs server scripts/testenv
// started. The test fails under CI if there is none, and is skipped
// otherwise.
func sharedConfig(t testing.TB) gaws.Config {
	t.Helper()
	return endpointConfig("http://" + testenv.Addr(t, "sqs"))
}

func endpointConfig(endpoint string) gaws.Config {
	return gaws.Config{Region: "us-east-1", Endpoint: endpoint, AccessKeyID: "test", SecretAccessKey: "test"}
}

// clients returns SQS and SNS clients for cfg.
func clients(t testing.TB, cfg gaws.Config) (*sqs.Client, *sns.Client) {
	t.Helper()
	sq, err := gaws.NewSQSClient(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	sn, err := gaws.NewSNSClient(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sq, sn
}

// fauxqs is a private fauxqs server that a test may stop and restart. It
// keeps its data in a directory of its own, so a restart keeps queues,
// topics and messages.
type fauxqs struct {
	node, launcher string
	port           int
	dataDir        string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// startFauxqs starts a private fauxqs server on a free port, from the
// Node and launcher scripts/testenv installed, and stops it when the test
// ends. It keeps its data in a directory, so a restart loses nothing.
func startFauxqs(t testing.TB) *fauxqs {
	t.Helper()
	return startFauxqsIn(t, t.TempDir())
}

// startFauxqsIn starts a private server keeping its data in dataDir, or in
// memory only (as the shared server does) if dataDir is empty.
func startFauxqsIn(t testing.TB, dataDir string) *fauxqs {
	t.Helper()
	f := &fauxqs{
		node:     testenv.Require(t, "GIZMO_TEST_SQS_NODE", "sqs"),
		launcher: testenv.Require(t, "GIZMO_TEST_SQS_LAUNCHER", "sqs"),
		port:     freePort(t),
		dataDir:  dataDir,
	}
	if err := f.start(t.Context()); err != nil {
		t.Fatalf("start fauxqs: %v", err)
	}
	t.Cleanup(func() { f.stop() })
	return f
}

func (f *fauxqs) endpoint() string { return fmt.Sprintf("http://127.0.0.1:%d", f.port) }

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs the server and waits for its READY line.
func (f *fauxqs) start(ctx context.Context) error {
	cmd := exec.Command(f.node, "--no-warnings", f.launcher)
	cmd.Env = append(os.Environ(), fmt.Sprintf("FAUXQS_PORT=%d", f.port))
	if f.dataDir != "" {
		cmd.Env = append(cmd.Env, "FAUXQS_DATA_DIR="+f.dataDir)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		found := false
		for sc.Scan() {
			if !found && strings.Contains(sc.Text(), "FAUXQS READY") {
				found = true
				ready <- true
			}
		}
		if !found {
			ready <- false
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	timer := time.NewTimer(60 * time.Second)
	defer timer.Stop()
	select {
	case ok := <-ready:
		if !ok {
			_ = cmd.Wait()
			return fmt.Errorf("fauxqs exited before it was ready: %s", stderr.String())
		}
	case <-timer.C:
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("fauxqs not ready after 60s: %s", stderr.String())
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return ctx.Err()
	}
	f.mu.Lock()
	f.cmd = cmd
	f.mu.Unlock()
	return nil
}

// stop stops the server by its PID: SIGTERM, then SIGKILL if it has not
// exited within 10 seconds.
func (f *fauxqs) stop() {
	f.mu.Lock()
	cmd := f.cmd
	f.cmd = nil
	f.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// restart stops the server and starts it again on the same port and data.
func (f *fauxqs) restart(ctx context.Context) error {
	f.stop()
	return f.start(ctx)
}

// cpuTime returns the CPU time the server has used so far, from
// /proc/PID/stat (user plus system, in clock ticks of 10ms).
func (f *fauxqs) cpuTime() (time.Duration, error) {
	f.mu.Lock()
	cmd := f.cmd
	f.mu.Unlock()
	if cmd == nil {
		return 0, errors.New("fauxqs is not running")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; the fields after it are fixed.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat: %q", b)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}
