package interop

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/waxseal/waxseal/interop/harness"
)

// TestSignInSingleSignOnAndLogout is the life of a user across two web
// applications, in a real browser: sign in to the first on the hosted login
// page (authorization code, PKCE S256, nonce), check the ID token and the
// access token, call userinfo, refresh; sign in to the second without a
// password (single sign-on); log out through the first (RP-initiated
// logout), after which a guard refuses both applications' access tokens,
// neither can refresh, and the next sign-in asks for the password again.
func TestSignInSingleSignOnAndLogout(t *testing.T) {
	w := newWorld(t)
	rp1 := newRelyingParty(t, w, "rp1", webApp)
	rp2 := newRelyingParty(t, w, "rp2", webApp)
	guard := harness.StartGuard(t, w.ca, w.via, w.iss.URL, w.iss.URL, startUpstream(t))
	browser := harness.Browser(t, w.ca)
	start := time.Now().Add(-time.Second).Unix()

	// 1. The first application: the login page, then its callback.
	docs := recordDocuments(t, browser, w.iss.URL)
	step(t, browser, "opening rp1's sign-in", chromedp.Navigate(rp1.URL+"/login"))
	fillLoginForm(t, browser, userName, userPassword)
	if got := text(t, browser, "rp-user"); got != userName {
		t.Fatalf("rp1 signed in %q, want %q", got, userName)
	}
	first := rp1.result(t)
	if seen := docs.done(); len(seen) == 0 {
		// The same recording must see nothing in step 4.
		t.Fatal("the browser recorded no page from the issuer while it showed the login page")
	}
	c := first.claims
	if c.Subject == "" || c.PreferredUsername != userName || c.SessionID == "" {
		t.Errorf("ID token claims %+v: want sub, preferred_username %q and sid", c, userName)
	}
	if c.AuthTime < start || c.AuthTime > time.Now().Unix()+1 {
		t.Errorf("auth_time %d, want the time of the sign-in (≥ %d)", c.AuthTime, start)
	}
	if c.AuthorizedParty != "" && c.AuthorizedParty != rp1.client.ID {
		t.Errorf("azp %q, want %q", c.AuthorizedParty, rp1.client.ID)
	}

	// 2. userinfo with the access token.
	info, err := rp1.provider.UserInfo(rp1.ctx, oauth2.StaticTokenSource(first.token))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var infoClaims struct {
		PreferredUsername string `json:"preferred_username"`
	}
	if err := info.Claims(&infoClaims); err != nil || info.Subject != c.Subject || infoClaims.PreferredUsername != userName {
		t.Errorf("userinfo sub %q preferred_username %q (%v), want %q and %q", info.Subject, infoClaims.PreferredUsername, err, c.Subject, userName)
	}

	// 3. Refresh, as oauth2's TokenSource does once the access token expires.
	expired := *first.token
	expired.Expiry = time.Now().Add(-time.Minute)
	refreshed, err := rp1.conf.TokenSource(rp1.ctx, &expired).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if refreshed.AccessToken == first.token.AccessToken || refreshed.RefreshToken == "" || refreshed.RefreshToken == first.token.RefreshToken {
		t.Errorf("refresh gave the same access token or no new refresh token")
	}
	if _, ok := refreshed.Extra("id_token").(string); ok {
		// OpenID Connect Core §12.2: the same sub and auth_time.
		again, err := rp1.verifyIDToken(rp1.ctx, refreshed)
		if err != nil {
			t.Fatalf("ID token from refresh: %v", err)
		}
		if again.claims.Subject != c.Subject || again.claims.AuthTime != c.AuthTime {
			t.Errorf("ID token from refresh: sub %q auth_time %d, want %q and %d", again.claims.Subject, again.claims.AuthTime, c.Subject, c.AuthTime)
		}
	}
	if _, err := rp1.provider.UserInfo(rp1.ctx, oauth2.StaticTokenSource(refreshed)); err != nil {
		t.Errorf("userinfo with the refreshed access token: %v", err)
	}

	// 4. The second application signs the user in without a password:
	// the issuer answers only with redirects, and reports the first
	// authentication.
	docs = recordDocuments(t, browser, w.iss.URL)
	step(t, browser, "opening rp2's sign-in", chromedp.Navigate(rp2.URL+"/login"))
	if got := text(t, browser, "rp-user"); got != userName {
		t.Fatalf("rp2 signed in %q, want %q", got, userName)
	}
	if seen := docs.done(); len(seen) > 0 {
		t.Errorf("the issuer showed a page during single sign-on: %v", seen)
	}
	second := rp2.result(t)
	if second.claims.Subject != c.Subject || second.claims.AuthTime != c.AuthTime || second.claims.SessionID != c.SessionID {
		t.Errorf("rp2's ID token sub %q auth_time %d sid %q, want rp1's %q %d %q",
			second.claims.Subject, second.claims.AuthTime, second.claims.SessionID, c.Subject, c.AuthTime, c.SessionID)
	}

	// 5. A guard accepts both applications' access tokens.
	for name, tok := range map[string]string{"rp1": refreshed.AccessToken, "rp2": second.token.AccessToken} {
		if code := guardStatus(t, guard, tok); code != http.StatusOK {
			t.Fatalf("before logout the guard answered %d to %s's access token, want 200", code, name)
		}
	}

	// 6. RP-initiated logout through the first application.
	q := url.Values{
		"id_token_hint":            {first.rawID},
		"post_logout_redirect_uri": {rp1.URL + "/loggedout"},
		"state":                    {"after-logout-42"},
		"client_id":                {rp1.client.ID},
	}
	step(t, browser, "logging out", chromedp.Navigate(rp1.endSessionURL(t)+"?"+q.Encode()))
	if origin := evaluate[string](t, browser, `location.origin`); origin == w.iss.URL {
		// The issuer asks the user to confirm (RP-Initiated Logout 1.0 §2
		// lets it): the user does.
		step(t, browser, "confirming the logout", chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	}
	text(t, browser, "rp-loggedout")
	select {
	case back := <-rp1.loggedIn:
		if back.Get("state") != "after-logout-42" {
			t.Errorf("post-logout redirect state %q, want it echoed", back.Get("state"))
		}
	default:
		t.Fatal("the browser was not sent to the post_logout_redirect_uri")
	}

	// 7. The revocations reach the guard through the feed: both access
	// tokens are refused.
	for name, tok := range map[string]string{"rp1": refreshed.AccessToken, "rp2": second.token.AccessToken} {
		deadline := time.Now().Add(15 * time.Second)
		for code := guardStatus(t, guard, tok); code != http.StatusUnauthorized; code = guardStatus(t, guard, tok) {
			if time.Now().After(deadline) {
				t.Fatalf("15 s after logout the guard still answers %d to %s's access token, want 401", code, name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// 8. Neither application can refresh.
	for name, tc := range map[string]struct {
		rp  *relyingParty
		tok *oauth2.Token
	}{"rp1": {rp1, refreshed}, "rp2": {rp2, second.token}} {
		stale := *tc.tok
		stale.Expiry = time.Now().Add(-time.Minute)
		if _, err := tc.rp.conf.TokenSource(tc.rp.ctx, &stale).Token(); err == nil {
			t.Errorf("%s refreshed after logout", name)
		}
	}

	// 9. The issuer session is gone: signing in asks for the password.
	step(t, browser, "opening rp2's sign-in after logout",
		chromedp.Navigate(rp2.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("password")),
	)
}
