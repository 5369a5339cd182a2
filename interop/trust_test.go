package interop

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/waxseal/waxseal/interop/harness"
)

// TestBrowserTrustsOnlyTheTestCA holds the way the tests make Chromium
// trust their CA: the CA's key in --ignore-certificate-errors-spki-list
// admits a chain that carries it, and nothing else. A leaf from another CA
// and the right leaf sent without its CA certificate are both refused, so
// the browser tests run with certificate checking on.
func TestBrowserTrustsOnlyTheTestCA(t *testing.T) {
	ca := harness.NewCA(t)
	good := ca.Issue(t, "auth."+harness.Domain)
	stranger := harness.NewCA(t).Issue(t, "auth."+harness.Domain)
	ctx := harness.Browser(t, ca)

	for _, tc := range []struct {
		name  string
		chain tls.Certificate
		ok    bool
	}{
		{"leaf and test CA", good.TLS, true},
		{"leaf of another CA", stranger.TLS, false},
		{"leaf without its CA", tls.Certificate{Certificate: good.TLS.Certificate[:1], PrivateKey: good.TLS.PrivateKey}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `<!doctype html><title>t</title><p id="host">%s</p>`, r.Host)
			}))
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{tc.chain}}
			srv.Config.ErrorLog = quietLog()
			srv.StartTLS()
			defer srv.Close()
			host := harness.Host("auth", srv.Listener.Addr().String())

			err := chromedp.Do(ctx, chromedp.Navigate("https://"+host+"/"))
			if !tc.ok {
				if err == nil || !strings.Contains(err.Error(), "ERR_CERT_AUTHORITY_INVALID") {
					t.Fatalf("navigation: %v, want net::ERR_CERT_AUTHORITY_INVALID", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The page came through the name mapping, with the port.
			got, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("host")))
			if err != nil || got != host {
				t.Fatalf("page says %q (%v), want %q", got, err, host)
			}
		})
	}
}
