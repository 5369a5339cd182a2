package interop

import (
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/waxseal/waxseal/interop/harness"
)

// TestPromptInTheBrowser holds the prompt parameter (OpenID Connect Core
// §3.1.2.1) as a browser lives it: prompt=none without an issuer session
// comes back to the application with login_required and shows no page;
// with a session it signs in silently; prompt=login and max_age=0 show
// the login page although a session exists.
func TestPromptInTheBrowser(t *testing.T) {
	w := newWorld(t)
	rp := newRelyingParty(t, w, "rp1", webApp)
	browser := harness.Browser(t, w.ca)

	docs := recordDocuments(t, browser, w.iss.URL)
	step(t, browser, "prompt=none without a session", chromedp.Navigate(rp.URL+"/login?prompt=none"))
	if res := rp.next(t); res.errCode != "login_required" {
		t.Fatalf("prompt=none without a session: error %q (%v), want login_required", res.errCode, res.err)
	}
	if seen := docs.done(); len(seen) > 0 {
		t.Errorf("prompt=none showed a page: %v", seen)
	}

	step(t, browser, "signing in", chromedp.Navigate(rp.URL+"/login"))
	fillLoginForm(t, browser, userName, userPassword)
	first := rp.result(t)

	docs = recordDocuments(t, browser, w.iss.URL)
	step(t, browser, "prompt=none with a session", chromedp.Navigate(rp.URL+"/login?prompt=none"))
	if got := text(t, browser, "rp-user"); got != userName {
		t.Fatalf("prompt=none with a session signed in %q, want %q", got, userName)
	}
	silent := rp.result(t)
	if seen := docs.done(); len(seen) > 0 {
		t.Errorf("prompt=none with a session showed a page: %v", seen)
	}
	if silent.claims.AuthTime != first.claims.AuthTime {
		t.Errorf("silent sign-in auth_time %d, want the first sign-in's %d", silent.claims.AuthTime, first.claims.AuthTime)
	}

	step(t, browser, "prompt=login with a session",
		chromedp.Navigate(rp.URL+"/login?prompt=login"),
		chromedp.WaitVisible(chromedp.ID("password")),
	)
	fillLoginForm(t, browser, userName, userPassword)
	fresh := rp.result(t)
	if fresh.claims.AuthTime < first.claims.AuthTime {
		t.Errorf("auth_time after prompt=login %d is before the first sign-in's %d", fresh.claims.AuthTime, first.claims.AuthTime)
	}

	// max_age=0: the last authentication is always too old.
	step(t, browser, "max_age=0 with a session",
		chromedp.Navigate(rp.URL+"/login?max_age=0"),
		chromedp.WaitVisible(chromedp.ID("password")),
	)
	fillLoginForm(t, browser, userName, userPassword)
	rp.result(t)
}

// TestNativeAppLoopbackRedirect signs a native app in as RFC 8252 says: a
// public client (no secret, PKCE only) registered with
// http://127.0.0.1/callback receives the code on a loopback port the
// system chose, and redeems it with its code verifier alone.
func TestNativeAppLoopbackRedirect(t *testing.T) {
	w := newWorld(t)
	app := newRelyingParty(t, w, "desktop-app", nativeApp)
	browser := harness.Browser(t, w.ca)

	step(t, browser, "opening the app's sign-in", chromedp.Navigate(app.URL+"/login"))
	fillLoginForm(t, browser, userName, userPassword)
	if got := text(t, browser, "rp-user"); got != userName {
		t.Fatalf("the app signed in %q, want %q", got, userName)
	}
	res := app.result(t)
	if _, err := app.provider.UserInfo(app.ctx, oauth2.StaticTokenSource(res.token)); err != nil {
		t.Errorf("userinfo with the app's access token: %v", err)
	}
}
