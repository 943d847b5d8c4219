package server

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"
)

// routeTable is a read-only copy of the SimpleServer's route list, in
// gorilla/mux's order, that matches requests the way mux.Router.Match
// would, without running mux's regular expressions for the common route
// shape.
//
// A route qualifies for the fast form ("simple") when it has only a Path
// matcher and a Methods matcher (every route added by Register and the
// built-in endpoints) and its template consists of whole segments that are
// either literal or a plain variable ("/users/{id}/orders"). mux compiles
// such a template to "^/users/(?P<v0>[^/]+)/orders$", which accepts exactly
// the paths with the same number of segments, equal literal segments and a
// non-empty segment for each variable; routeEntry.matchPath tests that
// directly. Any other route (a variable with a pattern, a variable sharing a
// segment with text) keeps mux's own Route.Match, in its place in the
// order, so the outcome is always mux's. TestRouteTableAgreesWithMux and
// FuzzRouteTable compare the two on random route lists and requests.
//
// The table only describes the router while nothing else has touched it:
// SimpleServer.Router hands the router out for arbitrary changes (routes,
// StrictSlash, UseEncodedPath, Use), so calling it drops the table for good
// and matching goes back to mux.Router.Match.
type routeTable struct {
	entries []*routeEntry
	// middleware is the router's own (Router.Use), applied to a matched
	// handler as mux does. SimpleServer installs exactly one: the route
	// resolver, which returns route handlers unchanged.
	middleware func(http.Handler) http.Handler
}

// routeEntry is one route of a routeTable.
type routeEntry struct {
	route   *mux.Route
	handler http.Handler
	methods []string // upper case, as mux stores them
	simple  bool     // matchPath applies; otherwise route.Match does

	template string    // the path template (simple entries)
	literal  bool      // simple template without variables: compare whole paths
	segs     []segment // simple template split at '/', after the leading one
	vars     int       // number of variable segments
}

// segment is one '/'-separated piece of a simple template.
type segment struct {
	lit   string // the literal text, when name is ""
	name  string // the variable name, for a "{name}" segment
	isVar bool
}

// newRouteEntry describes route, added with Path(template).Methods(methods...).
func newRouteEntry(route *mux.Route, template string, methods []string) *routeEntry {
	e := &routeEntry{route: route, handler: route.GetHandler(), methods: methods, template: template}
	e.segs, e.simple = splitTemplate(template)
	for _, s := range e.segs {
		if s.isVar {
			e.vars++
		}
	}
	e.literal = e.simple && e.vars == 0
	if route.GetError() != nil {
		e.simple = false // mux never matches a broken route; let it say so
	}
	return e
}

// splitTemplate splits a path template into segments and reports whether
// it is simple: it starts with '/' and every '{' opens a variable without a
// pattern that fills its whole segment.
func splitTemplate(tpl string) ([]segment, bool) {
	if !strings.HasPrefix(tpl, "/") {
		return nil, false
	}
	parts := strings.Split(tpl[1:], "/")
	segs := make([]segment, len(parts))
	for i, p := range parts {
		if !strings.ContainsAny(p, "{}") {
			segs[i] = segment{lit: p}
			continue
		}
		if len(p) < 3 || p[0] != '{' || p[len(p)-1] != '}' {
			return nil, false
		}
		name := p[1 : len(p)-1]
		if strings.ContainsAny(name, "{}:") {
			return nil, false
		}
		segs[i] = segment{name: name, isVar: true}
	}
	return segs, true
}

// matchPath reports whether path matches the simple template of e.
func (e *routeEntry) matchPath(path string) bool {
	if e.literal {
		return path == e.template
	}
	if len(path) == 0 || path[0] != '/' {
		return false
	}
	rest := path[1:]
	last := len(e.segs) - 1
	for i, s := range e.segs {
		seg, next, more := strings.Cut(rest, "/")
		if more != (i != last) {
			return false // the path has more or fewer segments
		}
		if s.isVar {
			if seg == "" {
				return false
			}
		} else if seg != s.lit {
			return false
		}
		rest = next
	}
	return true
}

// pathVars returns the variables of path, which matched e, as mux.Vars
// would: a new map, empty when the template has no variables.
func (e *routeEntry) pathVars(path string) map[string]string {
	vars := make(map[string]string, e.vars)
	for _, s := range e.segs {
		if s.isVar {
			vars[s.name], _ = e.pathVar(path, s.name)
		}
	}
	return vars
}

// pathVar returns the variable name of path, which matched e, and whether
// e's template has it: pathVars(path)[name] without the map. A name the
// template repeats has its last value, as mux gives it.
func (e *routeEntry) pathVar(path, name string) (v string, ok bool) {
	if e.vars == 0 {
		return "", false
	}
	rest := path[1:]
	for _, s := range e.segs {
		var seg string
		seg, rest, _ = strings.Cut(rest, "/")
		if s.isVar && s.name == name {
			v, ok = seg, true
		}
	}
	return v, ok
}

// hasMethod reports whether method is one of e's, compared as mux does
// (exactly, against the upper-cased list).
func (e *routeEntry) hasMethod(method string) bool {
	for _, m := range e.methods {
		if m == method {
			return true
		}
	}
	return false
}

// match finds the route for r and fills m as router.Match(r, m) would,
// returning the same result. For a simple route it leaves m.Vars nil and
// returns the entry, whose pathVars(r.URL.Path) are the route variables.
func (t *routeTable) match(router *mux.Router, r *http.Request, m *mux.RouteMatch) (bool, *routeEntry) {
	path := r.URL.Path
	for _, e := range t.entries {
		if !e.simple {
			if e.route.Match(r, m) {
				if m.MatchErr == nil {
					m.Handler = t.middleware(m.Handler)
				}
				return true, nil
			}
			continue
		}
		// mux.Route.Match for the matchers [path, methods], in that order.
		if !e.matchPath(path) {
			if m.MatchErr == mux.ErrNotFound {
				m.MatchErr = nil
			}
			continue
		}
		if m.MatchErr == mux.ErrMethodMismatch {
			m.MatchErr = nil
		}
		if !e.hasMethod(r.Method) {
			m.MatchErr = mux.ErrMethodMismatch
			continue
		}
		if m.Route == nil {
			m.Route = e.route
		}
		if m.Handler == nil {
			m.Handler = e.handler
		}
		m.Handler = t.middleware(m.Handler)
		return true, e
	}
	// mux.Router.Match after no route matched.
	if m.MatchErr == mux.ErrMethodMismatch {
		if router.MethodNotAllowedHandler != nil {
			m.Handler = router.MethodNotAllowedHandler
			return true, nil
		}
		return false, nil
	}
	m.MatchErr = mux.ErrNotFound
	if router.NotFoundHandler != nil {
		m.Handler = router.NotFoundHandler
		return true, nil
	}
	return false, nil
}

// with returns a copy of t with e appended.
func (t *routeTable) with(e *routeEntry) *routeTable {
	entries := make([]*routeEntry, len(t.entries), len(t.entries)+1)
	copy(entries, t.entries)
	return &routeTable{entries: append(entries, e), middleware: t.middleware}
}
