package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/seed8104ecd5/gizmo/web"
)

// A Service is a group of endpoints that share a path prefix and
// middleware. Register it on a [SimpleServer].
type Service interface {
	// Prefix is prepended to every endpoint path, e.g. "/v1/users". It is
	// empty or starts with "/"; a trailing "/" is ignored.
	Prefix() string
	// Middleware wraps every endpoint handler of the service. Return the
	// handler unchanged for none. It runs after routing, inside the
	// server's default middleware.
	Middleware(http.Handler) http.Handler
	// Endpoints lists the endpoints in order. Routes are matched in
	// registration order, so where two paths overlap (/users/me and
	// /users/{id}) the one listed first wins.
	Endpoints() []Endpoint
}

// An Endpoint is one route of a [Service].
type Endpoint struct {
	// Method is the HTTP method, such as http.MethodGet. Required.
	Method string
	// Path is a gorilla/mux path template relative to the service prefix,
	// such as "/{id}" or "/{id:[0-9]+}".
	Path string
	// Handler serves the endpoint. Use [JSON] for a [JSONEndpoint].
	Handler http.Handler
}

// A JSONEndpoint handles a request and returns the status, a body to encode
// as JSON, and an error.
//
// A nil error writes body with the status (0 means 200; 204 and 304 write
// no body). A non-nil error is written as problem+json by web.WriteError:
// a *web.Error keeps its status and client-facing text; an
// *http.MaxBytesError (also inside the *web.Error of web.DecodeJSON)
// becomes 413 naming the limit that was hit; any other error is sent as the returned
// status if it is 400 or more, and as 500 otherwise, with none of its text.
// The error's text goes to the access log either way.
type JSONEndpoint func(ctx context.Context, r *http.Request) (status int, body any, err error)

// JSON adapts fn to an http.Handler. It is the same as JSONEndpoint(fn).
func JSON(fn func(ctx context.Context, r *http.Request) (status int, body any, err error)) http.Handler {
	return JSONEndpoint(fn)
}

// ServeHTTP implements http.Handler.
func (fn JSONEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, body, err := fn(r.Context(), r)
	if err != nil {
		writeEndpointError(w, r, status, err)
		return
	}
	if status == 0 {
		status = http.StatusOK
	}
	if status == http.StatusNoContent || status == http.StatusNotModified {
		w.WriteHeader(status)
		return
	}
	if err := web.WriteJSON(w, status, body); err != nil {
		if st := stateOf(r.Context()); st != nil && !st.wroteHeader {
			writeEndpointError(w, r, http.StatusInternalServerError, err)
		} else if st == nil {
			// Outside the server's stack we cannot tell whether anything
			// was written; WriteJSON writes nothing when encoding fails.
			web.WriteError(w, r, err)
		}
	}
}

func writeEndpointError(w http.ResponseWriter, r *http.Request, status int, err error) {
	if st := stateOf(r.Context()); st != nil {
		st.err = err
	}
	var we *web.Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe) && (!errors.As(err, &we) || we.Status == http.StatusRequestEntityTooLarge):
		// Report the limit that was actually hit: web.DecodeJSON states
		// its own limit even when the server's smaller one cut the body.
		err = &web.Error{Status: http.StatusRequestEntityTooLarge, Detail: bodyTooLarge(mbe.Limit).Detail, Err: err}
	case errors.As(err, &we):
	case status >= 400 && status <= 599:
		err = &web.Error{Status: status, Err: err}
	}
	web.WriteError(w, r, err)
}
