package interop

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/waxseal/waxseal/interop/harness"
)

// TestLoginPageScreenshots opens the hosted login page in the browser at a
// desktop and a phone width, keeps a screenshot of each (and of the page
// after a wrong password) in the artifacts directory, and checks in the
// real layout what a person needs: labelled fields, nothing wider than a
// phone's screen, and an error that says what went wrong without losing
// the form.
func TestLoginPageScreenshots(t *testing.T) {
	w := newWorld(t)
	rp := newRelyingParty(t, w, "rp1", webApp)
	browser := harness.Browser(t, w.ca)
	dir := artifactsDir(t)

	for _, vp := range []struct {
		name          string
		width, height int64
		opts          []chromedp.EmulateViewportOption
	}{
		{"desktop", 1280, 800, nil},
		{"phone", 390, 844, []chromedp.EmulateViewportOption{chromedp.EmulateScale(2), chromedp.EmulateMobile}},
	} {
		t.Run(vp.name, func(t *testing.T) {
			step(t, browser, "opening the login page",
				chromedp.EmulateViewport(vp.width, vp.height, vp.opts...),
				chromedp.Navigate(rp.URL+"/login"),
				chromedp.WaitVisible(chromedp.ID("username")),
			)
			checkLoginLayout(t, browser)
			screenshot(t, browser, filepath.Join(dir, "login-"+vp.name+".png"))

			step(t, browser, "typing a wrong password",
				chromedp.SendKeys(chromedp.ID("username"), userName),
				chromedp.SendKeys(chromedp.ID("password"), "not the password"),
			)
			sctx, cancel := context.WithTimeout(browser, 30*time.Second)
			resp, err := chromedp.RunResponse(sctx, chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
			cancel()
			if err != nil {
				t.Fatalf("submitting a wrong password: %v", err)
			}
			t.Logf("a wrong password is answered %d", resp.Status)
			step(t, browser, "reading the answer", chromedp.WaitVisible(chromedp.ID("password")))
			// The answer is the form again, with an error a screen reader
			// announces or a field points at.
			msg := evaluate[string](t, browser, `(() => {
				const ids = ["username", "password"].flatMap(id =>
					(document.getElementById(id).getAttribute("aria-describedby") || "").split(/\s+/));
				const tied = ids.filter(Boolean).map(id => document.getElementById(id)).filter(Boolean);
				const alerts = [...document.querySelectorAll('[role="alert"]')];
				return [...tied, ...alerts].map(e => e.innerText.trim()).filter(Boolean).join(" | ");
			})()`)
			if msg == "" {
				t.Errorf("after a wrong password the page shows no error tied to a field or role=alert (page: %s)", pageSummary(browser))
			}
			checkLoginLayout(t, browser)
			screenshot(t, browser, filepath.Join(dir, "login-"+vp.name+"-error.png"))
		})
	}
}

// checkLoginLayout checks the login page the browser shows: each field has
// a label, and nothing is wider than the viewport.
func checkLoginLayout(t *testing.T, ctx context.Context) {
	t.Helper()
	for _, id := range []string{"username", "password"} {
		label := evaluate[string](t, ctx, `(() => { const f = document.getElementById("`+id+`");
			return f && f.labels && f.labels.length ? f.labels[0].innerText.trim() : ""; })()`)
		if label == "" {
			t.Errorf("field #%s has no label", id)
		}
	}
	if overflow := evaluate[int](t, ctx, `document.documentElement.scrollWidth - window.innerWidth`); overflow > 0 {
		t.Errorf("the page is %d px wider than the %d px viewport", overflow, evaluate[int](t, ctx, `window.innerWidth`))
	}
}

// screenshot saves a PNG of the viewport.
func screenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// artifactsDir is where tests leave files for people to look at:
// WAXSEAL_ARTIFACTS, or the ignored directory artifacts/ here.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("WAXSEAL_ARTIFACTS")
	if dir == "" {
		dir = "artifacts"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
