package interop

import (
	"os/exec"
	"strings"
	"testing"

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
