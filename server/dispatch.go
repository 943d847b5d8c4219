package server

import (
	"context"
	"net/http"
	"path"
	"sync/atomic"

	"github.com/gorilla/mux"
)

// dispatcher routes a request with the gorilla/mux router but without
// mux.Router.ServeHTTP. That method stores the path variables and the
// matched route with two context.WithValue and two Request.WithContext
// calls per request; here the reqState, which already is the request's
// context, answers mux's own context keys instead. mux.Vars and
// mux.CurrentRoute work unchanged.
//
// Like mux.Router.ServeHTTP it first redirects non-canonical paths
// ("/a//b", "/a/../b") with 301. Router().SkipClean has no effect on it.
//
// While the server's routeTable exists (SimpleServer.Router has not been
// called) it matches with the table, which gives Router.Match's results;
// for a route the table matched itself, the reqState builds the mux.Vars
// map the first time it is asked for.
type dispatcher struct {
	router *mux.Router
	keys   *muxKeys
	table  *atomic.Pointer[routeTable]
}

// muxKeys are the (unexported) context keys gorilla/mux reads in mux.Vars
// and mux.CurrentRoute, discovered once per server by findMuxKeys.
type muxKeys struct {
	vars, route any
}

// keySpy is a context that records the keys it is asked for.
type keySpy struct {
	context.Context
	keys []any
}

func (k *keySpy) Value(key any) any {
	k.keys = append(k.keys, key)
	return nil
}

// findMuxKeys asks mux.Vars and mux.CurrentRoute for their values from a
// context that records the keys they look up.
func findMuxKeys() *muxKeys {
	spy := &keySpy{Context: context.Background()}
	r := (&http.Request{}).WithContext(spy)
	mux.Vars(r)
	mux.CurrentRoute(r)
	if len(spy.keys) != 2 {
		return nil // unknown mux version: dispatcher falls back to ServeHTTP
	}
	return &muxKeys{vars: spy.keys[0], route: spy.keys[1]}
}

// ServeHTTP implements http.Handler.
func (d *dispatcher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := stateOf(r.Context())
	if st == nil || d.keys == nil {
		d.router.ServeHTTP(w, r)
		return
	}
	if p := cleanPath(r.URL.Path); p != r.URL.Path {
		u := *r.URL
		u.Path, u.RawPath = p, ""
		w.Header().Set("Location", u.String())
		w.WriteHeader(http.StatusMovedPermanently)
		return
	}
	m := &st.match
	var (
		h       http.Handler
		matched bool
		entry   *routeEntry
	)
	if t := d.table.Load(); t != nil {
		matched, entry = t.match(d.router, r, m)
	} else {
		matched = d.router.Match(r, m)
	}
	if matched {
		h = m.Handler
		st.keys, st.vars, st.muxRoute = d.keys, m.Vars, m.Route
		if entry != nil {
			st.varsFrom, st.varsPath = entry, r.URL.Path
		}
	}
	if h == nil {
		h = http.HandlerFunc(notFound)
	}
	h.ServeHTTP(w, r)
}

// cleanPath returns the canonical form of p: rooted, without . and ..
// elements or repeated slashes, keeping a trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}
