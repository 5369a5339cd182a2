package interop

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/waxseal/waxseal/interop/harness"
)

// The account every test signs in as.
const (
	userName     = "alice"
	userPassword = "marmalade lighthouse 31 kites"
)

// world is one test's setting: a CA, one leaf certificate for every test
// host, a `waxseal serve` at auth.example.test with one user, and an HTTP
// client that trusts the CA and finds the test hosts.
type world struct {
	ca     *harness.CA
	leaf   *harness.Leaf
	iss    *harness.Issuer
	client *http.Client
	via    *harness.ConnectProxy // for programs that resolve names themselves
}

// newWorld starts the issuer with the extra serve flags and adds the user.
func newWorld(t *testing.T, serveFlags ...string) *world {
	t.Helper()
	w := &world{ca: harness.NewCA(t)}
	w.leaf = w.ca.Issue(t, "auth."+harness.Domain, "rp1."+harness.Domain, "rp2."+harness.Domain,
		"proxy."+harness.Domain, "app."+harness.Domain)
	w.client = harness.HTTPClient(w.ca, false)
	w.via = harness.StartConnectProxy(t)
	w.iss = harness.NewIssuer(t, harness.IssuerConfig{})
	w.iss.Run(t, userPassword+"\n", "user", "add", "--password-stdin", userName)
	w.iss.Start(t, w.leaf, w.client, serveFlags...)
	return w
}

// ctx is a context under which golang.org/x/oauth2 and go-oidc use the
// world's HTTP client.
func (w *world) ctx(t *testing.T) context.Context {
	ctx := oidc.ClientContext(t.Context(), w.client)
	return context.WithValue(ctx, oauth2.HTTPClient, w.client)
}

// registeredClient is what `waxseal client add --json` prints.
type registeredClient struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
}

// addClient registers a client with the real CLI, as an operator would.
func (w *world) addClient(t *testing.T, id string, flags ...string) registeredClient {
	t.Helper()
	out := w.iss.Run(t, "", append(append([]string{"client", "add", "--json"}, flags...), id)...)
	var c registeredClient
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &c); err != nil {
		t.Fatalf("client add printed %q: %v", out, err)
	}
	if c.ID != id {
		t.Fatalf("client add registered %q, want %q", c.ID, id)
	}
	return c
}
