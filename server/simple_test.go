package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/seed8104ecd5/gizmo/internal/testlog"
	"github.com/seed8104ecd5/gizmo/web"
)

func TestSimpleRegisterDuplicate(t *testing.T) {
	s := newTestSimple(t, Config{})
	first := httpSvc{prefix: "/users", eps: []Endpoint{{Method: "GET", Path: "/{id}", Handler: textHandler("a")}}}
	if err := s.Register(first); err != nil {
		t.Fatal(err)
	}
	// Same method and template (variable renamed) in a second service.
	dup := httpSvc{prefix: "/users/", eps: []Endpoint{
		{Method: "POST", Path: "/new", Handler: textHandler("ok")},
		{Method: "get", Path: "/{uid}", Handler: textHandler("b")},
	}}
	err := s.Register(dup)
	if err == nil || !strings.Contains(err.Error(), "GET /users/{uid} is already registered (as /users/{id})") {
		t.Fatalf("Register duplicate: got %v", err)
	}
	// Nothing of the failed service was added.
	if rec := serveReq(s, httptest.NewRequest("POST", "/users/new", nil)); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /users/new after failed Register: status %d, want 405", rec.Code)
	}
	// Duplicates inside one service, and clashes with built-in endpoints.
	for name, svc := range map[string]httpSvc{
		"same service": {eps: []Endpoint{{Method: "GET", Path: "/x", Handler: textHandler("")}, {Method: "GET", Path: "/x", Handler: textHandler("")}}},
		"healthz":      {eps: []Endpoint{{Method: "GET", Path: "/healthz", Handler: textHandler("")}}},
	} {
		if err := s.Register(svc); err == nil || !strings.Contains(err.Error(), "already registered") {
			t.Errorf("%s: Register = %v, want already registered", name, err)
		}
	}
	// Same path, different method is fine.
	if err := s.Register(httpSvc{prefix: "/users", eps: []Endpoint{{Method: "DELETE", Path: "/{id}", Handler: textHandler("")}}}); err != nil {
		t.Errorf("different method: %v", err)
	}
}

func TestSimpleRegisterInvalid(t *testing.T) {
	s := newTestSimple(t, Config{})
	for name, tc := range map[string]struct {
		svc  Service
		want string
	}{
		"nil service":   {nil, "nil Service"},
		"no method":     {httpSvc{eps: []Endpoint{{Path: "/a", Handler: textHandler("")}}}, "empty Method"},
		"no handler":    {httpSvc{eps: []Endpoint{{Method: "GET", Path: "/a"}}}, "nil Handler"},
		"bad method":    {httpSvc{eps: []Endpoint{{Method: "GE T", Path: "/a", Handler: textHandler("")}}}, `Method "GE T" is not`},
		"bad prefix":    {httpSvc{prefix: "api", eps: []Endpoint{{Method: "GET", Path: "/a", Handler: textHandler("")}}}, `prefix "api"`},
		"bad template":  {httpSvc{eps: []Endpoint{{Method: "GET", Path: "/a/{id", Handler: textHandler("")}}}, "unbalanced braces"},
		"capture group": {httpSvc{eps: []Endpoint{{Method: "GET", Path: "/a/{id:(x|y)}", Handler: textHandler("")}}}, "capture groups"},
		"relative":      {httpSvc{eps: []Endpoint{{Method: "GET", Path: "a", Handler: textHandler("")}}}, "does not start with /"},
		"nil middleware": {httpSvc{mw: func(http.Handler) http.Handler { return nil },
			eps: []Endpoint{{Method: "GET", Path: "/a", Handler: textHandler("")}}}, "nil handler"},
	} {
		if err := s.Register(tc.svc); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Register = %v, want error containing %q", name, err, tc.want)
		}
	}
}

func TestSimpleOrderedRegistration(t *testing.T) {
	s := newTestSimple(t, Config{})
	err := s.Register(httpSvc{prefix: "/users", eps: []Endpoint{
		{Method: "GET", Path: "/me", Handler: textHandler("me")},
		{Method: "GET", Path: "/{id}", Handler: textHandler("by-id")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// Registered later, shadowed by /users/{id}.
	if err := s.Register(httpSvc{eps: []Endpoint{{Method: "GET", Path: "/users/admin", Handler: textHandler("admin")}}}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"/users/me": "me", "/users/42": "by-id", "/users/admin": "by-id"} {
		if got := serveReq(s, httptest.NewRequest("GET", path, nil)).Body.String(); got != want {
			t.Errorf("GET %s = %q, want %q", path, got, want)
		}
	}
}

func TestSimpleServiceMiddlewareAndRouter(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := newTestSimple(t, Config{}, WithRegistry(reg))
	tag := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Svc", "yes")
			next.ServeHTTP(w, r)
		})
	}
	if err := s.Register(httpSvc{prefix: "/a", mw: tag, eps: []Endpoint{{Method: "GET", Path: "/x", Handler: textHandler("x")}}}); err != nil {
		t.Fatal(err)
	}
	s.Router().PathPrefix("/static/").Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tpl, _ := mux.CurrentRoute(r).GetPathTemplate()
		_, _ = io.WriteString(w, "static "+tpl)
	}))
	if rec := serveReq(s, httptest.NewRequest("GET", "/a/x", nil)); rec.Header().Get("X-Svc") != "yes" || rec.Body.String() != "x" {
		t.Errorf("/a/x: header %q body %q", rec.Header().Get("X-Svc"), rec.Body.String())
	}
	rec := serveReq(s, httptest.NewRequest("GET", "/static/app.js", nil))
	if rec.Body.String() != "static /static/" || rec.Header().Get("X-Svc") != "" || rec.Header().Get(RequestIDHeader) == "" {
		t.Errorf("escape-hatch route: body %q, X-Svc %q, request ID %q", rec.Body.String(), rec.Header().Get("X-Svc"), rec.Header().Get(RequestIDHeader))
	}
	if got := series(t, reg, HTTPRequestsMetric); len(got) != 2 || got[0]["route"] != "/a/x" || got[1]["route"] != "/static/" {
		t.Errorf("route labels: %v", got)
	}
}

func TestSimpleDispatchFindsMuxKeys(t *testing.T) {
	// The dispatcher answers mux.Vars and mux.CurrentRoute itself; if a
	// gorilla/mux upgrade changed how they read the context, it would fall
	// back to Router.ServeHTTP (slower but correct). Catch that here.
	k := findMuxKeys()
	if k == nil || k.vars == nil || k.route == nil || k.vars == k.route {
		t.Fatalf("findMuxKeys() = %+v", k)
	}
}

func TestSimpleCleansPaths(t *testing.T) {
	s := newTestSimple(t, Config{})
	_ = s.Register(httpSvc{eps: []Endpoint{{Method: "GET", Path: "/a/{x}", Handler: textHandler("a")}}})
	for in, want := range map[string]string{"/a//b": "/a/b", "/c/../a/b": "/a/b", "/a/./b?q=1": "/a/b?q=1"} {
		rec := serveReq(s, httptest.NewRequest("GET", in, nil))
		if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != want {
			t.Errorf("GET %s: %d Location %q, want 301 %q", in, rec.Code, rec.Header().Get("Location"), want)
		}
	}
	if rec := serveReq(s, httptest.NewRequest("GET", "/a/b", nil)); rec.Code != 200 {
		t.Errorf("clean path: %d", rec.Code)
	}
}

func TestSimpleJSONEndpoint(t *testing.T) {
	s := newTestSimple(t, Config{})
	var endpointErr error
	err := s.Register(httpSvc{eps: []Endpoint{
		{Method: "GET", Path: "/ok/{name}", Handler: JSON(func(ctx context.Context, r *http.Request) (int, any, error) {
			return 0, map[string]string{"hello": mux.Vars(r)["name"], "rid": RequestID(ctx)}, nil
		})},
		{Method: "POST", Path: "/created", Handler: JSONEndpoint(func(context.Context, *http.Request) (int, any, error) {
			return http.StatusCreated, []int{1}, nil
		})},
		{Method: "DELETE", Path: "/gone", Handler: JSON(func(context.Context, *http.Request) (int, any, error) {
			return http.StatusNoContent, nil, nil
		})},
		{Method: "GET", Path: "/web-error", Handler: JSON(func(context.Context, *http.Request) (int, any, error) {
			return 0, nil, web.NewError(http.StatusConflict, "already exists")
		})},
		{Method: "GET", Path: "/plain-error", Handler: JSON(func(context.Context, *http.Request) (int, any, error) {
			return 0, nil, endpointErr
		})},
		{Method: "GET", Path: "/status-error", Handler: JSON(func(context.Context, *http.Request) (int, any, error) {
			return http.StatusBadGateway, nil, errors.New("db password is hunter2")
		})},
	}})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/ok/ann", nil)
	req.Header.Set(RequestIDHeader, "abc-123")
	rec := serveReq(s, req)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET /ok/ann: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if m := decodeBody(t, rec.Body.Bytes()); m["hello"] != "ann" || m["rid"] != "abc-123" {
		t.Errorf("body %v", m)
	}
	if rec := serveReq(s, httptest.NewRequest("POST", "/created", nil)); rec.Code != 201 || strings.TrimSpace(rec.Body.String()) != "[1]" {
		t.Errorf("POST /created: %d %q", rec.Code, rec.Body.String())
	}
	if rec := serveReq(s, httptest.NewRequest("DELETE", "/gone", nil)); rec.Code != 204 || rec.Body.Len() != 0 {
		t.Errorf("DELETE /gone: %d %q", rec.Code, rec.Body.String())
	}
	rec = serveReq(s, httptest.NewRequest("GET", "/web-error", nil))
	if m := decodeBody(t, rec.Body.Bytes()); rec.Code != 409 || m["detail"] != "already exists" || rec.Header().Get("Content-Type") != web.ProblemContentType {
		t.Errorf("web error: %d %v", rec.Code, m)
	}
	endpointErr = errors.New("secret internals")
	rec = serveReq(s, httptest.NewRequest("GET", "/plain-error", nil))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "secret") {
		t.Errorf("plain error: %d %q", rec.Code, rec.Body.String())
	}
	rec = serveReq(s, httptest.NewRequest("GET", "/status-error", nil))
	if rec.Code != 502 || strings.Contains(rec.Body.String(), "hunter2") {
		t.Errorf("status error: %d %q", rec.Code, rec.Body.String())
	}
}

func TestSimpleNotFoundAndMethodNotAllowed(t *testing.T) {
	s := newTestSimple(t, Config{})
	if err := s.Register(httpSvc{eps: []Endpoint{
		{Method: "GET", Path: "/thing", Handler: textHandler("")},
		{Method: "PUT", Path: "/thing", Handler: textHandler("")},
	}}); err != nil {
		t.Fatal(err)
	}
	rec := serveReq(s, httptest.NewRequest("GET", "/nope", nil))
	if m := decodeBody(t, rec.Body.Bytes()); rec.Code != 404 || m["status"] != float64(404) || rec.Header().Get("Content-Type") != web.ProblemContentType {
		t.Errorf("404: %d %v", rec.Code, m)
	}
	rec = serveReq(s, httptest.NewRequest("POST", "/thing", nil))
	if m := decodeBody(t, rec.Body.Bytes()); rec.Code != 405 || m["status"] != float64(405) {
		t.Errorf("405: %d %v", rec.Code, m)
	}
	if got := rec.Header().Get("Allow"); got != "GET, PUT" {
		t.Errorf("Allow = %q, want %q", got, "GET, PUT")
	}
}

func TestSimpleRequestID(t *testing.T) {
	s := newTestSimple(t, Config{})
	var seen string
	if err := s.Register(httpSvc{eps: []Endpoint{{Method: "GET", Path: "/id", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = RequestID(r.Context())
	})}}}); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		in   string
		keep bool
	}{
		"valid":     {"req-1.2:3_4/x+y=z@host", true},
		"max len":   {strings.Repeat("a", 128), true},
		"too long":  {strings.Repeat("a", 129), false},
		"space":     {"bad id", false},
		"non-ascii": {"idé", false},
		"missing":   {"", false},
	} {
		req := httptest.NewRequest("GET", "/id", nil)
		if tc.in != "" {
			req.Header.Set(RequestIDHeader, tc.in)
		}
		rec := serveReq(s, req)
		got := rec.Header().Get(RequestIDHeader)
		if got != seen {
			t.Errorf("%s: response ID %q != context ID %q", name, got, seen)
		}
		if tc.keep && got != tc.in {
			t.Errorf("%s: ID %q not kept, got %q", name, tc.in, got)
		}
		if !tc.keep && (got == tc.in || len(got) != 32) {
			t.Errorf("%s: want a fresh 32-char ID, got %q", name, got)
		}
	}
	if RequestID(context.Background()) != "" {
		t.Error("RequestID of a bare context is not empty")
	}
	if RequestID(ContextWithRequestID(context.Background(), "x")) != "x" {
		t.Error("ContextWithRequestID not seen by RequestID")
	}
}

func TestSimpleRecovery(t *testing.T) {
	logs := &testlog.Buffer{}
	logger, _ := NewLogger(logs, "info", "json")
	s := newTestSimple(t, Config{}, WithLogger(logger))
	if err := s.Register(httpSvc{eps: []Endpoint{
		{Method: "GET", Path: "/boom", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Half", "done")
			panic("kaboom")
		})},
		{Method: "GET", Path: "/fine", Handler: textHandler("fine")},
	}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	for range 3 {
		resp, err := http.Get(srv.URL + "/boom")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 500 || resp.Header.Get("Content-Type") != web.ProblemContentType || strings.Contains(string(body), "kaboom") {
			t.Fatalf("panic answer: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if resp.Header.Get("X-Half") != "" || resp.Header.Get(RequestIDHeader) == "" {
			t.Errorf("headers after panic: X-Half %q, request ID %q", resp.Header.Get("X-Half"), resp.Header.Get(RequestIDHeader))
		}
		resp, err = http.Get(srv.URL + "/fine")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "fine" {
			t.Fatalf("after panic: %d %q", resp.StatusCode, body)
		}
	}
	panics := logs.Find(t, "http handler panic")
	if len(panics) != 3 || panics[0]["panic"] != "kaboom" || !strings.Contains(panics[0]["stack"].(string), "TestSimpleRecovery") {
		t.Errorf("panic log records: %v", panics)
	}
}

func TestSimplePanicAfterWriteAbortsConnection(t *testing.T) {
	s := newTestSimple(t, Config{})
	if err := s.Register(httpSvc{eps: []Endpoint{{Method: "GET", Path: "/half", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic("late")
	})}}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/half")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Error("reading a response whose handler panicked mid-body succeeded; want a truncated body")
	}
}
