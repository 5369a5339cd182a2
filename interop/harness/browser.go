package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// Required reports whether a missing browser or tool fails the test
// instead of skipping it: under CI=true everything must run.
func Required() bool { return os.Getenv("CI") == "true" }

// SkipOrFail skips the test with reason, or fails it under CI=true.
func SkipOrFail(t testing.TB, reason string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s (CI=true: every interop test must run)", reason)
	}
	t.Skip(reason)
}

// Chromium returns the path of the Chromium to drive: WAXSEAL_TEST_CHROMIUM
// if set, else Debian's /usr/bin/chromium, else chromium on PATH. Without
// one the test is skipped (failed under CI=true).
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("WAXSEAL_TEST_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			SkipOrFail(t, fmt.Sprintf("WAXSEAL_TEST_CHROMIUM=%s: %v", p, err))
		}
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	SkipOrFail(t, "no Chromium: install Debian's chromium or set WAXSEAL_TEST_CHROMIUM")
	return ""
}

// Browser starts a headless Chromium for one test, with a fresh profile,
// the test host names mapped to loopback and the test CA trusted, and
// returns a chromedp context for it. The browser ends with the test.
//
// Trust: Chromium is given the SHA-256 digest of the CA's public key in
// --ignore-certificate-errors-spki-list, which Chromium honours only
// together with --user-data-dir. It accepts a certificate error only for a
// chain that contains that key, so every server presents the leaf with the
// CA certificate behind it, and a certificate from any other issuer (or a
// self-signed one) is still refused. --ignore-certificate-errors, which
// accepts anything, is not used. The test TestBrowserTrustsOnlyTheTestCA
// holds this.
func Browser(t testing.TB, ca *CA) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], // headless, no first run, no sync, no background networking
		chromedp.ExecPath(Chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("host-resolver-rules", "MAP *."+Domain+" 127.0.0.1"),
		chromedp.Flag("ignore-certificate-errors-spki-list", ca.SPKIHash()),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// Start the browser now, so that a browser that cannot start fails
	// here and not in the middle of a flow. (The first Run's context owns
	// the browser, so it carries no timeout.)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("starting Chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return ctx
}
