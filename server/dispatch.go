package server

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"sync"
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
// Unlike mux, it never names a host in that redirect: Location is the clean
// path (and query) alone, so an absolute-form request target such as
// "GET http://evil.example//x" cannot turn the server into an open
// redirect. For the same reason a request with an absolute-form target is
// matched as its origin-form copy, so that the redirects mux builds from
// the request URL (StrictSlash) are relative too; the handler still gets
// the request as it came.
//
// While the server's routeTable exists (SimpleServer.Router has not been
// called) it matches with the table, which gives Router.Match's results;
// for a route the table matched itself, the reqState builds the mux.Vars
// map the first time it is asked for.
type dispatcher struct {
	router *mux.Router
	table  *atomic.Pointer[routeTable]
}

// muxKeys are the (unexported) context keys gorilla/mux reads in mux.Vars
// and mux.CurrentRoute, discovered by findMuxKeys.
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

// theMuxKeys returns the keys of the gorilla/mux linked in, found once
// (they are fixed for the program's life), or nil for a mux version whose
// lookups findMuxKeys does not recognise.
var theMuxKeys = sync.OnceValue(findMuxKeys)

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
	if p := cleanPath(r.URL.Path); p != r.URL.Path {
		// Relative: never the scheme and host of an absolute-form target.
		// p is rooted and has no "//", and String escapes what a browser
		// could read as a host ("/\evil" becomes "/%5Cevil").
		u := url.URL{Path: p, RawQuery: r.URL.RawQuery}
		w.Header().Set("Location", u.String())
		w.WriteHeader(http.StatusMovedPermanently)
		return
	}
	st := stateOf(r.Context())
	if st == nil || theMuxKeys() == nil {
		d.router.ServeHTTP(w, r)
		return
	}
	mr := r // the request as the router sees it
	if r.URL.Scheme != "" || r.URL.Host != "" || r.URL.User != nil {
		u := *r.URL
		u.Scheme, u.Host, u.User = "", "", nil
		c := *r
		c.URL = &u
		mr = &c
	}
	m := &st.match
	var (
		h       http.Handler
		matched bool
		entry   *routeEntry
	)
	if t := d.table.Load(); t != nil {
		matched, entry = t.match(d.router, mr, m)
	} else {
		matched = d.router.Match(mr, m)
	}
	if matched {
		h = m.Handler
		st.routed = true
		if entry != nil {
			st.varsFrom, st.varsPath = entry, r.URL.Path
		}
	} else {
		// mux.Vars and mux.CurrentRoute see nothing of a failed match.
		m.Vars, m.Route = nil, nil
	}
	if h == nil {
		h = http.HandlerFunc(notFound)
	}
	h.ServeHTTP(w, r)
}

// cleanPath returns the canonical form of p: rooted, without . and ..
// elements or repeated slashes, keeping a trailing slash.
func cleanPath(p string) string {
	if isCleanPath(p) {
		return p
	}
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

// isCleanPath reports, cheaply and conservatively, that cleanPath would
// return p unchanged: p is rooted and no slash in it is followed by another
// slash or a dot. Paths it turns down ("/.well-known") go through
// path.Clean.
func isCleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 1; i < len(p); i++ {
		if p[i-1] == '/' && (p[i] == '/' || p[i] == '.') {
			return false
		}
	}
	return true
}
