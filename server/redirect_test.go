package server

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawRequest parses a request as net/http's server does, so that an
// absolute-form target ("GET http://host/path") keeps its host in r.URL.
func rawRequest(t *testing.T, raw string) *http.Request {
	t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	req.RemoteAddr = "192.0.2.1:1234"
	return req
}

// TestCleanPathRedirectStaysOnServer checks that the 301 for a
// non-canonical path never sends the client to the host named in an
// absolute-form request target: Location is a relative path.
func TestCleanPathRedirectStaysOnServer(t *testing.T) {
	s := newTestSimple(t, Config{})
	if err := s.Register(httpSvc{eps: []Endpoint{{Method: "GET", Path: "/files/{name}", Handler: textHandler("file")}}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ target, want string }{
		{"http://evil.example//files/x", "/files/x"},
		{"https://evil.example/a/../files/x?q=1", "/files/x?q=1"},
		{"http://user@evil.example//files//x", "/files/x"},
		{"//evil.example/files/x", "/evil.example/files/x"},
		{"///evil.example//files", "/evil.example/files"},
		{`/\evil.example//x`, "/%5Cevil.example/x"},
		{"/files/../\\/evil.example", "/%5C/evil.example"},
	} {
		req := rawRequest(t, "GET "+tc.target+" HTTP/1.1\r\nHost: good.example\r\n\r\n")
		rec := serveReq(s, req)
		loc := rec.Header().Get("Location")
		if rec.Code != http.StatusMovedPermanently || loc != tc.want {
			t.Errorf("GET %s: %d Location %q, want 301 %q", tc.target, rec.Code, loc, tc.want)
		}
		if strings.Contains(loc, "evil.example") && !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.Contains(loc, `\`) {
			t.Errorf("GET %s: Location %q may leave the server", tc.target, loc)
		}
	}
	// An absolute-form target that is already clean is served.
	if rec := serveReq(s, rawRequest(t, "GET http://good.example/files/x HTTP/1.1\r\nHost: good.example\r\n\r\n")); rec.Code != 200 {
		t.Errorf("clean absolute-form target: %d", rec.Code)
	}
}

// TestStrictSlashRedirectStaysOnServer checks the same for the trailing
// slash redirect gorilla/mux makes when StrictSlash is turned on through
// Router.
func TestStrictSlashRedirectStaysOnServer(t *testing.T) {
	s := newTestSimple(t, Config{})
	r := s.Router()
	r.StrictSlash(true)
	r.Path("/dir/").Methods(http.MethodGet).Handler(textHandler("dir"))
	rec := serveReq(s, rawRequest(t, "GET http://evil.example/dir HTTP/1.1\r\nHost: good.example\r\n\r\n"))
	if loc := rec.Header().Get("Location"); rec.Code != http.StatusMovedPermanently || loc != "/dir/" {
		t.Errorf("GET http://evil.example/dir: %d Location %q, want 301 %q", rec.Code, loc, "/dir/")
	}
}

// TestCleanPathRedirectOverTheWire sends the absolute-form request over a
// real connection, as an attacker would.
func TestCleanPathRedirectOverTheWire(t *testing.T) {
	_, addr, _ := runOn(t, Config{})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte("GET http://evil.example//files/x HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusMovedPermanently || loc != "/files/x" {
		t.Errorf("got %d Location %q, want 301 %q", resp.StatusCode, loc, "/files/x")
	}
}
