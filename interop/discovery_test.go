package interop

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/waxseal/waxseal/interop/harness"
)

// TestDiscovery reads the issuer's metadata as its parties do, over HTTPS
// at its public name: go-oidc's discovery (which insists that the
// document's issuer equals the URL it was asked for), a browser, and
// `waxseal proxy` in another process, which then admits a token of the
// issuer's.
func TestDiscovery(t *testing.T) {
	w := newWorld(t)

	provider, err := oidc.NewProvider(w.ctx(t), w.iss.URL)
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	if got, want := provider.Endpoint().TokenURL, w.iss.URL+"/token"; got != want {
		t.Errorf("token endpoint %q, want %q", got, want)
	}

	browser := harness.Browser(t, w.ca)
	if err := chromedp.Do(browser, chromedp.Navigate(w.iss.URL+"/.well-known/openid-configuration")); err != nil {
		t.Fatal(err)
	}
	body, err := chromedp.Run(browser, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	var md struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal([]byte(body), &md); err != nil || md.Issuer != w.iss.URL {
		t.Fatalf("browser read issuer %q (%v) from %q, want %q", md.Issuer, err, body, w.iss.URL)
	}

	upstream := startUpstream(t)
	g := harness.StartGuard(t, w.ca, w.via, w.iss.URL, w.iss.URL, upstream)
	conf := oauth2.Config{Endpoint: provider.Endpoint()}
	tok, err := conf.PasswordCredentialsToken(w.ctx(t), userName, userPassword)
	if err != nil {
		t.Fatal(err)
	}
	if code := guardStatus(t, g, tok.AccessToken); code != http.StatusOK {
		t.Fatalf("guard answered %d to a fresh access token, want 200", code)
	}
	if code := guardStatus(t, g, tok.AccessToken[:len(tok.AccessToken)-2]); code != http.StatusUnauthorized {
		t.Fatalf("guard answered %d to a truncated access token, want 401", code)
	}
}
