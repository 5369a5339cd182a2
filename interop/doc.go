// Package interop holds the acceptance tests that need real third-party
// software around a real `waxseal serve`: headless Chromium (driven by
// chromedp) filling in the hosted login page, relying parties built on
// golang.org/x/oauth2 and github.com/coreos/go-oidc, and oauth2-proxy used
// unmodified. It is a Go module of its own, so that the main module and the
// users of the guard never inherit these dependencies.
//
// Every server speaks HTTPS with certificates from a CA the test makes, at
// host names under example.test that are mapped to loopback; package
// harness builds and runs the programs. Run the tests with
//
//	(cd interop && go test -count=1 ./...)
//
// Without Chromium they skip, saying so; with CI=true they fail instead.
package interop
