package config_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/seed8104ecd5/gizmo/internal/testenv"
	"github.com/seed8104ecd5/gizmo/internal/testlog"
)

// consulClient returns a client for the shared test agent started by
// scripts/testenv (skipped when it is not running, fatal under CI=true).
func consulClient(t testing.TB) *api.Client {
	t.Helper()
	return newClient(t, testenv.Addr(t, "consul"), "")
}

func newClient(t testing.TB, addr, token string) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: addr, Scheme: "http", Token: token})
	if err != nil {
		t.Fatalf("consul client: %v", err)
	}
	return c
}

// testKey returns a key no other test uses, deleted when the test ends.
func testKey(t testing.TB, c *api.Client) string {
	t.Helper()
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	key := fmt.Sprintf("gizmo-config-test/%s-%d", name, rand.Uint64())
	t.Cleanup(func() { _, _ = c.KV().Delete(key, nil) })
	return key
}

func putKey(t testing.TB, c *api.Client, key, value string) {
	t.Helper()
	if _, err := c.KV().Put(&api.KVPair{Key: key, Value: []byte(value)}, nil); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// closedAddr returns a 127.0.0.1 address on which nothing listens.
func closedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// freePorts returns n ports that were free a moment ago.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// startACLAgent starts a private Consul dev agent with ACLs enabled and a
// default-deny policy, and returns its address and management token. The
// binary comes from GIZMO_TEST_CONSUL_BIN (exported by scripts/testenv); a
// missing binary skips the test, or fails it under CI=true. The agent is
// killed when the test ends.
func startACLAgent(t *testing.T) (addr, token string) {
	t.Helper()
	bin := testenv.Require(t, "GIZMO_TEST_CONSUL_BIN", "consul")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("GIZMO_TEST_CONSUL_BIN: %v", err)
	}
	token = fmt.Sprintf("%08x-0000-4000-8000-%012x", rand.Uint32(), rand.Uint64()&(1<<48-1))
	var lastErr error
	for range 3 { // a port taken between freePorts and the agent's bind
		addr, lastErr = tryACLAgent(t, bin, token)
		if lastErr == nil {
			return addr, token
		}
	}
	t.Fatalf("ACL agent did not start: %v", lastErr)
	return "", ""
}

func tryACLAgent(t *testing.T, bin, token string) (string, error) {
	p := freePorts(t, 4)
	addr := fmt.Sprintf("127.0.0.1:%d", p[0])
	acl := fmt.Sprintf(`acl { enabled = true default_policy = "deny" tokens { initial_management = %q } }`, token)
	cmd := exec.Command(bin, "agent", "-dev", "-client", "127.0.0.1", "-bind", "127.0.0.1", "-advertise", "127.0.0.1",
		"-http-port", fmt.Sprint(p[0]), "-serf-lan-port", fmt.Sprint(p[1]),
		"-serf-wan-port", fmt.Sprint(p[2]), "-server-port", fmt.Sprint(p[3]),
		"-dns-port", "-1", "-grpc-port", "-1", "-grpc-tls-port", "-1", "-log-level", "warn", "-hcl", acl)
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
	out := &testlog.Buffer{Max: 1 << 20} // the agent output, for failure messages
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Kill() // only the agent this test started
		<-exited
	}
	if err := waitACLReady(addr, token, exited); err != nil {
		stop()
		return "", fmt.Errorf("%w\nagent output:\n%s", err, out.String())
	}
	t.Cleanup(stop)
	return addr, nil
}

// waitACLReady waits until the agent has a leader and accepts the
// management token.
func waitACLReady(addr, token string, exited <-chan struct{}) error {
	deadline := time.Now().Add(60 * time.Second)
	hc := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("agent exited early")
		case <-time.After(100 * time.Millisecond):
		}
		if leader, err := get(hc, "http://"+addr+"/v1/status/leader", ""); err != nil || len(leader) < 3 {
			continue
		}
		if _, err := get(hc, "http://"+addr+"/v1/acl/token/self", token); err == nil {
			return nil
		}
	}
	return fmt.Errorf("agent at %s not ready within 60s", addr)
}

func get(hc *http.Client, url, token string) (string, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	if token != "" {
		req.Header.Set("X-Consul-Token", token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: HTTP %d: %s", url, resp.StatusCode, body)
	}
	return strings.TrimSpace(string(body)), nil
}
