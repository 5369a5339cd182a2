// Package cors answers cross-origin requests from browsers (the Fetch
// standard's CORS protocol) for a fixed list of origins.
//
// It is strict where CORS libraries are often loose: an origin is allowed
// only when it equals a configured one exactly, so near misses such as
// https://app.example.com.evil.net, https://evilapp.example.com, plain http
// for an https origin, or another port get no CORS headers at all; "null" is
// never allowed; "*" is refused together with credentials; and every answer
// whose headers depend on the origin says so in Vary, so no cache hands one
// origin's answer to another.
//
// waxseal's access tokens travel in the Authorization header, not in
// cookies, so a browser application needs no credentials mode and the
// default is AllowCredentials false.
package cors

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults of Config.
var (
	DefaultAllowedMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	DefaultAllowedHeaders = []string{"Authorization", "Content-Type"}
	// DefaultExposedHeaders let a page read why a request was refused: an
	// RFC 6750 challenge tells an expired token (refresh and retry) from
	// a missing one (sign in), and Retry-After says when a 429 or 503 ends.
	DefaultExposedHeaders = []string{"WWW-Authenticate", "Retry-After"}
)

// DefaultMaxAge is how long a browser may cache a preflight answer.
const DefaultMaxAge = 10 * time.Minute

// Config says which origins may call and how.
type Config struct {
	// AllowedOrigins are the origins allowed to read responses, each
	// scheme://host[:port] with scheme http or https, no path, no wildcard.
	// Scheme and host are compared without case and the scheme's default
	// port may be written or not. The single entry "*" allows every origin
	// but "null", for a public API that takes no credentials. Required.
	AllowedOrigins []string
	// AllowCredentials lets the browser send cookies and TLS client
	// certificates and read the answer (Access-Control-Allow-Credentials).
	// Bearer tokens in the Authorization header need no such permission.
	AllowCredentials bool
	// AllowedMethods are the methods a preflight may ask for. Nil means
	// DefaultAllowedMethods. Methods are case-sensitive.
	AllowedMethods []string
	// AllowedHeaders are the request headers a preflight may ask for,
	// compared without case. Nil means DefaultAllowedHeaders.
	AllowedHeaders []string
	// ExposedHeaders are the response headers, beyond the CORS-safelisted
	// ones, that the browser lets the calling script read. Nil means
	// DefaultExposedHeaders; an empty slice exposes none.
	ExposedHeaders []string
	// MaxAge is how long a browser may cache a preflight answer. Zero means
	// DefaultMaxAge; browsers cap it (Chromium at two hours).
	MaxAge time.Duration
}

// CORS answers preflight requests and adds CORS headers to the answers of
// others. It is safe for concurrent use.
type CORS struct {
	anyOrigin   bool
	origins     map[string]bool // serialized origins (RFC 6454 §6.2)
	credentials bool
	methods     map[string]bool
	headers     map[string]bool // lower case
	allowMethod string          // Access-Control-Allow-Methods
	allowHeader string          // Access-Control-Allow-Headers
	expose      string          // Access-Control-Expose-Headers
	maxAge      string          // Access-Control-Max-Age, in seconds
}

// New checks cfg and returns a CORS for it.
func New(cfg Config) (*CORS, error) {
	c := &CORS{origins: map[string]bool{}, credentials: cfg.AllowCredentials}
	if len(cfg.AllowedOrigins) == 0 {
		return nil, errors.New("cors: no allowed origins")
	}
	for _, o := range cfg.AllowedOrigins {
		if o == "*" {
			c.anyOrigin = true
			continue
		}
		s, err := ParseOrigin(o)
		if err != nil {
			return nil, err
		}
		c.origins[s] = true
	}
	switch {
	case c.anyOrigin && len(cfg.AllowedOrigins) > 1:
		return nil, errors.New(`cors: "*" must be the only allowed origin`)
	case c.anyOrigin && cfg.AllowCredentials:
		// The Fetch standard refuses "*" with credentials; echoing any
		// origin instead would let every site act as the user.
		return nil, errors.New(`cors: "*" cannot be combined with AllowCredentials; list the origins`)
	}
	methods := cfg.AllowedMethods
	if methods == nil {
		methods = DefaultAllowedMethods
	}
	headers := cfg.AllowedHeaders
	if headers == nil {
		headers = DefaultAllowedHeaders
	}
	var err error
	if len(methods) == 0 {
		return nil, errors.New("cors: no allowed methods")
	}
	if c.methods, c.allowMethod, err = tokenSet("method", methods, false); err != nil {
		return nil, err
	}
	if c.headers, c.allowHeader, err = tokenSet("header", headers, true); err != nil {
		return nil, err
	}
	exposed := cfg.ExposedHeaders
	if exposed == nil {
		exposed = DefaultExposedHeaders
	}
	if _, c.expose, err = tokenSet("exposed header", exposed, true); err != nil {
		return nil, err
	}
	switch {
	case cfg.MaxAge < 0:
		return nil, errors.New("cors: negative MaxAge")
	case cfg.MaxAge == 0:
		cfg.MaxAge = DefaultMaxAge
	}
	c.maxAge = strconv.FormatInt(int64(cfg.MaxAge/time.Second), 10)
	return c, nil
}

// ParseOrigin returns the serialized form of an origin (RFC 6454 §6.2):
// lower-case scheme and host, the port only when it is not the scheme's
// default. It is the form browsers send in the Origin header, and the only
// form Handler matches.
func ParseOrigin(s string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("cors: origin %q: %s; want scheme://host[:port]", s, why)
	}
	if s == "null" {
		return bad(`"null" names no origin (sandboxed documents, file: pages and redirects send it)`)
	}
	if strings.Contains(s, "*") {
		return bad("wildcards are not allowed; list each origin")
	}
	u, err := url.Parse(s)
	if err != nil {
		return bad("not a URL")
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme != "http" && scheme != "https":
		return bad("the scheme must be http or https")
	case u.Opaque != "" || u.Host == "":
		return bad("no host")
	case u.User != nil:
		return bad("user information is not part of an origin")
	case u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return bad("an origin has no path, query or fragment")
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" || strings.Trim(host, "abcdefghijklmnopqrstuvwxyz0123456789.-:") != "" {
		return bad("invalid host (write international names in punycode)")
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return bad("invalid port")
		}
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

// tokenSet checks that each name is an RFC 9110 token other than "*"
// (which CORS reads as a wildcard) and returns them as a set (lower-cased
// when fold) and as a header value.
func tokenSet(what string, names []string, fold bool) (map[string]bool, string, error) {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		if !isToken(n) {
			return nil, "", fmt.Errorf("cors: %s %q is not a token", what, n)
		}
		if fold {
			n = strings.ToLower(n)
		}
		set[n] = true
	}
	return set, strings.Join(names, ", "), nil
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}*`, c) >= 0 {
			return false
		}
	}
	return true
}

// Handler returns next wrapped with CORS. A preflight request (OPTIONS
// with Origin and Access-Control-Request-Method) is answered here and never
// reaches next: 204 with the allow headers when the origin, the method and
// every requested header are allowed, 403 without CORS headers otherwise.
// Any other request goes to next, with Access-Control-Allow-Origin added
// when its origin is allowed. CORS only tells the browser whom it may show
// an answer to; it does not refuse requests, so next still authenticates.
func (c *CORS) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if !c.anyOrigin {
			h.Add("Vary", "Origin")
		}
		origin, ok := c.allowed(r)
		if isPreflight(r) {
			c.preflight(w, r, origin, ok)
			return
		}
		if ok {
			c.allowOrigin(h, origin)
			if c.expose != "" {
				h.Set("Access-Control-Expose-Headers", c.expose)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// isPreflight reports whether r is a CORS preflight request. An OPTIONS
// request without Access-Control-Request-Method is an ordinary request.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && len(r.Header.Values("Origin")) > 0 &&
		len(r.Header.Values("Access-Control-Request-Method")) > 0
}

// Allows reports whether origin, as a browser sends it in the Origin
// header, is one of the allowed origins. "*" allows none here: a server
// that must know who is calling (to honour a cookie, say) needs a list.
func (c *CORS) Allows(origin string) bool {
	return origin != "" && c.origins[origin]
}

// allowed returns the value for Access-Control-Allow-Origin if r comes
// from an allowed origin. The Origin header is compared byte for byte with
// the serialized configured origins: a browser sends exactly that form, and
// nothing else needs to be parsed.
func (c *CORS) allowed(r *http.Request) (string, bool) {
	vals := r.Header.Values("Origin")
	if len(vals) != 1 || vals[0] == "" || vals[0] == "null" {
		return "", false
	}
	if c.anyOrigin {
		return "*", true
	}
	if c.origins[vals[0]] {
		return vals[0], true
	}
	return "", false
}

func (c *CORS) allowOrigin(h http.Header, origin string) {
	h.Set("Access-Control-Allow-Origin", origin)
	if c.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

func (c *CORS) preflight(w http.ResponseWriter, r *http.Request, origin string, ok bool) {
	h := w.Header()
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	if !ok || !c.methodAllowed(r) || !c.headersAllowed(r) {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	c.allowOrigin(h, origin)
	h.Set("Access-Control-Allow-Methods", c.allowMethod)
	if c.allowHeader != "" {
		h.Set("Access-Control-Allow-Headers", c.allowHeader)
	}
	h.Set("Access-Control-Max-Age", c.maxAge)
	w.WriteHeader(http.StatusNoContent)
}

func (c *CORS) methodAllowed(r *http.Request) bool {
	vals := r.Header.Values("Access-Control-Request-Method")
	return len(vals) == 1 && c.methods[vals[0]]
}

// headersAllowed reports whether every header in
// Access-Control-Request-Headers (a comma-separated list, possibly over
// several lines) is allowed.
func (c *CORS) headersAllowed(r *http.Request) bool {
	for _, line := range r.Header.Values("Access-Control-Request-Headers") {
		for name := range strings.SplitSeq(line, ",") {
			name = strings.TrimSpace(name)
			if name != "" && !c.headers[strings.ToLower(name)] {
				return false
			}
		}
	}
	return true
}
