package experiment

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/waxseal/waxseal/proof/cluster"
)

// need skips the test when a program is missing, or fails it under CI.
func need(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required under CI=true: %v", p, err)
			}
			t.Skipf("%s not found: %v", p, err)
		}
	}
}

// TestShortRun runs one short round of every experiment against the real
// processes, writes the report into a temporary directory, and checks the
// outcomes that do not depend on the machine's speed: who accepts which
// credential, who is logged out by an instance's death, what a stopped
// Redis breaks, and what a cross-site page can make the browser do.
func TestShortRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an issuer, nginx, Redis, Chromium and a dozen instances")
	}
	nginx := "nginx"
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		nginx = "/usr/sbin/nginx"
	}
	chromium := "/usr/bin/chromium"
	need(t, nginx, "redis-server", chromium)
	root, err := FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	o := Options{Params: Short(), Root: root, Out: out, Work: t.TempDir(), Chromium: chromium, Logf: t.Logf}
	if pg := os.Getenv("WAXSEAL_TEST_POSTGRES"); pg != "" {
		o.Postgres = pg
	}
	if err := os.MkdirAll(filepath.Join(out, "proof"), 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), o)
	if res != nil {
		if werr := Write(o, res); werr != nil {
			t.Error(werr)
		}
	}
	if err != nil {
		t.Fatal(err)
	}

	// Any instance serves a waxseal token; a sticky session lives on one.
	if r := res.Revocation[cluster.Waxseal]; r.AcceptedOn != 3 || r.NeverRefused != 0 {
		t.Errorf("waxseal revocation: accepted on %.1f of 3, never refused in %d rounds", r.AcceptedOn, r.NeverRefused)
	}
	if r := res.Revocation[cluster.Sticky]; r.AcceptedOn != 1 {
		t.Errorf("sticky session accepted on %.1f instances, want 1", r.AcceptedOn)
	}
	for _, m := range cluster.Modes {
		if r := res.Revocation[m]; r.NeverRefused != 0 {
			t.Errorf("%s: a logged-out credential was still accepted after 10 s", m)
		}
	}
	// Killing an instance logs out no waxseal or shared-session user, and
	// logs out the sticky users of the killed instance.
	for _, m := range []cluster.Mode{cluster.Waxseal, cluster.Shared} {
		if l := res.Loss[m]; l.ForcedUsers != 0 || l.Refused != 0 {
			t.Errorf("%s instance loss: %d users forced to log in, %d refused", m, l.ForcedUsers, l.Refused)
		}
	}
	if l := res.Loss[cluster.Sticky]; l.ForcedUsers == 0 {
		t.Errorf("sticky instance loss: nobody had to log in again after the busiest instance died")
	}
	for _, m := range cluster.Modes {
		if l := res.Loss[m]; l.After == 0 || l.Before == 0 {
			t.Errorf("%s instance loss: no load measured (%d before, %d after)", m, l.Before, l.After)
		}
	}
	// Stopping Redis breaks the shared-session mode only.
	for _, r := range res.Outage {
		failed := r.FailedDuring + r.FailedAfter
		switch {
		case r.Stopped == "Redis" && r.Mode == cluster.Shared && r.AnsweredWhile != 0:
			t.Errorf("%s: %d requests were answered while Redis was stopped", r.Name, r.AnsweredWhile)
		case r.AnsweredWhile == 0 && !(r.Stopped == "Redis" && r.Mode == cluster.Shared):
			t.Errorf("%s: no request was answered while it was stopped", r.Name)
		case r.Stopped == "Redis" && r.Mode != cluster.Shared && failed != 0:
			t.Errorf("%s: %d requests failed though this mode does not use Redis", r.Name, failed)
		}
	}
	// The browser: no cross-site request acts on the bearer API; the
	// legitimate requests act everywhere; SameSite=None without a CSRF
	// token is open to the form; a CSRF token closes it.
	if len(res.CSRF) != 8 {
		t.Fatalf("CSRF: %d results, want 8", len(res.CSRF))
	}
	for _, r := range res.CSRF {
		if !r.Control {
			t.Errorf("CSRF %s: the legitimate request did not act", r.Target)
		}
		bearer := strings.HasPrefix(r.Target, "waxseal")
		if (bearer || strings.Contains(r.Target, "CSRF token") || strings.Contains(r.Target, "Lax")) && r.Acted {
			t.Errorf("CSRF %s / %s acted", r.Target, r.Attack)
		}
		if strings.Contains(r.Target, "None; Secure") && !strings.Contains(r.Target, "CSRF token") && strings.HasPrefix(r.Attack, "form") && !r.Acted {
			t.Errorf("CSRF %s / %s did not act: the experiment cannot see an attack succeed", r.Target, r.Attack)
		}
	}
	// The report and its files.
	md, err := os.ReadFile(filepath.Join(out, "PROOF.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"## Summary", "## Capacity model", "| Loses nobody when an instance dies |"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("PROOF.md lacks %q", s)
		}
	}
	for _, f := range []string{"instance-loss", "scale-out", "scale-out-p99", "outage", "revocation", "csrf", "wire", "auth-cost"} {
		for _, ext := range []string{".png", ".svg"} {
			if fi, err := os.Stat(filepath.Join(out, "proof", f+ext)); err != nil || fi.Size() == 0 {
				t.Errorf("plot %s%s: %v", f, ext, err)
			}
		}
	}
}
