package server

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCORS(t *testing.T) {
	cors, err := CORS(CORSOptions{
		AllowedOrigins:   []string{"https://app.example.com"},
		AllowedMethods:   []string{"GET", "PUT"},
		AllowedHeaders:   []string{"Content-Type", "X-Token"},
		AllowCredentials: true,
		MaxAge:           10 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := newTestSimple(t, Config{}, WithMiddleware(cors))
	_ = s.Register(httpSvc{eps: []Endpoint{{Method: "PUT", Path: "/r", Handler: textHandler("put")}}})

	req := func(method, origin string, hdr ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/r", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		return serveReq(s, r)
	}
	// Allowed preflight: answered before routing (there is no OPTIONS route).
	rec := req("OPTIONS", "https://app.example.com", "Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "x-token, content-type")
	h := rec.Header()
	if rec.Code != 204 || h.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		h.Get("Access-Control-Allow-Methods") != "GET, PUT" || h.Get("Access-Control-Allow-Credentials") != "true" ||
		h.Get("Access-Control-Max-Age") != "600" || !strings.Contains(h.Get("Vary"), "Origin") {
		t.Errorf("allowed preflight: %d %v", rec.Code, h)
	}
	for name, r := range map[string]*httptest.ResponseRecorder{
		"origin":  req("OPTIONS", "https://evil.example", "Access-Control-Request-Method", "PUT"),
		"method":  req("OPTIONS", "https://app.example.com", "Access-Control-Request-Method", "DELETE"),
		"headers": req("OPTIONS", "https://app.example.com", "Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "X-Other"),
	} {
		if r.Code != 403 || r.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("refused preflight (%s): %d %v", name, r.Code, r.Header())
		}
	}
	// Actual requests.
	rec = req("PUT", "https://APP.example.com")
	if rec.Body.String() != "put" || rec.Header().Get("Access-Control-Allow-Origin") != "https://APP.example.com" ||
		rec.Header().Get("Access-Control-Expose-Headers") != RequestIDHeader {
		t.Errorf("allowed origin: %q %v", rec.Body.String(), rec.Header())
	}
	rec = req("PUT", "https://evil.example")
	if rec.Body.String() != "put" || rec.Header().Get("Access-Control-Allow-Origin") != "" || rec.Header().Get("Vary") != "Origin" {
		t.Errorf("other origin: %q %v", rec.Body.String(), rec.Header())
	}
	if rec = req("PUT", ""); rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("no origin: %v", rec.Header())
	}

	for _, bad := range [][]string{nil, {"*"}, {"app.example.com"}, {"https://a.example/path"}, {"ftp://a.example"}} {
		if _, err := CORS(CORSOptions{AllowedOrigins: bad}); err == nil {
			t.Errorf("CORS(%q) accepted", bad)
		}
	}
}

func TestGzip(t *testing.T) {
	gz, err := Gzip(GzipOptions{MinSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("gizmo ", 100)
	s := newTestSimple(t, Config{}, WithMiddleware(gz))
	_ = s.Register(httpSvc{eps: []Endpoint{
		{Method: "GET", Path: "/big", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", "600")
			w.Header().Set("ETag", `"v1"`)
			_, _ = io.WriteString(w, big[:300])
			_, _ = io.WriteString(w, big[300:])
		})},
		{Method: "GET", Path: "/small", Handler: textHandler("tiny")},
		{Method: "GET", Path: "/encoded", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Encoding", "br")
			_, _ = io.WriteString(w, big)
		})},
		{Method: "GET", Path: "/png", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			_, _ = io.WriteString(w, big)
		})},
		{Method: "GET", Path: "/empty", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		})},
	}})
	get := func(path, accept string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		if accept != "" {
			r.Header.Set("Accept-Encoding", accept)
		}
		return serveReq(s, r)
	}
	rec := get("/big", "br;q=1.0, gzip;q=0.8")
	if rec.Header().Get("Content-Encoding") != "gzip" || rec.Header().Get("Content-Length") != "" ||
		rec.Header().Get("ETag") != `W/"v1"` || !strings.Contains(rec.Header().Get("Vary"), "Accept-Encoding") {
		t.Fatalf("compressed headers: %v", rec.Header())
	}
	zr, err := gzip.NewReader(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := io.ReadAll(zr); err != nil || string(plain) != big {
		t.Errorf("decompressed body: %d bytes, err %v", len(plain), err)
	}
	for _, tc := range []struct{ path, accept, body string }{
		{"/big", "", big},
		{"/big", "gzip;q=0", big},
		{"/big", "identity", big},
		{"/small", "gzip", "tiny"},
		{"/encoded", "gzip", big},
		{"/png", "gzip", big},
		{"/empty", "gzip", ""},
	} {
		rec := get(tc.path, tc.accept)
		if ce := rec.Header().Get("Content-Encoding"); ce == "gzip" || rec.Body.String() != tc.body {
			t.Errorf("%s with Accept-Encoding %q: encoding %q, body %d bytes", tc.path, tc.accept, ce, rec.Body.Len())
		}
		if !strings.Contains(rec.Header().Get("Vary"), "Accept-Encoding") {
			t.Errorf("%s: no Vary: Accept-Encoding", tc.path)
		}
	}
	if _, err := Gzip(GzipOptions{Level: 42}); err == nil {
		t.Error("Gzip accepted level 42")
	}
}

func TestAcceptsGzip(t *testing.T) {
	for in, want := range map[string]bool{
		"gzip": true, "GZIP": true, "deflate, gzip": true, "x-gzip": true, "*": true,
		"gzip;q=0": false, "gzip; q=0.0": false, "*;q=0": false, "": false, "br": false,
		"*, gzip;q=0": false, "gzip;q=0, *": false, "gzip;q=0.001": true, "gzip;q=abc": false,
	} {
		if got := acceptsGzip([]string{in}); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzAcceptsGzip(f *testing.F) {
	for _, s := range []string{"gzip", "gzip;q=0", "*;q=1, br", ";;,,=q", "gzip;q=1;q=0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := acceptsGzip([]string{s})
		// Refusing gzip and the wildcard can never end in acceptance.
		if got && !strings.Contains(strings.ToLower(s), "gzip") && !strings.Contains(s, "*") {
			t.Errorf("acceptsGzip(%q) = true without gzip or *", s)
		}
	})
}

func FuzzValidRequestID(f *testing.F) {
	for _, s := range []string{"abc", "a b", strings.Repeat("x", 129), "é", "req-1:2/3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !validRequestID(s) {
			return
		}
		if len(s) == 0 || len(s) > maxRequestIDLen {
			t.Errorf("accepted length %d", len(s))
		}
		for _, c := range []byte(s) {
			if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == ',' || c == ';' {
				t.Errorf("accepted unsafe byte %q in %q", c, s)
			}
		}
	})
}

func TestNoCache(t *testing.T) {
	var seen http.Header
	s := newTestSimple(t, Config{}, WithMiddleware(NoCache))
	_ = s.Register(httpSvc{eps: []Endpoint{{Method: "GET", Path: "/n", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
	})}}})
	r := httptest.NewRequest("GET", "/n", nil)
	r.Header.Set("If-None-Match", `"x"`)
	r.Header.Set("If-Match", `"y"`)
	rec := serveReq(s, r)
	if !strings.Contains(rec.Header().Get("Cache-Control"), "no-store") || rec.Header().Get("Pragma") != "no-cache" || rec.Header().Get("Expires") != "0" {
		t.Errorf("NoCache headers: %v", rec.Header())
	}
	if seen.Get("If-None-Match") != "" || seen.Get("If-Match") != `"y"` {
		t.Errorf("handler saw If-None-Match %q, If-Match %q", seen.Get("If-None-Match"), seen.Get("If-Match"))
	}
	if r.Header.Get("If-None-Match") == "" {
		t.Error("NoCache modified the caller's request headers")
	}
}
