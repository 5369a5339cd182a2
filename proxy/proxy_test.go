package proxy_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/waxseal/waxseal/cors"
	"github.com/waxseal/waxseal/guard"
	"github.com/waxseal/waxseal/internal/e2e/issuertest"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/jwk"
	"github.com/waxseal/waxseal/keyset"
	"github.com/waxseal/waxseal/proxy"
	"github.com/waxseal/waxseal/token"
)

func TestForwardsVerifiedIdentity(t *testing.T) {
	e := newEnv(t)
	p := e.proxy(proxy.Config{})
	tok := e.login("alice", "admin", "editor")
	c := e.claims(tok)

	r := send(t, http.MethodGet, p.URL, "/notes/1?sort=asc", tok, "X-Forwarded-For", "203.0.113.9")
	if r.Status != http.StatusOK || r.Body != `{"ok":true}` {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	got := e.upstream.last(t)
	pu, _ := url.Parse(p.URL)
	uu, _ := url.Parse(e.upstream.URL)
	for name, want := range map[string]string{
		"Authorization":     "Bearer " + tok,
		proxy.HeaderSubject: c.Subject,
		proxy.HeaderRoles:   "admin,editor",
		proxy.HeaderScope:   c.Scope,
		proxy.HeaderSession: c.SessionID,
		"X-Forwarded-For":   "127.0.0.1",
		"X-Forwarded-Host":  pu.Host,
		"X-Forwarded-Proto": "http",
	} {
		if v := got.Header.Values(name); len(v) > 1 || got.Header.Get(name) != want {
			t.Errorf("%s: %q, want %q", name, v, want)
		}
	}
	if c.SessionID == "" || c.Subject == "" {
		t.Fatalf("login token without sid or sub: %+v", c)
	}
	if got.Path != "/base/notes/1" || got.RawQuery != "sort=asc" || got.Host != uu.Host || got.Method != http.MethodGet {
		t.Errorf("upstream saw %s %s?%s on host %s", got.Method, got.Path, got.RawQuery, got.Host)
	}
}

// TestForgedHeadersStripped: a client cannot speak for the proxy, whatever
// the case or spelling of the header, and cannot make the proxy drop its
// own headers or the token by naming them in Connection.
func TestForgedHeadersStripped(t *testing.T) {
	e := newEnv(t)
	p := e.proxy(proxy.Config{})
	tok := e.login("carol") // no roles
	c := e.claims(tok)

	r := send(t, http.MethodGet, p.URL, "/notes", tok,
		"X-Waxseal-Subject", "root",
		"x-waxseal-roles", "admin",
		"X-WAXSEAL-SCOPE", "everything",
		"X-Waxseal-Session", "stolen",
		"X-Waxseal-Extra", "1",
		"X-Waxseal_Roles", "admin",
		"x_waxseal_subject", "root",
		"Connection", "X-Waxseal-Subject, Authorization",
		"Forwarded", "for=198.51.100.1;proto=https",
		"X-Forwarded-Host", "evil.example",
		"X-Forwarded-Proto", "https",
	)
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	got := e.upstream.last(t).Header
	want := map[string]string{proxy.HeaderSubject: c.Subject, proxy.HeaderSession: c.SessionID}
	if c.Scope != "" {
		want[proxy.HeaderScope] = c.Scope
	}
	for name, vals := range got {
		n := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
		if !strings.HasPrefix(n, "x-waxseal-") {
			continue
		}
		if len(vals) != 1 || want[name] != vals[0] {
			t.Errorf("upstream got %s: %q", name, vals)
		}
		delete(want, name)
	}
	for name := range want {
		t.Errorf("upstream lacks %s", name)
	}
	if got.Get("Authorization") != "Bearer "+tok {
		t.Errorf("Authorization %q", got.Get("Authorization"))
	}
	if got.Get("Forwarded") != "" || got.Get("X-Forwarded-Host") == "evil.example" || got.Get("X-Forwarded-Proto") != "http" {
		t.Errorf("forwarding headers from the client survived: %v", got)
	}
}

// TestBadInputNeverReachesUpstream sends every kind of invalid request and
// checks each gets its RFC 6750 answer and none reaches the upstream, and
// that no token shows up in any log.
func TestBadInputNeverReachesUpstream(t *testing.T) {
	e := newEnv(t)
	p := e.proxy(proxy.Config{Rules: []proxy.Rule{{PathPrefix: "/admin", Role: "admin"}}})
	good := e.login("alice", "admin")
	kid := e.claims(good).KeyID
	other, err := jwk.Generate(jwk.EdDSA, nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := e.iss.Ring.Signer()
	if err != nil {
		t.Fatal(err)
	}
	header := func(alg, typ string) map[string]any { return map[string]any{"alg": alg, "kid": kid, "typ": typ} }
	past := e.iss.Clock.Now().Add(-time.Hour)

	bad := map[string]string{
		"expired": e.mint(func(c *token.Claims) { c.IssuedAt, c.Expiry = past, past.Add(10*time.Minute) }),
		"not yet valid": e.mint(func(c *token.Claims) {
			c.NotBefore = c.IssuedAt.Add(time.Hour)
		}),
		"issued in the future": e.mint(func(c *token.Claims) {
			c.IssuedAt, c.Expiry = c.IssuedAt.Add(time.Hour), c.IssuedAt.Add(2*time.Hour)
		}),
		"wrong audience":   e.mint(func(c *token.Claims) { c.Audience = []string{"billing"} }),
		"wrong issuer":     e.mint(func(c *token.Claims) { c.Issuer = "https://evil.example" }),
		"bad signature":    e.forge(other, header("EdDSA", "at+jwt"), e.validClaims()),
		"unknown key":      e.forge(other, map[string]any{"alg": "EdDSA", "kid": other.ID(), "typ": "at+jwt"}, e.validClaims()),
		"wrong typ":        e.forge(signer, header("EdDSA", "JWT"), e.validClaims()),
		"no typ":           e.forge(signer, map[string]any{"alg": "EdDSA", "kid": kid}, e.validClaims()),
		"alg none":         e.forge(nil, header("none", "at+jwt"), e.validClaims()),
		"alg none, signed": e.forge(signer, header("none", "at+jwt"), e.validClaims()),
		"alg HS256":        e.forge(signer, header("HS256", "at+jwt"), e.validClaims()),
		"tampered claims": func() string {
			parts := strings.Split(good, ".")
			forged := strings.Split(e.forge(signer, header("EdDSA", "at+jwt"), e.validClaims()), ".")
			return parts[0] + "." + forged[1] + "." + parts[2]
		}(),
		"malformed":     "not-a-token",
		"two parts":     "eyJhbGciOiJFZERTQSJ9.e30",
		"four parts":    good + ".AAAA",
		"padded base64": strings.Replace(good, ".", "=.", 1),
		"too large":     strings.Repeat("A", 100<<10),
	}
	for name, tok := range bad {
		t.Run(name, func(t *testing.T) {
			r := send(t, http.MethodGet, p.URL, "/notes", tok)
			if r.Status != http.StatusUnauthorized || !hasError(r.challenge(), "invalid_token") {
				t.Fatalf("%d %q %s", r.Status, r.challenge(), r.Body)
			}
		})
	}

	for _, tc := range []struct {
		name   string
		target string
		header []string
		status int
		code   string // RFC 6750 error code; "" for none
	}{
		{"no token", "/notes", nil, http.StatusUnauthorized, ""},
		{"Basic credentials", "/notes", []string{"Authorization", "Basic YWxpY2U6c2VjcmV0"}, http.StatusUnauthorized, ""},
		{"two Authorization headers", "/notes", []string{"Authorization", "Bearer " + good, "Authorization", "Bearer " + good}, http.StatusBadRequest, "invalid_request"},
		{"two tokens in one header", "/notes", []string{"Authorization", "Bearer " + good + " " + good}, http.StatusBadRequest, "invalid_request"},
		{"Bearer without a token", "/notes", []string{"Authorization", "Bearer"}, http.StatusBadRequest, "invalid_request"},
		{"token in the query", "/notes?access_token=" + good, nil, http.StatusBadRequest, "invalid_request"},
		{"token in the query and the header", "/notes?access_token=" + good, []string{"Authorization", "Bearer " + good}, http.StatusBadRequest, "invalid_request"},
		{"token in the query, encoded name", "/notes?access%5Ftoken=" + good, []string{"Authorization", "Bearer " + good}, http.StatusBadRequest, "invalid_request"},
		{"token in the query, PHP spelling", "/notes?a=1;access.token=" + good, nil, http.StatusBadRequest, "invalid_request"},
		{"100 KB header", "/notes", []string{"Authorization", "Bearer " + strings.Repeat("x", 100<<10)}, http.StatusUnauthorized, "invalid_token"},
		{"missing role", "/admin/users", []string{"Authorization", "Bearer " + e.login("carol")}, http.StatusForbidden, "insufficient_scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, http.MethodGet, p.URL, tc.target, "", tc.header...)
			if r.Status != tc.status || !hasError(r.challenge(), tc.code) {
				t.Fatalf("%d %q %s; want %d %q", r.Status, r.challenge(), r.Body, tc.status, tc.code)
			}
		})
	}

	for _, target := range []string{"/public/../admin/users", "/public/%2e%2e/admin/users", "//admin/users", "/./admin", "/admin/.", "/public/..;/admin/users", "/public/%5c..%5cadmin/users"} {
		t.Run("unclean path "+target, func(t *testing.T) {
			r := send(t, http.MethodGet, p.URL, target, good)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})
	}

	if n := e.upstream.count(); n != 0 {
		t.Errorf("%d bad requests reached the upstream: %+v", n, e.upstream.last(t))
	}
	logs := e.logs.String()
	for name, tok := range bad {
		for part := range strings.SplitSeq(tok, ".") {
			if len(part) > 16 && strings.Contains(logs, part) {
				t.Errorf("the log quotes part of the %q token", name)
			}
		}
	}
	if strings.Contains(logs, strings.Split(good, ".")[2]) {
		t.Error("the log quotes the good token")
	}
}

// TestUnforwardableClaimsRefused: a token the guard verified whose claims
// cannot be forwarded as header values unchanged (control characters that
// would split or end a header, a role holding the separator) gets 401
// invalid_token and never reaches the upstream, rather than a 5xx or a
// header that says something the token did not.
func TestUnforwardableClaimsRefused(t *testing.T) {
	e := newEnv(t)
	p := e.proxy(proxy.Config{})
	for _, tc := range []struct {
		name string
		edit func(*token.Claims)
	}{
		{"NUL in sub", func(c *token.Claims) { c.Subject = "alice\x00" }},
		{"CR LF in sub", func(c *token.Claims) { c.Subject = "alice\r\nX-Waxseal-Roles: admin" }},
		{"LF in sub", func(c *token.Claims) { c.Subject = "alice\nx" }},
		{"DEL in sid", func(c *token.Claims) { c.SessionID = "s\x7f" }},
		{"CR in scope", func(c *token.Claims) { c.Scope = "notes:read\r" }},
		{"control in a role", func(c *token.Claims) { c.Roles = []string{"user\x01"} }},
		{"comma in a role", func(c *token.Claims) { c.Roles = []string{"user,admin"} }},
		{"empty role", func(c *token.Claims) { c.Roles = []string{"user", ""} }},
		{"space around a role", func(c *token.Claims) { c.Roles = []string{" admin"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := e.mint(func(c *token.Claims) { c.Roles = nil; tc.edit(c) })
			r := send(t, http.MethodGet, p.URL, "/notes", tok)
			if r.Status != http.StatusUnauthorized || !hasError(r.challenge(), "invalid_token") {
				t.Fatalf("%d %q %s; want 401 invalid_token", r.Status, r.challenge(), r.Body)
			}
		})
	}
	if n := e.upstream.count(); n != 0 {
		t.Errorf("%d requests with unforwardable claims reached the upstream", n)
	}
	// Tab and non-ASCII are valid header values and pass.
	tok := e.mint(func(c *token.Claims) { c.Subject = "zoë\tx"; c.Roles = []string{"éditeur"} })
	if r := send(t, http.MethodGet, p.URL, "/notes", tok); r.Status != http.StatusOK {
		t.Fatalf("a forwardable token got %d %s", r.Status, r.Body)
	}
}

// TestRoleRules: the longest matching prefix decides, prefixes match whole
// path segments ("/admin" covers /admin and /admin/..., not
// /administrator; a trailing slash changes nothing), and case does not get
// around them.
func TestRoleRules(t *testing.T) {
	e := newEnv(t)
	p := e.proxy(proxy.Config{Rules: []proxy.Rule{
		{PathPrefix: "/admin", Role: "admin"},
		{PathPrefix: "/admin/reports/", Role: "auditor"},
		{PathPrefix: "/Ops", Role: "ops"},
	}})
	alice, bob, carol := e.login("alice", "admin"), e.login("bob", "auditor"), e.login("carol")
	for _, tc := range []struct {
		who, tok, path string
		status         int
	}{
		{"alice", alice, "/admin/users", http.StatusOK},
		{"alice", alice, "/admin", http.StatusOK},
		{"alice", alice, "/admin/reports/q1", http.StatusForbidden},
		{"alice", alice, "/admin/reports", http.StatusForbidden},
		{"bob", bob, "/admin/reports", http.StatusOK},
		{"bob", bob, "/admin/reportsx", http.StatusForbidden},
		{"bob", bob, "/admin/reports/q1", http.StatusOK},
		{"bob", bob, "/ADMIN/REPORTS/q1", http.StatusOK},
		{"bob", bob, "/admin/users", http.StatusForbidden},
		{"carol", carol, "/notes", http.StatusOK},
		{"carol", carol, "/", http.StatusOK},
		{"carol", carol, "/admin", http.StatusForbidden},
		{"carol", carol, "/Admin/users", http.StatusForbidden},
		{"carol", carol, "/%61dmin/users", http.StatusForbidden},
		{"carol", carol, "/admin/", http.StatusForbidden},
		{"carol", carol, "/administrator", http.StatusOK},
		{"carol", carol, "/ADMINISTRATORS/x", http.StatusOK},
		{"carol", carol, "/opsx", http.StatusOK},
		{"carol", carol, "/ops/deploy", http.StatusForbidden},
	} {
		t.Run(tc.who+tc.path, func(t *testing.T) {
			before := e.upstream.count()
			r := send(t, http.MethodGet, p.URL, tc.path, tc.tok)
			if r.Status != tc.status {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			reached := e.upstream.count() > before
			if reached != (tc.status == http.StatusOK) {
				t.Fatalf("reached upstream: %v", reached)
			}
			if tc.status == http.StatusForbidden && !hasError(r.challenge(), "insufficient_scope") {
				t.Fatalf("challenge %q", r.challenge())
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	e := newEnv(t)
	up := e.upstream.url(t, "")
	for _, tc := range []struct {
		name string
		cfg  proxy.Config
	}{
		{"no guard", proxy.Config{Upstream: up}},
		{"no upstream", proxy.Config{Guard: e.guard}},
		{"relative upstream", proxy.Config{Guard: e.guard, Upstream: &url.URL{Path: "/x"}}},
		{"ftp upstream", proxy.Config{Guard: e.guard, Upstream: &url.URL{Scheme: "ftp", Host: "h"}}},
		{"upstream with query", proxy.Config{Guard: e.guard, Upstream: &url.URL{Scheme: "http", Host: "h", RawQuery: "a=1"}}},
		{"upstream with user", proxy.Config{Guard: e.guard, Upstream: &url.URL{Scheme: "http", Host: "h", User: url.UserPassword("u", "p")}}},
		{"relative prefix", proxy.Config{Guard: e.guard, Upstream: up, Rules: []proxy.Rule{{"admin", "admin"}}}},
		{"reserved prefix", proxy.Config{Guard: e.guard, Upstream: up, Rules: []proxy.Rule{{"/.waxseal/readyz", "admin"}}}},
		{"no role", proxy.Config{Guard: e.guard, Upstream: up, Rules: []proxy.Rule{{"/admin", ""}}}},
		{"duplicate", proxy.Config{Guard: e.guard, Upstream: up, Rules: []proxy.Rule{{"/admin", "a"}, {"/ADMIN", "b"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := proxy.New(tc.cfg); err == nil || !strings.HasPrefix(err.Error(), "proxy: ") {
				t.Fatalf("New: %v", err)
			}
		})
	}
}

func TestCORS(t *testing.T) {
	e := newEnv(t)
	c, err := cors.New(cors.Config{AllowedOrigins: []string{"https://app.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	e.upstream = newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		w.Header().Add("Vary", "Accept-Encoding")
	})
	p := e.proxy(proxy.Config{CORS: c})
	tok := e.login("alice")
	const app = "https://app.example.com"

	r := send(t, http.MethodOptions, p.URL, "/notes/1", "",
		"Origin", app, "Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "authorization,content-type")
	if r.Status != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != app ||
		!strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight: %d %v", r.Status, r.Header)
	}
	r = send(t, http.MethodOptions, p.URL, "/notes/1", "", "Origin", "https://app.example.com.evil.net", "Access-Control-Request-Method", "PUT")
	if r.Status != http.StatusForbidden || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin: %d %v", r.Status, r.Header)
	}
	if n := e.upstream.count(); n != 0 {
		t.Fatalf("preflights reached the upstream %d times", n)
	}

	// A browser application must be able to read a 401 to know to refresh.
	r = send(t, http.MethodGet, p.URL, "/notes/1", "", "Origin", app)
	if r.Status != http.StatusUnauthorized || r.Header.Get("Access-Control-Allow-Origin") != app {
		t.Fatalf("401: %d %v", r.Status, r.Header)
	}
	r = send(t, http.MethodGet, p.URL, "/notes/1", tok, "Origin", app)
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if v := r.Header.Values("Access-Control-Allow-Origin"); len(v) != 1 || v[0] != app {
		t.Errorf("Access-Control-Allow-Origin %q, want only the proxy's", v)
	}
	if v := r.Header.Get("Access-Control-Allow-Credentials"); v != "" {
		t.Errorf("the upstream's Access-Control-Allow-Credentials %q survived", v)
	}
	if v := r.Header.Values("Vary"); !strings.Contains(strings.Join(v, ","), "Origin") || !strings.Contains(strings.Join(v, ","), "Accept-Encoding") {
		t.Errorf("Vary %q", v)
	}
}

// TestRevocationReachesProxy revokes a token through the issuer's API and
// waits for the feed to bring it to the proxy's guard.
func TestRevocationReachesProxy(t *testing.T) {
	e := newEnv(t)
	p := e.proxy(proxy.Config{})
	tok := e.login("alice")
	if r := send(t, http.MethodGet, p.URL, "/notes", tok); r.Status != http.StatusOK {
		t.Fatalf("before revocation: %d %s", r.Status, r.Body)
	}
	if status, body := e.iss.Post(issuer.RevokePath, url.Values{"token": {tok}}, ""); status != http.StatusOK {
		t.Fatalf("revoke: %d %s", status, body)
	}
	var last reply
	leaked := false
	issuertest.WaitFor(t, "the revocation to reach the proxy", func() bool {
		before := e.upstream.count()
		last = send(t, http.MethodGet, p.URL, "/notes", tok)
		leaked = last.Status != http.StatusOK && e.upstream.count() != before
		return last.Status != http.StatusOK
	})
	if last.Status != http.StatusUnauthorized || !hasError(last.challenge(), "invalid_token") ||
		!strings.Contains(last.challenge(), "revoked") || leaked {
		t.Fatalf("revoked token: %d %q, reached the upstream: %v", last.Status, last.challenge(), leaked)
	}
}

func TestHealth(t *testing.T) {
	e := newEnv(t)
	p := e.proxy(proxy.Config{})
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, proxy.LivePath, http.StatusOK},
		{http.MethodGet, proxy.ReadyPath, http.StatusOK},
		{http.MethodHead, proxy.ReadyPath, http.StatusOK},
		{http.MethodPost, proxy.ReadyPath, http.StatusMethodNotAllowed},
		{http.MethodGet, "/.waxseal/metrics", http.StatusNotFound},
		{http.MethodGet, "/.waxseal/", http.StatusNotFound},
	} {
		if r := send(t, tc.method, p.URL, tc.path, ""); r.Status != tc.status {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, r.Status, r.Body, tc.status)
		}
	}
	// The upstream's own /readyz is not shadowed: it needs a token.
	if r := send(t, http.MethodGet, p.URL, "/readyz", ""); r.Status != http.StatusUnauthorized {
		t.Errorf("/readyz: %d", r.Status)
	}
	if n := e.upstream.count(); n != 0 {
		t.Errorf("health checks reached the upstream %d times", n)
	}
}

// TestNotReady: a guard that never caught up with its feed is not ready,
// and refuses valid tokens (fail closed) without asking the upstream.
func TestNotReady(t *testing.T) {
	e := newEnv(t)
	dead := newUpstream(t, nil)
	dead.Close()
	g, err := guard.New(context.Background(), guard.Config{
		Issuer: e.iss.URL, Audience: audience, Logger: e.logger,
		Keys: keyset.NewStatic(e.iss.Ring.PublicSet()), FeedURL: dead.URL + issuer.RevocationsPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	p := e.proxy(proxy.Config{Guard: g})
	if r := send(t, http.MethodGet, p.URL, proxy.ReadyPath, ""); r.Status != http.StatusServiceUnavailable {
		t.Errorf("readyz: %d", r.Status)
	}
	if r := send(t, http.MethodGet, p.URL, proxy.LivePath, ""); r.Status != http.StatusOK {
		t.Errorf("livez: %d", r.Status)
	}
	if r := send(t, http.MethodGet, p.URL, "/notes", e.login("alice")); r.Status != http.StatusServiceUnavailable {
		t.Errorf("valid token with a stale feed: %d", r.Status)
	}
	if n := e.upstream.count(); n != 0 {
		t.Errorf("reached the upstream %d times", n)
	}
}

// TestStreamingUpload sends 4 MiB through a pipe, one MiB at a time, and
// writes each MiB only after the upstream has read the previous one: a
// proxy that buffered the body would never deliver the first.
func TestStreamingUpload(t *testing.T) {
	const chunk, chunks = 1 << 20, 4
	e := newEnv(t)
	got := make(chan int, chunks)
	e.upstream = newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		buf := make([]byte, chunk)
		for {
			n, err := io.ReadFull(r.Body, buf)
			h.Write(buf[:n])
			if n > 0 {
				got <- n
			}
			if err != nil {
				break
			}
		}
		io.WriteString(w, hex.EncodeToString(h.Sum(nil)))
	})
	p := e.proxy(proxy.Config{})
	tok := e.login("alice")

	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPut, p.URL+"/files/big", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	answer := make(chan reply, 1)
	go func() { answer <- do(t, req) }()

	sum := sha256.New()
	data := make([]byte, chunk)
	for i := range chunks {
		for j := range data {
			data[j] = byte(i + j)
		}
		sum.Write(data)
		if _, err := pw.Write(data); err != nil {
			t.Fatal(err)
		}
		select {
		case n := <-got:
			if n != chunk {
				t.Fatalf("upstream read %d bytes", n)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("MiB %d did not reach the upstream before the next was sent: the body is buffered", i)
		}
	}
	pw.Close()
	r := <-answer
	if r.Status != http.StatusOK || r.Body != hex.EncodeToString(sum.Sum(nil)) {
		t.Fatalf("%d %q", r.Status, r.Body)
	}
}

// TestStreamingResponse: the upstream sends a first line, then waits for
// the client to have read it before sending the rest.
func TestStreamingResponse(t *testing.T) {
	e := newEnv(t)
	read := make(chan struct{})
	e.upstream = newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		select {
		case <-read:
			io.WriteString(w, "second\n")
		case <-time.After(10 * time.Second):
			io.WriteString(w, "the first line was held back\n")
		}
	})
	p := e.proxy(proxy.Config{})
	req, _ := http.NewRequest(http.MethodGet, p.URL+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+e.login("alice"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil || first != "first\n" {
		t.Fatalf("%q %v", first, err)
	}
	close(read)
	rest, _ := io.ReadAll(br)
	if string(rest) != "second\n" {
		t.Fatalf("then %q", rest)
	}
}

func TestUpstreamFailures(t *testing.T) {
	e := newEnv(t)
	tok := e.login("alice")
	release := make(chan struct{})
	slow := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { <-release })
	t.Cleanup(func() { close(release) }) // before slow closes: cleanups run last first
	down := newUpstream(t, nil)
	down.Close()
	// A listener that accepts connections and never reads from them.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })

	for _, tc := range []struct {
		name     string
		upstream string
		status   int
		code     string
	}{
		{"down", down.URL, http.StatusBadGateway, "upstream_unavailable"},
		{"slow", slow.URL, http.StatusGatewayTimeout, "upstream_timeout"},
		{"silent", "http://" + silent.Addr().String(), http.StatusGatewayTimeout, "upstream_timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, _ := url.Parse(tc.upstream)
			p := e.proxy(proxy.Config{Upstream: u, ResponseHeaderTimeout: 50 * time.Millisecond})
			r := send(t, http.MethodGet, p.URL, "/notes?q=1", tok)
			if r.Status != tc.status || r.Header.Get("Content-Type") != "application/json" ||
				!strings.Contains(r.Body, fmt.Sprintf(`"error":"%s"`, tc.code)) {
				t.Fatalf("%d %v %s", r.Status, r.Header, r.Body)
			}
		})
	}
	if strings.Contains(e.logs.String(), "q=1") {
		t.Error("the log quotes a query string")
	}
}

func TestParseRule(t *testing.T) {
	for in, want := range map[string]proxy.Rule{
		"/admin=admin":          {"/admin", "admin"},
		"/a=b=c":                {"/a=b", "c"},
		"/reports/=auditor":     {"/reports/", "auditor"},
		"/=user":                {"/", "user"},
		"/.waxseal-like=ops":    {"/.waxseal-like", "ops"},
		"/Admin/Panel=Sysadmin": {"/Admin/Panel", "Sysadmin"},
	} {
		if got, err := proxy.ParseRule(in); err != nil || got != want {
			t.Errorf("ParseRule(%q) = %+v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "/admin", "/admin=", "admin=admin", "=admin", "/.waxseal/x=ops", "/.WAXSEAL/=ops"} {
		if r, err := proxy.ParseRule(in); err == nil {
			t.Errorf("ParseRule(%q) = %+v", in, r)
		}
	}
}
