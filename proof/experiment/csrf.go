package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/waxseal/waxseal/proof/cluster"
	"github.com/waxseal/waxseal/proof/report"
)

// CSRFResult is what one cross-site attack did to one target.
type CSRFResult struct {
	Target  string // the app and its cookie settings
	Attack  string
	Acted   bool // the note was created
	Control bool // the legitimate same-origin request acted (the test can see an action)
}

type csrfTarget struct {
	name     string
	mode     cluster.Mode
	sameSite string
	csrf     bool
}

// The attacker's site: a page that submits a form, and one that fetches,
// each at the target's /notes.
var attackPage = template.Must(template.New("a").Parse(`<!doctype html><html><head><meta charset="utf-8"><title>win a prize</title></head><body>
{{if .Form}}<form id="f" method="POST" action="{{.Target}}"><input name="text" value="csrf-form"></form>
<script>document.getElementById("f").submit()</script>
{{else}}<script>
fetch({{.Target}}, {method: "POST", mode: "no-cors", credentials: "include",
  headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "text=csrf-fetch"})
  .then(() => { document.title = "sent" }, () => { document.title = "sent" });
</script>{{end}}</body></html>`))

func runCSRF(ctx context.Context, env *cluster.Env, o Options, res *Results) error {
	if o.Chromium == "" {
		res.CSRFNote = "Chromium was not found: the CSRF experiment did not run."
		return nil
	}
	// The attacker's site, reached as http://evil.attacker.test:PORT: a
	// different site from the apps on http://localhost.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		attackPage.Execute(w, map[string]any{"Form": r.URL.Path == "/form", "Target": r.URL.Query().Get("target")})
	})}
	go srv.Serve(ln)
	defer srv.Close()
	evil := fmt.Sprintf("http://evil.attacker.test:%d", ln.Addr().(*net.TCPAddr).Port)

	profile, err := os.MkdirTemp(o.Work, "chromium-")
	if err != nil {
		return err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(o.Chromium), chromedp.UserDataDir(profile),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.Flag("disable-quic", true),
		chromedp.Flag("host-resolver-rules", "MAP *.test 127.0.0.1"),
	)
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(bctx); err != nil {
		return fmt.Errorf("starting %s: %w", o.Chromium, err)
	}
	targets := []csrfTarget{
		{"waxseal: bearer token in the Authorization header", cluster.Waxseal, "", false},
		{"session cookie, SameSite=Lax (scs default)", cluster.Sticky, "lax", false},
		{"session cookie, SameSite=None; Secure", cluster.Sticky, "none", false},
		{"session cookie, SameSite=None; Secure, with a CSRF token", cluster.Sticky, "none", true},
	}
	var all []CSRFResult
	for i, t := range targets {
		r, err := csrfTargetRun(ctx, bctx, env, evil, t, len(env.UserNames)-3-i)
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		all = append(all, r...)
	}
	res.CSRF = all
	tab := &report.Table{Name: "csrf", Header: []string{"target", "attack from another site", "acted", "legitimate request acted (control)"}}
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	counts := map[string]float64{}
	var cats []string
	for _, r := range res.CSRF {
		tab.Add(r.Target, r.Attack, yes(r.Acted), yes(r.Control))
		if !slices.Contains(cats, r.Target) {
			cats = append(cats, r.Target)
		}
		if r.Acted {
			counts[r.Target]++
		}
		o.Logf("  %s / %s: acted %v (control %v)", r.Target, r.Attack, r.Acted, r.Control)
	}
	res.Tables = append(res.Tables, tab)
	if err := tab.WriteCSV(outDir(o)); err != nil {
		return err
	}
	var s report.Series
	short := []string{"bearer (waxseal)", "cookie Lax", "cookie None", "cookie None + CSRF token"}
	for i, c := range cats {
		s.XY = append(s.XY, struct{ X, Y float64 }{float64(i), counts[c]})
	}
	s.Name = "cross-site attacks that acted (of 2)"
	return report.Bars(outDir(o), "csrf", "CSRF in headless Chromium: cross-site form POST and fetch", "attacks that created a note",
		short[:len(cats)], []report.Series{s})
}

func csrfTargetRun(ctx, bctx context.Context, env *cluster.Env, evil string, t csrfTarget, ui int) ([]CSRFResult, error) {
	c, err := env.StartCluster(ctx, t.mode, cluster.ClusterOptions{Instances: 1, SameSite: t.sameSite, CSRF: t.csrf})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	port := strings.TrimPrefix(c.Instances[0].Addr, "127.0.0.1:")
	app := "http://localhost:" + port
	name := env.UserNames[ui]
	gc := probe(cluster.UserIP(ui))
	var token string
	if t.mode == cluster.Waxseal {
		cred, err := login(gc, env, "", t.mode, name)
		if err != nil {
			return nil, err
		}
		token = strings.TrimPrefix(cred.Get("Authorization"), "Bearer ")
	}
	// Log in in the browser, on the app's own origin, and make one
	// legitimate request as the app's own page would.
	var script string
	if t.mode == cluster.Waxseal {
		script = fmt.Sprintf(`sessionStorage.setItem("token", %q);
fetch("/notes", {method: "POST", headers: {"Authorization": "Bearer " + sessionStorage.getItem("token"), "Content-Type": "application/json"},
  body: JSON.stringify({text: "control"})}).then(r => r.status)`, token)
	} else {
		script = fmt.Sprintf(`fetch("/login", {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"},
  body: new URLSearchParams({username: %q, password: %q})}).then(r => r.json()).then(j =>
  fetch("/notes", {method: "POST", headers: {"Content-Type": "application/json", "X-CSRF-Token": j.csrf_token},
    body: JSON.stringify({text: "control"})})).then(r => r.status)`, name, env.Password)
	}
	tctx, cancel := context.WithTimeout(bctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.Navigate(app+"/healthz")); err != nil {
		return nil, fmt.Errorf("opening the app: %w", err)
	}
	control, err := chromedp.Run(tctx, chromedp.Evaluate[int](script, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("logging in in the browser: %w", err)
	}
	target := url.QueryEscape(app + "/notes")
	for _, page := range []string{"/form", "/fetch"} {
		if err := chromedp.Do(tctx, chromedp.Navigate(evil+page+"?target="+target), chromedp.Sleep(time.Second)); err != nil {
			return nil, fmt.Errorf("attack page %s: %w", page, err)
		}
	}
	// What happened, asked of the app itself with a fresh credential of
	// the same user.
	texts, err := noteTexts(gc, env, app, t, name)
	if err != nil {
		return nil, err
	}
	ok := control == 201 && texts["control"]
	return []CSRFResult{
		{Target: t.name, Attack: "form POST (top-level navigation)", Acted: texts["csrf-form"], Control: ok},
		{Target: t.name, Attack: "fetch, credentials: include, no-cors", Acted: texts["csrf-fetch"], Control: ok},
	}, nil
}

func noteTexts(gc *http.Client, env *cluster.Env, app string, t csrfTarget, name string) (map[string]bool, error) {
	var cred http.Header
	var err error
	if t.mode == cluster.Waxseal {
		cred, err = login(gc, env, "", t.mode, name)
	} else {
		cred, err = login(gc, env, app, t.mode, name)
	}
	if err != nil {
		return nil, err
	}
	st, _, body, err := status(gc, "GET", app+"/notes", cred, "")
	if err != nil || st != 200 {
		return nil, fmt.Errorf("listing notes: %d %v", st, err)
	}
	var list []struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, n := range list {
		out[n.Text] = true
	}
	return out, nil
}
