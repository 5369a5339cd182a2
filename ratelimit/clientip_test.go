package ratelimit

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

// The issuer's proxies in these tests: a load balancer on 10.0.0.0/8 and a
// CDN edge on 2001:db8:cdn::/48.
var trustedProxies = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("2001:db8:cd::/48"),
}

func TestClientIP(t *testing.T) {
	for _, tc := range []struct {
		name     string
		peer     string
		xff, fwd []string // header lines
		trusted  []netip.Prefix
		want     string
		wantZero bool
	}{
		// The peer, and headers nobody trusted wrote.
		{name: "Peer", peer: "192.0.2.1:4711", want: "192.0.2.1"},
		{name: "PeerIPv6", peer: "[2001:db8::1]:4711", want: "2001:db8::1"},
		{name: "PeerWithoutPort", peer: "192.0.2.1", want: "192.0.2.1"},
		{name: "PeerIPv4Mapped", peer: "[::ffff:192.0.2.1]:4711", want: "192.0.2.1"},
		{name: "PeerZone", peer: "[fe80::1%eth0]:4711", want: "fe80::1"},
		{name: "PeerUnixSocket", peer: "@", wantZero: true},
		{name: "SpoofedXFFFromUntrustedPeer", peer: "192.0.2.1:4711", xff: []string{"198.51.100.7"}, want: "192.0.2.1"},
		{name: "SpoofedForwardedFromUntrustedPeer", peer: "192.0.2.1:4711", fwd: []string{"for=198.51.100.7"}, want: "192.0.2.1"},
		{name: "NothingTrusted", peer: "10.0.0.2:4711", xff: []string{"198.51.100.7"}, trusted: []netip.Prefix{}, want: "10.0.0.2"},
		{name: "TrustedPeerNoHeaders", peer: "10.0.0.2:4711", want: "10.0.0.2"},

		// X-Forwarded-For behind trusted proxies.
		{name: "XFF", peer: "10.0.0.2:4711", xff: []string{"198.51.100.7"}, want: "198.51.100.7"},
		{name: "XFFSpoofedLeftOfClient", peer: "10.0.0.2:4711", xff: []string{"203.0.113.66, 198.51.100.7"}, want: "198.51.100.7"},
		{name: "XFFGarbageLeftOfClient", peer: "10.0.0.2:4711", xff: []string{"<script>, unknown, 198.51.100.7"}, want: "198.51.100.7"},
		{name: "XFFChainOfTrusted", peer: "10.0.0.2:4711", xff: []string{"203.0.113.66, 198.51.100.7, 10.1.1.1, 10.2.2.2"}, want: "198.51.100.7"},
		{name: "XFFAllTrusted", peer: "10.0.0.2:4711", xff: []string{"10.9.9.9, 10.1.1.1"}, want: "10.9.9.9"},
		{name: "XFFIPv6", peer: "10.0.0.2:4711", xff: []string{"2001:db8::7"}, want: "2001:db8::7"},
		{name: "XFFIPv6Bracketed", peer: "10.0.0.2:4711", xff: []string{"[2001:db8::7]"}, want: "2001:db8::7"},
		{name: "XFFPorts", peer: "10.0.0.2:4711", xff: []string{"198.51.100.7:5555, [2001:db8:cd::9]:443"}, want: "198.51.100.7"},
		{name: "XFFMultipleLines", peer: "10.0.0.2:4711", xff: []string{"203.0.113.66", "198.51.100.7, 10.1.1.1"}, want: "198.51.100.7"},
		{name: "XFFMultipleLinesLastTrusted", peer: "10.0.0.2:4711", xff: []string{"203.0.113.66", "198.51.100.7", "10.1.1.1"}, want: "198.51.100.7"},
		{name: "XFFIPv6Proxy", peer: "[2001:db8:cd::1]:443", xff: []string{"198.51.100.7"}, want: "198.51.100.7"},
		{name: "XFFSpaces", peer: "10.0.0.2:4711", xff: []string{" 198.51.100.7 ,\t10.1.1.1 "}, want: "198.51.100.7"},
		{name: "XFFMalformed", peer: "10.0.0.2:4711", xff: []string{"not-an-address"}, want: "10.0.0.2"},
		{name: "XFFEmpty", peer: "10.0.0.2:4711", xff: []string{""}, want: "10.0.0.2"},
		{name: "XFFEmptyEntry", peer: "10.0.0.2:4711", xff: []string{"198.51.100.7,,10.1.1.1"}, want: "10.0.0.2"},
		{name: "XFFIPv4InBrackets", peer: "10.0.0.2:4711", xff: []string{"[198.51.100.7]"}, want: "10.0.0.2"},
		{name: "XFFMalformedBehindTrusted", peer: "10.0.0.2:4711", xff: []string{"198.51.100.7, 10.1.1"}, want: "10.0.0.2"},

		// Forwarded (RFC 7239) behind trusted proxies.
		{name: "Forwarded", peer: "10.0.0.2:4711", fwd: []string{"for=198.51.100.7;proto=https;by=10.0.0.2"}, want: "198.51.100.7"},
		{name: "ForwardedIPv6PortQuoted", peer: "10.0.0.2:4711", fwd: []string{`for="[2001:db8::1]:4711"`}, want: "2001:db8::1"},
		{name: "ForwardedIPv6Quoted", peer: "10.0.0.2:4711", fwd: []string{`For="[2001:db8::1]"`}, want: "2001:db8::1"},
		{name: "ForwardedIPv4Port", peer: "10.0.0.2:4711", fwd: []string{`for="198.51.100.7:4711"`}, want: "198.51.100.7"},
		{name: "ForwardedChain", peer: "10.0.0.2:4711", fwd: []string{`for=203.0.113.66, for=198.51.100.7;proto=https, for="10.1.1.1:80"`}, want: "198.51.100.7"},
		{name: "ForwardedMultipleLines", peer: "10.0.0.2:4711", fwd: []string{"for=203.0.113.66", "for=198.51.100.7", "for=10.1.1.1"}, want: "198.51.100.7"},
		{name: "ForwardedQuotedComma", peer: "10.0.0.2:4711", fwd: []string{`for=198.51.100.7;x="a, for=203.0.113.66"`}, want: "198.51.100.7"},
		{name: "ForwardedQuotedEscape", peer: "10.0.0.2:4711", fwd: []string{`for="198.51.100.\7"`}, want: "198.51.100.7"},
		{name: "ForwardedEmptyElements", peer: "10.0.0.2:4711", fwd: []string{"for=198.51.100.7, ,"}, want: "198.51.100.7"},
		{name: "ForwardedUnknown", peer: "10.0.0.2:4711", fwd: []string{"for=unknown"}, want: "10.0.0.2"},
		{name: "ForwardedObfuscated", peer: "10.0.0.2:4711", fwd: []string{"for=_hidden"}, want: "10.0.0.2"},
		{name: "ForwardedUnquotedIPv6", peer: "10.0.0.2:4711", fwd: []string{"for=[2001:db8::1]"}, want: "10.0.0.2"},
		{name: "ForwardedWithoutFor", peer: "10.0.0.2:4711", fwd: []string{"for=198.51.100.7, proto=https"}, want: "10.0.0.2"},
		{name: "ForwardedUnterminatedQuote", peer: "10.0.0.2:4711", fwd: []string{`for="198.51.100.7`}, want: "10.0.0.2"},
		{name: "ForwardedForTwice", peer: "10.0.0.2:4711", fwd: []string{"for=198.51.100.7;for=203.0.113.66"}, want: "10.0.0.2"},
		{name: "ForwardedBadSyntax", peer: "10.0.0.2:4711", fwd: []string{"for 198.51.100.7"}, want: "10.0.0.2"},
		// A client's unterminated quote swallows the element the proxy
		// appended to its line, so the line cannot be read.
		{name: "ForwardedSpoofSwallowsProxyElement", peer: "10.0.0.2:4711", fwd: []string{`for="203.0.113.66, for=198.51.100.7`}, want: "10.0.0.2"},
		// A client's broken line left of the proxy's line is never read.
		{name: "ForwardedBrokenLineLeftOfClient", peer: "10.0.0.2:4711", fwd: []string{`for="`, "for=198.51.100.7"}, want: "198.51.100.7"},

		// Both headers: one came from the client unless they agree.
		{name: "BothAgree", peer: "10.0.0.2:4711", xff: []string{"198.51.100.7"}, fwd: []string{"for=198.51.100.7"}, want: "198.51.100.7"},
		{name: "BothAgreeAfterSkipping", peer: "10.0.0.2:4711", xff: []string{"198.51.100.7, 10.1.1.1"}, fwd: []string{"for=198.51.100.7"}, want: "198.51.100.7"},
		{name: "SpoofedForwardedBesideXFF", peer: "10.0.0.2:4711", xff: []string{"198.51.100.7"}, fwd: []string{"for=203.0.113.66"}, want: "10.0.0.2"},
		{name: "SpoofedXFFBesideForwarded", peer: "10.0.0.2:4711", xff: []string{"203.0.113.66"}, fwd: []string{"for=198.51.100.7"}, want: "10.0.0.2"},
		// A client cannot break the header the proxy wrote and have the
		// one it wrote itself read instead.
		{name: "SpoofedXFFBesideBrokenForwarded", peer: "10.0.0.2:4711", xff: []string{"203.0.113.66"}, fwd: []string{`for="x, for=198.51.100.7`}, want: "10.0.0.2"},
		{name: "BrokenXFFBesideForwarded", peer: "10.0.0.2:4711", xff: []string{"garbage"}, fwd: []string{"for=198.51.100.7"}, want: "10.0.0.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/token", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			for _, v := range tc.fwd {
				r.Header.Add("Forwarded", v)
			}
			trusted := trustedProxies
			if tc.trusted != nil {
				trusted = tc.trusted
			}
			var want netip.Addr
			if !tc.wantZero {
				want = netip.MustParseAddr(tc.want)
			}
			if got := ClientIP(r, trusted); got != want {
				t.Errorf("ClientIP = %v, want %v", got, want)
			}
		})
	}
}

func TestClientNetwork(t *testing.T) {
	for _, tc := range []struct {
		addr netip.Addr
		want netip.Prefix
	}{
		{netip.MustParseAddr("192.0.2.1"), netip.MustParsePrefix("192.0.2.1/32")},
		{netip.MustParseAddr("2001:db8:1:2:3:4:5:6"), netip.MustParsePrefix("2001:db8:1:2::/64")},
		{netip.Addr{}, netip.Prefix{}},
	} {
		if got := ClientNetwork(tc.addr); got != tc.want {
			t.Errorf("ClientNetwork(%v) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

// FuzzClientIP: whatever the headers, the answer is an address, and the
// peer itself when the peer is not trusted.
func FuzzClientIP(f *testing.F) {
	f.Add("198.51.100.7, 10.1.1.1", `for="[2001:db8::1]:4711";proto=https`)
	f.Add("", `for="\`)
	f.Add("[::1", `for=a;;, ,for="b\"c"`)
	f.Add(",,,", "for=_x, for=unknown")
	f.Fuzz(func(t *testing.T, xff, fwd string) {
		for _, peer := range []string{"10.0.0.2:4711", "192.0.2.1:4711"} {
			r := httptest.NewRequest("POST", "/token", nil)
			r.RemoteAddr = peer
			r.Header.Set("X-Forwarded-For", xff)
			r.Header.Set("Forwarded", fwd)
			got := ClientIP(r, trustedProxies)
			if !got.IsValid() || got.Zone() != "" || got.Is4In6() {
				t.Fatalf("peer %s: ClientIP = %v", peer, got)
			}
			if peer == "192.0.2.1:4711" && got != netip.MustParseAddr("192.0.2.1") {
				t.Fatalf("untrusted peer: ClientIP = %v", got)
			}
		}
	})
}
