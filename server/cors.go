package server

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seed8104ecd5/gizmo/web"
)

// CORSOptions configures the [CORS] middleware.
type CORSOptions struct {
	// AllowedOrigins lists the exact origins allowed, such as
	// "https://app.example.com" or "http://localhost:3000". Required; there
	// is no wildcard.
	AllowedOrigins []string
	// AllowedMethods lists the methods a preflight may ask for. Default:
	// GET, HEAD, POST.
	AllowedMethods []string
	// AllowedHeaders lists the request headers a preflight may ask for
	// (case-insensitive). Default: Content-Type.
	AllowedHeaders []string
	// ExposedHeaders lists the response headers scripts may read. Default:
	// X-Request-Id.
	ExposedHeaders []string
	// AllowCredentials lets browsers send cookies and HTTP authentication.
	AllowCredentials bool
	// MaxAge is how long browsers may cache a preflight answer. Zero sends
	// no Access-Control-Max-Age.
	MaxAge time.Duration
}

// CORS returns middleware that answers CORS preflight requests and adds
// CORS headers to responses for requests from the allowed origins. Requests
// from other origins get no CORS headers (so browsers block them), and their
// preflights get 403. Add it with [WithMiddleware]; it runs before routing,
// so preflights need no OPTIONS routes.
//
// It returns an error for an origin that is not scheme://host[:port].
func CORS(opts CORSOptions) (func(http.Handler) http.Handler, error) {
	if len(opts.AllowedOrigins) == 0 {
		return nil, fmt.Errorf("server: CORS: AllowedOrigins is empty")
	}
	origins := make(map[string]bool, len(opts.AllowedOrigins))
	for _, o := range opts.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
			return nil, fmt.Errorf("server: CORS: origin %q is not scheme://host[:port]", o)
		}
		origins[strings.ToLower(u.Scheme+"://"+u.Host)] = true
	}
	methods := opts.AllowedMethods
	if len(methods) == 0 {
		methods = []string{http.MethodGet, http.MethodHead, http.MethodPost}
	}
	headers := opts.AllowedHeaders
	if len(headers) == 0 {
		headers = []string{"Content-Type"}
	}
	allowedHeader := make(map[string]bool, len(headers))
	for _, h := range headers {
		allowedHeader[strings.ToLower(h)] = true
	}
	exposed := opts.ExposedHeaders
	if len(exposed) == 0 {
		exposed = []string{RequestIDHeader}
	}
	allowMethods := strings.Join(methods, ", ")
	allowHeaders := strings.Join(headers, ", ")
	exposeHeaders := strings.Join(exposed, ", ")
	maxAge := ""
	if opts.MaxAge > 0 {
		maxAge = strconv.Itoa(int(opts.MaxAge / time.Second))
	}

	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			origin := r.Header.Get("Origin")
			h := w.Header()
			preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
			if preflight {
				h.Add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
			} else {
				h.Add("Vary", "Origin")
			}
			if origin == "" {
				next.ServeHTTP(w, r)
				return
			}
			ok := origins[strings.ToLower(origin)]
			if !preflight {
				if ok {
					h.Set("Access-Control-Allow-Origin", origin)
					if opts.AllowCredentials {
						h.Set("Access-Control-Allow-Credentials", "true")
					}
					h.Set("Access-Control-Expose-Headers", exposeHeaders)
				}
				next.ServeHTTP(w, r)
				return
			}
			if !ok {
				web.WriteError(w, r, web.Errorf(http.StatusForbidden, "CORS: origin %q is not allowed", origin))
				return
			}
			if m := r.Header.Get("Access-Control-Request-Method"); !slices.Contains(methods, m) {
				web.WriteError(w, r, web.Errorf(http.StatusForbidden, "CORS: method %q is not allowed", m))
				return
			}
			for _, line := range r.Header.Values("Access-Control-Request-Headers") {
				for name := range strings.SplitSeq(line, ",") {
					name = strings.ToLower(strings.TrimSpace(name))
					if name != "" && !allowedHeader[name] {
						web.WriteError(w, r, web.Errorf(http.StatusForbidden, "CORS: header %q is not allowed", name))
						return
					}
				}
			}
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", allowMethods)
			h.Set("Access-Control-Allow-Headers", allowHeaders)
			if opts.AllowCredentials {
				h.Set("Access-Control-Allow-Credentials", "true")
			}
			if maxAge != "" {
				h.Set("Access-Control-Max-Age", maxAge)
			}
			w.WriteHeader(http.StatusNoContent)
		})
	}, nil
}

// NoCache is middleware that tells clients and proxies not to store or
// reuse responses, and drops the request's If-None-Match and
// If-Modified-Since headers so handlers never answer 304. (Preconditions
// for writes, If-Match and If-Unmodified-Since, are kept.)
func NoCache(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0")
		h.Set("Pragma", "no-cache")
		h.Set("Expires", "0")
		_, inm := r.Header["If-None-Match"]
		_, ims := r.Header["If-Modified-Since"]
		if inm || ims {
			r = r.Clone(r.Context())
			r.Header.Del("If-None-Match")
			r.Header.Del("If-Modified-Since")
		}
		next.ServeHTTP(w, r)
	})
}
