package server

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestImportLeavesDefaultServeMuxEmpty checks that linking package server
// (and everything it imports, and its tests) registers nothing on
// http.DefaultServeMux: net/http/pprof's init used to add /debug/pprof/
// there in every program that imported server.
//
// One registration is not ours and cannot be avoided: the Prometheus
// client library imports expvar, whose init adds GET /debug/vars. The test
// pins it to exactly that pattern, so that anything else a dependency
// starts registering is caught (see "Known limits" in the package doc).
func TestImportLeavesDefaultServeMuxEmpty(t *testing.T) {
	const expvarPattern = "GET /debug/vars"
	for _, path := range []string{
		"/", "/debug/", "/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/profile",
		"/debug/pprof/symbol", "/debug/pprof/trace", "/debug/pprof/heap",
		"/debug/vars", "/debug/vars/x", "/metrics", "/healthz", "/readyz",
	} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			req := httptest.NewRequest(method, path, nil)
			h, pattern := http.DefaultServeMux.Handler(req)
			if pattern == expvarPattern && method == http.MethodGet && path == "/debug/vars" {
				continue
			}
			if pattern != "" {
				t.Errorf("http.DefaultServeMux has %q (handler %T) for %s %s", pattern, h, method, path)
			}
			rec := httptest.NewRecorder()
			http.DefaultServeMux.ServeHTTP(rec, req)
			if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
				t.Errorf("http.DefaultServeMux answers %s %s with %d, want 404", method, path, rec.Code)
			}
		}
	}
}

// TestPprofHandlers checks every pprof endpoint of a server with
// EnablePprof, as `go tool pprof` and `go tool trace` use them.
func TestPprofHandlers(t *testing.T) {
	s := newTestSimple(t, Config{EnablePprof: true})
	gzipMagic := []byte{0x1f, 0x8b}
	for _, tc := range []struct {
		method, target string
		body           string
		status         int
		contentType    string
		check          func(body []byte) bool
	}{
		{"GET", "/debug/pprof/", "", 200, "text/html; charset=utf-8", func(b []byte) bool {
			return bytes.Contains(b, []byte("<a href='heap?debug=1'>heap</a>")) && bytes.Contains(b, []byte("full goroutine stack dump"))
		}},
		{"HEAD", "/debug/pprof/", "", 405, "", nil},
		{"GET", "/debug/pprof/cmdline", "", 200, "text/plain; charset=utf-8", func(b []byte) bool {
			return string(b) == strings.Join(os.Args, "\x00")
		}},
		{"GET", "/debug/pprof/heap", "", 200, "application/octet-stream", func(b []byte) bool { return bytes.HasPrefix(b, gzipMagic) }},
		{"GET", "/debug/pprof/heap?gc=1&debug=1", "", 200, "text/plain; charset=utf-8", func(b []byte) bool {
			return bytes.HasPrefix(b, []byte("heap profile:"))
		}},
		{"GET", "/debug/pprof/goroutine?debug=2", "", 200, "text/plain; charset=utf-8", func(b []byte) bool {
			return bytes.Contains(b, []byte("goroutine ")) && bytes.Contains(b, []byte("TestPprofHandlers"))
		}},
		{"GET", "/debug/pprof/allocs?debug=1", "", 200, "text/plain; charset=utf-8", func(b []byte) bool {
			return bytes.HasPrefix(b, []byte("heap profile:"))
		}},
		{"GET", "/debug/pprof/nonesuch", "", 404, "text/plain; charset=utf-8", func(b []byte) bool {
			return string(b) == "Unknown profile\n"
		}},
		{"GET", "/debug/pprof/heap?seconds=5", "", 400, "text/plain; charset=utf-8", func(b []byte) bool {
			return bytes.Contains(b, []byte("go tool pprof -base"))
		}},
		{"GET", "/debug/pprof/profile?seconds=1", "", 200, "application/octet-stream", func(b []byte) bool { return bytes.HasPrefix(b, gzipMagic) }},
		{"GET", "/debug/pprof/trace?seconds=0.05", "", 200, "application/octet-stream", func(b []byte) bool {
			return bytes.HasPrefix(b, []byte("go 1."))
		}},
		{"GET", fmt.Sprintf("/debug/pprof/symbol?%#x+0x0", reflect.ValueOf(TestPprofHandlers).Pointer()), "", 200, "text/plain; charset=utf-8", func(b []byte) bool {
			return bytes.HasPrefix(b, []byte("num_symbols: 1\n")) && bytes.Contains(b, []byte(" github.com/seed8104ecd5/gizmo/server.TestPprofHandlers\n"))
		}},
		{"POST", "/debug/pprof/symbol", fmt.Sprintf("%#x", reflect.ValueOf(NewSimpleServer).Pointer()), 200, "text/plain; charset=utf-8", func(b []byte) bool {
			return bytes.Contains(b, []byte(" github.com/seed8104ecd5/gizmo/server.NewSimpleServer\n"))
		}},
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			rec := serveReq(s, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d; body %.200q", rec.Code, tc.status, rec.Body.String())
			}
			if tc.contentType != "" && rec.Header().Get("Content-Type") != tc.contentType {
				t.Errorf("Content-Type %q, want %q", rec.Header().Get("Content-Type"), tc.contentType)
			}
			if tc.status == 200 && rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", rec.Header().Get("X-Content-Type-Options"))
			}
			if tc.check != nil && !tc.check(rec.Body.Bytes()) {
				t.Errorf("unexpected body %.300q", rec.Body.String())
			}
		})
	}
}
