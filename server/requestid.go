package server

import (
	"context"
	"math/rand/v2"
)

// RequestIDHeader is the HTTP header that carries a request ID. A
// well-formed incoming value (see [SimpleServer]) is kept; otherwise the
// server generates one. Either way it is set on the response.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds an accepted incoming request ID.
const maxRequestIDLen = 128

type requestIDKey struct{}

// RequestID returns the request ID of the request or call that ctx belongs
// to, or "" if there is none.
func RequestID(ctx context.Context) string {
	switch v := ctx.Value(requestIDKey{}).(type) {
	case *reqState:
		return v.id
	case *rpcCtx:
		return v.id
	case string:
		return v
	}
	return ""
}

// ContextWithRequestID returns a copy of ctx carrying id, so that
// [RequestID] returns it. The servers do this for you; it is for code that
// starts work outside a request (a consumer, a test) and wants the same
// logging and propagation.
func ContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// validRequestID reports whether an incoming request ID may be kept: 1 to
// 128 bytes of letters, digits and - _ . : + / = @. Anything else (empty,
// too long, spaces, control or non-ASCII bytes) is replaced by a fresh ID,
// so IDs are always safe to log and echo.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '_', c == '.', c == ':', c == '+', c == '/', c == '=', c == '@':
		default:
			return false
		}
	}
	return true
}

// requestIDLen is the length of a generated request ID.
const requestIDLen = 32

// newRequestID returns 32 random lower-case hex digits. The IDs are unique
// in practice but not secret: they come from math/rand/v2's per-thread
// ChaCha8 source, which is cheap and needs no lock.
func newRequestID() string {
	var b [requestIDLen]byte
	fillRequestID(&b)
	return string(b[:])
}

// fillRequestID writes a new request ID (see newRequestID) into b.
func fillRequestID(b *[requestIDLen]byte) {
	const hex = "0123456789abcdef"
	a, c := rand.Uint64(), rand.Uint64()
	for i := 0; i < 16; i++ {
		b[i] = hex[a&0xf]
		b[16+i] = hex[c&0xf]
		a >>= 4
		c >>= 4
	}
}
