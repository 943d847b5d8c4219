package web

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

type fuzzDoc struct {
	S   string            `json:"s"`
	N   int16             `json:"n"`
	U   uint64            `json:"u"`
	F   float64           `json:"f"`
	B   bool              `json:"b"`
	P   *fuzzDoc          `json:"p"`
	L   []int             `json:"l"`
	M   map[string]string `json:"m"`
	Any any               `json:"any"`
}

// asError asserts err is a *Error with a 4xx status and a detail, and returns it.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("err = %T %v, want *Error", err, err)
	}
	if e.Status < 400 || e.Status > 499 || e.Detail == "" {
		t.Fatalf("got status %d, detail %q; want a 4xx with detail", e.Status, e.Detail)
	}
	return e
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"s":"x","n":-3,"u":7,"f":1.5e3,"b":true,"p":{"s":"y"},"l":[1,2],"m":{"k":"v"},"any":[null,{}]}`,
		`{"n":40000}`, `{"zz":1}`, `[]`, `{"s":"\ud800"}`, "{}\n{}", `{"p":{"p":{"l":[1,"x"]}}}`, "", " ", `{"s":`,
		"\xff", `{"f":1e400}`,
		// Deep nesting: 40 typed levels within the limit, and far past
		// encoding/json's depth limit (refused by size here).
		strings.Repeat(`{"p":`, 40) + `{"l":[1,"x"]}` + strings.Repeat("}", 40),
		strings.Repeat("[", 10_001) + strings.Repeat("]", 10_001),
	} {
		f.Add(s)
	}
	const limit = 256
	f.Fuzz(func(t *testing.T, body string) {
		var d fuzzDoc
		err := DecodeJSON(jsonRequest(body, "application/json"), &d, MaxBytes(limit))
		if len(body) > limit {
			if e := asError(t, err); e.Status != 413 {
				t.Fatalf("body of %d bytes: status %d, want 413", len(body), e.Status)
			}
			return
		}
		if err != nil {
			e := asError(t, err)
			if e.Status != 400 {
				t.Fatalf("status %d, want 400: %v", e.Status, e)
			}
			return
		}
		if !json.Valid([]byte(body)) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		// What was accepted survives a round trip unchanged.
		out, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", d, err)
		}
		var again fuzzDoc
		if err := DecodeJSON(jsonRequest(string(out), ""), &again, MaxBytes(int64(len(out)))); err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		if !reflect.DeepEqual(d, again) {
			t.Fatalf("round trip changed the value:\n%+v\n%+v", d, again)
		}
	})
}

// queryReq returns a URL whose query parameter "v" has value v.
func queryReq(v string) *url.URL {
	return &url.URL{Path: "/", RawQuery: url.Values{"v": {v}}.Encode()}
}

func FuzzParseBool(f *testing.F) {
	for _, s := range []string{"true", "F", "yes", "On", "0", "", "maybe", "TrUe", "\u212a"} {
		f.Add(s)
	}
	words := map[string]bool{"true": true, "1": true, "yes": true, "y": true, "on": true, "t": true,
		"false": false, "0": false, "no": false, "n": false, "off": false, "f": false}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := ParseBool(s)
		var want, known bool
		for w, b := range words {
			if strings.EqualFold(s, w) && len(s) == len(w) {
				want, known = b, true
			}
		}
		if ok != known || v != want {
			t.Fatalf("ParseBool(%q) = %v, %v; want %v, %v", s, v, ok, want, known)
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.URL = queryReq(s)
		got, err := QueryBool(r, "v")
		switch {
		case s == "":
			if !errors.Is(asError(t, err), ErrMissingParam) {
				t.Fatalf("empty value: %v", err)
			}
		case ok:
			if err != nil || got != v {
				t.Fatalf("QueryBool(%q) = %v, %v", s, got, err)
			}
		default:
			if e := asError(t, err); e.Field != "v" || !errors.Is(e, ErrInvalidParam) {
				t.Fatalf("QueryBool(%q) error %+v", s, e)
			}
		}
	})
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2024-02-29", "2023-02-29", "0000-01-01", "9999-12-31", "2024-1-1", "", "2024-02-29Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, _, err := parseDate(s)
		if err == nil {
			if got := d.Format(DateLayout); got != s {
				t.Fatalf("parseDate(%q) = %v, which formats as %q", s, d, got)
			}
			if d.Location() != time.UTC || d.Hour() != 0 || d.Minute() != 0 || d.Second() != 0 || d.Nanosecond() != 0 {
				t.Fatalf("parseDate(%q) = %v, want midnight UTC", s, d)
			}
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.URL = queryReq(s)
		got, qerr := QueryDate(r, "v")
		if s != "" && (qerr == nil) != (err == nil) || qerr == nil && !got.Equal(d) {
			t.Fatalf("QueryDate(%q) = %v, %v; parseDate: %v, %v", s, got, qerr, d, err)
		}
		if qerr != nil {
			asError(t, qerr)
		}
	})
}

func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"0", "-1", "+7", "007", "9223372036854775807", "9223372036854775808",
		"-9223372036854775808", "18446744073709551615", "18446744073709551616", "1_000", "0x10", " 1", "", "-0"} {
		f.Add(s)
	}
	minI, maxI := big.NewInt(math.MinInt64), big.NewInt(math.MaxInt64)
	maxU := new(big.Int).SetUint64(math.MaxUint64)
	f.Fuzz(func(t *testing.T, s string) {
		// Oracle: an optionally signed run of decimal digits, in range.
		n, isNum := new(big.Int).SetString(s, 10)
		isNum = isNum && !strings.Contains(s, "_")

		i, _, err := parseInt64(s)
		if wantOK := isNum && n.Cmp(minI) >= 0 && n.Cmp(maxI) <= 0; wantOK != (err == nil) || wantOK && n.Int64() != i {
			t.Fatalf("parseInt64(%q) = %d, %v", s, i, err)
		}
		unsigned := !strings.HasPrefix(s, "+") && !strings.HasPrefix(s, "-")
		u, _, uerr := parseUint64(s)
		if wantOK := isNum && unsigned && n.Sign() >= 0 && n.Cmp(maxU) <= 0; wantOK != (uerr == nil) || wantOK && n.Uint64() != u {
			t.Fatalf("parseUint64(%q) = %d, %v", s, u, uerr)
		}

		r := httptest.NewRequest("GET", "/", nil)
		r.URL = queryReq(s)
		got, qerr := QueryInt64Default(r, "v", 42)
		switch {
		case s == "":
			if qerr != nil || got != 42 {
				t.Fatalf("empty: %d, %v", got, qerr)
			}
		case err == nil:
			if qerr != nil || got != i {
				t.Fatalf("QueryInt64Default(%q) = %d, %v", s, got, qerr)
			}
		default:
			if e := asError(t, qerr); e.Field != "v" || !strings.Contains(e.Detail, `"v"`) {
				t.Fatalf("QueryInt64Default(%q) error %+v", s, e)
			}
		}
	})
}

// refClientIP is a deliberately plain model of the X-Forwarded-For walk.
func refClientIP(trusted []netip.Prefix, peer netip.Addr, header []string) netip.Addr {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if !peer.IsValid() || !isTrusted(peer) {
		return peer
	}
	entries := strings.Split(strings.Join(header, ","), ",")
	last := peer
	for i := len(entries) - 1; i >= 0; i-- {
		a, ok := parseHostPort(entries[i])
		if !ok || a.Zone() != "" {
			return last
		}
		a = a.Unmap()
		if !isTrusted(a) {
			return a
		}
		last = a
	}
	return last
}

func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:80", "203.0.113.9, 10.0.0.2", "for=1.2.3.4;proto=http")
	f.Add("198.51.100.1:80", "1.2.3.4", `for="[2001:db8::1]:80"`)
	f.Add("[::ffff:10.0.0.1]:1", "::ffff:10.1.1.1,, [fd00::1]:9", `for="a,b", for=10.0.0.3`)
	f.Add("10.0.0.1", "unknown, 10.9.9.9", `for=_x;by="\"`)
	trusted := mustProxies(f, "10.0.0.0/8", "fd00::/8", "192.0.2.1")
	f.Fuzz(func(t *testing.T, remote, xff, fwd string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header["X-Forwarded-For"] = strings.Split(xff, "\n")
		r.Header["Forwarded"] = strings.Split(fwd, "\n")
		peer, ok := parseHostPort(remote)
		peer = peer.Unmap().WithZone("")

		got := ClientIPResolver{TrustedProxies: trusted}.ClientIP(r)
		if want := refClientIP(trusted, peer, r.Header["X-Forwarded-For"]); got != want {
			t.Fatalf("X-Forwarded-For: ClientIP = %v, model says %v", got, want)
		}
		if got.IsValid() != ok || got.Zone() != "" || got.Is4In6() {
			t.Fatalf("ClientIP = %v for peer %q", got, remote)
		}

		fw := ClientIPResolver{TrustedProxies: trusted, Header: "Forwarded"}.ClientIP(r)
		if fw.IsValid() != ok || fw.Zone() != "" || fw.Is4In6() {
			t.Fatalf("Forwarded: ClientIP = %v for peer %q", fw, remote)
		}
		if !ok || !(ClientIPResolver{TrustedProxies: trusted}).trusted(peer) {
			if got != peer || fw != peer {
				t.Fatalf("untrusted peer %v: got %v / %v", peer, got, fw)
			}
		}
	})
}

// FuzzQueryDateRange parses fuzzed from and to values as a query string
// would carry them. Accepted ranges are ordered days in UTC that format
// back to the input; rejected ones are a 4xx naming the offending field.
func FuzzQueryDateRange(f *testing.F) {
	f.Add("2024-01-01", "2024-01-31")
	f.Add("2024-01-31", "2024-01-01")
	f.Add("2024-02-30", "2024-03-01")
	f.Add("", "2024-01-01")
	f.Add("2024-01-01", "2024-01-01")
	f.Fuzz(func(t *testing.T, from, to string) {
		q := url.Values{"from": {from}, "to": {to}}
		r := httptest.NewRequest("GET", "/?"+q.Encode(), nil)
		start, end, err := QueryDateRange(r, "from", "to")
		if err != nil {
			if e := asError(t, err); e.Field != "from" && e.Field != "to" {
				t.Fatalf("error names field %q, want from or to: %v", e.Field, err)
			}
			if !start.IsZero() || !end.IsZero() {
				t.Fatalf("error %v came with dates %v, %v", err, start, end)
			}
			return
		}
		if start.Format(DateLayout) != from || end.Format(DateLayout) != to {
			t.Fatalf("(%q, %q) parsed as %v, %v", from, to, start, end)
		}
		if end.Before(start) || start.Location() != time.UTC || end.Location() != time.UTC {
			t.Fatalf("(%q, %q) gave an unordered or non-UTC range %v, %v", from, to, start, end)
		}
	})
}
