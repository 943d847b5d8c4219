// Package testenv connects integration tests to the real servers that
// scripts/testenv starts (Consul, and the brokers the pubsub adapters test
// against).
//
// scripts/testenv writes the servers' addresses to .testenv/env at the module
// root and `make test` exports them. A test asks for a server by name with
// [Addr]. When the server is not running, the test is skipped with a hint on
// how to start it, except under CI=true, where a missing server fails the
// test: CI never skips an integration test silently.
package testenv

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// EnvFile is the file, relative to the module root, in which scripts/testenv
// records the variables it exports.
const EnvFile = ".testenv/env"

// Var returns the name of the environment variable that carries the address
// of the named server: "consul" becomes GIZMO_TEST_CONSUL_ADDR.
func Var(name string) string {
	return "GIZMO_TEST_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(name)) + "_ADDR"
}

// Addr returns the address (host:port) of the named test server. It looks at
// the environment first and then at .testenv/env in the module root. If the
// server is not known, Addr fails the test under CI=true and skips it
// otherwise.
func Addr(t testing.TB, name string) string {
	t.Helper()
	return Require(t, Var(name), name)
}

// Require returns the value of the variable key, which scripts/testenv sets
// when it starts server, as [Lookup] finds it. If it is unset or empty, the
// test fails under CI=true and is skipped otherwise, with a message saying
// how to start the server.
func Require(t testing.TB, key, server string) string {
	t.Helper()
	if v, ok := Lookup(key); ok && v != "" {
		return v
	}
	msg := fmt.Sprintf("test server %q is not running (%s is unset); start it with: scripts/testenv start %s", server, key, server)
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Lookup returns the value of the variable key, taken from the environment
// or, failing that, from .testenv/env in the module root.
func Lookup(key string) (string, bool) {
	if v, ok := os.LookupEnv(key); ok {
		return v, true
	}
	vars, err := readEnvFile()
	if err != nil {
		return "", false
	}
	v, ok := vars[key]
	return v, ok
}

// InCI reports whether the tests run under CI (CI=true), where a missing
// server is a failure rather than a skip.
func InCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v == "true" || v == "1"
}

// readEnvFile parses the KEY=VALUE lines (optionally prefixed with "export ")
// of .testenv/env found in the nearest directory above the working directory
// that holds go.mod.
func readEnvFile() (map[string]string, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(root, EnvFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vars := make(map[string]string)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		vars[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	return vars, sc.Err()
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}
