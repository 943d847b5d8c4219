package server

import (
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/mux"

	"github.com/seed8104ecd5/gizmo/web"
)

// tableServer returns a SimpleServer (with its built-in routes) plus the
// given routes, added the way Register adds them but without Register's
// duplicate checks, so that overlapping routes can be tested too.
func tableServer(t testing.TB, routes [][2]string) *SimpleServer {
	t.Helper()
	s, err := NewSimpleServer(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range routes {
		h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
		s.mustAdd(strings.Split(r[0], ","), r[1], h, slog.LevelInfo+slog.Level(i))
	}
	return s
}

// handlerID identifies a matched handler: route handlers by pointer, the
// router's not-found and method-not-allowed functions by code pointer.
func handlerID(h http.Handler) string {
	switch h := h.(type) {
	case nil:
		return "nil"
	case *routeHandler:
		return fmt.Sprintf("route %p", h)
	default:
		return fmt.Sprintf("%T %x", h, reflect.ValueOf(h).Pointer())
	}
}

// compareMatch matches method and path with the server's routeTable and
// with mux.Router.Match and reports any difference in the outcome.
// It returns mux's outcome: "route", "405" or "404".
func compareMatch(s *SimpleServer, method, path string) (string, error) {
	r := &http.Request{Method: method, URL: &url.URL{Path: path}, Host: "example.test", Header: http.Header{}}
	var got, want mux.RouteMatch
	okGot, entry := s.table.Load().match(s.router, r, &got)
	okWant := s.router.Match(r, &want)
	gotVars := got.Vars
	if entry != nil {
		if gotVars != nil {
			return "", fmt.Errorf("%s %q: table set Vars %v for a route it matched itself", method, path, gotVars)
		}
		gotVars = entry.pathVars(path)
		for _, name := range append(slices.Sorted(maps.Keys(gotVars)), "missing") {
			v, ok := entry.pathVar(path, name)
			if want, wantOK := gotVars[name]; v != want || ok != wantOK {
				return "", fmt.Errorf("%s %q: pathVar(%q) = %q, %v; pathVars has %q, %v", method, path, name, v, ok, want, wantOK)
			}
		}
	}
	var diffs []string
	if okGot != okWant {
		diffs = append(diffs, fmt.Sprintf("matched %v, mux %v", okGot, okWant))
	}
	if got.Route != want.Route {
		diffs = append(diffs, fmt.Sprintf("route %p, mux %p", got.Route, want.Route))
	}
	if handlerID(got.Handler) != handlerID(want.Handler) {
		diffs = append(diffs, fmt.Sprintf("handler %s, mux %s", handlerID(got.Handler), handlerID(want.Handler)))
	}
	if got.MatchErr != want.MatchErr {
		diffs = append(diffs, fmt.Sprintf("MatchErr %v, mux %v", got.MatchErr, want.MatchErr))
	}
	if !reflect.DeepEqual(gotVars, want.Vars) || (gotVars == nil) != (want.Vars == nil) {
		diffs = append(diffs, fmt.Sprintf("vars %#v, mux %#v", gotVars, want.Vars))
	}
	if len(diffs) > 0 {
		return "", fmt.Errorf("%s %q: %s", method, path, strings.Join(diffs, "; "))
	}
	switch {
	case want.MatchErr == mux.ErrMethodMismatch:
		return "405", nil
	case want.Route != nil:
		return "route", nil
	}
	return "404", nil
}

var (
	tplPieces  = []string{"a", "b", "users", "me", "", "{id}", "{x}", "{n:[0-9]+}", "a{x}", "{x}.json", "{p:.*}"}
	pathPieces = []string{"a", "b", "users", "me", "", "42", "abc", "x.json", "ax", "é", "a b", "\xff"}
	methodSets = []string{"GET", "POST", "GET,HEAD", "POST,PUT", "get"}
	reqMethods = []string{"GET", "POST", "PUT", "HEAD", "DELETE", "get"}
)

func randomPath(rng *rand.Rand, pieces []string) string {
	n := rng.IntN(4)
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteByte('/')
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	if n == 0 || rng.IntN(5) == 0 {
		b.WriteByte('/')
	}
	return b.String()
}

// instantiate fills a template's variables with path pieces, so that
// requests hit the routes as well as miss them.
func instantiate(rng *rand.Rand, tpl string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(tpl, '{')
		j := strings.IndexByte(tpl, '}')
		if i < 0 || j < i {
			b.WriteString(tpl)
			return b.String()
		}
		b.WriteString(tpl[:i])
		b.WriteString(pathPieces[rng.IntN(len(pathPieces))])
		tpl = tpl[j+1:]
	}
}

func TestRouteTableAgreesWithMux(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	outcomes := map[string]int{}
	for round := 0; round < 300; round++ {
		var routes [][2]string
		for i := rng.IntN(10); i >= 0; i-- {
			routes = append(routes, [2]string{methodSets[rng.IntN(len(methodSets))], randomPath(rng, tplPieces)})
		}
		s := tableServer(t, routes)
		for i := 0; i < 200; i++ {
			path := randomPath(rng, pathPieces)
			if i%2 == 0 {
				path = instantiate(rng, routes[rng.IntN(len(routes))][1])
			}
			outcome, err := compareMatch(s, reqMethods[rng.IntN(len(reqMethods))], path)
			if err != nil {
				t.Fatalf("routes %q: %v", routes, err)
			}
			outcomes[outcome]++
		}
	}
	t.Logf("outcomes: %v", outcomes)
	// The comparison means something only if all three outcomes were
	// exercised often.
	for _, o := range []string{"route", "405", "404"} {
		if outcomes[o] < 5000 {
			t.Errorf("only %d of 60000 requests had outcome %s: %v", outcomes[o], o, outcomes)
		}
	}
}

func TestRouteTableSimpleTemplates(t *testing.T) {
	for _, tc := range []struct {
		tpl    string
		simple bool
	}{
		{"/", true},
		{"/users", true},
		{"/users/", true},
		{"/users/{id}", true},
		{"/users/{id}/orders/{order}/", true},
		{"/users/{id:[0-9]+}", false},
		{"/files/{name}.json", false},
		{"/a{x}", false},
		{"/{a}{b}", false},
		{"users", false},
	} {
		if _, simple := splitTemplate(tc.tpl); simple != tc.simple {
			t.Errorf("splitTemplate(%q): simple = %v, want %v", tc.tpl, simple, tc.simple)
		}
	}
}

// FuzzRouteTable adds one fuzzed route to a fixed, overlapping route list
// and checks that the table and mux.Router.Match agree on a fuzzed request.
func FuzzRouteTable(f *testing.F) {
	f.Add("/users/{id}", "GET", "GET", "/users/42")
	f.Add("/users/{id}/", "POST", "GET", "/users/42/")
	f.Add("/{a}/{b}", "GET,HEAD", "HEAD", "/x/y")
	f.Add("/v/{n:[0-9]+}", "GET", "GET", "/v/12")
	f.Add("/users/me", "PUT", "PUT", "/users/me")
	f.Fuzz(func(t *testing.T, tpl, methods, method, path string) {
		if checkTemplate(tpl) != nil {
			t.Skip("Register refuses this template") // and mux may panic on it
		}
		s := tableServer(t, [][2]string{
			{"GET", "/users/me"},
			{"POST", "/users/{id}"},
			{methods, tpl},
			{"GET,HEAD", "/users/{id}"},
			{"GET", "/{a}/{b}/{c}"},
			{"DELETE", "/files/{name}.json"},
		})
		if _, err := compareMatch(s, method, path); err != nil {
			t.Fatalf("route %s %q: %v", methods, tpl, err)
		}
	})
}

// TestRouteTableVars checks mux.Vars and mux.CurrentRoute from a handler
// of a table-matched route, including concurrent first calls (run with
// -race) and that the map is kept, as mux keeps it.
func TestRouteTableVars(t *testing.T) {
	s, err := NewSimpleServer(Config{})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	var tpl string
	if err := s.Register(httpSvc{prefix: "/users", eps: []Endpoint{{
		Method: http.MethodGet, Path: "/{id}/orders/{order}",
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var wg sync.WaitGroup
			maps := make([]map[string]string, 4)
			for i := range maps {
				wg.Add(1)
				go func() { defer wg.Done(); maps[i] = mux.Vars(r) }()
			}
			wg.Wait()
			for _, m := range maps[1:] {
				if reflect.ValueOf(m).Pointer() != reflect.ValueOf(maps[0]).Pointer() {
					t.Error("mux.Vars returned different maps for one request")
				}
			}
			maps[0]["extra"] = "kept"
			got = mux.Vars(r)
			tpl, _ = mux.CurrentRoute(r).GetPathTemplate()
		}),
	}}}); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/users/7/orders/a%20b", nil))
	want := map[string]string{"id": "7", "order": "a b", "extra": "kept"}
	if rec.Code != http.StatusOK || !reflect.DeepEqual(got, want) {
		t.Fatalf("status %d, vars %v; want 200, %v", rec.Code, got, want)
	}
	if tpl != "/users/{id}/orders/{order}" {
		t.Fatalf("CurrentRoute template %q", tpl)
	}
}

// TestWebRouteVar checks that web.RouteVar, which under the default stack
// asks the request's context rather than mux.Vars, answers as mux.Vars
// does: for a route the table matched, for one mux matched (a pattern),
// after a handler changed the mux.Vars map, and through a context a
// middleware replaced.
func TestWebRouteVar(t *testing.T) {
	s, err := NewSimpleServer(Config{})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"id", "order", "n", "missing"}
	type result struct{ web, mux map[string]string }
	var got []result
	record := func(r *http.Request) {
		res := result{web: map[string]string{}, mux: map[string]string{}}
		for _, name := range names {
			res.web[name] = web.RouteVar(r, name)
			res.mux[name] = mux.Vars(r)[name]
		}
		got = append(got, res)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(r) // before mux.Vars has built its map
		if r.URL.Query().Has("change") {
			mux.Vars(r)["id"] = "changed"
			record(r)
		}
		if r.URL.Query().Has("override") {
			record(mux.SetURLVars(r, map[string]string{"id": "override"}))
		}
	})
	if err := s.Register(httpSvc{prefix: "/r", eps: []Endpoint{
		{Method: http.MethodGet, Path: "/{id}/orders/{order}", Handler: h},
		{Method: http.MethodGet, Path: "/items/{n:[0-9]+}", Handler: h},
	}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		target string
		want   []map[string]string
	}{
		{"/r/7/orders/a%20b", []map[string]string{{"id": "7", "order": "a b", "n": "", "missing": ""}}},
		{"/r/items/42", []map[string]string{{"id": "", "order": "", "n": "42", "missing": ""}}},
		{"/r/7/orders/9?change", []map[string]string{
			{"id": "7", "order": "9", "n": "", "missing": ""},
			{"id": "changed", "order": "9", "n": "", "missing": ""},
		}},
		{"/r/7/orders/9?override", []map[string]string{
			{"id": "7", "order": "9", "n": "", "missing": ""},
			{"id": "override", "order": "", "n": "", "missing": ""},
		}},
	} {
		got = nil
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.target, nil))
		if rec.Code != http.StatusOK || len(got) != len(tc.want) {
			t.Fatalf("%s: status %d, %d records; want 200, %d", tc.target, rec.Code, len(got), len(tc.want))
		}
		for i, res := range got {
			if !reflect.DeepEqual(res.web, tc.want[i]) || !reflect.DeepEqual(res.mux, tc.want[i]) {
				t.Errorf("%s, record %d: web.RouteVar %v, mux.Vars %v; want both %v", tc.target, i, res.web, res.mux, tc.want[i])
			}
		}
	}
}

// TestRouterDropsTable checks that once Router has been called, changes to
// the router (here StrictSlash and a new route) take effect: matching is
// mux's from then on.
func TestRouterDropsTable(t *testing.T) {
	s := tableServer(t, [][2]string{{"GET", "/a"}})
	if s.table.Load() == nil {
		t.Fatal("no route table before Router was called")
	}
	r := s.Router()
	r.StrictSlash(true)
	r.Path("/b/").Methods(http.MethodGet).HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	if s.table.Load() != nil {
		t.Fatal("route table still in use after Router was called")
	}
	if err := s.Register(httpSvc{prefix: "/c", eps: []Endpoint{{Method: "GET", Path: "/d", Handler: http.NotFoundHandler()}}}); err != nil {
		t.Fatal(err)
	}
	if s.table.Load() != nil {
		t.Fatal("Register brought the route table back after Router was called")
	}
	for path, want := range map[string]int{"/b/": http.StatusTeapot, "/b": http.StatusMovedPermanently, "/c/d": http.StatusNotFound} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: status %d, want %d", path, rec.Code, want)
		}
	}
}
