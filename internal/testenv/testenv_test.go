package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestVar(t *testing.T) {
	for in, want := range map[string]string{
		"consul":  "GIZMO_TEST_CONSUL_ADDR",
		"kafka":   "GIZMO_TEST_KAFKA_ADDR",
		"sns-sqs": "GIZMO_TEST_SNS_SQS_ADDR",
	} {
		if got := Var(in); got != want {
			t.Errorf("Var(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLookupPrefersEnvironment(t *testing.T) {
	t.Setenv("GIZMO_TEST_EXAMPLE_ADDR", "127.0.0.1:1")
	if v, ok := Lookup("GIZMO_TEST_EXAMPLE_ADDR"); !ok || v != "127.0.0.1:1" {
		t.Fatalf("Lookup = %q, %v", v, ok)
	}
}

func TestReadEnvFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, ".testenv"), 0o755); err != nil {
		t.Fatal(err)
	}
	body := "# comment\nexport GIZMO_TEST_FILEONLY_ADDR=127.0.0.1:2\nGIZMO_TEST_QUOTED_ADDR=\"127.0.0.1:3\"\nbroken line\n"
	if err := os.WriteFile(filepath.Join(dir, EnvFile), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	for key, want := range map[string]string{
		"GIZMO_TEST_FILEONLY_ADDR": "127.0.0.1:2",
		"GIZMO_TEST_QUOTED_ADDR":   "127.0.0.1:3",
	} {
		if v, ok := Lookup(key); !ok || v != want {
			t.Errorf("Lookup(%s) = %q, %v; want %q", key, v, ok, want)
		}
	}
	if _, ok := Lookup("GIZMO_TEST_ABSENT_ADDR"); ok {
		t.Error("Lookup found a variable that is in neither place")
	}
}

func TestInCI(t *testing.T) {
	for v, want := range map[string]bool{"true": true, "1": true, "TRUE": true, "": false, "false": false} {
		t.Setenv("CI", v)
		if got := InCI(); got != want {
			t.Errorf("CI=%q: InCI() = %v, want %v", v, got, want)
		}
	}
}

// recorder is a testing.TB whose Fatal and Skip record their message and
// end the goroutine, as the real ones do.
type recorder struct {
	testing.TB
	failed, skipped string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatal(args ...any) {
	r.failed = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *recorder) Skip(args ...any) {
	r.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}

// TestMissingServer checks the rule the whole suite relies on: a test whose
// server is not running fails under CI=true and skips elsewhere, saying how
// to start it; a running one gets its address.
func TestMissingServer(t *testing.T) {
	t.Setenv("GIZMO_TEST_NOPE_ADDR", "")
	t.Setenv("GIZMO_TEST_YES_ADDR", "127.0.0.1:9")
	const want = `test server "nope" is not running (GIZMO_TEST_NOPE_ADDR is unset); start it with: scripts/testenv start nope`
	for _, ci := range []string{"true", ""} {
		t.Setenv("CI", ci)
		r := &recorder{TB: t}
		var got string
		done := make(chan struct{})
		go func() {
			defer close(done)
			got = Addr(r, "nope")
		}()
		<-done
		switch {
		case got != "":
			t.Errorf("CI=%q: Addr returned %q for a missing server", ci, got)
		case ci == "true" && (r.failed != want || r.skipped != ""):
			t.Errorf("CI=true: failed %q, skipped %q; want a failure %q", r.failed, r.skipped, want)
		case ci == "" && (r.skipped != want || r.failed != ""):
			t.Errorf("CI unset: failed %q, skipped %q; want a skip %q", r.failed, r.skipped, want)
		}
	}
	if got := Addr(t, "yes"); got != "127.0.0.1:9" {
		t.Errorf("Addr(yes) = %q", got)
	}
}
