package cli_test

import (
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLimitFlags runs `waxseal serve` with the account's and the network's
// limits set by flags and checks that the server keeps them, and that a
// limit that cannot work is refused at start.
func TestLimitFlags(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "waxseal.db")
	runBinary(t, "", "migrate", "--database", db)
	runBinary(t, crashPassword+"\n", "user", "add", "--database", db, "--password-stdin", "alice")
	s := startServer(t, "limits", "--database", db, "--limit-account-burst", "2", "--limit-account-every", "1h",
		"--limit-network-burst", "3", "--limit-network-every", "1h")
	c := &http.Client{}
	login := func(name, pw string) int {
		a, err := send(c, http.MethodPost, s.URL+"/token", url.Values{"grant_type": {"password"}, "username": {name}, "password": {pw}}, "")
		if err != nil {
			t.Fatal(err)
		}
		return a.Status
	}
	// Successes take nothing from the network: more than its burst of 3.
	for i := range 5 {
		if st := login("alice", crashPassword); st != http.StatusOK {
			t.Fatalf("login %d: %d", i, st)
		}
	}
	got := []int{login("alice", "wrong one"), login("alice", "wrong two"), login("alice", "wrong three")}
	if got[0] != 400 || got[1] != 400 || got[2] != http.StatusTooManyRequests {
		t.Errorf("wrong passwords with --limit-account-burst 2: %v, want 400 400 429", got)
	}
	if st := login("bob", "wrong"); st != 400 {
		t.Errorf("a third failure from the network: %d, want 400", st)
	}
	if st := login("carol", "wrong"); st != http.StatusTooManyRequests {
		t.Errorf("a fourth failure from the network with --limit-network-burst 3: %d, want 429", st)
	}

	cmd := exec.Command(waxsealBinary(t), "serve", "--database", db, "--listen", "127.0.0.1:0", "--limit-client-burst", "0")
	cmd.Env = childEnv()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--limit-client-burst") {
		t.Errorf("serve with --limit-client-burst 0: %v, %s", err, out)
	}
}

// TestMetricsListen: `waxseal serve` answers 404 for /metrics on its public
// listener and serves the metrics on --metrics-listen only.
func TestMetricsListen(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "waxseal.db")
	runBinary(t, "", "migrate", "--database", db)
	s := startServer(t, "metrics", "--database", db, "--metrics-listen", "127.0.0.1:0")
	c := &http.Client{}
	send(c, http.MethodGet, s.URL+"/livez", nil, "")
	if a, err := send(c, http.MethodGet, s.URL+"/metrics", nil, ""); err != nil || a.Status != http.StatusNotFound {
		t.Errorf("/metrics on the public listener: %v %d", err, a.Status)
	}
	a, err := send(c, http.MethodGet, s.metricsURL(t)+"/metrics", nil, "")
	if err != nil || a.Status != http.StatusOK || !strings.Contains(a.Raw, "waxseal_issuer_requests_total") {
		t.Errorf("/metrics on --metrics-listen: %v %d %.200s", err, a.Status, a.Raw)
	}
	if a, err := send(c, http.MethodGet, s.metricsURL(t)+"/token", nil, ""); err != nil || a.Status != http.StatusNotFound {
		t.Errorf("the metrics listener serves more than /metrics: %v %d", err, a.Status)
	}
}
