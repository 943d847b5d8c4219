package web

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func mustProxies(t testing.TB, cidrs ...string) []netip.Prefix {
	t.Helper()
	p, err := ParseTrustedProxies(cidrs...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClientIP(t *testing.T) {
	trusted := mustProxies(t, "10.0.0.0/8", "2001:db8:ff::/48", "192.0.2.1")
	tests := []struct {
		name    string
		header  string // ClientIPResolver.Header
		remote  string
		values  []string // header lines
		want    string
		proxies []netip.Prefix // nil: trusted
	}{
		{name: "untrusted peer, no header", remote: "198.51.100.7:5000", want: "198.51.100.7"},
		{name: "spoofed XFF from untrusted peer is ignored", remote: "198.51.100.7:5000",
			values: []string{"1.2.3.4"}, want: "198.51.100.7"},
		{name: "spoofed Forwarded from untrusted peer is ignored", header: "Forwarded", remote: "198.51.100.7:5000",
			values: []string{"for=1.2.3.4"}, want: "198.51.100.7"},
		{name: "no trusted proxies at all", remote: "10.1.1.1:80", values: []string{"1.2.3.4"}, want: "10.1.1.1",
			proxies: []netip.Prefix{}},
		{name: "trusted peer, no header", remote: "10.1.1.1:80", want: "10.1.1.1"},
		{name: "trusted peer, one hop", remote: "10.1.1.1:80", values: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "client prepends a fake entry", remote: "10.1.1.1:80",
			values: []string{"1.2.3.4, 203.0.113.9"}, want: "203.0.113.9"},
		{name: "skips trusted hops from the right", remote: "10.1.1.1:80",
			values: []string{"1.2.3.4, 203.0.113.9, 10.2.2.2,192.0.2.1"}, want: "203.0.113.9"},
		{name: "several header lines are one list", remote: "10.1.1.1:80",
			values: []string{"1.2.3.4, 203.0.113.9", "10.2.2.2"}, want: "203.0.113.9"},
		{name: "all hops trusted gives the leftmost", remote: "10.1.1.1:80",
			values: []string{"10.9.9.9, 10.2.2.2"}, want: "10.9.9.9"},
		{name: "malformed rightmost entry is not trusted", remote: "10.1.1.1:80",
			values: []string{"203.0.113.9, bogus"}, want: "10.1.1.1"},
		{name: "unknown entry stops at the last trusted hop", remote: "10.1.1.1:80",
			values: []string{"203.0.113.9, unknown, 10.2.2.2"}, want: "10.2.2.2"},
		{name: "empty entry stops the walk", remote: "10.1.1.1:80", values: []string{"203.0.113.9,,"}, want: "10.1.1.1"},
		{name: "empty header line stops the walk", remote: "10.1.1.1:80", values: []string{"203.0.113.9", ""},
			want: "10.1.1.1"},
		{name: "entries with ports and spaces", remote: "10.1.1.1:80",
			values: []string{" [2001:db8::5]:443 ,\t10.2.2.2:1234 "}, want: "2001:db8::5"},
		{name: "IPv6 peer and entry", remote: "[2001:db8:ff::1]:443", values: []string{"2001:db8::7"}, want: "2001:db8::7"},
		{name: "IPv4-mapped peer is unmapped and trusted", remote: "[::ffff:10.1.1.1]:80",
			values: []string{"::ffff:203.0.113.9"}, want: "203.0.113.9"},
		{name: "zoned peer is matched without zone", remote: "[2001:db8:ff::1%eth0]:443",
			values: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "zoned entry is malformed", remote: "10.1.1.1:80", values: []string{"fe80::1%eth0"}, want: "10.1.1.1"},
		{name: "bracketed IPv4 is malformed", remote: "10.1.1.1:80", values: []string{"[203.0.113.9]"}, want: "10.1.1.1"},
		{name: "peer without port", remote: "10.1.1.1", values: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "unparsable peer", remote: "pipe", values: []string{"203.0.113.9"}, want: "invalid IP"},
		{name: "custom header", header: "X-Real-IP", remote: "10.1.1.1:80", values: []string{"203.0.113.9"},
			want: "203.0.113.9"},
		{name: "X-Forwarded-For is not read when another header is configured", header: "X-Real-IP",
			remote: "10.1.1.1:80", want: "10.1.1.1"},

		{name: "Forwarded", header: "forwarded", remote: "10.1.1.1:80",
			values: []string{`for=1.2.3.4, for=203.0.113.9;proto=https, For="[2001:db8:ff::2]:8080";by=10.0.0.1`},
			want:   "203.0.113.9"},
		{name: "Forwarded quoted IPv6 client", header: "Forwarded", remote: "10.1.1.1:80",
			values: []string{`for="[2001:db8::9]:4711"`}, want: "2001:db8::9"},
		{name: "Forwarded quoted comma does not split", header: "Forwarded", remote: "10.1.1.1:80",
			values: []string{`for=203.0.113.9;host="a,for=10.0.0.2"`}, want: "203.0.113.9"},
		{name: "Forwarded obfuscated identifier is not trusted", header: "Forwarded", remote: "10.1.1.1:80",
			values: []string{`for=203.0.113.9, for=_hidden, for=10.2.2.2`}, want: "10.2.2.2"},
		{name: "Forwarded element without for", header: "Forwarded", remote: "10.1.1.1:80",
			values: []string{`for=203.0.113.9, proto=http`}, want: "10.1.1.1"},
		{name: "Forwarded unterminated quote", header: "Forwarded", remote: "10.1.1.1:80",
			values: []string{`for="203.0.113.9`}, want: "10.1.1.1"},
		{name: "Forwarded ignores X-Forwarded-For", header: "Forwarded", remote: "10.1.1.1:80", want: "10.1.1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			name := tt.header
			if name == "" {
				name = "X-Forwarded-For"
			}
			for _, v := range tt.values {
				r.Header.Add(name, v)
			}
			if name != "X-Forwarded-For" {
				r.Header.Add("X-Forwarded-For", "1.1.1.1") // must be ignored
			}
			res := ClientIPResolver{TrustedProxies: trusted, Header: tt.header}
			if tt.proxies != nil {
				res.TrustedProxies = tt.proxies
			}
			if got := res.ClientIP(r); got.String() != tt.want {
				t.Errorf("ClientIP = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestClientIPZeroValue(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:9999"
	r.Header.Set("X-Forwarded-For", "1.2.3.4")
	r.Header.Set("Forwarded", "for=1.2.3.4")
	if got := (ClientIPResolver{}).ClientIP(r); got != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("ClientIP = %s, want 127.0.0.1", got)
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies("10.1.2.3/8", " 192.0.2.7 ", "2001:db8::1", "::ffff:172.16.0.0/108", "fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::1/128", "172.16.0.0/12", "fd00::/8"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("prefix %d = %s, want %s", i, got[i], want[i])
		}
	}
	if p, err := ParseTrustedProxies(); err != nil || len(p) != 0 {
		t.Errorf("no arguments: %v, %v", p, err)
	}
	for _, bad := range []string{"", "10.0.0.0/33", "10.0.0", "example.com", "fe80::1%eth0", "10.0.0.0/8/8"} {
		_, err := ParseTrustedProxies("10.0.0.0/8", bad)
		if err == nil || !strings.Contains(err.Error(), `"`+bad+`"`) {
			t.Errorf("ParseTrustedProxies(%q) error = %v, want one naming the entry", bad, err)
		}
	}
}
