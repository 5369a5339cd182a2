package interop

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/waxseal/waxseal/interop/harness"
)

// relyingParty is a small web application that signs its users in with
// waxseal the way a Go developer would write one: golang.org/x/oauth2 for
// the authorization code flow with PKCE (GenerateVerifier,
// S256ChallengeOption) and go-oidc for discovery and the ID token. It
// serves, at https://NAME.example.test:PORT,
//
//	/login      start a sign-in: redirect to the authorization endpoint
//	/callback   finish it: check state and iss, redeem the code, verify the ID token
//	/loggedout  where the end-session endpoint sends the browser back
//
// and hands each finished sign-in to the test on results.
type relyingParty struct {
	name     string
	URL      string
	client   registeredClient
	issuer   string
	ctx      context.Context // carries the HTTP client that trusts the test CA
	provider *oidc.Provider
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier
	results  chan signIn
	loggedIn chan url.Values // query strings /loggedout was called with

	mu      sync.Mutex
	pending map[string]pendingSignIn // guarded by mu: by state
}

// pendingSignIn is what the relying party keeps between /login and
// /callback.
type pendingSignIn struct {
	verifier, nonce string
}

// signIn is a finished sign-in, or why it failed.
type signIn struct {
	token   *oauth2.Token
	rawID   string
	idToken *oidc.IDToken
	claims  idClaims
	errCode string // the authorization response's error, if any
	err     error
}

// idClaims are the ID token claims the tests look at.
type idClaims struct {
	Subject           string `json:"sub"`
	PreferredUsername string `json:"preferred_username"`
	AuthTime          int64  `json:"auth_time"`
	SessionID         string `json:"sid"`
	AuthorizedParty   string `json:"azp"`
	Nonce             string `json:"nonce"`
	AccessTokenHash   string `json:"at_hash"`
}

// rpKind says what kind of application a relying party is.
type rpKind int

const (
	// webApp is a confidential client: a server-side web application at
	// https://NAME.example.test:PORT with a client secret.
	webApp rpKind = iota
	// nativeApp is a public client as RFC 8252 describes a native app: no
	// secret, a redirect to a loopback listener on a port the operating
	// system chose, registered as http://127.0.0.1/callback (any port
	// matches, §7.3).
	nativeApp
)

// newRelyingParty starts the application named name (rp1, rp2), registers
// it with the issuer through the CLI, and discovers the issuer.
func newRelyingParty(t *testing.T, w *world, name string, kind rpKind) *relyingParty {
	t.Helper()
	rp := &relyingParty{
		name:     name,
		issuer:   w.iss.URL,
		ctx:      w.ctx(t),
		results:  make(chan signIn, 4),
		loggedIn: make(chan url.Values, 4),
		pending:  map[string]pendingSignIn{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", rp.login)
	mux.HandleFunc("GET /callback", rp.callback)
	mux.HandleFunc("GET /loggedout", rp.loggedOut)
	srv := httptest.NewUnstartedServer(mux)
	flags := []string{"--grant", "authorization_code", "--grant", "refresh_token",
		"--scope", "openid", "--scope", "profile", "--scope", "offline_access"}
	var redirect string
	switch kind {
	case webApp:
		srv.TLS = w.leaf.ServerTLS()
		srv.StartTLS()
		rp.URL = "https://" + harness.Host(name, srv.Listener.Addr().String())
		redirect = rp.URL + "/callback"
		flags = append(flags, "--redirect-uri", redirect, "--post-logout-redirect-uri", rp.URL+"/loggedout")
	case nativeApp:
		srv.Start()
		rp.URL = srv.URL // http://127.0.0.1:PORT
		redirect = rp.URL + "/callback"
		flags = append(flags, "--public", "--redirect-uri", "http://127.0.0.1/callback")
	}
	t.Cleanup(srv.Close)
	rp.client = w.addClient(t, name, flags...)
	if kind == nativeApp && rp.client.Secret != "" {
		t.Errorf("a public client was given a secret")
	}

	var err error
	if rp.provider, err = oidc.NewProvider(rp.ctx, w.iss.URL); err != nil {
		t.Fatalf("%s: discovery: %v", name, err)
	}
	rp.conf = oauth2.Config{
		ClientID:     rp.client.ID,
		ClientSecret: rp.client.Secret,
		Endpoint:     rp.provider.Endpoint(),
		RedirectURL:  redirect,
		Scopes:       []string{oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess},
	}
	if kind == nativeApp {
		// No secret to send: the client_id goes in the body (RFC 6749 §3.2.1).
		rp.conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	}
	rp.verifier = rp.provider.Verifier(&oidc.Config{ClientID: rp.client.ID})
	return rp
}

func (rp *relyingParty) login(w http.ResponseWriter, r *http.Request) {
	p := pendingSignIn{verifier: oauth2.GenerateVerifier(), nonce: oauth2.GenerateVerifier()}
	state := oauth2.GenerateVerifier()
	rp.mu.Lock()
	rp.pending[state] = p
	rp.mu.Unlock()
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(p.verifier), oidc.Nonce(p.nonce)}
	for _, k := range []string{"prompt", "max_age"} {
		if v := r.URL.Query().Get(k); v != "" {
			opts = append(opts, oauth2.SetAuthURLParam(k, v))
		}
	}
	http.Redirect(w, r, rp.conf.AuthCodeURL(state, opts...), http.StatusFound)
}

func (rp *relyingParty) callback(w http.ResponseWriter, r *http.Request) {
	res := rp.finish(r.URL.Query())
	rp.results <- res
	if res.err != nil {
		http.Error(w, res.err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><title>%s</title><p>Signed in as <span id="rp-user">%s</span></p>`,
		rp.name, html.EscapeString(res.claims.PreferredUsername))
}

// finish checks an authorization response and redeems its code, as RFC
// 6749 §4.1.2 and §10.12, RFC 9207 and OpenID Connect Core §3.1.3.7 say a
// client must.
func (rp *relyingParty) finish(q url.Values) signIn {
	state := q.Get("state")
	rp.mu.Lock()
	p, ok := rp.pending[state]
	delete(rp.pending, state)
	rp.mu.Unlock()
	if !ok {
		return signIn{err: fmt.Errorf("%s: callback with unknown state %q", rp.name, state)}
	}
	if iss := q.Get("iss"); iss != rp.issuer {
		return signIn{err: fmt.Errorf("%s: callback iss %q, want %q (RFC 9207)", rp.name, iss, rp.issuer)}
	}
	if e := q.Get("error"); e != "" {
		return signIn{errCode: e, err: fmt.Errorf("%s: authorization error %q: %s", rp.name, e, q.Get("error_description"))}
	}
	ctx, cancel := context.WithTimeout(rp.ctx, 30*time.Second)
	defer cancel()
	tok, err := rp.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		return signIn{err: fmt.Errorf("%s: redeeming the code: %w", rp.name, err)}
	}
	res, err := rp.verifyIDToken(ctx, tok)
	if err != nil {
		return signIn{err: err}
	}
	if res.idToken.Nonce != p.nonce {
		return signIn{err: fmt.Errorf("%s: ID token nonce %q, want %q", rp.name, res.idToken.Nonce, p.nonce)}
	}
	return res
}

// verifyIDToken verifies the ID token that came with tok: signature, iss,
// aud and exp by go-oidc, then at_hash against the access token.
func (rp *relyingParty) verifyIDToken(ctx context.Context, tok *oauth2.Token) (signIn, error) {
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return signIn{}, fmt.Errorf("%s: token response without id_token", rp.name)
	}
	idt, err := rp.verifier.Verify(ctx, raw)
	if err != nil {
		return signIn{}, fmt.Errorf("%s: verifying the ID token: %w", rp.name, err)
	}
	res := signIn{token: tok, rawID: raw, idToken: idt}
	if err := idt.Claims(&res.claims); err != nil {
		return signIn{}, fmt.Errorf("%s: ID token claims: %w", rp.name, err)
	}
	if idt.AccessTokenHash == "" {
		return signIn{}, fmt.Errorf("%s: ID token without at_hash", rp.name)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		return signIn{}, fmt.Errorf("%s: at_hash: %w", rp.name, err)
	}
	return res, nil
}

func (rp *relyingParty) loggedOut(w http.ResponseWriter, r *http.Request) {
	rp.loggedIn <- r.URL.Query()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><title>%s</title><p id="rp-loggedout">Signed out</p>`, rp.name)
}

// result waits for the next finished sign-in and fails the test if it
// failed.
func (rp *relyingParty) result(t *testing.T) signIn {
	t.Helper()
	res := rp.next(t)
	if res.err != nil {
		t.Fatal(res.err)
	}
	return res
}

// next waits for the next callback, successful or not.
func (rp *relyingParty) next(t *testing.T) signIn {
	t.Helper()
	select {
	case res := <-rp.results:
		return res
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no callback within 30 s", rp.name)
	}
	return signIn{}
}

// endSessionURL is the end_session_endpoint the issuer's metadata names.
func (rp *relyingParty) endSessionURL(t *testing.T) string {
	t.Helper()
	var md struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := rp.provider.Claims(&md); err != nil || md.EndSession == "" {
		t.Fatalf("metadata has no end_session_endpoint (%v)", err)
	}
	return md.EndSession
}
