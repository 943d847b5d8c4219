package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

type benchDoc struct {
	ID    int64             `json:"id"`
	Name  string            `json:"name"`
	Tags  []string          `json:"tags"`
	Attrs map[string]string `json:"attrs"`
	Items []item            `json:"items"`
}

func benchBody(items int) []byte {
	d := benchDoc{ID: 42, Name: "widget", Tags: []string{"a", "b", "c"}, Attrs: map[string]string{"k": "v", "x": "y"}}
	for i := range items {
		d.Items = append(d.Items, item{Count: i})
	}
	b, _ := json.Marshal(d)
	return b
}

// benchSizes are a small body (no items) and a ~16 KiB one.
var benchSizes = []int{0, 1600}

// BenchmarkDecodeJSON compares DecodeJSON ("web") with decoding straight from
// the body with encoding/json ("stdlib"), which has no limit, no trailing-data
// check and no position information.
func BenchmarkDecodeJSON(b *testing.B) {
	for _, n := range benchSizes {
		body := benchBody(n)
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("Content-Type", "application/json")
		r.ContentLength = int64(len(body))
		rd := bytes.NewReader(body)
		for _, impl := range []string{"web", "stdlib"} {
			b.Run(fmt.Sprintf("impl=%s/bytes=%d", impl, len(body)), func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					rd.Reset(body)
					r.Body = readCloser{rd}
					var d benchDoc
					var err error
					if impl == "web" {
						err = DecodeJSON(r, &d)
					} else {
						dec := json.NewDecoder(r.Body)
						dec.DisallowUnknownFields()
						err = dec.Decode(&d)
					}
					if err != nil || d.ID != 42 {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// discardWriter is a ResponseWriter that keeps only the byte count.
type discardWriter struct {
	h http.Header
	n int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// BenchmarkWriteJSON compares WriteJSON ("web") with json.NewEncoder(w).Encode
// ("stdlib"), which streams and so cannot take an encoding error back.
func BenchmarkWriteJSON(b *testing.B) {
	for _, n := range benchSizes {
		var d benchDoc
		if err := json.Unmarshal(benchBody(n), &d); err != nil {
			b.Fatal(err)
		}
		for _, impl := range []string{"web", "stdlib"} {
			w := &discardWriter{h: http.Header{}}
			b.Run(fmt.Sprintf("impl=%s/items=%d", impl, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					var err error
					if impl == "web" {
						err = WriteJSON(w, 200, d)
					} else {
						w.h.Set("Content-Type", "application/json")
						w.WriteHeader(200)
						err = json.NewEncoder(w).Encode(d)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkClientIP measures the walk over a three-hop X-Forwarded-For.
func BenchmarkClientIP(b *testing.B) {
	res := ClientIPResolver{TrustedProxies: mustProxies(b, "10.0.0.0/8", "172.16.0.0/12")}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:5555"
	r.Header.Set("X-Forwarded-For", strings.Join([]string{"203.0.113.9", "172.16.1.1", "10.2.3.4"}, ", "))
	want := netip.MustParseAddr("203.0.113.9")
	b.ReportAllocs()
	for b.Loop() {
		if res.ClientIP(r) != want {
			b.Fatal("wrong address")
		}
	}
}
