// Command testreport reads `go test -json` from standard input and prints
// what plain `go test` prints (each package's result, and the output of
// failing tests), followed by a summary of the skipped tests grouped by
// their reason, so that integration tests skipped for a missing server are
// not silent. make test-short uses it:
//
//	go test -race -json ./... | go run ./internal/cmd/testreport
//
// It exits 1 if any test or package failed.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

func main() {
	failed, err := report(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// report copies the plain-test view of in to out and reports whether
// anything failed.
func report(in io.Reader, out io.Writer) (failed bool, err error) {
	outputs := map[string][]string{} // "pkg test" -> output lines
	skips := map[string][]string{}   // reason -> "pkg.Test"
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if json.Unmarshal(line, &ev) != nil || ev.Action == "" {
			fmt.Fprintln(out, string(line)) // not test2json: build errors and the like
			continue
		}
		id := ev.Package + " " + ev.Test
		switch ev.Action {
		case "output":
			if ev.Test == "" {
				// Package-level lines: keep the result lines plain go test prints.
				if o := ev.Output; strings.HasPrefix(o, "ok ") || strings.HasPrefix(o, "FAIL") || strings.HasPrefix(o, "?") || strings.HasPrefix(o, "panic:") {
					fmt.Fprint(out, o)
				}
				continue
			}
			outputs[id] = append(outputs[id], ev.Output)
		case "fail":
			failed = true
			if ev.Test != "" {
				for _, o := range outputs[id] {
					fmt.Fprint(out, o)
				}
			}
			delete(outputs, id)
		case "skip":
			if ev.Test != "" {
				reason := skipReason(outputs[id])
				skips[reason] = append(skips[reason], strings.TrimPrefix(ev.Package, "github.com/seed8104ecd5/gizmo/")+"."+ev.Test)
			}
			delete(outputs, id)
		case "pass":
			delete(outputs, id)
		}
	}
	if err := sc.Err(); err != nil {
		return failed, err
	}
	printSkips(out, skips)
	return failed, nil
}

// skipReason finds the message a test skipped with in its output.
func skipReason(lines []string) string {
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- ") {
			continue
		}
		// "file_test.go:12: message"
		if i := strings.Index(l, ": "); i > 0 && strings.Contains(l[:i], ".go:") {
			return l[i+2:]
		}
		return l
	}
	return "(no reason given)"
}

func printSkips(out io.Writer, skips map[string][]string) {
	if len(skips) == 0 {
		return
	}
	n := 0
	reasons := make([]string, 0, len(skips))
	for r, tests := range skips {
		reasons = append(reasons, r)
		n += len(tests)
	}
	sort.Strings(reasons)
	fmt.Fprintf(out, "\n%d tests skipped:\n", n)
	for _, r := range reasons {
		tests := skips[r]
		sort.Strings(tests)
		shown := tests
		if len(shown) > 3 {
			shown = append(shown[:3:3], fmt.Sprintf("and %d more", len(tests)-3))
		}
		fmt.Fprintf(out, "  %d: %s\n     (%s)\n", len(tests), r, strings.Join(shown, ", "))
	}
	fmt.Fprintln(out, "make test starts every test server and runs them all.")
}
