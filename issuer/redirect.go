package issuer

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// checkRedirectURI says whether u may be registered as a redirect URI
// (RFC 6749 §3.1.2, RFC 8252 §7, RFC 9700 §4.1): absolute, no fragment, no
// user information, and https, or http on a loopback IP literal, or a
// private-use scheme in reverse-domain form for native apps. Web schemes
// that run code (javascript:, data:) have no dot and are refused.
func checkRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return fmt.Errorf("redirect URI %q is not an absolute URI", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") || u.User != nil {
		return fmt.Errorf("redirect URI %q has a fragment or user information", raw)
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return fmt.Errorf("redirect URI %q has no host", raw)
		}
	case "http":
		if !isLoopbackIP(u.Hostname()) {
			return fmt.Errorf("redirect URI %q: plain http only on a loopback IP literal (127.0.0.1 or [::1])", raw)
		}
	default:
		if !strings.Contains(u.Scheme, ".") {
			return fmt.Errorf("redirect URI %q: a private-use scheme must be a reverse domain name (com.example.app)", raw)
		}
	}
	return nil
}

func isLoopbackIP(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// matchRedirectURI reports whether the requested redirect URI is one of the
// registered ones: exactly, character for character (RFC 9700 §4.1.3), but
// for the port of a loopback http URI, which a native app picks when it
// starts listening (RFC 8252 §7.3).
func matchRedirectURI(registered []string, requested string) bool {
	if slices.Contains(registered, requested) {
		return true
	}
	q, err := url.Parse(requested)
	if err != nil || q.Scheme != "http" || !isLoopbackIP(q.Hostname()) {
		return false
	}
	for _, reg := range registered {
		r, err := url.Parse(reg)
		if err != nil || r.Scheme != "http" || !isLoopbackIP(r.Hostname()) {
			continue
		}
		// Compare everything but the port, as written.
		if r.Hostname() == q.Hostname() && r.RawPath == q.RawPath && r.Path == q.Path &&
			r.RawQuery == q.RawQuery && r.User == nil && q.User == nil && q.Fragment == "" &&
			!strings.Contains(requested, "#") && withoutPort(reg) == withoutPort(requested) {
			return true
		}
	}
	return false
}

// withoutPort drops the port of an http URL's authority, as written.
func withoutPort(raw string) string {
	rest, ok := strings.CutPrefix(raw, "http://")
	if !ok {
		return raw
	}
	host, path, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	return "http://" + host + "/" + path
}

// errNoRedirect is an authorization request error that must not be sent
// to the redirect URI, because the client or the URI is not known.
var errNoRedirect = errors.New("no redirect")

// withParams returns the redirect URI with params added to its query,
// keeping any query it was registered with.
func withParams(redirectURI string, params url.Values) string {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return redirectURI // registered URIs parse; not reached
	}
	// The registered URI's own query is kept byte for byte and the
	// response's parameters follow it (RFC 6749 §3.1.2): re-encoding it
	// would reorder it and turn "flag" into "flag=".
	if u.RawQuery == "" {
		u.RawQuery = params.Encode()
	} else {
		u.RawQuery += "&" + params.Encode()
	}
	return u.String()
}
