package ratelimit

import (
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP returns the address of the client that sent r, to key its limits.
//
// The answer is the direct peer, r.RemoteAddr, unless the peer is in one of
// the trusted prefixes: the issuer's own reverse proxies and load balancers.
// Only then are X-Forwarded-For and Forwarded (RFC 7239) read, from the
// right: trusted proxies are skipped and the first address that is not
// trusted is the client. What lies left of it was written by the client and
// is not read at all. When every hop is trusted, the answer is the leftmost.
//
// It is stricter than most readers of these headers, because a forged
// address is a fresh budget for every guess. A trusted proxy writes one of
// the two headers; the other, when present, comes from the client. So when
// both are present they must give the same answer, and a header that cannot
// be read up to its answer (an entry that is no address, "unknown", an
// obfuscated identifier, a Forwarded element without for=, bad syntax)
// makes the answer the peer. Requests that arrive that way share the
// proxy's budget with one another, not with honest clients.
//
// The answer has no zone, and an IPv4-mapped IPv6 address is returned as
// IPv4. It is the zero Addr when RemoteAddr is no IP address, as on a Unix
// socket; all such requests then share one key.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer, ok := parseNode(r.RemoteAddr)
	if !ok {
		return netip.Addr{}
	}
	if !isTrusted(peer, trusted) {
		return peer
	}
	var answer netip.Addr
	for _, hops := range []hopSeq{
		xffHops(r.Header.Values("X-Forwarded-For")),
		forwardedHops(r.Header.Values("Forwarded")),
	} {
		a, present, ok := walk(hops, trusted)
		switch {
		case !present:
		case !ok, answer.IsValid() && a != answer:
			return peer
		default:
			answer = a
		}
	}
	if !answer.IsValid() {
		return peer
	}
	return answer
}

// ClientNetwork is the block of addresses that one client can be assumed to
// hold: a as it is for IPv4, its /64 for IPv6, where a single customer
// usually gets a /64 or more. Key address limits by it, or an IPv6 client
// gets a fresh budget from every one of its 2⁶⁴ addresses.
func ClientNetwork(a netip.Addr) netip.Prefix {
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits) // only fails for the zero Addr, giving the zero Prefix
	return p
}

// hopSeq yields a header's hops from the right; ok is false for a hop that
// is not an address.
type hopSeq func(yield func(a netip.Addr, ok bool) bool)

// walk returns the first untrusted hop of hops, or the last one when all are
// trusted. present is false when hops yields nothing; ok is false when a hop
// before the answer is not an address.
func walk(hops hopSeq, trusted []netip.Prefix) (a netip.Addr, present, ok bool) {
	for h, hopOK := range hops {
		present = true
		if !hopOK {
			return netip.Addr{}, true, false
		}
		a = h
		if !isTrusted(h, trusted) {
			break
		}
	}
	return a, present, present
}

// xffHops reads X-Forwarded-For: addresses separated by commas, over one
// or more header lines.
func xffHops(lines []string) hopSeq {
	return func(yield func(netip.Addr, bool) bool) {
		for i := len(lines) - 1; i >= 0; i-- {
			entries := strings.Split(lines[i], ",")
			for j := len(entries) - 1; j >= 0; j-- {
				if !yield(parseNode(strings.Trim(entries[j], " \t"))) {
					return
				}
			}
		}
	}
}

// forwardedHops reads the for= parameters of Forwarded, over one or more
// header lines. A line is parsed whole, since its commas may be quoted.
func forwardedHops(lines []string) hopSeq {
	return func(yield func(netip.Addr, bool) bool) {
		for i := len(lines) - 1; i >= 0; i-- {
			fors, ok := parseForwarded(lines[i])
			if !ok {
				yield(netip.Addr{}, false)
				return
			}
			for j := len(fors) - 1; j >= 0; j-- {
				if !yield(parseNode(fors[j])) {
					return
				}
			}
		}
	}
}

// parseForwarded returns the for= value of each element of one Forwarded
// line (RFC 7239, section 4), "" for an element without one. Empty list
// elements are skipped, as RFC 9110 asks of a list's recipients.
func parseForwarded(line string) (fors []string, ok bool) {
	s := line
	for {
		var forValue string
		var hasPair, hasFor bool
		for {
			s = strings.TrimLeft(s, " \t")
			if s != "" && s[0] != ',' && s[0] != ';' {
				name, rest := cutToken(s)
				if name == "" || !strings.HasPrefix(rest, "=") {
					return nil, false
				}
				value, rest, ok := cutValue(rest[1:])
				if !ok {
					return nil, false
				}
				if strings.EqualFold(name, "for") {
					if hasFor {
						return nil, false // a parameter may appear once per element
					}
					hasFor, forValue = true, value
				}
				hasPair = true
				s = strings.TrimLeft(rest, " \t")
			}
			if s == "" || s[0] == ',' {
				break
			}
			if s[0] != ';' {
				return nil, false
			}
			s = s[1:]
		}
		if hasPair {
			fors = append(fors, forValue)
		}
		if s == "" {
			return fors, true
		}
		s = s[1:] // the comma
	}
}

// cutToken splits s after its leading token (RFC 9110, section 5.6.2).
func cutToken(s string) (token, rest string) {
	i := 0
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// cutValue splits s after its leading token or quoted string, returning the
// value unquoted.
func cutValue(s string) (value, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		value, rest = cutToken(s)
		return value, rest, value != ""
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], true
		case '\\':
			if i++; i == len(s) {
				return "", "", false
			}
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false // unterminated
}

// parseNode reads an address with or without a port: 192.0.2.1,
// 192.0.2.1:4711, 2001:db8::1, [2001:db8::1] or [2001:db8::1]:4711.
func parseNode(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(s)
		if err2 != nil {
			inner, found := strings.CutPrefix(s, "[")
			inner, found2 := strings.CutSuffix(inner, "]")
			if !found || !found2 {
				return netip.Addr{}, false
			}
			if a, err = netip.ParseAddr(inner); err != nil || !a.Is6() {
				return netip.Addr{}, false
			}
		} else {
			a = ap.Addr()
		}
	}
	return a.Unmap().WithZone(""), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
