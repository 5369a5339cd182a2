package proxy_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waxseal/waxseal/guard"
	"github.com/waxseal/waxseal/internal/e2e/issuertest"
	"github.com/waxseal/waxseal/jwk"
	"github.com/waxseal/waxseal/proxy"
	"github.com/waxseal/waxseal/token"
)

const audience = "notes"

// logBuffer collects the log lines of the guard and the proxy, so a test
// can check what was written.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// env is a real issuer, a guard following it, and an upstream that records
// what reaches it. The guard and the proxy log to logs.
type env struct {
	t        *testing.T
	iss      *issuertest.Issuer
	guard    *guard.Guard
	logs     *logBuffer
	logger   *slog.Logger
	upstream *upstream
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, logs: &logBuffer{}, iss: issuertest.Start(t, issuertest.Config{Audiences: []string{audience}})}
	e.logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	gc := e.iss.GuardConfig(audience)
	gc.Logger = e.logger
	var err error
	if e.guard, err = guard.New(context.Background(), gc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.guard.Close)
	issuertest.WaitReady(t, e.guard)
	e.upstream = newUpstream(t, nil)
	return e
}

// proxy starts the proxy in front of the env's upstream.
func (e *env) proxy(cfg proxy.Config) *httptest.Server {
	e.t.Helper()
	if cfg.Upstream == nil {
		cfg.Upstream = e.upstream.url(e.t, "/base")
	}
	if cfg.Guard == nil {
		cfg.Guard = e.guard
	}
	cfg.Logger = e.logger
	h, err := proxy.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	s := httptest.NewServer(h)
	e.t.Cleanup(s.Close)
	return s
}

// login adds a user with roles and returns an access token the issuer
// gave it for the password grant.
func (e *env) login(name string, roles ...string) string {
	e.t.Helper()
	e.iss.AddUser(name, roles...)
	return e.iss.Login(name, "").Access
}

// claims returns the verified claims of a token the issuer gave.
func (e *env) claims(tok string) *token.Claims {
	e.t.Helper()
	c, err := e.guard.Verify(context.Background(), tok)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// mint signs claims that start valid, after edit, with the issuer's key.
func (e *env) mint(edit func(*token.Claims)) string {
	e.t.Helper()
	key, err := e.iss.Ring.Signer()
	if err != nil {
		e.t.Fatal(err)
	}
	now := e.iss.Clock.Now()
	c := &token.Claims{
		Issuer: e.iss.URL, Subject: "mallory", Audience: []string{audience}, Expiry: now.Add(5 * time.Minute),
		IssuedAt: now, ID: token.NewID(), ClientID: "web", Roles: []string{"admin"},
	}
	edit(c)
	tok, err := token.Mint(key, c)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// forge signs any header and claims with key, as an attacker with some
// key would; with key nil the signature part is left empty.
func (e *env) forge(key *jwk.PrivateKey, header, claims map[string]any) string {
	e.t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			e.t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	if key == nil {
		return input + "."
	}
	sig, err := key.Sign([]byte(input))
	if err != nil {
		e.t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// validClaims are claims the guard would accept, as JSON members.
func (e *env) validClaims() map[string]any {
	now := e.iss.Clock.Now().Unix()
	return map[string]any{
		"iss": e.iss.URL, "sub": "mallory", "aud": audience, "exp": now + 300, "iat": now,
		"jti": token.NewID(), "client_id": "web", "roles": []string{"admin"},
	}
}

// seen is a request as the upstream received it.
type seen struct {
	Method, Path, RawPath, RawQuery, Host string
	Header                                http.Header
}

// upstream is a real HTTP server that records every request reaching it.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

// newUpstream starts an upstream that records each request, then hands it
// to h, or answers 200 {"ok":true} when h is nil.
func newUpstream(t *testing.T, h http.HandlerFunc) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.reqs = append(u.reqs, seen{r.Method, r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.Host, r.Header.Clone()})
		u.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) url(t *testing.T, path string) *url.URL {
	p, err := url.Parse(u.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

func (u *upstream) last(t *testing.T) seen {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("no request reached the upstream")
	}
	return u.reqs[len(u.reqs)-1]
}

// reply is a proxy's answer.
type reply struct {
	Status int
	Header http.Header
	Body   string
}

func (r reply) challenge() string { return r.Header.Get("WWW-Authenticate") }

// send makes a request to base+target with a bearer token, if any, and
// extra header name/value pairs (added raw, so their case is kept).
func send(t *testing.T, method, base, target, bearer string, header ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, base+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i < len(header); i += 2 {
		req.Header[header[i]] = append(req.Header[header[i]], header[i+1])
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// hasError reports whether the challenge names the RFC 6750 error code,
// or, with code "", names none.
func hasError(challenge, code string) bool {
	if !strings.HasPrefix(challenge, "Bearer ") {
		return false
	}
	if code == "" {
		return !strings.Contains(challenge, "error=")
	}
	return strings.Contains(challenge, `error="`+code+`"`)
}
