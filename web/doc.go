// Package web holds request and response helpers for HTTP handlers: JSON
// bodies, RFC 9457 problem responses, typed route and query parameters, and
// the client address behind trusted proxies. It has no state of its own and
// imports nothing else from gizmo.
//
// # Errors
//
// An [*Error] carries an HTTP status and client-safe text, plus a cause
// (Err) that is kept for logs and never sent. [WriteError] renders any error as
// application/problem+json: an *Error with its status, anything else as a bare
// 500 that leaks nothing. Every helper in this package that rejects client
// input returns an *Error, so a handler can pass it straight on:
//
//	var in CreateUser
//	if err := web.DecodeJSON(r, &in); err != nil {
//		web.WriteError(w, r, err)
//		return
//	}
//
// # JSON
//
// [DecodeJSON] reads exactly one JSON value from a body of bounded size,
// rejects unknown fields by default, and names what was wrong: the line and
// column of a syntax error, the field of a type mismatch, the unknown field.
// [WriteJSON] encodes before writing, so an encoding failure can still become
// an error response.
//
// # Parameters
//
// The getters come in three kinds:
//
//   - Var<T>(r, name) reads a route variable, from gorilla/mux when the request
//     was routed by mux, otherwise from [http.Request.PathValue]. Route
//     variables are required: when the route defines none of that name, or it
//     is empty, the error has status 500 (the route and the handler disagree,
//     which is a server bug) and no client-visible detail.
//   - Query<T>(r, name) reads a required query parameter: absent or empty
//     gives 400.
//   - Query<T>Default(r, name, def) returns def when the parameter is absent or
//     empty.
//
// On any error the value returned is the zero value. Missing values wrap
// [ErrMissingParam]. A present value that does not parse
// gives 400 wrapping [ErrInvalidParam], with a detail naming the parameter and
// quoting the value, and Field set to the name. When a query parameter is
// repeated, the first value is used. T is String, Int64, Uint64 (base 10), Bool
// (see [ParseBool]) or Date ([DateLayout], as midnight UTC);
// [QueryDateRange] reads two dates and checks their order.
//
// # Client address
//
// [ClientIPResolver] returns the peer address, and believes a forwarding header
// (X-Forwarded-For by default, or RFC 7239 Forwarded) only when the peer is a
// trusted proxy, walking the header from the right past further trusted
// proxies. A client outside the trusted networks cannot spoof its address.
package web
