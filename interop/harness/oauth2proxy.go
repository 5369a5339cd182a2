package harness

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// The oauth2-proxy release the tests run, pinned. It is built from the Go
// module proxy with `go install module@version`, which builds it with
// exactly the dependencies its own go.mod names (it has no replace
// directives), checked against the checksum database, and with the flags of
// its own release build (no cgo, the version stamped in). The first build
// takes a minute or two; later ones come from the build cache.
const (
	OAuth2ProxyModule  = "github.com/oauth2-proxy/oauth2-proxy/v7"
	OAuth2ProxyVersion = "v7.15.6"
)

// OAuth2ProxyBinary returns the path of the oauth2-proxy command, built on
// first use in the run.
func OAuth2ProxyBinary(t testing.TB) string {
	t.Helper()
	return built(t, "oauth2-proxy", func(dir string) (string, error) {
		// An empty directory, so that no go.mod around it takes part.
		work, err := os.MkdirTemp(dir, "build-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(work)
		env := []string{"GOBIN=" + dir, "GOWORK=off", "CGO_ENABLED=0"}
		ldflags := "-X " + OAuth2ProxyModule + "/pkg/version.VERSION=" + OAuth2ProxyVersion
		if err := goCommand(work, env, "install", "-ldflags="+ldflags, OAuth2ProxyModule+"@"+OAuth2ProxyVersion); err != nil {
			return "", err
		}
		return filepath.Join(dir, "oauth2-proxy"), nil
	})
}

// OAuth2ProxyConfig says how to run oauth2-proxy in front of an upstream.
type OAuth2ProxyConfig struct {
	Addr         string // 127.0.0.1:PORT to listen on (FreePort)
	Issuer       string // the OIDC issuer URL
	ClientID     string
	ClientSecret string
	Upstream     string   // http://127.0.0.1:PORT/
	Extra        []string // further flags
}

// OAuth2Proxy is a running oauth2-proxy.
type OAuth2Proxy struct {
	URL string // https://proxy.example.test:PORT
}

// StartOAuth2Proxy runs oauth2-proxy as its documentation configures it for
// an OpenID Connect provider, over HTTPS with the leaf certificate, trusting
// the CA for the provider and reaching test host names through the CONNECT
// proxy. It stops when the test ends.
func StartOAuth2Proxy(t testing.TB, ca *CA, leaf *Leaf, via *ConnectProxy, cfg OAuth2ProxyConfig) *OAuth2Proxy {
	t.Helper()
	p := &OAuth2Proxy{URL: "https://" + Host("proxy", cfg.Addr)}
	secret := make([]byte, 16)
	rand.Read(secret)
	args := append([]string{
		"--provider=oidc",
		"--oidc-issuer-url=" + cfg.Issuer,
		"--client-id=" + cfg.ClientID,
		"--client-secret=" + cfg.ClientSecret,
		"--redirect-url=" + p.URL + "/oauth2/callback",
		"--upstream=" + cfg.Upstream,
		"--https-address=" + cfg.Addr,
		"--tls-cert-file=" + leaf.CertFile,
		"--tls-key-file=" + leaf.KeyFile,
		"--provider-ca-file=" + ca.PEMFile,
		"--cookie-secret=" + hex.EncodeToString(secret), // 32 bytes: AES-256
		"--cookie-secure=true",
		"--code-challenge-method=S256",
		"--insecure-oidc-skip-nonce=false", // its default skips the nonce check
		"--skip-provider-button=true",
		"--email-domain=*",
	}, cfg.Extra...)
	// The provider's name resolves through the CONNECT proxy; loopback
	// addresses (the upstream) are never proxied by Go's HTTP client.
	proc := startProcess(t, "oauth2-proxy", []string{"HTTPS_PROXY=" + via.URL}, OAuth2ProxyBinary(t), args...)
	waitReady(t, proc, HTTPClient(ca, false), p.URL+"/ping")
	return p
}
