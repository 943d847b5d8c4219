package web

import (
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIPResolver finds the address of the client that sent a request, trusting
// forwarding headers only as far as a chain of known proxies vouches for them.
//
// The zero value trusts no proxy and always returns the peer address.
type ClientIPResolver struct {
	// TrustedProxies are the networks of proxies whose forwarding header is
	// believed. See ParseTrustedProxies.
	TrustedProxies []netip.Prefix

	// Header is the forwarding header the trusted proxies set: "Forwarded"
	// (RFC 7239) or a header holding a comma-separated list of addresses.
	// Empty means "X-Forwarded-For". Only this one header is read: a header
	// the proxies do not manage is under the client's control.
	Header string
}

// ClientIP returns the client address of r.
//
// It starts from the peer address (r.RemoteAddr). While that address belongs to
// a trusted proxy, it steps one entry to the left in the forwarding header,
// read from the right (the entry the nearest proxy appended). It returns the
// first address that is not a trusted proxy, or the leftmost entry when every
// hop is trusted. A malformed or non-IP entry (such as "unknown") is never
// believed: the walk stops and the last trusted address is returned.
//
// Addresses are returned with IPv4-mapped IPv6 addresses unmapped and without
// zone. The result is invalid (see [netip.Addr.IsValid]) only when
// r.RemoteAddr is not an IP address, as with some test requests.
func (c ClientIPResolver) ClientIP(r *http.Request) netip.Addr {
	peer, ok := parseHostPort(r.RemoteAddr)
	peer = normalize(peer)
	if !ok || !c.trusted(peer) {
		return peer
	}
	header := c.Header
	if header == "" {
		header = "X-Forwarded-For"
	}
	lines := r.Header.Values(header)
	if http.CanonicalHeaderKey(header) == "Forwarded" {
		return c.walk(peer, forwardedFor(lines))
	}
	return c.walk(peer, listEntries(lines))
}

// walk follows entries (yielded right to left) from the trusted peer.
func (c ClientIPResolver) walk(peer netip.Addr, entries iter.Seq[string]) netip.Addr {
	last := peer
	for e := range entries {
		addr, ok := parseHostPort(e)
		if !ok || addr.Zone() != "" {
			return last
		}
		addr = normalize(addr)
		if !c.trusted(addr) {
			return addr
		}
		last = addr
	}
	return last
}

func (c ClientIPResolver) trusted(a netip.Addr) bool {
	for _, p := range c.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// listEntries yields the comma-separated entries of lines, last first.
func listEntries(lines []string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := len(lines) - 1; i >= 0; i-- {
			s := lines[i]
			for {
				j := strings.LastIndexByte(s, ',')
				if !yield(s[j+1:]) {
					return
				}
				if j < 0 {
					break
				}
				s = s[:j]
			}
		}
	}
}

// forwardedFor yields the "for" value of each element of Forwarded header
// lines (RFC 7239), last first. An element without a "for" parameter yields
// "", which does not parse and so stops the walk.
func forwardedFor(lines []string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := len(lines) - 1; i >= 0; i-- {
			elems := splitQuoted(lines[i], ',')
			for j := len(elems) - 1; j >= 0; j-- {
				if !yield(forParam(elems[j])) {
					return
				}
			}
		}
	}
}

// forParam returns the unquoted value of the "for" parameter of a Forwarded
// element, or "" when there is none or it is malformed.
func forParam(elem string) string {
	for _, pair := range splitQuoted(elem, ';') {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || !strings.EqualFold(k, "for") {
			continue
		}
		if strings.HasPrefix(v, `"`) {
			if len(v) < 2 || !strings.HasSuffix(v, `"`) || strings.Contains(v, `\`) {
				return "" // unterminated, or escapes no address needs
			}
			v = v[1 : len(v)-1]
		}
		return v
	}
	return ""
}

// splitQuoted splits s at sep where sep is outside a quoted-string.
func splitQuoted(s string, sep byte) []string {
	var parts []string
	inQuote, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case escaped:
			escaped = false
		case inQuote && c == '\\':
			escaped = true
		case c == '"':
			inQuote = !inQuote
		case c == sep && !inQuote:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// parseHostPort parses an address written as "ip", "ip:port", "[ipv6]" or
// "[ipv6]:port", with optional surrounding spaces or tabs.
func parseHostPort(s string) (netip.Addr, bool) {
	s = strings.Trim(s, " \t")
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
		if !strings.Contains(s, ":") {
			return netip.Addr{}, false // brackets are for IPv6 only
		}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a, true
}

func normalize(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

// ParseTrustedProxies parses CIDR prefixes ("10.0.0.0/8", "2001:db8::/32") and
// single addresses ("192.0.2.7", taken as /32 or /128) for
// [ClientIPResolver.TrustedProxies]. IPv4-mapped IPv6 prefixes are turned into
// IPv4 ones, matching how ClientIP unmaps addresses. The error names the first
// entry that is not valid.
func ParseTrustedProxies(cidrs ...string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, s := range cidrs {
		t := strings.TrimSpace(s)
		var p netip.Prefix
		var err error
		if strings.Contains(t, "/") {
			p, err = netip.ParsePrefix(t)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(t); err == nil && a.Zone() != "" {
				err = errors.New("zones are not allowed")
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if err != nil {
			return nil, fmt.Errorf("web: invalid trusted proxy %q: %w", s, err)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
