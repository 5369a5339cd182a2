package issuer_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/keyring"
	"github.com/waxseal/waxseal/password"
	"golang.org/x/oauth2"
)

const appOrigin = "https://app.issuer.test"

func cookieMode(cfg *issuer.Config, _ *password.HasherConfig) {
	cfg.AllowedOrigins = []string{appOrigin}
	cfg.RefreshCookie = true
}

// browserPost is a POST as a page's fetch sends it: from origin, with the
// custom header when header is set, and the refresh cookie when not empty.
func (e *env) browserPost(path string, form url.Values, origin string, header bool, cookie, bearer string) response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if header {
		req.Header.Set(issuer.CookieRequestHeader, "1")
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: issuer.RefreshCookieName, Value: cookie})
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return e.do(req)
}

// refreshCookieOf returns the refresh cookie r sets, checking its
// attributes; deleted reports a cookie that deletes it.
func refreshCookieOf(t *testing.T, r response) (value string, deleted bool) {
	t.Helper()
	var found *http.Cookie
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == issuer.RefreshCookieName {
			if found != nil {
				t.Fatalf("two refresh cookies: %v", r.Header.Values("Set-Cookie"))
			}
			found = c
		}
	}
	if found == nil {
		return "", false
	}
	if !found.HttpOnly || !found.Secure || found.SameSite != http.SameSiteStrictMode || found.Path != "/" || found.Domain != "" {
		t.Errorf("refresh cookie attributes: %s; want HttpOnly; Secure; SameSite=Strict; Path=/; no Domain", found.Raw)
	}
	return found.Value, found.MaxAge < 0
}

var (
	loginForm   = url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testPassword}, "client_id": {"web"}}
	refreshForm = url.Values{"grant_type": {"refresh_token"}, "client_id": {"web"}}
)

func TestRefreshCookieMode(t *testing.T) {
	e := newEnv(t, sqliteEngine().open(t), nil, cookieMode)
	e.addUser("alice", testPassword)

	r := e.browserPost(issuer.TokenPath, loginForm, appOrigin, true, "", "")
	if r.Status != http.StatusOK || r.str("access_token") == "" {
		t.Fatalf("login: %d %s", r.Status, r.Raw)
	}
	if _, ok := r.Body["refresh_token"]; ok || strings.Contains(r.Raw, "refresh") {
		t.Fatalf("cookie mode wrote the refresh token in JSON: %s", r.Raw)
	}
	if r.Header.Get("Access-Control-Allow-Origin") != appOrigin || r.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("login CORS headers: %v", r.Header)
	}
	rt, _ := refreshCookieOf(t, r)
	if rt == "" {
		t.Fatalf("login set no refresh cookie: %v", r.Header.Values("Set-Cookie"))
	}

	r = e.browserPost(issuer.TokenPath, refreshForm, appOrigin, true, rt, "")
	if r.Status != http.StatusOK || r.str("access_token") == "" || strings.Contains(r.Raw, "refresh_token") {
		t.Fatalf("refresh with the cookie: %d %s", r.Status, r.Raw)
	}
	next, _ := refreshCookieOf(t, r)
	if next == "" || next == rt {
		t.Fatalf("refresh did not rotate the cookie: %v", r.Header.Values("Set-Cookie"))
	}
	// Another tab still holding the old cookie, inside the grace window,
	// gets the same successor instead of ending the session.
	r = e.browserPost(issuer.TokenPath, refreshForm, appOrigin, true, rt, "")
	if again, _ := refreshCookieOf(t, r); r.Status != http.StatusOK || again != next {
		t.Fatalf("replay inside the grace window: %d %s, cookie %q want %q", r.Status, r.Raw, again, next)
	}
	if !e.works(r.str("access_token")) {
		t.Error("the refreshed access token is refused")
	}
}

// TestRefreshCookieRefusedWithoutHeaderAndOrigin: a cross-site form, a
// simple request, or a request from an unlisted origin carries the cookie
// in vain: no tokens, no rotation, no new cookie.
func TestRefreshCookieRefusedWithoutHeaderAndOrigin(t *testing.T) {
	e := newEnv(t, sqliteEngine().open(t), nil, cookieMode)
	e.addUser("alice", testPassword)
	rt, _ := refreshCookieOf(t, e.browserPost(issuer.TokenPath, loginForm, appOrigin, true, "", ""))
	for _, tc := range []struct {
		name   string
		origin string
		header bool
	}{
		{"form post from another site", "https://evil.test", false},
		{"custom header from another site", "https://evil.test", true},
		{"listed origin without the header", appOrigin, false},
		{"no origin", "", true},
		{"null origin", "null", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.browserPost(issuer.TokenPath, refreshForm, tc.origin, tc.header, rt, "")
			if r.Status != http.StatusBadRequest || r.str("error") != "invalid_request" || r.str("access_token") != "" {
				t.Errorf("refresh: %d %s; want 400 invalid_request", r.Status, r.Raw)
			}
			if len(r.Header.Values("Set-Cookie")) != 0 {
				t.Errorf("answer sets cookies: %v", r.Header.Values("Set-Cookie"))
			}
			lo := e.browserPost(issuer.LogoutPath, nil, tc.origin, tc.header, rt, "")
			if lo.Status != http.StatusUnauthorized || len(lo.Header.Values("Set-Cookie")) != 0 {
				t.Errorf("logout with the cookie alone: %d %v; want 401, no cookie", lo.Status, lo.Header)
			}
		})
	}
	// Nothing changed: the cookie still refreshes, once, as the first use.
	r := e.browserPost(issuer.TokenPath, refreshForm, appOrigin, true, rt, "")
	if r.Status != http.StatusOK {
		t.Fatalf("the cookie stopped working after refused requests: %d %s", r.Status, r.Raw)
	}
	if n := metricValue(t, e, `waxseal_issuer_refreshes_total{outcome="rotated"}`); n != 1 {
		t.Errorf("rotations: %v, want 1", n)
	}
}

func TestRefreshCookieLoginWithoutHeaderGetsNoRefreshToken(t *testing.T) {
	e := newEnv(t, sqliteEngine().open(t), nil, cookieMode)
	e.addUser("alice", testPassword)
	for _, origin := range []string{"", "https://evil.test"} {
		r := e.browserPost(issuer.TokenPath, loginForm, origin, false, "", "")
		if r.Status != http.StatusOK || strings.Contains(r.Raw, "refresh_token") || len(r.Header.Values("Set-Cookie")) != 0 {
			t.Errorf("login from %q without the header: %d %s %v; want an access token alone", origin, r.Status, r.Raw, r.Header.Values("Set-Cookie"))
		}
	}
}

func TestRefreshCookieConfidentialClientKeepsJSON(t *testing.T) {
	e := newEnv(t, sqliteEngine().open(t), nil, cookieMode)
	e.addUser("alice", testPassword)
	_, secret, err := e.acct.CreateClient(context.Background(), issuer.ClientSpec{ID: "backend", GrantTypes: []string{issuer.GrantPassword, issuer.GrantRefreshToken}})
	if err != nil {
		t.Fatal(err)
	}
	r := e.postForm(issuer.TokenPath, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testPassword},
		"client_id": {"backend"}, "client_secret": {secret}}, "")
	if r.Status != http.StatusOK || r.str("refresh_token") == "" || len(r.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("confidential client: %d %s %v; want the refresh token in JSON", r.Status, r.Raw, r.Header.Values("Set-Cookie"))
	}
}

func TestRefreshCookieLogout(t *testing.T) {
	e := newEnv(t, sqliteEngine().open(t), nil, cookieMode)
	e.addUser("alice", testPassword)
	login := e.browserPost(issuer.TokenPath, loginForm, appOrigin, true, "", "")
	rt, _ := refreshCookieOf(t, login)

	r := e.browserPost(issuer.LogoutPath, nil, appOrigin, true, rt, "")
	if r.Status != http.StatusNoContent {
		t.Fatalf("logout with the cookie: %d %s", r.Status, r.Raw)
	}
	if _, deleted := refreshCookieOf(t, r); !deleted {
		t.Errorf("logout did not delete the cookie: %v", r.Header.Values("Set-Cookie"))
	}
	if !e.refusedSoon(login.str("access_token")) {
		t.Error("the session's access token still works after logout")
	}
	r = e.browserPost(issuer.TokenPath, refreshForm, appOrigin, true, rt, "")
	if r.Status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
		t.Fatalf("refresh after logout: %d %s", r.Status, r.Raw)
	}
	if _, deleted := refreshCookieOf(t, r); !deleted {
		t.Errorf("a refused refresh did not delete the cookie: %v", r.Header.Values("Set-Cookie"))
	}

	// With a bearer token: its session ends and the cookie goes.
	login = e.browserPost(issuer.TokenPath, loginForm, appOrigin, true, "", "")
	rt, _ = refreshCookieOf(t, login)
	r = e.browserPost(issuer.LogoutPath, nil, appOrigin, true, rt, login.str("access_token"))
	if _, deleted := refreshCookieOf(t, r); r.Status != http.StatusNoContent || !deleted {
		t.Fatalf("bearer logout: %d %v", r.Status, r.Header.Values("Set-Cookie"))
	}
	if r := e.browserPost(issuer.TokenPath, refreshForm, appOrigin, true, rt, ""); r.Status != http.StatusBadRequest {
		t.Errorf("refresh after bearer logout: %d %s", r.Status, r.Raw)
	}
}

func TestRefreshCookiePreflight(t *testing.T) {
	e := newEnv(t, sqliteEngine().open(t), nil, cookieMode)
	for origin, want := range map[string]int{appOrigin: http.StatusNoContent, "https://evil.test": http.StatusForbidden} {
		req, _ := http.NewRequest(http.MethodOptions, e.http.URL+issuer.TokenPath, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type,x-waxseal-cookie")
		r := e.do(req)
		if r.Status != want {
			t.Errorf("preflight from %s: %d, want %d", origin, r.Status, want)
		}
		if want == http.StatusNoContent && (r.Header.Get("Access-Control-Allow-Credentials") != "true" ||
			!strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), issuer.CookieRequestHeader)) {
			t.Errorf("preflight answer: %v", r.Header)
		}
		if want != http.StatusNoContent && r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("unlisted origin got CORS headers: %v", r.Header)
		}
	}
}

func TestExposesWWWAuthenticate(t *testing.T) {
	e := newEnv(t, sqliteEngine().open(t), nil, func(cfg *issuer.Config, _ *password.HasherConfig) {
		cfg.AllowedOrigins = []string{appOrigin}
	})
	req, _ := http.NewRequest(http.MethodGet, e.http.URL+issuer.UserinfoPath, nil)
	req.Header.Set("Origin", appOrigin)
	r := e.do(req)
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		t.Errorf("userinfo without a token from a listed origin: %d %v", r.Status, r.Header)
	}
	if r.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Error("credentials allowed outside cookie mode")
	}
}

func TestRefreshCookieConfig(t *testing.T) {
	for name, mod := range map[string]func(*issuer.Config){
		"no origins": func(c *issuer.Config) { c.RefreshCookie = true },
		"any origin": func(c *issuer.Config) { c.RefreshCookie, c.AllowedOrigins = true, []string{"*"} },
		"plain http": func(c *issuer.Config) {
			c.RefreshCookie, c.AllowedOrigins, c.Issuer = true, []string{appOrigin}, "http://auth.example.com"
		},
		"malformed origin": func(c *issuer.Config) { c.AllowedOrigins = []string{"https://app.example.com/path"} },
	} {
		t.Run(name, func(t *testing.T) {
			store := sqliteEngine().open(t)
			ring, err := keyring.Open(context.Background(), store, testMasterKey, keyring.Config{})
			if err != nil {
				t.Fatal(err)
			}
			h, err := password.NewHasher(password.HasherConfig{Params: cheapHashes})
			if err != nil {
				t.Fatal(err)
			}
			cfg := issuer.Config{Issuer: testIssuer, Store: store, Keys: ring, Hasher: h}
			mod(&cfg)
			if _, err := issuer.New(cfg); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// metricValue reads one sample from the issuer's /metrics.
func metricValue(t *testing.T, e *env, series string) float64 {
	t.Helper()
	w := httptest.NewRecorder()
	e.srv.Metrics().ServeHTTP(w, httptest.NewRequest(http.MethodGet, issuer.MetricsPath, nil))
	for line := range strings.SplitSeq(w.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}

// TestRefreshCookiePublicClients: a registered public client (an SPA) is a
// browser app like an unregistered one: in cookie mode its refresh token
// never appears in JSON, whether from the password grant or the
// authorization code grant.
func TestRefreshCookiePublicClients(t *testing.T) {
	e := newEnv(t, sqliteEngine().open(t), nil, cookieMode)
	e.addUser("alice", testPassword)
	if _, _, err := e.acct.CreateClient(context.Background(), issuer.ClientSpec{ID: "spa", Public: true, IDTokenAlg: "EdDSA",
		GrantTypes:   []string{issuer.GrantAuthorizationCode, issuer.GrantRefreshToken, issuer.GrantPassword},
		RedirectURIs: []string{appOrigin + "/cb"}}); err != nil {
		t.Fatal(err)
	}
	r := e.browserPost(issuer.TokenPath, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testPassword}, "client_id": {"spa"}}, appOrigin, true, "", "")
	if rt, _ := refreshCookieOf(t, r); r.Status != http.StatusOK || strings.Contains(r.Raw, "refresh_token") || rt == "" {
		t.Errorf("password grant of a public client: %d %s %v", r.Status, r.Raw, r.Header.Values("Set-Cookie"))
	}

	verifier := oauth2.GenerateVerifier()
	q := url.Values{"response_type": {"code"}, "client_id": {"spa"}, "redirect_uri": {appOrigin + "/cb"}, "scope": {"openid"},
		"state": {"st"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}.Encode()
	page := e.get(issuer.LoginPath+"?"+q, "")
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(page.Raw)
	cookies := (&http.Response{Header: page.Header}).Cookies()
	if m == nil || len(cookies) == 0 {
		t.Fatalf("login page: %d %s", page.Status, page.Raw)
	}
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+issuer.LoginPath+"?"+q,
		strings.NewReader(url.Values{"csrf_token": {m[1]}, "username": {"alice"}, "password": {testPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Query().Get("code") == "" {
		t.Fatalf("login: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	r = e.browserPost(issuer.TokenPath, url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {appOrigin + "/cb"}, "code_verifier": {verifier}}, appOrigin, true, "", "")
	rt, _ := refreshCookieOf(t, r)
	if r.Status != http.StatusOK || strings.Contains(r.Raw, "refresh_token") || rt == "" {
		t.Fatalf("code grant of a public client in cookie mode: %d %s %v", r.Status, r.Raw, r.Header.Values("Set-Cookie"))
	}
	if r := e.browserPost(issuer.TokenPath, url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}}, appOrigin, true, rt, ""); r.Status != http.StatusOK {
		t.Errorf("refresh with the cookie from the code grant: %d %s", r.Status, r.Raw)
	}
}
