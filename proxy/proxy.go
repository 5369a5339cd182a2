// Package proxy puts a guard in front of a service that knows nothing about
// tokens: it verifies the bearer token of every request, applies role rules
// by path, and forwards what passed to the upstream with the verified
// identity in X-Waxseal-* headers.
//
// The upstream can trust those headers only if nothing else reaches it:
// bind it to loopback or a private network the proxy alone can reach. The
// proxy removes every X-Waxseal-* header a client sent (in any case, and
// with underscores for dashes, which CGI-style servers conflate), so a
// header the upstream sees was set by the proxy from a verified token.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/waxseal/waxseal/cors"
	"github.com/waxseal/waxseal/guard"
	"github.com/waxseal/waxseal/token"
)

// The headers the upstream receives, from the verified token's claims.
// Empty claims are left out.
const (
	HeaderSubject = "X-Waxseal-Subject" // sub
	HeaderRoles   = "X-Waxseal-Roles"   // roles, comma-separated
	HeaderScope   = "X-Waxseal-Scope"   // scope, space-separated
	HeaderSession = "X-Waxseal-Session" // sid
)

// Paths the proxy answers itself, without a token. They live under
// ReservedPrefix so they cannot shadow an upstream's own /livez or /readyz;
// the upstream's paths under ReservedPrefix are not reachable.
const (
	ReservedPrefix = "/.waxseal/"
	LivePath       = ReservedPrefix + "livez"
	ReadyPath      = ReservedPrefix + "readyz"
)

// Defaults of Config.
const (
	DefaultDialTimeout           = 5 * time.Second
	DefaultResponseHeaderTimeout = 30 * time.Second
)

// Rule requires a role for the path PathPrefix and every path below it.
type Rule struct {
	// PathPrefix is matched against the request's decoded path by whole
	// segments, without regard to ASCII case, so an upstream that routes
	// case-insensitively cannot be reached around a rule: "/admin" (or
	// "/admin/", the same rule) covers /admin, /admin/ and /admin/users,
	// but not /administrator. "/" covers every path. Of several matching
	// rules the longest prefix wins.
	PathPrefix string
	// Role is the role a token must carry in "roles".
	Role string
}

// ParseRule reads a rule written PATHPREFIX=ROLE, as on the command line.
func ParseRule(s string) (Rule, error) {
	i := strings.LastIndexByte(s, '=')
	if i < 0 {
		return Rule{}, fmt.Errorf("proxy: rule %q: want PATHPREFIX=ROLE", s)
	}
	r := Rule{PathPrefix: s[:i], Role: s[i+1:]}
	return r, r.check()
}

// segmentPrefix is the rule's prefix without a trailing slash ("/" stays
// "/"): "/admin/" and "/admin" protect the same paths, /admin included,
// which an upstream may well serve as its /admin/.
func (r Rule) segmentPrefix() string {
	if len(r.PathPrefix) > 1 {
		return strings.TrimRight(r.PathPrefix, "/")
	}
	return r.PathPrefix
}

func (r Rule) check() error {
	switch {
	case !strings.HasPrefix(r.PathPrefix, "/"):
		return fmt.Errorf("proxy: rule prefix %q does not start with /", r.PathPrefix)
	case hasPrefixFold(r.PathPrefix, ReservedPrefix):
		return fmt.Errorf("proxy: rule prefix %q is under the proxy's own %s", r.PathPrefix, ReservedPrefix)
	case r.Role == "":
		return fmt.Errorf("proxy: rule for %q has no role", r.PathPrefix)
	}
	return nil
}

// Config describes a proxy.
type Config struct {
	// Upstream is where requests go: an http or https URL whose path, if
	// any, is put before every request's path. Required.
	Upstream *url.URL
	// Guard verifies the tokens. Required. Its stale-feed policy applies.
	Guard *guard.Guard
	// Rules require roles by path. Every other path needs a valid token
	// and nothing more.
	Rules []Rule
	// CORS, if set, answers preflights and marks answers for allowed
	// origins; the upstream's own Access-Control-* headers are then
	// dropped, so one policy speaks. Preflights never reach the upstream.
	CORS *cors.CORS

	// DialTimeout bounds connecting to the upstream (TCP and TLS). Zero
	// means DefaultDialTimeout.
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the upstream's response
	// headers once the request is sent. Zero means
	// DefaultResponseHeaderTimeout. A body, either way, may stream for as
	// long as it flows.
	ResponseHeaderTimeout time.Duration
	// Logger receives upstream errors. Nil means slog.Default(). Tokens and
	// query strings are never logged.
	Logger *slog.Logger
}

// New returns the proxy's handler. Serve it from an http.Server with a
// bounded MaxHeaderBytes and ReadHeaderTimeout.
func New(cfg Config) (http.Handler, error) {
	if cfg.Guard == nil {
		return nil, errors.New("proxy: Config.Guard is required")
	}
	if cfg.Upstream == nil {
		return nil, errors.New("proxy: Config.Upstream is required")
	}
	up := new(*cfg.Upstream) // a copy: later changes to the caller's URL do not reach here
	switch {
	case up.Scheme != "http" && up.Scheme != "https", up.Host == "", up.Opaque != "":
		return nil, fmt.Errorf("proxy: upstream %q is not an absolute http or https URL", up.Redacted())
	case up.User != nil, up.RawQuery != "", up.Fragment != "":
		return nil, fmt.Errorf("proxy: upstream %q has user information, a query or a fragment", up.Redacted())
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.ResponseHeaderTimeout <= 0 {
		cfg.ResponseHeaderTimeout = DefaultResponseHeaderTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &proxy{log: cfg.Logger, guard: cfg.Guard}
	rp := &httputil.ReverseProxy{
		Rewrite:      func(pr *httputil.ProxyRequest) { rewrite(pr, up) },
		Transport:    transport(cfg),
		ErrorHandler: p.upstreamError,
		ErrorLog:     slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		BufferPool:   copyBuffers{},
	}
	if cfg.CORS != nil {
		rp.ModifyResponse = dropCORSHeaders
	}
	var err error
	if p.routes, err = routes(cfg.Guard, cfg.Rules, p.forwardable(rp)); err != nil {
		return nil, err
	}
	var h http.Handler = p
	if cfg.CORS != nil {
		h = cfg.CORS.Handler(h)
	}
	return h, nil
}

func transport(cfg Config) *http.Transport {
	return &http.Transport{
		// The upstream is addressed directly: an HTTP_PROXY meant for
		// outbound traffic would otherwise carry tokens elsewhere.
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   cfg.DialTimeout,
		ResponseHeaderTimeout: cfg.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
	}
}

// route is the handler for the paths under one rule's prefix.
type route struct {
	prefix string // matched without regard to case
	h      http.Handler
}

// routes builds the guarded handlers, longest prefix first; the last has
// the empty prefix and requires a token only.
func routes(g *guard.Guard, rules []Rule, upstream http.Handler) ([]route, error) {
	var rs []route
	for _, r := range rules {
		if err := r.check(); err != nil {
			return nil, err
		}
		prefix := r.segmentPrefix()
		if slices.ContainsFunc(rs, func(x route) bool { return strings.EqualFold(x.prefix, prefix) }) {
			return nil, fmt.Errorf("proxy: two rules for %q", prefix)
		}
		rs = append(rs, route{prefix, g.RequireRole(r.Role)(upstream)})
	}
	slices.SortStableFunc(rs, func(a, b route) int { return len(b.prefix) - len(a.prefix) })
	return append(rs, route{"", g.Require(upstream)}), nil
}

type proxy struct {
	guard  *guard.Guard
	routes []route
	log    *slog.Logger
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case !cleanPath(path):
		// The upstream might resolve "/public/../admin" to a path a rule
		// protects; such a path never has one meaning for both sides.
		writeError(w, http.StatusBadRequest, "invalid_request", "the path must be absolute and clean: no empty, . or .. segments")
		return
	case strings.HasPrefix(path, ReservedPrefix):
		p.serveOwn(w, r)
		return
	}
	// A token in the query string is refused by the guard (400
	// invalid_request, RFC 6750 §2.3, §3.1), so it is never forwarded.
	for _, rt := range p.routes {
		if underFold(path, rt.prefix) {
			rt.h.ServeHTTP(w, r)
			return
		}
	}
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// underFold reports whether path is prefix or below it, by whole segments
// and without regard to ASCII case. The empty prefix and "/" hold every
// path.
func underFold(path, prefix string) bool {
	if !hasPrefixFold(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || prefix == "" || prefix == "/" || path[len(prefix)] == '/'
}

// cleanPath reports whether p starts with "/" and has no empty, "." or ".."
// segment (a trailing slash is allowed), and no ";" or backslash.
func cleanPath(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	for seg := range strings.SplitSeq(strings.TrimSuffix(p[1:], "/"), "/") {
		if seg == "." || seg == ".." || (seg == "" && len(p) > 1) {
			return false
		}
		// Some servers drop ";params" from a segment ("/..;/admin" is
		// "/../admin" to them) or read "\" as "/": a path they would
		// resolve differently from the rules is refused, not guessed at.
		if strings.ContainsAny(seg, ";\\") {
			return false
		}
	}
	return true
}

// serveOwn answers the proxy's own endpoints.
func (p *proxy) serveOwn(w http.ResponseWriter, r *http.Request) {
	status, body := http.StatusOK, "ok\n"
	switch {
	case r.URL.Path != LivePath && r.URL.Path != ReadyPath:
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint")
		return
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "invalid_request", "method must be GET")
		return
	case r.URL.Path == ReadyPath:
		if err := p.guard.ReadyErr(); err != nil {
			status, body = http.StatusServiceUnavailable, err.Error()+"\n"
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// rewrite makes the upstream request. ReverseProxy has already removed
// hop-by-hop headers (including any the client named in Connection) and
// Forwarded and X-Forwarded-*.
func rewrite(pr *httputil.ProxyRequest, upstream *url.URL) {
	pr.SetURL(upstream)
	// X-Forwarded-For names only the peer: a client's own X-Forwarded-For
	// is not vouched for by anyone.
	pr.SetXForwarded()
	h := pr.Out.Header
	for name := range h {
		if isOwnHeader(name) {
			delete(h, name)
		}
	}
	// The token the guard verified, byte for byte, even if the client
	// listed Authorization in Connection to have it dropped.
	h["Authorization"] = pr.In.Header.Values("Authorization")
	c, ok := guard.ClaimsFrom(pr.In.Context())
	if !ok {
		// Only guarded handlers reach here.
		panic("proxy: request without verified claims")
	}
	setClaims(h, c)
}

// isOwnHeader reports whether name is in the X-Waxseal- namespace, in any
// case and with "_" for "-".
func isOwnHeader(name string) bool {
	const ns = "x-waxseal-"
	return len(name) >= len(ns) && strings.EqualFold(strings.ReplaceAll(name[:len(ns)], "_", "-"), ns)
}

// forwardable refuses, with 401 invalid_token, a verified token whose
// claims cannot travel as the X-Waxseal-* header values unchanged: a control
// character would make the transport fail (a 5xx for a bad token) or, in a
// laxer one, split the header; a role that is empty, padded or holds the
// comma would make X-Waxseal-Roles list roles the token does not hold.
func (p *proxy) forwardable(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := guard.ClaimsFrom(r.Context()); ok {
			if err := checkForwardable(c); err != nil {
				p.log.WarnContext(r.Context(), "proxy: refused a token whose claims cannot be forwarded", "err", err)
				guard.WriteError(w, http.StatusUnauthorized, "invalid_token", "the token's claims cannot be forwarded")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func checkForwardable(c *token.Claims) error {
	for name, v := range map[string]string{"sub": c.Subject, "sid": c.SessionID, "scope": c.Scope} {
		if !validHeaderValue(v) {
			return fmt.Errorf("claim %q is not a valid header value", name)
		}
	}
	for _, role := range c.Roles {
		if role == "" || strings.TrimSpace(role) != role || strings.Contains(role, ",") || !validHeaderValue(role) {
			return errors.New("a role cannot be forwarded in a comma-separated list")
		}
	}
	return nil
}

// validHeaderValue reports whether v is a field value RFC 9110 §5.5 allows:
// no control characters other than horizontal tab.
func validHeaderValue(v string) bool {
	for i := range len(v) {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func setClaims(h http.Header, c *token.Claims) {
	for name, v := range map[string]string{
		HeaderSubject: c.Subject,
		HeaderRoles:   strings.Join(c.Roles, ","),
		HeaderScope:   c.Scope,
		HeaderSession: c.SessionID,
	} {
		if v != "" {
			h.Set(name, v)
		}
	}
}

// dropCORSHeaders removes the upstream's CORS headers when the proxy
// answers CORS itself: two Access-Control-Allow-Origin values make a
// browser refuse the answer, and an upstream's "*" must not override the
// proxy's policy.
func dropCORSHeaders(resp *http.Response) error {
	for name := range resp.Header {
		if strings.HasPrefix(name, "Access-Control-") {
			delete(resp.Header, name)
		}
	}
	return nil
}

// upstreamError answers a request the upstream did not answer: 504 when it
// was too slow, 502 otherwise.
func (p *proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		// The client went away; nobody reads the answer.
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	// A *url.Error quotes the URL, query included; log what went wrong
	// without it.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	p.log.WarnContext(r.Context(), "proxy: upstream failed", "method", r.Method, "path", r.URL.Path, "err", err)
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		writeError(w, http.StatusGatewayTimeout, "upstream_timeout", "the upstream did not answer in time")
		return
	}
	writeError(w, http.StatusBadGateway, "upstream_unavailable", "the upstream could not be reached")
}

// writeError answers with a JSON error in the shape the issuer and the
// guard use. code and description are constants.
func writeError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	io.WriteString(w, `{"error":"`+code+`","error_description":"`+description+`"}`+"\n")
}

// copyBuffers lends the reverse proxy its 32 KiB copy buffers, which it
// would otherwise allocate afresh for every response.
type copyBuffers struct{}

var copyBufferPool = sync.Pool{New: func() any { return new([32 << 10]byte) }}

func (copyBuffers) Get() []byte { return copyBufferPool.Get().(*[32 << 10]byte)[:] }

func (copyBuffers) Put(b []byte) {
	if cap(b) == 32<<10 {
		copyBufferPool.Put((*[32 << 10]byte)(b[:32<<10]))
	}
}
