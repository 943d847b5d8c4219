package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/gorilla/mux"
	"github.com/seed8104ecd5/gizmo/web"
)

// routeHandler is the handler of every route added through Register (and
// the built-in endpoints). It tells the middleware which route matched, so
// labels and logs use the template with no lookup on the hot path.
type routeHandler struct {
	info *routeInfo
	next http.Handler
}

func (h *routeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if st := stateOf(r.Context()); st != nil {
		st.route = h.info
	}
	h.next.ServeHTTP(w, r)
}

// routeResolver is installed with Router.Use. gorilla/mux applies it to the
// matched route's handler on every request. Routes added through Register
// are already routeHandlers and pass through untouched (no allocation);
// routes added directly on Router() (the escape hatch) get their template
// looked up from mux.CurrentRoute.
type routeResolver struct {
	routes sync.Map // *mux.Route -> *routeInfo
}

// Middleware implements mux.MiddlewareFunc's interface.
func (rr *routeResolver) Middleware(next http.Handler) http.Handler {
	if _, ok := next.(*routeHandler); ok {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st := stateOf(r.Context()); st != nil && st.route == nil {
			st.route = rr.info(mux.CurrentRoute(r))
		}
		next.ServeHTTP(w, r)
	})
}

func (rr *routeResolver) info(route *mux.Route) *routeInfo {
	if route == nil {
		return nil
	}
	if ri, ok := rr.routes.Load(route); ok {
		return ri.(*routeInfo)
	}
	tpl, err := route.GetPathTemplate()
	if err != nil {
		tpl = "other" // a route with no path (Host or header matchers only)
	}
	ri, _ := rr.routes.LoadOrStore(route, newRouteInfo(tpl, slog.LevelInfo))
	return ri.(*routeInfo)
}

// normalizeTemplate turns a mux path template into a key that ignores
// variable names, so "/u/{id}" and "/u/{uid}" count as the same route.
func normalizeTemplate(tpl string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(tpl, '{')
		if i < 0 {
			b.WriteString(tpl)
			return b.String()
		}
		j := strings.IndexByte(tpl[i:], '}')
		if j < 0 {
			b.WriteString(tpl)
			return b.String()
		}
		b.WriteString(tpl[:i])
		v := tpl[i+1 : i+j]
		if k := strings.IndexByte(v, ':'); k >= 0 {
			b.WriteString("{" + v[k:] + "}")
		} else {
			b.WriteString("{}")
		}
		tpl = tpl[i+j+1:]
	}
}

// checkTemplate reports whether gorilla/mux accepts tpl. mux panics,
// rather than failing, on a variable pattern with a capturing group
// ("{id:(a|b)}"); that becomes an error here too.
func checkTemplate(tpl string) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%v", v)
		}
	}()
	return mux.NewRouter().Path(tpl).GetError()
}

// notFound answers requests no route matched.
func notFound(w http.ResponseWriter, r *http.Request) {
	web.WriteError(w, r, web.NewError(http.StatusNotFound, "no route matches this path"))
}

// methodNotAllowed answers requests whose path matched a route registered
// for other methods, with an Allow header listing the methods that would
// have matched.
func methodNotAllowed(router *mux.Router) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		probe := &http.Request{Method: "", URL: &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath}, Host: r.Host, Header: r.Header}
		for _, m := range metricMethods[1:] {
			probe.Method = m
			var match mux.RouteMatch
			if router.Match(probe, &match) && match.MatchErr == nil {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
		}
		web.WriteError(w, r, web.Errorf(http.StatusMethodNotAllowed, "method %s is not allowed on this path", r.Method))
	})
}

// registerError formats a Register error naming the service and endpoint.
func registerError(svc Service, i int, ep Endpoint, format string, args ...any) error {
	return fmt.Errorf("server: register %T endpoint %d (%s %s): %s", svc, i, ep.Method, ep.Path, fmt.Sprintf(format, args...))
}
