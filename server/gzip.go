package server

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// GzipOptions configures the [Gzip] middleware.
type GzipOptions struct {
	// Level is a compress/gzip level: 1 (fastest) to 9 (smallest), or
	// gzip.DefaultCompression or gzip.HuffmanOnly. Zero means
	// gzip.DefaultCompression.
	Level int
	// MinSize is the smallest body worth compressing; shorter responses are
	// sent as they are. Zero means 1024 bytes.
	MinSize int
}

// Gzip returns middleware that compresses responses with gzip when the
// client accepts it. It always adds "Vary: Accept-Encoding"; it leaves
// alone responses that already have a Content-Encoding, bodiless
// responses, range requests, HEAD requests, bodies shorter than MinSize and
// already-compressed media types (images other than SVG, audio, video,
// archives). It removes Content-Length and weakens a strong ETag when it
// compresses. It returns an error for an invalid level.
func Gzip(opts GzipOptions) (func(http.Handler) http.Handler, error) {
	level := opts.Level
	if level == 0 {
		level = gzip.DefaultCompression
	}
	if _, err := gzip.NewWriterLevel(io.Discard, level); err != nil {
		return nil, fmt.Errorf("server: Gzip: level %d: %w", opts.Level, err)
	}
	minSize := opts.MinSize
	if minSize <= 0 {
		minSize = 1024
	}
	pool := &sync.Pool{New: func() any {
		zw, _ := gzip.NewWriterLevel(io.Discard, level) // level checked above
		return zw
	}}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Vary", "Accept-Encoding")
			if r.Method == http.MethodHead || r.Header.Get("Range") != "" || !acceptsGzip(r.Header.Values("Accept-Encoding")) {
				next.ServeHTTP(w, r)
				return
			}
			gw := &gzipWriter{w: w, pool: pool, minSize: minSize}
			defer gw.close()
			next.ServeHTTP(gw, r)
		})
	}, nil
}

// acceptsGzip reports whether Accept-Encoding header lines allow gzip:
// "gzip" or "x-gzip" with a non-zero q, or "*" with a non-zero q when gzip
// is not refused explicitly.
func acceptsGzip(lines []string) bool {
	gz, star := -1, -1 // -1 unknown, 0 refused, 1 accepted
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ",") {
			name, params, _ := strings.Cut(part, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			ok := 1
			for p := range strings.SplitSeq(params, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(strings.TrimSpace(k), "q") {
					if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil || q <= 0 {
						ok = 0
					}
				}
			}
			switch name {
			case "gzip", "x-gzip":
				gz = max(gz, ok)
			case "*":
				star = max(star, ok)
			}
		}
	}
	if gz >= 0 {
		return gz == 1
	}
	return star == 1
}

// gzipWriter buffers the start of the body until it knows whether to
// compress, then either streams through gzip or passes everything on.
type gzipWriter struct {
	w       http.ResponseWriter
	pool    *sync.Pool
	minSize int
	status  int
	buf     []byte
	decided bool
	zw      *gzip.Writer // non-nil once compressing
}

func (g *gzipWriter) Header() http.Header { return g.w.Header() }

func (g *gzipWriter) Unwrap() http.ResponseWriter { return g.w }

func (g *gzipWriter) WriteHeader(code int) {
	if g.decided || g.status != 0 {
		g.w.WriteHeader(code) // superfluous: let net/http complain
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		g.w.WriteHeader(code)
		return
	}
	g.status = code
	if !g.compressible() {
		g.decide(false)
	}
}

func (g *gzipWriter) Write(b []byte) (int, error) {
	if !g.decided {
		if g.status == 0 {
			g.status = http.StatusOK
		}
		if !g.compressible() {
			g.decide(false)
		} else {
			g.buf = append(g.buf, b...)
			if len(g.buf) < g.minSize {
				return len(b), nil
			}
			if err := g.decide(true); err != nil {
				return 0, err
			}
			return len(b), nil
		}
	}
	if g.zw != nil {
		return g.zw.Write(b)
	}
	return g.w.Write(b)
}

// Flush sends what is buffered, compressing if the response qualifies.
func (g *gzipWriter) Flush() {
	if !g.decided {
		if g.status == 0 {
			g.status = http.StatusOK
		}
		_ = g.decide(g.compressible())
	}
	if g.zw != nil {
		_ = g.zw.Flush()
	}
	if f, ok := g.w.(http.Flusher); ok {
		f.Flush()
	}
}

// compressible reports whether the response, as far as its status and
// headers tell, may be compressed.
func (g *gzipWriter) compressible() bool {
	switch {
	case g.status < 200, g.status == http.StatusNoContent, g.status == http.StatusNotModified,
		g.status == http.StatusPartialContent:
		return false
	}
	h := g.w.Header()
	if h.Get("Content-Encoding") != "" {
		return false
	}
	if cl := h.Get("Content-Length"); cl != "" {
		if n, err := strconv.Atoi(cl); err == nil && n < g.minSize {
			return false
		}
	}
	ct := strings.ToLower(h.Get("Content-Type"))
	switch {
	case strings.HasPrefix(ct, "image/") && !strings.HasPrefix(ct, "image/svg"),
		strings.HasPrefix(ct, "audio/"), strings.HasPrefix(ct, "video/"),
		strings.HasPrefix(ct, "application/zip"), strings.HasPrefix(ct, "application/gzip"),
		strings.HasPrefix(ct, "application/x-gzip"), strings.HasPrefix(ct, "application/zstd"),
		strings.HasPrefix(ct, "font/woff"):
		return false
	}
	return true
}

// decide sends the header and the buffered bytes, compressed or not.
func (g *gzipWriter) decide(compress bool) error {
	g.decided = true
	h := g.w.Header()
	if compress {
		if h.Get("Content-Type") == "" && len(g.buf) > 0 {
			// net/http would sniff the compressed bytes; sniff the plain ones.
			h.Set("Content-Type", http.DetectContentType(g.buf))
		}
		h.Set("Content-Encoding", "gzip")
		h.Del("Content-Length")
		if et := h.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
			h.Set("ETag", "W/"+et)
		}
		g.zw = g.pool.Get().(*gzip.Writer)
		g.zw.Reset(g.w)
	}
	if g.status != 0 {
		g.w.WriteHeader(g.status)
	}
	buf := g.buf
	g.buf = nil
	if len(buf) == 0 {
		return nil
	}
	var err error
	if g.zw != nil {
		_, err = g.zw.Write(buf)
	} else {
		_, err = g.w.Write(buf)
	}
	return err
}

// close finishes the response after the handler returns.
func (g *gzipWriter) close() {
	if !g.decided {
		if g.status == 0 && len(g.buf) == 0 {
			return // nothing written: let net/http send its default 200
		}
		_ = g.decide(false) // shorter than MinSize
	}
	if g.zw != nil {
		_ = g.zw.Close()
		g.zw.Reset(io.Discard)
		g.pool.Put(g.zw)
		g.zw = nil
	}
}
