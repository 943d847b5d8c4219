package archtest

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/seed8104ecd5/gizmo"

// graph returns the module's packages (tests excluded), each with the
// packages of this module it imports, relative to the module path.
func graph(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"/...")
	cmd.Dir = root(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	g := make(map[string][]string)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		pkg := rel(fields[0])
		g[pkg] = nil
		for _, imp := range fields[1:] {
			if imp == module || strings.HasPrefix(imp, module+"/") {
				g[pkg] = append(g[pkg], rel(imp))
			}
		}
	}
	if len(g) < 10 {
		t.Fatalf("go list found only %d packages: %v", len(g), g)
	}
	return g
}

func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

// root is the module root: two directories up from this package.
func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s: %v", dir, err)
	}
	return dir
}

func under(pkg string, prefixes ...string) bool {
	for _, p := range prefixes {
		if pkg == p || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	return false
}

var adapters = []string{"pubsub/aws", "pubsub/gcp", "pubsub/kafka", "pubsub/http"}

// TestImportDirection checks which way imports go: the servers, config
// and web know nothing of pubsub; adapters import the contract and the
// wire rules, never each other, the fakes or the servers; the contract
// imports nothing of ours; nothing imports an example or the test fakes.
func TestImportDirection(t *testing.T) {
	g := graph(t)
	for pkg, imps := range g {
		for _, imp := range imps {
			var why string
			switch {
			case under(imp, "examples"):
				why = "nothing imports an example"
			case under(imp, "pubsub/pubsubtest") && !under(pkg, "pubsub/pubsubtest"):
				why = "only tests import the fakes and the conformance suite"
			case under(pkg, "server", "config", "web") && under(imp, "pubsub"):
				why = "servers, config and web know nothing of pubsub; package daemon joins them"
			case pkg == "web":
				why = "web imports nothing of ours"
			case pkg == "config" && !under(imp, "internal"):
				why = "config is loaders only; it fills the Config structs of other packages without importing them"
			case pkg == "pubsub":
				why = "the contract imports nothing of ours"
			case under(pkg, adapters...) && !under(imp, "pubsub", "web") && imp != pkg:
				why = "an adapter imports the contract, the wire rules and web only"
			case under(pkg, adapters...) && under(imp, adapters...) && !under(imp, pkg):
				why = "adapters never import each other"
			case under(pkg, adapters...) && under(imp, "pubsub/mem", "pubsub/observe"):
				why = "adapters do not depend on the in-memory broker or on observe"
			case under(pkg, "pubsub/mem") && !under(imp, "pubsub"):
				why = "the in-memory broker imports only the contract"
			}
			if why != "" {
				t.Errorf("%s imports %s: %s", pkg, imp, why)
			}
		}
	}
}

// TestAdapterLayout checks that every adapter has the core files
// docs/development.md lists, and a test that runs the conformance suite.
func TestAdapterLayout(t *testing.T) {
	core := []string{"doc.go", "config.go", "options.go", "errors.go", "publisher.go", "subscriber.go", "message.go"}
	for _, a := range adapters {
		dir := filepath.Join(root(t), filepath.FromSlash(a))
		for _, f := range core {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("%s has no %s", a, f)
			}
		}
		tests, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
		if err != nil {
			t.Fatal(err)
		}
		conformance := false
		for _, f := range tests {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte("pubsubtest.RunConformance(")) {
				conformance = true
			}
		}
		if !conformance {
			t.Errorf("%s: no test calls pubsubtest.RunConformance", a)
		}
	}
}
