package testenv

import (
	"os"
	"path/filepath"
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
