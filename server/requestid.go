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
		return v.requestID()
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

// fillRequestID writes a new request ID into b: 32 random lower-case hex
// digits. The IDs are unique in practice but not secret: they come from
// math/rand/v2's per-thread ChaCha8 source, which is cheap and needs no
// lock.
func fillRequestID(b *[requestIDLen]byte) {
	// hexPairs holds the two hex digits of every byte value, in order.
	const hexPairs = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" +
		"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f" +
		"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f" +
		"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f" +
		"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f" +
		"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf" +
		"c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf" +
		"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
	a, c := rand.Uint64(), rand.Uint64()
	for i := 0; i < 16; i += 2 {
		x, y := 2*(a&0xff), 2*(c&0xff)
		b[i], b[i+1] = hexPairs[x], hexPairs[x+1]
		b[16+i], b[16+i+1] = hexPairs[y], hexPairs[y+1]
		a >>= 8
		c >>= 8
	}
}
