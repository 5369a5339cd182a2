package interop

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/waxseal/waxseal/interop/harness"
)

// TestOAuth2ProxyBuilds builds the pinned oauth2-proxy release from the Go
// module proxy and runs it.
func TestOAuth2ProxyBuilds(t *testing.T) {
	out, err := exec.Command(harness.OAuth2ProxyBinary(t), "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("oauth2-proxy --version: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), harness.OAuth2ProxyVersion) {
		t.Fatalf("oauth2-proxy --version says %q, want %s", out, harness.OAuth2ProxyVersion)
	}
}

// TestOAuth2ProxySignsInThroughWaxseal puts oauth2-proxy, unmodified and
// configured as its documentation says for an OpenID Connect provider (with
// PKCE S256 and its nonce check on), in front of a small upstream. A
// browser that opens the upstream is sent to waxseal's login page, signs
// in, and reaches the upstream as the user.
func TestOAuth2ProxySignsInThroughWaxseal(t *testing.T) {
	w := newWorld(t)
	upstream := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(rw, `<!doctype html><title>upstream</title><p id="upstream-user">%s</p>`,
			html.EscapeString(r.Header.Get("X-Forwarded-Preferred-Username")))
	}))
	t.Cleanup(upstream.Close)

	addr := harness.FreePort(t)
	callback := "https://" + harness.Host("proxy", addr) + "/oauth2/callback"
	client := w.addClient(t, "dashboard", "--redirect-uri", callback,
		"--grant", "authorization_code", "--grant", "refresh_token",
		"--scope", "openid", "--scope", "profile", "--id-token-alg", "RS256")
	proxy := harness.StartOAuth2Proxy(t, w.ca, w.leaf, w.via, harness.OAuth2ProxyConfig{
		Addr: addr, Issuer: w.iss.URL, ClientID: client.ID, ClientSecret: client.Secret,
		Upstream: upstream.URL + "/",
		Extra: []string{
			"--scope=openid profile",
			// waxseal accounts have no e-mail address: oauth2-proxy's
			// documented setting for such providers names the user by
			// another claim.
			"--oidc-email-claim=preferred_username",
		},
	})

	browser := harness.Browser(t, w.ca)
	step(t, browser, "opening the protected upstream", chromedp.Navigate(proxy.URL+"/"))
	fillLoginForm(t, browser, userName, userPassword)
	if got := text(t, browser, "upstream-user"); got != userName {
		t.Fatalf("the upstream saw user %q, want %q", got, userName)
	}
}
