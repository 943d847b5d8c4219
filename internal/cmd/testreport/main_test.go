package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

const stream = `{"Action":"start","Package":"example.com/a"}
{"Action":"run","Package":"example.com/a","Test":"TestOK"}
{"Action":"output","Package":"example.com/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"pass","Package":"example.com/a","Test":"TestOK"}
{"Action":"run","Package":"example.com/a","Test":"TestConsul"}
{"Action":"output","Package":"example.com/a","Test":"TestConsul","Output":"=== RUN   TestConsul\n"}
{"Action":"output","Package":"example.com/a","Test":"TestConsul","Output":"    consul_test.go:12: test server \"consul\" is not running; start it with: scripts/testenv start consul\n"}
{"Action":"output","Package":"example.com/a","Test":"TestConsul","Output":"--- SKIP: TestConsul (0.00s)\n"}
{"Action":"skip","Package":"example.com/a","Test":"TestConsul"}
{"Action":"run","Package":"example.com/a","Test":"TestBroken"}
{"Action":"output","Package":"example.com/a","Test":"TestBroken","Output":"    a_test.go:3: want 1, got 2\n"}
{"Action":"output","Package":"example.com/a","Test":"TestBroken","Output":"--- FAIL: TestBroken (0.00s)\n"}
{"Action":"fail","Package":"example.com/a","Test":"TestBroken"}
{"Action":"output","Package":"example.com/a","Output":"FAIL\texample.com/a\t0.01s\n"}
{"Action":"fail","Package":"example.com/a"}
{"Action":"output","Package":"example.com/b","Output":"ok  \texample.com/b\t0.01s\n"}
{"Action":"pass","Package":"example.com/b"}
`

func TestReport(t *testing.T) {
	var out bytes.Buffer
	failed, err := report(strings.NewReader(stream), &out)
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if !failed {
		t.Error("a failing test did not make report fail")
	}
	for _, want := range []string{
		"a_test.go:3: want 1, got 2\n--- FAIL: TestBroken",
		"FAIL\texample.com/a\t0.01s\n",
		"ok  \texample.com/b\t0.01s\n",
		"1 tests skipped:\n  1: test server \"consul\" is not running; start it with: scripts/testenv start consul\n     (example.com/a.TestConsul)\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "=== RUN") || strings.Contains(got, "TestOK") {
		t.Errorf("report shows passing tests' output:\n%s", got)
	}
}

func Example() {
	in := `{"Action":"output","Package":"example.com/c","Output":"ok  \texample.com/c\t0.1s\n"}
{"Action":"pass","Package":"example.com/c"}
`
	_, _ = report(strings.NewReader(in), os.Stdout)
	// Output:
	// ok  	example.com/c	0.1s
}
