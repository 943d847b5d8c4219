package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/gorilla/mux"

	"github.com/seed8104ecd5/gizmo/server/internal/deadline"
)

// reqState is the one per-request allocation of the default middleware.
// It is at once:
//   - the storage of the request copy the handlers get (req, whose context
//     is the reqState itself) and of a generated request ID (idBuf), so
//     that neither costs an allocation of its own;
//   - the http.ResponseWriter every layer writes through (it records status
//     and bytes for logs and metrics), and
//   - the request's context.Context: it embeds the incoming context and
//     answers Value(requestIDKey{}) with itself, and mux's keys with the
//     routing results (see dispatcher), which saves three
//     context.WithValue and two Request.WithContext per request. Done, Err and Deadline are the embedded
//     context's, so cancellation propagates exactly as before.
//
// The route handler reached through the router fills in route; a JSON
// endpoint fills in err. Nothing else mutates it after the handler returns.
type reqState struct {
	context.Context
	w           http.ResponseWriter
	req         http.Request // the request as the handlers see it
	idHeader    [1]string    // the request ID, as the response header's value; may point into idBuf
	idBuf       [requestIDLen]byte
	status      int32
	wroteHeader bool
	hijacked    bool
	routed      bool // the dispatcher matched a route and set the fields below
	bytes       int64
	route       *routeInfo
	err         error // error a JSON endpoint returned, for the access log

	// Routing results, set by dispatcher and served to mux.Vars and
	// mux.CurrentRoute through Value (match.Vars and match.Route). When the
	// routeTable matched a route itself, match.Vars stays nil until the
	// first mux.Vars call builds it from varsFrom and varsPath (the path
	// as matched), under varsOnce since handlers may ask from several
	// goroutines.
	//
	// The fields are ordered, and status is an int32, so that the whole
	// struct fits the 512-byte size class: larger objects take the
	// allocator's slower path with a header, and cost the garbage
	// collector more to scan.
	match     mux.RouteMatch
	varsFrom  *routeEntry
	varsPath  string
	varsOnce  sync.Once
	varsBuilt atomic.Bool // match.Vars has been built from varsFrom
}

// Value implements context.Context.
func (s *reqState) Value(key any) any {
	if _, ok := key.(requestIDKey); ok {
		return s
	}
	if s.routed {
		switch keys := theMuxKeys(); key {
		case keys.vars:
			if s.varsFrom != nil {
				s.varsOnce.Do(s.buildVars)
			}
			if s.match.Vars != nil {
				return s.match.Vars
			}
			return nil
		case keys.route:
			if s.match.Route != nil {
				return s.match.Route
			}
			return nil
		}
	}
	return s.Context.Value(key)
}

// requestID returns the request ID.
func (s *reqState) requestID() string { return s.idHeader[0] }

// RouteVar returns the variable name of the route the request matched,
// and whether the route has it. It gives what mux.Vars(r)[name] gives,
// without building the mux.Vars map when the routeTable matched the route;
// web.RouteVar, and so web's Var getters, use it when the request's
// context is the stack's.
//
// Once mux.Vars has built the map, the map answers, since a handler may
// have changed it.
func (s *reqState) RouteVar(name string) (string, bool) {
	if s.varsFrom != nil && !s.varsBuilt.Load() {
		return s.varsFrom.pathVar(s.varsPath, name)
	}
	v, ok := s.match.Vars[name]
	return v, ok
}

// buildVars sets vars from the route the routeTable matched.
func (s *reqState) buildVars() {
	s.match.Vars = s.varsFrom.pathVars(s.varsPath)
	s.varsBuilt.Store(true)
}

// stateOf returns the reqState of the request ctx belongs to, or nil.
func stateOf(ctx context.Context) *reqState {
	st, _ := ctx.Value(requestIDKey{}).(*reqState)
	return st
}

// Header implements http.ResponseWriter.
func (s *reqState) Header() http.Header { return s.w.Header() }

// WriteHeader implements http.ResponseWriter. Informational 1xx statuses
// other than 101 pass through without counting as the final status.
func (s *reqState) WriteHeader(code int) {
	if !s.wroteHeader && (code < 100 || code > 199 || code == http.StatusSwitchingProtocols) {
		s.status = int32(code)
		s.wroteHeader = true
	}
	s.w.WriteHeader(code)
}

// implicitOK records the 200 that net/http sends when a handler writes a
// body before any header.
func (s *reqState) implicitOK() {
	if !s.wroteHeader {
		s.status = http.StatusOK
		s.wroteHeader = true
	}
}

// Write implements http.ResponseWriter.
func (s *reqState) Write(b []byte) (int, error) {
	s.implicitOK()
	n, err := s.w.Write(b)
	s.bytes += int64(n)
	return n, err
}

// WriteString implements io.StringWriter, as net/http's own ResponseWriter
// does, so that io.WriteString through the middleware does not copy s.
func (s *reqState) WriteString(str string) (int, error) {
	s.implicitOK()
	var n int
	var err error
	if sw, ok := s.w.(io.StringWriter); ok {
		n, err = sw.WriteString(str)
	} else {
		n, err = s.w.Write([]byte(str))
	}
	s.bytes += int64(n)
	return n, err
}

// ReadFrom keeps the sendfile fast path of the underlying writer.
func (s *reqState) ReadFrom(src io.Reader) (int64, error) {
	s.implicitOK()
	var n int64
	var err error
	if rf, ok := s.w.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{s.w}, src)
	}
	s.bytes += n
	return n, err
}

type writerOnly struct{ io.Writer }

// Flush implements http.Flusher when the underlying writer does.
func (s *reqState) Flush() {
	s.implicitOK()
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack implements http.Hijacker when the underlying writer does.
func (s *reqState) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := s.w.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("server: response writer does not support hijacking")
	}
	c, rw, err := hj.Hijack()
	if err == nil {
		// The handler owns the connection now: give it the socket itself,
		// with exact deadlines, rather than the listener's wrapper.
		c = deadline.Release(c)
		s.hijacked = true
		if !s.wroteHeader {
			s.status = http.StatusSwitchingProtocols
			s.wroteHeader = true
		}
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the underlying writer (for
// deadlines and full-duplex).
func (s *reqState) Unwrap() http.ResponseWriter { return s.w }
