package interop

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/waxseal/waxseal/interop/harness"
)

// startOtherSite serves body as the only page of https://app.example.test
// — a site that is not the issuer and not a registered application, as an
// attacker's would be.
func startOtherSite(t *testing.T, w *world, body string) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(rw, body)
	}))
	srv.TLS = w.leaf.ServerTLS()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return "https://" + harness.Host("app", srv.Listener.Addr().String()) + "/"
}

// TestLoginPageRefusesFraming is clickjacking (RFC 6749 §10.13) in a real
// browser: another site frames the login page beside a page of an
// application that allows framing. The browser loads the application's
// page and refuses the login page.
func TestLoginPageRefusesFraming(t *testing.T) {
	w := newWorld(t)
	rp := newRelyingParty(t, w, "rp1", webApp)
	browser := harness.Browser(t, w.ca)

	other := startOtherSite(t, w, fmt.Sprintf(`<!doctype html><title>framing</title>
<iframe id="login" src="%s" width="600" height="600"></iframe>
<iframe id="control" src="%s" width="300" height="300"></iframe>`,
		html.EscapeString(rp.URL+"/login"), html.EscapeString(rp.URL+"/loggedout")))
	step(t, browser, "opening a page that frames the login page", chromedp.Navigate(other))

	// Wait until both frames have settled: the control shows its page,
	// and the login frame has left about:blank.
	var frames []*cdp.Frame
	deadline := time.Now().Add(20 * time.Second)
	for {
		frames = childFrames(t, browser)
		settled := len(frames) == 2
		for _, f := range frames {
			settled = settled && f.URL != "" && f.URL != "about:blank"
		}
		if settled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the frames did not load within 20 s: %+v", frameURLs(frames))
		}
		time.Sleep(100 * time.Millisecond)
	}
	urls := frameURLs(frames)
	if !strings.HasPrefix(urls[1], rp.URL+"/loggedout") {
		t.Fatalf("the control frame shows %q, want the application's page: the browser did not frame at all", urls[1])
	}
	if strings.HasPrefix(urls[0], w.iss.URL) {
		t.Fatalf("the login page was rendered inside another site's frame (%q)", urls[0])
	}
	t.Logf("the framed login page became %q", urls[0])
}

// childFrames are the frames of the current page, in document order.
func childFrames(t *testing.T, ctx context.Context) []*cdp.Frame {
	t.Helper()
	tree, err := chromedp.Call(ctx, page.GetFrameTree, cdp.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	var frames []*cdp.Frame
	for _, c := range tree.FrameTree.ChildFrames {
		frames = append(frames, c.Frame)
	}
	return frames
}

func frameURLs(frames []*cdp.Frame) []string {
	var urls []string
	for _, f := range frames {
		urls = append(urls, f.URL+f.URLFragment)
	}
	return urls
}

// TestCrossSiteLoginPostRefused is login CSRF in a real browser: another
// site posts the login form (with the right user name and password, which
// an attacker signing a victim into the attacker's own account knows)
// without the form's CSRF token. The issuer refuses it and starts no
// session: a silent sign-in afterwards still needs a login.
func TestCrossSiteLoginPostRefused(t *testing.T) {
	w := newWorld(t)
	rp := newRelyingParty(t, w, "rp1", webApp)
	browser := harness.Browser(t, w.ca)

	// Where the real form posts to, read from the real page.
	step(t, browser, "opening the login page", chromedp.Navigate(rp.URL+"/login"), chromedp.WaitVisible(chromedp.ID("username")))
	action := evaluate[string](t, browser, `document.getElementById("username").form.action`)
	if !strings.HasPrefix(action, w.iss.URL+"/") {
		t.Fatalf("the login form posts to %q, want the issuer", action)
	}

	other := startOtherSite(t, w, fmt.Sprintf(`<!doctype html><title>csrf</title>
<form id="f" method="post" action="%s">
<input name="username" value="%s"><input name="password" value="%s">
</form><script>document.getElementById("f").submit()</script>`,
		html.EscapeString(action), userName, html.EscapeString(userPassword)))
	step(t, browser, "opening the other site", chromedp.Navigate(other))
	// The form posts itself; wait until the browser has left that site.
	deadline := time.Now().Add(20 * time.Second)
	for strings.HasPrefix(evaluate[string](t, browser, `location.href`), other) {
		if time.Now().After(deadline) {
			t.Fatal("the other site's form was not posted within 20 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	step(t, browser, "waiting for the answer", chromedp.WaitReady(chromedp.CSS("body")))
	if where := evaluate[string](t, browser, `location.href`); strings.HasPrefix(where, rp.URL) {
		t.Fatalf("a cross-site login POST signed the browser in to the application (%s)", where)
	}
	select {
	case res := <-rp.results:
		t.Fatalf("a cross-site login POST reached the application's callback: %+v", res)
	default:
	}

	// No issuer session was started.
	step(t, browser, "a silent sign-in", chromedp.Navigate(rp.URL+"/login?prompt=none"))
	if res := rp.next(t); res.errCode != "login_required" {
		t.Fatalf("after the cross-site POST, prompt=none gave error %q (%v), want login_required: a session was started", res.errCode, res.err)
	}
}
