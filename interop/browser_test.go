package interop

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// step bounds one browser step, so that a page that never comes fails the
// test with a message instead of hanging it.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v (page: %s)", what, err, pageSummary(ctx))
	}
}

// text reads the text of the element with the id, waiting for it.
func text(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("reading #%s: %v (page: %s)", id, err, pageSummary(ctx))
	}
	return s
}

// evaluate runs a JavaScript expression in the page.
func evaluate[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// pageSummary is the current URL and the start of the page's text, for
// failure messages.
func pageSummary(ctx context.Context) string {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Evaluate[string](`location.href + " | " + (document.body ? document.body.innerText : "")`))
	if err != nil {
		return "unreadable: " + err.Error()
	}
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

// fillLoginForm signs in on the hosted login page the browser shows now,
// through the form fields the contract names.
func fillLoginForm(t *testing.T, ctx context.Context, user, password string) {
	t.Helper()
	step(t, ctx, "filling in the login page",
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
	)
}

// documents records the top-level documents the browser receives from
// origin while it runs, as "status URL". A redirect is not a document, so
// an issuer that answers only with redirects records nothing.
type documents struct {
	mu   sync.Mutex
	seen []string // guarded by mu
	stop context.CancelFunc
}

func recordDocuments(t *testing.T, ctx context.Context, origin string) *documents {
	t.Helper()
	lctx, cancel := context.WithCancel(ctx)
	d := &documents{stop: cancel}
	err := chromedp.Listen(lctx, func(ev any) {
		if ev, ok := ev.(*network.EventResponseReceived); ok && ev.Type == network.ResourceTypeDocument &&
			strings.HasPrefix(ev.Response.URL, origin+"/") {
			d.mu.Lock()
			d.seen = append(d.seen, strconv.Itoa(int(ev.Response.Status))+" "+ev.Response.URL)
			d.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	return d
}

// done stops recording and returns what was seen.
func (d *documents) done() []string {
	d.stop()
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.seen...)
}
