package interop

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
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

// TestOpenIDConfiguration holds the metadata to OpenID Connect Discovery
// 1.0 §3, RFC 8414, RFC 7636 and RFC 9207, as fetched over HTTPS: every
// endpoint a relying party needs, under the issuer, and only what is
// supported (the code flow, S256, RS256 ID tokens).
func TestOpenIDConfiguration(t *testing.T) {
	w := newWorld(t)
	var md struct {
		Issuer                 string   `json:"issuer"`
		AuthorizationEndpoint  string   `json:"authorization_endpoint"`
		TokenEndpoint          string   `json:"token_endpoint"`
		UserinfoEndpoint       string   `json:"userinfo_endpoint"`
		JWKSURI                string   `json:"jwks_uri"`
		EndSessionEndpoint     string   `json:"end_session_endpoint"`
		ResponseTypes          []string `json:"response_types_supported"`
		SubjectTypes           []string `json:"subject_types_supported"`
		IDTokenAlgs            []string `json:"id_token_signing_alg_values_supported"`
		CodeChallengeMethods   []string `json:"code_challenge_methods_supported"`
		Scopes                 []string `json:"scopes_supported"`
		Claims                 []string `json:"claims_supported"`
		GrantTypes             []string `json:"grant_types_supported"`
		IssParameterSupported  bool     `json:"authorization_response_iss_parameter_supported"`
		TokenEndpointAuthMeths []string `json:"token_endpoint_auth_methods_supported"`
	}
	getJSON(t, w.client, w.iss.URL+"/.well-known/openid-configuration", &md)

	if md.Issuer != w.iss.URL {
		t.Errorf("issuer %q, want %q", md.Issuer, w.iss.URL)
	}
	for name, u := range map[string]string{
		"authorization_endpoint": md.AuthorizationEndpoint, "token_endpoint": md.TokenEndpoint,
		"userinfo_endpoint": md.UserinfoEndpoint, "jwks_uri": md.JWKSURI, "end_session_endpoint": md.EndSessionEndpoint,
	} {
		if !strings.HasPrefix(u, w.iss.URL+"/") {
			t.Errorf("%s %q, want an https URL under the issuer", name, u)
		}
	}
	for _, tc := range []struct {
		name      string
		got       []string
		want      []string // must all be listed
		forbidden []string // must not be
	}{
		{"response_types_supported", md.ResponseTypes, []string{"code"}, []string{"token", "id_token", "code id_token", "code token"}},
		{"subject_types_supported", md.SubjectTypes, []string{"public"}, nil},
		{"id_token_signing_alg_values_supported", md.IDTokenAlgs, []string{"RS256"}, []string{"none", "HS256"}},
		{"code_challenge_methods_supported", md.CodeChallengeMethods, []string{"S256"}, []string{"plain"}},
		{"claims_supported", md.Claims, []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "preferred_username"}, nil},
		{"grant_types_supported", md.GrantTypes, []string{"authorization_code", "refresh_token"}, []string{"implicit"}},
		{"token_endpoint_auth_methods_supported", md.TokenEndpointAuthMeths, []string{"client_secret_basic", "none"}, nil},
	} {
		for _, v := range tc.want {
			if !slices.Contains(tc.got, v) {
				t.Errorf("%s %q lacks %q", tc.name, tc.got, v)
			}
		}
		for _, v := range tc.forbidden {
			if slices.Contains(tc.got, v) {
				t.Errorf("%s %q lists %q, which is not supported", tc.name, tc.got, v)
			}
		}
	}
	if len(md.Scopes) > 0 && !slices.Contains(md.Scopes, "openid") {
		t.Errorf("scopes_supported %q lacks openid, which an OpenID provider must support", md.Scopes)
	}
	if !md.IssParameterSupported {
		t.Error("authorization_response_iss_parameter_supported is not true, but every authorization response carries iss (RFC 9207)")
	}

	// The JWKS publishes an RS256 key for ID tokens.
	var set struct {
		Keys []struct {
			Kty, Alg, Use, Kid string
		} `json:"keys"`
	}
	getJSON(t, w.client, md.JWKSURI, &set)
	if !slices.ContainsFunc(set.Keys, func(k struct{ Kty, Alg, Use, Kid string }) bool {
		return k.Kty == "RSA" && k.Alg == "RS256" && k.Kid != ""
	}) {
		t.Errorf("the JWKS has no RS256 key: %+v", set.Keys)
	}
}
