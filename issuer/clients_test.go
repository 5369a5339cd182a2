package issuer_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/password"
)

func (e *env) addClient(id string, grants, scopes, roles []string) string {
	e.t.Helper()
	_, secret, err := e.acct.CreateClient(context.Background(), issuer.ClientSpec{ID: id, Name: id + " service", GrantTypes: grants, Scopes: scopes, Roles: roles})
	if err != nil {
		e.t.Fatal(err)
	}
	return secret
}

func TestClientCredentials(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		e := newEnv(t, eng.open(t), nil)
		secret := e.addClient("billing", []string{issuer.GrantClientCredentials}, []string{"invoices:read", "invoices:write"}, []string{"service"})
		ctx := context.Background()

		for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
			cc := clientcredentials.Config{ClientID: "billing", ClientSecret: secret, TokenURL: e.http.URL + issuer.TokenPath,
				Scopes: []string{"invoices:read"}, AuthStyle: style}
			tok, err := cc.Token(ctx)
			if err != nil {
				t.Fatalf("auth style %v: %v", style, err)
			}
			if tok.RefreshToken != "" {
				t.Error("client_credentials returned a refresh token")
			}
			info := e.get(issuer.UserinfoPath, tok.AccessToken)
			if info.str("sub") != "billing" || info.str("client_id") != "billing" || info.str("scope") != "invoices:read" || info.str("sid") != "" {
				t.Errorf("client token claims: %s", info.Raw)
			}
			// The library's HTTP client sends the token by itself.
			resp, err := cc.Client(ctx).Get(e.http.URL + issuer.UserinfoPath)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("client from the library: %v %v", resp, err)
			}
			resp.Body.Close()
		}

		bad := []struct {
			name, id, secret, scope, code string
		}{
			{"wrong secret", "billing", secret + "x", "", "invalid_client"},
			{"unknown client", "nobody", secret, "", "invalid_client"},
			{"scope not allowed", "billing", secret, "admin", "invalid_scope"},
		}
		for _, tt := range bad {
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {tt.id}, "client_secret": {tt.secret}}
			if tt.scope != "" {
				form.Set("scope", tt.scope)
			}
			r := e.postForm(issuer.TokenPath, form, "")
			if r.str("error") != tt.code {
				t.Errorf("%s: %d %s", tt.name, r.Status, r.Raw)
			}
		}

		// Secret rotation keeps the old secret for the overlap only.
		newSecret, err := e.acct.RotateClientSecret(ctx, "billing", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		get := func(s string) int {
			return e.postForm(issuer.TokenPath, url.Values{"grant_type": {"client_credentials"}, "client_id": {"billing"}, "client_secret": {s}}, "").Status
		}
		if get(newSecret) != 200 || get(secret) != 200 {
			t.Error("a secret does not work during the overlap")
		}
		e.clock.Advance(time.Hour + time.Second)
		if get(newSecret) != 200 || get(secret) != 401 {
			t.Error("the old secret outlived the overlap")
		}

		// Deleting the client revokes its tokens.
		r := e.postForm(issuer.TokenPath, url.Values{"grant_type": {"client_credentials"}, "client_id": {"billing"}, "client_secret": {newSecret}}, "")
		if _, err := e.acct.DeleteClient(ctx, "billing"); err != nil {
			t.Fatal(err)
		}
		if !e.refusedSoon(r.str("access_token")) || get(newSecret) != 401 {
			t.Error("a deleted client's token or secret still works")
		}
	})
}

func TestRegisteredClientGrants(t *testing.T) {
	e := newEnv(t, sqliteEngine().open(t), nil)
	e.addUser("alice", testPassword)
	webSecret := e.addClient("web", []string{issuer.GrantPassword, issuer.GrantRefreshToken}, nil, nil)
	svcSecret := e.addClient("svc", []string{issuer.GrantClientCredentials}, nil, nil)
	login := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testPassword}}

	// A registered client must authenticate when it names itself.
	form := url.Values{"client_id": {"web"}}
	for k, v := range login {
		form[k] = v
	}
	if r := e.postForm(issuer.TokenPath, form, ""); r.Status != 401 || r.str("error") != "invalid_client" {
		t.Errorf("registered client without secret: %d %s", r.Status, r.Raw)
	}
	form.Set("client_secret", webSecret)
	r := e.postForm(issuer.TokenPath, form, "")
	if r.Status != 200 {
		t.Fatalf("web login: %d %s", r.Status, r.Raw)
	}
	rt := r.str("refresh_token")
	// Its refresh tokens are bound to it.
	otherSecret := e.addClient("other", []string{issuer.GrantRefreshToken}, nil, nil)
	other := e.postForm(issuer.TokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"other"}, "client_secret": {otherSecret}}, "")
	if other.str("error") != "invalid_grant" {
		t.Errorf("refresh by another client: %d %s", other.Status, other.Raw)
	}
	if r := e.postForm(issuer.TokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"svc"}, "client_secret": {svcSecret}}, ""); r.str("error") != "unauthorized_client" {
		t.Errorf("refresh by a client without the grant: %d %s", r.Status, r.Raw)
	}
	// A client may use only its grant types.
	form.Set("client_id", "svc")
	form.Set("client_secret", svcSecret)
	if r := e.postForm(issuer.TokenPath, form, ""); r.str("error") != "unauthorized_client" {
		t.Errorf("password grant by a client_credentials client: %d %s", r.Status, r.Raw)
	}
	// Basic and post together are refused.
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+issuer.TokenPath, strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "client_secret": {svcSecret}, "client_id": {"svc"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("svc", svcSecret)
	if r := e.do(req); r.Status != 400 || r.str("error") != "invalid_request" {
		t.Errorf("two authentication methods: %d %s", r.Status, r.Raw)
	}
}

func TestIntrospection(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		e := newEnv(t, eng.open(t), nil, func(c *issuer.Config, _ *password.HasherConfig) {
			c.Audiences = []string{"notes"}
		})
		e.addUser("alice", testPassword, "editor")
		notesSecret := e.addClient("notes", []string{issuer.GrantClientCredentials}, nil, nil)
		billingSecret := e.addClient("billing", []string{issuer.GrantClientCredentials}, nil, nil)
		introspect := func(id, secret, tok string) response {
			t.Helper()
			req, _ := http.NewRequest(http.MethodPost, e.http.URL+issuer.IntrospectPath, strings.NewReader(url.Values{"token": {tok}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if id != "" {
				req.SetBasicAuth(id, secret)
			}
			return e.do(req)
		}

		active, rt := e.mustLogin("alice", testPassword)
		r := introspect("notes", notesSecret, active)
		if r.Status != 200 || r.Body["active"] != true || r.str("sub") == "" || r.str("username") != "alice" ||
			r.str("token_type") != "Bearer" || r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("active token: %d %s", r.Status, r.Raw)
		}
		revoked, _ := e.mustLogin("alice", testPassword)
		e.postForm(issuer.RevokePath, url.Values{"token": {revoked}}, "")

		inactive := map[string]string{
			"wrong audience": active, // introspected by billing, which is not in aud
			"revoked":        revoked,
			"garbage":        "not-a-token",
			"refresh token":  rt,
			"tampered":       active[:len(active)-4] + "AAAA",
		}
		for name, tok := range inactive {
			id, secret := "notes", notesSecret
			if name == "wrong audience" {
				id, secret = "billing", billingSecret
			}
			r := introspect(id, secret, tok)
			if r.Status != 200 || r.Body["active"] != false || len(r.Body) != 1 {
				t.Errorf("%s: %d %s", name, r.Status, r.Raw)
			}
		}
		e.clock.Advance(issuer.DefaultAccessTTL + time.Minute)
		if r := introspect("notes", notesSecret, active); r.Body["active"] != false {
			t.Errorf("expired: %s", r.Raw)
		}
		if r := introspect("", "", active); r.Status != 401 || r.str("error") != "invalid_client" {
			t.Errorf("without client authentication: %d %s", r.Status, r.Raw)
		}
		if r := introspect("notes", "wrong", active); r.Status != 401 {
			t.Errorf("wrong secret: %d", r.Status)
		}
	})
}

func TestClientLogoutAll(t *testing.T) {
	e := newEnv(t, sqliteEngine().open(t), nil)
	secret := e.addClient("svc", []string{issuer.GrantClientCredentials}, nil, nil)
	get := func() string {
		r := e.postForm(issuer.TokenPath, url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {secret}}, "")
		if r.Status != http.StatusOK {
			t.Fatalf("client token: %d %s", r.Status, r.Raw)
		}
		return r.str("access_token")
	}
	a, b := get(), get()
	if r := e.postForm(issuer.LogoutAllPath, nil, a); r.Status != http.StatusNoContent {
		t.Fatalf("logout-all with a client's token: %d %s", r.Status, r.Raw)
	}
	if e.works(a) || e.works(b) {
		t.Error("a client token survived its logout-all")
	}
	e.clock.Advance(time.Second)
	if !e.works(get()) {
		t.Error("a new client token after logout-all is refused")
	}
}

// TestRegisteredClientTokensNeedTheClient: a registered client's refresh
// token cannot be refreshed anonymously, and deleting the client ends the
// sessions users opened through it, everywhere.
func TestRegisteredClientTokensNeedTheClient(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		e := newEnv(t, eng.open(t), nil)
		e.addUser("alice", testPassword)
		secret := e.addClient("web", []string{issuer.GrantPassword, issuer.GrantRefreshToken}, nil, nil)
		login := e.postForm(issuer.TokenPath, url.Values{"grant_type": {"password"}, "username": {"alice"},
			"password": {testPassword}, "client_id": {"web"}, "client_secret": {secret}}, "")
		if login.Status != http.StatusOK {
			t.Fatalf("login: %d %s", login.Status, login.Raw)
		}
		rt, at := login.str("refresh_token"), login.str("access_token")
		if r := e.refresh(rt); r.Status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
			t.Errorf("anonymous refresh of a registered client's token: %d %s", r.Status, r.Raw)
		}
		ok := e.postForm(issuer.TokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"web"}, "client_secret": {secret}}, "")
		if ok.Status != http.StatusOK {
			t.Fatalf("refresh with the client's credentials: %d %s", ok.Status, ok.Raw)
		}
		if _, err := e.acct.DeleteClient(context.Background(), "web"); err != nil {
			t.Fatal(err)
		}
		for _, form := range []url.Values{
			{"grant_type": {"refresh_token"}, "refresh_token": {ok.str("refresh_token")}, "client_id": {"web"}},
			{"grant_type": {"refresh_token"}, "refresh_token": {ok.str("refresh_token")}},
		} {
			if r := e.postForm(issuer.TokenPath, form, ""); r.Status == http.StatusOK {
				t.Errorf("refresh after the client was deleted: %d %s", r.Status, r.Raw)
			}
		}
		if !e.refusedSoon(ok.str("access_token")) || e.works(at) {
			t.Error("an access token of a deleted client's session still works")
		}
	})
}
