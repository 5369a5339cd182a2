package issuer_test

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/guard"
	"github.com/waxseal/waxseal/internal/e2e/issuertest"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/jwk"
	"github.com/waxseal/waxseal/keyring"
	"github.com/waxseal/waxseal/password"
)

// oidcEnv is an issuer served over HTTPS on loopback, its URL its issuer
// identifier, with an RS256 key for ID tokens beside the default EdDSA one:
// what a relying party and a browser meet.
type oidcEnv struct {
	t     *testing.T
	store waxseal.Store
	srv   *issuer.Server
	ts    *httptest.Server
	clock *clock
	acct  *issuer.Accounts
}

const (
	rpCallback = "https://rp.example/cb"
	rpBye      = "https://rp.example/bye"
	rpPassword = "amber quartz meadow falcon 42"
)

func newOIDCEnv(t *testing.T, opts ...envOption) *oidcEnv {
	t.Helper()
	store := issuertest.SQLite(t)
	clk := issuertest.NewClock()
	ring, err := keyring.Open(context.Background(), store, testMasterKey, keyring.Config{Now: clk.Now, Extra: []jwk.Algorithm{jwk.RS256}})
	if err != nil {
		t.Fatal(err)
	}
	var handler atomic.Value
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	ts.StartTLS()
	hc := password.HasherConfig{Params: cheapHashes}
	h, err := password.NewHasher(hc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := issuer.Config{Issuer: ts.URL, Store: store, Keys: ring, Hasher: h, Now: clk.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(&cfg, &hc)
	}
	srv, err := issuer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	handler.Store(http.Handler(srv))
	stop, err := srv.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.StopStreams()
		ts.Close()
		stop()
	})
	e := &oidcEnv{t: t, store: store, srv: srv, ts: ts, clock: clk,
		acct: &issuer.Accounts{Store: store, Hasher: h, Now: clk.Now, Logger: cfg.Logger}}
	if _, err := e.acct.AddUser(context.Background(), "alice", rpPassword, []string{"staff"}); err != nil {
		t.Fatal(err)
	}
	return e
}

// client registers a client; a confidential one's secret is returned.
func (e *oidcEnv) client(spec issuer.ClientSpec) *oauth2.Config {
	e.t.Helper()
	if spec.RedirectURIs == nil {
		spec.RedirectURIs = []string{rpCallback}
	}
	c, secret, err := e.acct.CreateClient(context.Background(), spec)
	if err != nil {
		e.t.Fatal(err)
	}
	return &oauth2.Config{ClientID: c.ID, ClientSecret: secret, RedirectURL: spec.RedirectURIs[0],
		Scopes:   []string{"openid", "profile"},
		Endpoint: oauth2.Endpoint{AuthURL: e.ts.URL + issuer.AuthorizePath, TokenURL: e.ts.URL + issuer.TokenPath}}
}

// browser is a user agent with a cookie jar that follows redirects within
// the issuer and stops at any other site, as a relying party's callback.
func (e *oidcEnv) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	issuerHost := strings.TrimPrefix(e.ts.URL, "https://")
	return &http.Client{Jar: jar, Transport: e.ts.Client().Transport,
		CheckRedirect: func(r *http.Request, _ []*http.Request) error {
			if r.URL.Host != issuerHost {
				return http.ErrUseLastResponse
			}
			return nil
		}}
}

func (e *oidcEnv) ctx() context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, e.ts.Client())
}

type page struct {
	status int
	header http.Header
	body   string
	url    *url.URL
}

func get(t *testing.T, b *http.Client, u string) page {
	t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return readPage(t, resp)
}

func readPage(t *testing.T, resp *http.Response) page {
	t.Helper()
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(raw), url: resp.Request.URL}
}

var (
	csrfField  = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	formAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

// submit posts the login form on p.
func submit(t *testing.T, b *http.Client, p page, user, pw string, header ...string) page {
	t.Helper()
	action, csrf := formAction.FindStringSubmatch(p.body), csrfField.FindStringSubmatch(p.body)
	if action == nil || csrf == nil {
		t.Fatalf("no login form on the page (%d): %s", p.status, p.body)
	}
	target, err := p.url.Parse(html.UnescapeString(action[1]))
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"csrf_token": {csrf[1]}, "username": {user}, "password": {pw}}
	req, _ := http.NewRequest("POST", target.String(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return readPage(t, resp)
}

// callback is where a flow ended: the redirect to the relying party.
func callback(t *testing.T, p page) url.Values {
	t.Helper()
	if p.status != http.StatusFound && p.status != http.StatusSeeOther {
		t.Fatalf("want a redirect to the client, got %d: %s", p.status, p.body)
	}
	loc, err := url.Parse(p.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc.Query()
}

// flow is one relying party's sign-in.
type flow struct {
	conf     *oauth2.Config
	verifier string
	state    string
	nonce    string
}

func newFlow(conf *oauth2.Config) *flow {
	return &flow{conf: conf, verifier: oauth2.GenerateVerifier(), state: "st-" + oauth2.GenerateVerifier()[:8], nonce: "n-" + oauth2.GenerateVerifier()[:8]}
}

func (f *flow) url(opts ...oauth2.AuthCodeOption) string {
	return f.conf.AuthCodeURL(f.state, append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.verifier),
		oauth2.SetAuthURLParam("nonce", f.nonce)}, opts...)...)
}

// signIn runs the flow with a password and returns the callback's query.
func (e *oidcEnv) signIn(b *http.Client, f *flow, opts ...oauth2.AuthCodeOption) url.Values {
	e.t.Helper()
	p := get(e.t, b, f.url(opts...))
	if p.status == http.StatusOK {
		p = submit(e.t, b, p, "alice", rpPassword)
	} // else signed in already, through the issuer session
	q := callback(e.t, p)
	if q.Get("state") != f.state || q.Get("iss") != e.ts.URL || q.Get("code") == "" {
		e.t.Fatalf("callback %v: want state %q, iss and a code", q, f.state)
	}
	return q
}

func (e *oidcEnv) exchange(f *flow, code string) (*oauth2.Token, error) {
	return f.conf.Exchange(e.ctx(), code, oauth2.VerifierOption(f.verifier))
}

// idClaims verifies an ID token with go-jose against the published JWKS
// and returns its claims.
func (e *oidcEnv) idClaims(raw string, wantAlg jose.SignatureAlgorithm) map[string]any {
	e.t.Helper()
	tok, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{wantAlg})
	if err != nil {
		e.t.Fatalf("ID token: %v", err)
	}
	if typ := tok.Signatures[0].Protected.ExtraHeaders["typ"]; typ != "JWT" {
		e.t.Errorf("ID token typ = %v, want JWT", typ)
	}
	resp, err := e.ts.Client().Get(e.ts.URL + issuer.JWKSPath)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		e.t.Fatal(err)
	}
	keys := set.Key(tok.Signatures[0].Protected.KeyID)
	if len(keys) != 1 {
		e.t.Fatalf("ID token key %s not in the JWKS", tok.Signatures[0].Protected.KeyID)
	}
	payload, err := tok.Verify(keys[0])
	if err != nil {
		e.t.Fatalf("ID token signature: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		e.t.Fatal(err)
	}
	return claims
}

// bearer calls an issuer endpoint with an access token.
func (e *oidcEnv) bearer(path, access string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.ts.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func tokenError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// TestSignInWithWaxseal is the whole flow with golang.org/x/oauth2 as the
// relying party: authorize with PKCE, the login page, the code grant, an
// ID token verified by an independent JOSE library, userinfo, refresh; a
// second client signs in without a password; RP-initiated logout ends both,
// and a guard following the feed then refuses both access tokens.
func TestSignInWithWaxseal(t *testing.T) {
	e := newOIDCEnv(t)
	app := e.client(issuer.ClientSpec{ID: "app", Name: "Notes", PostLogoutRedirectURIs: []string{rpBye}})
	wiki := e.client(issuer.ClientSpec{ID: "wiki", Public: true, IDTokenAlg: "EdDSA", RedirectURIs: []string{"https://wiki.example/cb"}})
	b := e.browser()

	f := newFlow(app)
	q := e.signIn(b, f)
	tok, err := e.exchange(f, q.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	id := e.idClaims(raw, jose.RS256)
	alice, _ := e.acct.FindUser(context.Background(), "alice")
	for k, want := range map[string]any{"iss": e.ts.URL, "aud": "app", "azp": "app", "sub": alice.ID, "nonce": f.nonce, "preferred_username": "alice"} {
		if id[k] != want {
			t.Errorf("ID token %s = %v, want %v", k, id[k], want)
		}
	}
	for _, k := range []string{"exp", "iat", "auth_time", "at_hash", "sid"} {
		if id[k] == nil {
			t.Errorf("ID token has no %s", k)
		}
	}
	if status, info := e.bearer(issuer.OIDCUserinfo, tok.AccessToken); status != 200 || info["sub"] != alice.ID || info["preferred_username"] != "alice" {
		t.Errorf("userinfo = %d %v", status, info)
	}
	// The ID token is no access token.
	if status, _ := e.bearer(issuer.OIDCUserinfo, raw); status != http.StatusUnauthorized {
		t.Errorf("userinfo with the ID token as bearer: %d, want 401", status)
	}
	// Refresh, as the oauth2 TokenSource does.
	tok.Expiry = time.Now().Add(-time.Minute)
	next, err := app.TokenSource(e.ctx(), tok).Token()
	if err != nil || next.AccessToken == tok.AccessToken || next.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh: %v", err)
	}

	// Single sign-on: the second client gets a code with no page at all.
	e.clock.Advance(time.Second)
	g := newFlow(wiki)
	p := get(t, b, g.url())
	wq := callback(t, p)
	if wq.Get("state") != g.state || wq.Get("code") == "" {
		t.Fatalf("SSO callback %v", wq)
	}
	wtok, err := e.exchange(g, wq.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	wid := e.idClaims(wtok.Extra("id_token").(string), jose.EdDSA)
	if wid["sid"] != id["sid"] || wid["auth_time"] != id["auth_time"] {
		t.Errorf("SSO ID token sid/auth_time %v/%v, want the first sign-in's %v/%v", wid["sid"], wid["auth_time"], id["sid"], id["auth_time"])
	}

	// The issuer session is a session like any other.
	status, list := e.bearer(issuer.SessionsPath, next.AccessToken)
	if status != 200 || !strings.Contains(mustJSON(list), issuer.LoginClientID) {
		t.Errorf("/v1/sessions = %d %v; want the issuer session listed", status, list)
	}

	// A guard that follows the feed accepts both access tokens now.
	g2, err := guard.New(context.Background(), guard.Config{Issuer: e.ts.URL, Audience: e.ts.URL, HTTPClient: e.ts.Client()})
	if err != nil {
		t.Fatal(err)
	}
	defer g2.Close()
	protected := httptest.NewServer(g2.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer protected.Close()
	call := func(access string) int {
		req, _ := http.NewRequest("GET", protected.URL, nil)
		req.Header.Set("Authorization", "Bearer "+access)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// It may answer 503 until it has caught up with the feed.
	for deadline := time.Now().Add(10 * time.Second); call(next.AccessToken) != 200 || call(wtok.AccessToken) != 200; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the guard refuses fresh access tokens: %d %d", call(next.AccessToken), call(wtok.AccessToken))
		}
	}

	// RP-initiated logout with a hint and a registered post-logout URI.
	lo := get(t, b, e.ts.URL+issuer.EndSessionPath+"?"+url.Values{"id_token_hint": {raw},
		"post_logout_redirect_uri": {rpBye}, "state": {"bye state"}}.Encode())
	if lo.status != http.StatusSeeOther || lo.header.Get("Location") != rpBye+"?state=bye+state" {
		t.Fatalf("logout: %d Location %q", lo.status, lo.header.Get("Location"))
	}
	deadline := time.Now().Add(10 * time.Second)
	for call(next.AccessToken) != 401 || call(wtok.AccessToken) != 401 {
		if time.Now().After(deadline) {
			t.Fatal("the guard still accepts the access tokens of the ended sessions")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := app.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: next.RefreshToken}).Token(); err == nil {
		t.Error("the first client's refresh token still works after logout")
	}
	// And the browser must sign in again.
	if p := get(t, b, newFlow(wiki).url()); p.status != http.StatusOK || !strings.Contains(p.body, `name="password"`) {
		t.Errorf("after logout: %d, want the login page", p.status)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestAuthorizeRefusals are the authorization endpoint's negative cases,
// each its own.
func TestAuthorizeRefusals(t *testing.T) {
	e := newOIDCEnv(t)
	app := e.client(issuer.ClientSpec{ID: "app"})
	var b *http.Client
	base := func() url.Values {
		b = e.browser() // each case starts without an issuer session
		return url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {rpCallback}, "scope": {"openid"},
			"state": {"s"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
	}
	redirected := func(t *testing.T, q url.Values, wantErr string) url.Values {
		t.Helper()
		p := get(t, b, e.ts.URL+issuer.AuthorizePath+"?"+q.Encode())
		got := callback(t, p)
		if !strings.HasPrefix(p.header.Get("Location"), rpCallback+"?") || got.Get("error") != wantErr || got.Get("iss") != e.ts.URL {
			t.Errorf("Location %q, want %s with error %s and iss", p.header.Get("Location"), rpCallback, wantErr)
		}
		return got
	}
	t.Run("MissingPKCE", func(t *testing.T) {
		q := base()
		q.Del("code_challenge")
		q.Del("code_challenge_method")
		redirected(t, q, "invalid_request")
	})
	t.Run("PlainPKCE", func(t *testing.T) {
		q := base()
		q.Set("code_challenge_method", "plain")
		q.Set("code_challenge", oauth2.GenerateVerifier())
		redirected(t, q, "invalid_request")
	})
	t.Run("ChallengeWithoutMethod", func(t *testing.T) {
		q := base()
		q.Del("code_challenge_method")
		redirected(t, q, "invalid_request")
	})
	t.Run("ResponseTypeToken", func(t *testing.T) {
		q := base()
		q.Set("response_type", "token")
		redirected(t, q, "unsupported_response_type")
	})
	t.Run("ScopeNotRegistered", func(t *testing.T) {
		q := base()
		q.Set("scope", "openid admin")
		redirected(t, q, "invalid_scope")
	})
	t.Run("StateEchoedUntouched", func(t *testing.T) {
		q := base()
		state := "a b+c/d?e=f&g=%41 é \"<x>"
		q.Set("state", state)
		q.Set("response_type", "id_token")
		if got := redirected(t, q, "unsupported_response_type"); got.Get("state") != state {
			t.Errorf("state came back as %q, want %q", got.Get("state"), state)
		}
		// And on success.
		f := newFlow(app)
		f.state = state
		if got := e.signIn(b, f); got.Get("state") != state {
			t.Errorf("state after sign-in %q", got.Get("state"))
		}
	})
	for name, uri := range map[string]string{
		"RedirectURINotRegistered":    "https://evil.example/cb",
		"RedirectURIOneCharacterMore": rpCallback + "x",
		"RedirectURIOneCharacterLess": strings.TrimSuffix(rpCallback, "b"),
		"RedirectURIOtherCase":        strings.Replace(rpCallback, "rp.", "RP.", 1),
		"RedirectURIWithQuery":        rpCallback + "?next=https://evil.example",
	} {
		t.Run(name, func(t *testing.T) {
			q := base()
			q.Set("redirect_uri", uri)
			p := get(t, b, e.ts.URL+issuer.AuthorizePath+"?"+q.Encode())
			if p.status != http.StatusBadRequest || p.header.Get("Location") != "" {
				t.Errorf("redirect_uri %q: %d Location %q; want a 400 page and no redirect", uri, p.status, p.header.Get("Location"))
			}
		})
	}
	t.Run("UnknownClient", func(t *testing.T) {
		q := base()
		q.Set("client_id", "nobody")
		if p := get(t, b, e.ts.URL+issuer.AuthorizePath+"?"+q.Encode()); p.status != 400 || p.header.Get("Location") != "" {
			t.Errorf("unknown client: %d %q", p.status, p.header.Get("Location"))
		}
	})
	t.Run("PromptNoneWithoutSession", func(t *testing.T) {
		q := base()
		q.Set("prompt", "none")
		got := redirected(t, q, "login_required")
		if got.Get("state") != "s" {
			t.Errorf("state %q", got.Get("state"))
		}
	})
	t.Run("LoopbackAnyPort", func(t *testing.T) {
		e.client(issuer.ClientSpec{ID: "native", Public: true, RedirectURIs: []string{"http://127.0.0.1/callback"}})
		q := base()
		q.Set("client_id", "native")
		q.Set("redirect_uri", "http://127.0.0.1:53682/callback")
		if p := get(t, b, e.ts.URL+issuer.AuthorizePath+"?"+q.Encode()); p.status != 200 {
			t.Errorf("loopback redirect on another port: %d, want the login page", p.status)
		}
		q.Set("redirect_uri", "http://127.0.0.1:53682/callbackx")
		if p := get(t, b, e.ts.URL+issuer.AuthorizePath+"?"+q.Encode()); p.status != 400 {
			t.Errorf("loopback redirect with another path: %d, want 400", p.status)
		}
	})
}

// TestCodeRefusals are the token endpoint's negative cases for codes.
func TestCodeRefusals(t *testing.T) {
	e := newOIDCEnv(t)
	app := e.client(issuer.ClientSpec{ID: "app"})
	b := e.browser()
	t.Run("WrongVerifier", func(t *testing.T) {
		f := newFlow(app)
		q := e.signIn(b, f)
		_, err := app.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
		if tokenError(err) != "invalid_grant" {
			t.Errorf("wrong verifier: %v", err)
		}
		_, err = app.Exchange(e.ctx(), q.Get("code"))
		if tokenError(err) != "invalid_grant" {
			t.Errorf("no verifier: %v", err)
		}
		// The right verifier still works: a failed check does not burn the code.
		if _, err := e.exchange(f, q.Get("code")); err != nil {
			t.Errorf("right verifier after wrong ones: %v", err)
		}
	})
	t.Run("CodeReusedRevokesFirstTokens", func(t *testing.T) {
		f := newFlow(app)
		q := e.signIn(b, f)
		first, err := e.exchange(f, q.Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		if status, _ := e.bearer(issuer.OIDCUserinfo, first.AccessToken); status != 200 {
			t.Fatalf("first access token refused before the reuse: %d", status)
		}
		if _, err := e.exchange(f, q.Get("code")); tokenError(err) != "invalid_grant" {
			t.Fatalf("second use: %v, want invalid_grant", err)
		}
		if status, _ := e.bearer(issuer.OIDCUserinfo, first.AccessToken); status != http.StatusUnauthorized {
			t.Errorf("first access token after the code's reuse: %d, want 401", status)
		}
		if _, err := app.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: first.RefreshToken}).Token(); tokenError(err) != "invalid_grant" {
			t.Errorf("first refresh token after the code's reuse: %v", err)
		}
	})
	t.Run("CodeExpired", func(t *testing.T) {
		f := newFlow(app)
		q := e.signIn(b, f)
		e.clock.Advance(issuer.CodeTTL + time.Second)
		if _, err := e.exchange(f, q.Get("code")); tokenError(err) != "invalid_grant" {
			t.Errorf("expired code: %v", err)
		}
	})
	t.Run("RedirectURIDiffers", func(t *testing.T) {
		f := newFlow(app)
		q := e.signIn(b, f)
		other := *app
		other.RedirectURL = rpCallback + "/"
		if _, err := other.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(f.verifier)); tokenError(err) != "invalid_grant" {
			t.Errorf("other redirect_uri: %v", err)
		}
	})
	t.Run("OtherClient", func(t *testing.T) {
		f := newFlow(app)
		q := e.signIn(b, f)
		thief := e.client(issuer.ClientSpec{ID: "thief"})
		if _, err := thief.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(f.verifier)); tokenError(err) != "invalid_grant" {
			t.Errorf("another client's code: %v", err)
		}
	})
	t.Run("PublicClientWithSecret", func(t *testing.T) {
		spa := e.client(issuer.ClientSpec{ID: "spa", Public: true})
		f := newFlow(spa)
		q := e.signIn(b, f)
		withSecret := *spa
		withSecret.ClientSecret = "guessed-or-leaked"
		withSecret.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		if _, err := withSecret.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(f.verifier)); tokenError(err) != "invalid_client" {
			t.Errorf("public client with a secret in the body: %v", err)
		}
		withSecret.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
		if _, err := withSecret.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(f.verifier)); tokenError(err) != "invalid_client" {
			t.Errorf("public client with Basic credentials: %v", err)
		}
		if _, err := e.exchange(f, q.Get("code")); err != nil {
			t.Errorf("public client without a secret: %v", err)
		}
	})
	t.Run("ConfidentialClientWithoutSecret", func(t *testing.T) {
		f := newFlow(app)
		q := e.signIn(b, f)
		noSecret := *app
		noSecret.ClientSecret = ""
		noSecret.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		if _, err := noSecret.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(f.verifier)); tokenError(err) != "invalid_client" {
			t.Errorf("confidential client without its secret: %v", err)
		}
	})
}

// TestLoginPage: the page's headers, its CSRF protection, its answers to
// wrong passwords, and branding.
func TestLoginPage(t *testing.T) {
	e := newOIDCEnv(t, func(c *issuer.Config, _ *password.HasherConfig) {
		c.Branding = issuer.Branding{ProductName: "Acme ID", AccentColor: "#ffcc00"}
	})
	app := e.client(issuer.ClientSpec{ID: "app", Name: "Notes"})
	b := e.browser()
	f := newFlow(app)
	p := get(t, b, f.url())
	t.Run("FramingRefused", func(t *testing.T) {
		csp := p.header.Get("Content-Security-Policy")
		for _, want := range []string{"frame-ancestors 'none'", "default-src 'none'", "style-src 'self'", "form-action 'self' https://rp.example"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if p.header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("X-Frame-Options = %q", p.header.Get("X-Frame-Options"))
		}
		if strings.Contains(p.body, "<script") || strings.Contains(p.body, "style=") || strings.Contains(p.body, "http://") {
			t.Error("the page has script, inline style or an http URL")
		}
	})
	t.Run("Accessible", func(t *testing.T) {
		for _, want := range []string{`<label for="username">`, `<label for="password">`, `autocomplete="current-password"`, `lang="en"`, "Acme ID", "Notes", `name="viewport"`} {
			if !strings.Contains(p.body, want) {
				t.Errorf("page lacks %s", want)
			}
		}
		wrong := submit(t, b, p, "alice", "not the password")
		if wrong.status != http.StatusUnauthorized || !strings.Contains(wrong.body, `aria-describedby="login-error"`) ||
			!strings.Contains(wrong.body, `id="login-error" role="alert"`) || !strings.Contains(wrong.body, "Wrong user name or password.") {
			t.Errorf("wrong password: %d %s", wrong.status, wrong.body)
		}
		unknown := submit(t, b, wrong, "nobody", "not the password")
		if unknown.status != wrong.status || !strings.Contains(unknown.body, "Wrong user name or password.") {
			t.Errorf("unknown user answered differently: %d", unknown.status)
		}
	})
	t.Run("NoCSRFToken", func(t *testing.T) {
		action := formAction.FindStringSubmatch(p.body)[1]
		target, _ := p.url.Parse(html.UnescapeString(action))
		resp, err := b.PostForm(target.String(), url.Values{"username": {"alice"}, "password": {rpPassword}})
		if err != nil {
			t.Fatal(err)
		}
		got := readPage(t, resp)
		if got.status != http.StatusForbidden || got.header.Get("Location") != "" {
			t.Errorf("login without CSRF token: %d", got.status)
		}
	})
	t.Run("CSRFTokenFromAnotherBrowser", func(t *testing.T) {
		// The attacker's own token, sent through the victim's browser
		// (which has another pre-login cookie), is refused.
		victim := e.browser()
		get(t, victim, f.url())
		got := submit(t, victim, p, "alice", rpPassword)
		if got.status != http.StatusForbidden {
			t.Errorf("someone else's CSRF token: %d", got.status)
		}
	})
	t.Run("CrossSitePost", func(t *testing.T) {
		fresh := get(t, b, f.url())
		for _, h := range [][]string{{"Origin", "https://evil.example"}, {"Sec-Fetch-Site", "cross-site"}, {"Origin", "null"}} {
			if got := submit(t, b, fresh, "alice", rpPassword, h...); got.status != http.StatusForbidden {
				t.Errorf("login posted with %s: %s: %d", h[0], h[1], got.status)
			}
		}
		if got := submit(t, b, fresh, "alice", rpPassword, "Origin", e.ts.URL, "Sec-Fetch-Site", "same-origin"); got.status != http.StatusSeeOther {
			t.Errorf("same-origin login: %d", got.status)
		}
		// What Chromium sends for the page's own form: the page's
		// Referrer-Policy no-referrer makes the Origin "null" (Fetch
		// "serializing a request origin"); Sec-Fetch-Site says same-origin.
		nb := e.browser()
		again := get(t, nb, f.url())
		if got := submit(t, nb, again, "alice", rpPassword, "Origin", "null", "Sec-Fetch-Site", "same-origin"); got.status != http.StatusSeeOther {
			t.Errorf("the login page's own POST from Chromium (Origin null, Sec-Fetch-Site same-origin): %d", got.status)
		}
		other := e.browser()
		cross := get(t, other, f.url())
		if got := submit(t, other, cross, "alice", rpPassword, "Origin", "null", "Sec-Fetch-Site", "same-site"); got.status != http.StatusForbidden {
			t.Errorf("a POST from a sibling site with Origin null: %d", got.status)
		}
	})
	t.Run("BruteForceLimited", func(t *testing.T) {
		// The same limits as the password grant: a burst per account, then
		// 429 with Retry-After, on the page as on the token endpoint.
		bb := e.browser()
		cur := get(t, bb, f.url())
		for i := 0; i < 30; i++ {
			cur = submit(t, bb, cur, "bob", "wrong password number "+string(rune('a'+i)))
			if cur.status == http.StatusTooManyRequests {
				if cur.header.Get("Retry-After") == "" || !strings.Contains(cur.body, "Too many sign-in attempts") {
					t.Errorf("429 without Retry-After or message: %s", cur.body)
				}
				return
			}
			if cur.status != http.StatusUnauthorized {
				t.Fatalf("attempt %d: %d", i, cur.status)
			}
		}
		t.Error("30 wrong passwords for one account were never limited")
	})
	t.Run("Style", func(t *testing.T) {
		css := regexp.MustCompile(`href="([^"]+\.css[^"]*)"`).FindStringSubmatch(p.body)
		if css == nil {
			t.Fatal("no style sheet")
		}
		s := get(t, b, e.ts.URL+html.UnescapeString(css[1]))
		if s.status != 200 || !strings.Contains(s.body, "--accent: #ffcc00") || !strings.Contains(s.body, "--accent-text: #000000") {
			t.Errorf("style sheet: %d, accent missing or text not black on yellow", s.status)
		}
	})
}

func TestBrandingRefusesCSSInjection(t *testing.T) {
	for _, bad := range []string{"red", "#ff0000; } body { display: none", "#12345", "#gggggg", "url(x)"} {
		_, err := issuer.New(issuer.Config{Issuer: "https://issuer.test", Store: issuertest.SQLite(t), Keys: &keyring.Ring{},
			Hasher: &password.Hasher{}, Branding: issuer.Branding{AccentColor: bad}})
		if err == nil {
			t.Errorf("accent colour %q accepted", bad)
		}
	}
	for _, bad := range []string{"javascript:alert(1)", "http://cdn.example/logo.png", "https://x.example/a\"onerror=\"x", "//cdn.example/l.png"} {
		_, err := issuer.New(issuer.Config{Issuer: "https://issuer.test", Store: issuertest.SQLite(t), Keys: &keyring.Ring{},
			Hasher: &password.Hasher{}, Branding: issuer.Branding{LogoURL: bad}})
		if err == nil {
			t.Errorf("logo URL %q accepted", bad)
		}
	}
}

// TestSingleSignOnPrompts: prompt=login and max_age force a password;
// prompt=none uses a live session silently; disabling the user, changing
// the password and logout-all end the issuer session.
func TestSingleSignOnPrompts(t *testing.T) {
	e := newOIDCEnv(t)
	app := e.client(issuer.ClientSpec{ID: "app"})
	b := e.browser()
	f := newFlow(app)
	tok, err := e.exchange(f, e.signIn(b, f).Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(10 * time.Second)
	if q := callback(t, get(t, b, newFlow(app).url(oauth2.SetAuthURLParam("prompt", "none")))); q.Get("code") == "" {
		t.Errorf("prompt=none with a session: %v", q)
	}
	for name, opt := range map[string]oauth2.AuthCodeOption{
		"PromptLogin": oauth2.SetAuthURLParam("prompt", "login"),
		"MaxAge5":     oauth2.SetAuthURLParam("max_age", "5"),
		"MaxAge0":     oauth2.SetAuthURLParam("max_age", "0"),
	} {
		if p := get(t, b, newFlow(app).url(opt)); p.status != 200 || !strings.Contains(p.body, `name="password"`) {
			t.Errorf("%s: %d, want the login page", name, p.status)
		}
	}
	if q := callback(t, get(t, b, newFlow(app).url(oauth2.SetAuthURLParam("max_age", "3600")))); q.Get("code") == "" {
		t.Errorf("max_age within the session's age: %v", q)
	}
	// prompt=login: a fresh password gives a fresh auth_time.
	g := newFlow(app)
	p := get(t, b, g.url(oauth2.SetAuthURLParam("prompt", "login")))
	again, err := e.exchange(g, callback(t, submit(t, b, p, "alice", rpPassword)).Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	first := e.idClaims(tok.Extra("id_token").(string), jose.RS256)
	second := e.idClaims(again.Extra("id_token").(string), jose.RS256)
	if second["auth_time"].(float64) <= first["auth_time"].(float64) {
		t.Errorf("auth_time after prompt=login %v, first %v", second["auth_time"], first["auth_time"])
	}

	// A password change ends the issuer session, not the session it was
	// made in.
	req, _ := http.NewRequest("POST", e.ts.URL+issuer.PasswordPath,
		strings.NewReader(`{"current_password":"`+rpPassword+`","new_password":"`+rpPassword+` 2"}`))
	req.Header.Set("Authorization", "Bearer "+again.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := e.ts.Client().Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("password change: %v %v", resp, err)
	}
	if q := callback(t, get(t, b, newFlow(app).url(oauth2.SetAuthURLParam("prompt", "none")))); q.Get("error") != "login_required" {
		t.Errorf("prompt=none after a password change: %v", q)
	}
	if status, _ := e.bearer(issuer.OIDCUserinfo, again.AccessToken); status != 200 {
		t.Errorf("the session the password was changed in: %d, want still 200", status)
	}
	if _, err := app.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); tokenError(err) != "invalid_grant" {
		t.Errorf("another session's refresh token after the password change: %v", err)
	}
	pw2 := rpPassword + " 2"
	e.clock.Advance(time.Second)
	p = get(t, b, newFlow(app).url())
	callback(t, submit(t, b, p, "alice", pw2))

	// logout-all ends the issuer session: the next request needs a password.
	req, _ = http.NewRequest("POST", e.ts.URL+issuer.LogoutAllPath, nil)
	req.Header.Set("Authorization", "Bearer "+again.AccessToken)
	if resp, err := e.ts.Client().Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("logout-all: %v %v", resp, err)
	}
	if q := callback(t, get(t, b, newFlow(app).url(oauth2.SetAuthURLParam("prompt", "none")))); q.Get("error") != "login_required" {
		t.Errorf("prompt=none after logout-all: %v", q)
	}
	// Disabling the user ends a new issuer session too.
	e.clock.Advance(2 * time.Second)
	p = get(t, b, newFlow(app).url())
	callback(t, submit(t, b, p, "alice", pw2))
	u, _ := e.acct.FindUser(context.Background(), "alice")
	if _, err := e.acct.EndUser(context.Background(), u.ID, true, "disabled", ""); err != nil {
		t.Fatal(err)
	}
	if q := callback(t, get(t, b, newFlow(app).url(oauth2.SetAuthURLParam("prompt", "none")))); q.Get("error") != "login_required" {
		t.Errorf("prompt=none after disable: %v", q)
	}
}

// TestLogoutRefusesOpenRedirect: only a post-logout URI registered for the
// hint's client, exactly, is followed.
func TestLogoutRefusesOpenRedirect(t *testing.T) {
	e := newOIDCEnv(t)
	app := e.client(issuer.ClientSpec{ID: "app", PostLogoutRedirectURIs: []string{rpBye}})
	other := e.client(issuer.ClientSpec{ID: "other", PostLogoutRedirectURIs: []string{"https://other.example/bye"}})
	_ = other
	b := e.browser()
	f := newFlow(app)
	tok, err := e.exchange(f, e.signIn(b, f).Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	hint := tok.Extra("id_token").(string)
	// A valid hint ends the session whatever the redirect; only the
	// redirect is refused.
	for _, to := range []string{"https://evil.example/", rpBye + "x", rpBye + "/", "https://other.example/bye", "//evil.example"} {
		p := get(t, e.browser(), e.ts.URL+issuer.EndSessionPath+"?"+url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {to}}.Encode())
		if p.header.Get("Location") != "" || p.status != 200 {
			t.Errorf("post_logout_redirect_uri %q: %d Location %q; want a page, no redirect", to, p.status, p.header.Get("Location"))
		}
	}
	// Without a hint, no redirect, and no logout without the user's say.
	e.clock.Advance(time.Second)
	e.signIn(b, newFlow(app))
	p := get(t, b, e.ts.URL+issuer.EndSessionPath+"?"+url.Values{"client_id": {"app"}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
	if p.header.Get("Location") != "" || !strings.Contains(p.body, "Sign out of") {
		t.Errorf("logout without hint: %d %q", p.status, p.header.Get("Location"))
	}
	if q := callback(t, get(t, b, newFlow(app).url(oauth2.SetAuthURLParam("prompt", "none")))); q.Get("code") == "" {
		t.Error("a logout page without confirmation ended the session")
	}
	// A forged confirmation (no CSRF token) changes nothing either.
	resp, err := b.PostForm(e.ts.URL+issuer.EndSessionPath, url.Values{"client_id": {"app"}})
	if err != nil {
		t.Fatal(err)
	}
	readPage(t, resp)
	if q := callback(t, get(t, b, newFlow(app).url(oauth2.SetAuthURLParam("prompt", "none")))); q.Get("code") == "" {
		t.Error("a confirmation without its CSRF token ended the session")
	}
	// The user's own confirmation ends it.
	form := csrfField.FindStringSubmatch(p.body)
	resp, err = b.PostForm(e.ts.URL+issuer.EndSessionPath, url.Values{"csrf_token": {form[1]}})
	if err != nil {
		t.Fatal(err)
	}
	if got := readPage(t, resp); got.status != 200 || !strings.Contains(got.body, "signed out") {
		t.Errorf("confirmed logout: %d", got.status)
	}
	if q := callback(t, get(t, b, newFlow(app).url(oauth2.SetAuthURLParam("prompt", "none")))); q.Get("error") != "login_required" {
		t.Errorf("after a confirmed logout: %v", q)
	}
}

// TestDiscoveryIsOpenIDConnect: the metadata lists what is really there.
func TestDiscoveryIsOpenIDConnect(t *testing.T) {
	e := newOIDCEnv(t)
	resp, err := e.ts.Client().Get(e.ts.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"authorization_endpoint":                e.ts.URL + issuer.AuthorizePath,
		"end_session_endpoint":                  e.ts.URL + issuer.EndSessionPath,
		"userinfo_endpoint":                     e.ts.URL + issuer.OIDCUserinfo,
		"response_types_supported":              `["code"]`,
		"subject_types_supported":               `["public"]`,
		"code_challenge_methods_supported":      `["S256"]`,
		"id_token_signing_alg_values_supported": `["EdDSA","RS256"]`,
	} {
		got := m[k]
		if s, ok := got.(string); !ok || s != want {
			if mustJSON(got) != want {
				t.Errorf("%s = %v, want %s", k, got, want)
			}
		}
	}
	// Every prompt value /authorize accepts is announced, no more.
	if got := mustJSON(m["prompt_values_supported"]); got != `["none","login","consent","select_account"]` {
		t.Errorf("prompt_values_supported = %s", got)
	}
	if m["authorization_response_iss_parameter_supported"] != true {
		t.Error("RFC 9207 iss not announced")
	}
}

// TestMaxAgeZeroAsksForPassword: max_age=0 is a fresh login every time
// (OpenID Connect Core §3.1.2.1), even within the second the issuer
// session began.
func TestMaxAgeZeroAsksForPassword(t *testing.T) {
	e := newOIDCEnv(t)
	app := e.client(issuer.ClientSpec{ID: "app"})
	b := e.browser()
	e.signIn(b, newFlow(app))
	if p := get(t, b, newFlow(app).url(oauth2.SetAuthURLParam("max_age", "0"))); p.status != 200 || !strings.Contains(p.body, `name="password"`) {
		t.Errorf("max_age=0 at once after a login: %d %s, want the login page", p.status, p.header.Get("Location"))
	}
}

// TestRedirectURIOnlyAtToken: a client that left redirect_uri out of the
// authorization request (its one registered URI was used) may still send
// that URI with the code, as most OAuth libraries do (RFC 6749 §4.1.3
// asks for it only when the request had it); any other URI is refused.
func TestRedirectURIOnlyAtToken(t *testing.T) {
	e := newOIDCEnv(t)
	app := e.client(issuer.ClientSpec{ID: "app"})
	b := e.browser()
	withoutRedirect := func(f *flow) string {
		u, _ := url.Parse(f.url())
		q := u.Query()
		q.Del("redirect_uri")
		q.Set("scope", "profile") // OpenID Connect requires redirect_uri
		u.RawQuery = q.Encode()
		return u.String()
	}
	f := newFlow(app)
	q := callback(t, submit(t, b, get(t, b, withoutRedirect(f)), "alice", rpPassword))
	if _, err := e.exchange(f, q.Get("code")); err != nil {
		t.Errorf("registered redirect_uri at /token only: %v", err)
	}
	g := newFlow(app)
	q = callback(t, get(t, b, withoutRedirect(g)))
	other := *app
	other.RedirectURL = rpCallback + "x"
	if _, err := other.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(g.verifier)); tokenError(err) != "invalid_grant" {
		t.Errorf("unregistered redirect_uri at /token only: %v, want invalid_grant", err)
	}
}

// TestOpenIDRequestNeedsRedirectURI: an OpenID Connect authentication
// request must name its redirect_uri (Core §3.1.2.1); without it the user
// sees an error page and no code leaves the issuer.
func TestOpenIDRequestNeedsRedirectURI(t *testing.T) {
	e := newOIDCEnv(t)
	app := e.client(issuer.ClientSpec{ID: "app"})
	b := e.browser()
	e.signIn(b, newFlow(app)) // with an issuer session, a code would go out at once
	u, _ := url.Parse(newFlow(app).url())
	q := u.Query()
	q.Del("redirect_uri")
	u.RawQuery = q.Encode()
	if p := get(t, b, u.String()); p.status != http.StatusBadRequest || p.header.Get("Location") != "" {
		t.Errorf("scope=openid without redirect_uri: %d Location %q, want a 400 page", p.status, p.header.Get("Location"))
	}
}

// TestPromptNoneWithAnotherUsersHint: with prompt=none, an id_token_hint
// naming another user than the one signed in gets login_required, not a
// code for the wrong account (OpenID Connect Core §3.1.2.1); the signed-in
// user's own hint signs in silently, and a forged hint is refused.
func TestPromptNoneWithAnotherUsersHint(t *testing.T) {
	e := newOIDCEnv(t)
	if _, err := e.acct.AddUser(context.Background(), "bob", rpPassword, nil); err != nil {
		t.Fatal(err)
	}
	app := e.client(issuer.ClientSpec{ID: "app"})
	alice, bob := e.browser(), e.browser()
	fa := newFlow(app)
	ta, err := e.exchange(fa, e.signIn(alice, fa).Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	fb := newFlow(app)
	tb, err := e.exchange(fb, callback(t, submit(t, bob, get(t, bob, fb.url()), "bob", rpPassword)).Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	silent := func(hint string) url.Values {
		return callback(t, get(t, alice, newFlow(app).url(oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", hint))))
	}
	if q := silent(tb.Extra("id_token").(string)); q.Get("error") != "login_required" {
		t.Errorf("prompt=none with another user's hint: %v, want login_required", q)
	}
	if q := silent(ta.Extra("id_token").(string)); q.Get("code") == "" {
		t.Errorf("prompt=none with the user's own hint: %v, want a code", q)
	}
	if q := silent("eyJhbGciOiJub25lIn0.e30."); q.Get("error") != "invalid_request" {
		t.Errorf("prompt=none with a forged hint: %v, want invalid_request", q)
	}
}

// TestLogoutWithAnotherSessionsHintAsks: an id_token_hint from an earlier
// issuer session (the user has signed in again since) must not sign the
// browser out silently, nor send it on to the relying party as if it
// were: the user is asked (RP-Initiated Logout 1.0 §2), and only the
// confirmed form ends the browser's current session.
func TestLogoutWithAnotherSessionsHintAsks(t *testing.T) {
	e := newOIDCEnv(t)
	app := e.client(issuer.ClientSpec{ID: "app", PostLogoutRedirectURIs: []string{rpBye}})
	b := e.browser()
	f := newFlow(app)
	tok, err := e.exchange(f, e.signIn(b, f).Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	oldHint := tok.Extra("id_token").(string)
	e.clock.Advance(time.Second)
	e.signIn(b, newFlow(app), oauth2.SetAuthURLParam("prompt", "login")) // a new issuer session

	logout := e.ts.URL + issuer.EndSessionPath + "?" + url.Values{"id_token_hint": {oldHint}, "post_logout_redirect_uri": {rpBye}, "state": {"s1"}}.Encode()
	p := get(t, b, logout)
	if p.header.Get("Location") != "" || !strings.Contains(p.body, "Sign out of") {
		t.Fatalf("logout with an old session's hint: %d Location %q; want the confirmation page", p.status, p.header.Get("Location"))
	}
	if q := callback(t, get(t, b, newFlow(app).url(oauth2.SetAuthURLParam("prompt", "none")))); q.Get("code") == "" {
		t.Fatal("an old session's hint ended the browser's current session without asking")
	}
	// The confirmation ends the current session and then returns to the
	// relying party the hint names.
	action, csrf := formAction.FindStringSubmatch(p.body), csrfField.FindStringSubmatch(p.body)
	if action == nil || csrf == nil {
		t.Fatalf("no confirmation form: %s", p.body)
	}
	target, err := p.url.Parse(html.UnescapeString(action[1]))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := b.PostForm(target.String(), url.Values{"csrf_token": {csrf[1]}})
	if err != nil {
		t.Fatal(err)
	}
	got := readPage(t, resp)
	if loc := got.header.Get("Location"); !strings.HasPrefix(loc, rpBye) || !strings.Contains(loc, "state=s1") {
		t.Errorf("confirmed logout: %d Location %q; want %s with the state", got.status, loc, rpBye)
	}
	if q := callback(t, get(t, b, newFlow(app).url(oauth2.SetAuthURLParam("prompt", "none")))); q.Get("error") != "login_required" {
		t.Errorf("after the confirmed logout: %v", q)
	}
}

// TestRedirectURIQueryRetained: a registered redirect URI's own query is
// kept as it is, and the response's parameters are added to it (RFC 6749
// §3.1.2), never merged into it or reordered.
func TestRedirectURIQueryRetained(t *testing.T) {
	e := newOIDCEnv(t)
	const registered = "https://rp.example/cb?tenant=b&flag"
	app := e.client(issuer.ClientSpec{ID: "app", RedirectURIs: []string{registered}})
	f := newFlow(app)
	b := e.browser()
	p := submit(t, b, get(t, b, f.url()), "alice", rpPassword)
	loc := p.header.Get("Location")
	if !strings.HasPrefix(loc, registered+"&") {
		t.Fatalf("Location %q: want the registered URI %q, its query untouched, then the response's parameters", loc, registered)
	}
	added, err := url.ParseQuery(strings.TrimPrefix(loc, registered+"&"))
	if err != nil || added.Get("code") == "" || added.Get("state") != f.state || added.Get("iss") != e.ts.URL {
		t.Errorf("added parameters %v (%v): want code, state %q and iss", added, err, f.state)
	}
}
