package issuer_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/waxseal/waxseal/issuer"
)

// TestMetricsNotPublic: the issuer's public handler does not serve
// /metrics (request counts, login failures, pool waits are for the
// operator); Server.Metrics does, for a listener the operator chooses.
func TestMetricsNotPublic(t *testing.T) {
	e := newEnv(t, sqliteEngine().open(t), nil)
	if r := e.get(issuer.MetricsPath, ""); r.Status != http.StatusNotFound {
		t.Errorf("GET %s on the public listener: %d, want 404", issuer.MetricsPath, r.Status)
	}
	e.get(issuer.LivePath, "")
	m := httptest.NewServer(e.srv.Metrics())
	defer m.Close()
	resp, err := http.Get(m.URL + issuer.MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "waxseal_issuer_requests_total") {
		t.Errorf("the metrics handler: %d %.200s", resp.StatusCode, body)
	}
}
