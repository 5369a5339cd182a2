package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"

	"github.com/waxseal/waxseal/guard"
	"github.com/waxseal/waxseal/keyset"
	"github.com/waxseal/waxseal/proxy"
)

// runProxy puts a guard in front of a service: see package proxy.
func runProxy(ctx context.Context, args []string, io IO) error {
	fs := newFlags("proxy", "", io)
	lf := addListenFlags(fs, "127.0.0.1:8081")
	upstream := fs.String("upstream", "", "URL of the service behind the proxy (required)")
	issuerURL := fs.String("issuer", "", "the issuer URL tokens must name in iss (required)")
	audience := fs.String("audience", "", "this service's name; tokens must list it in aud (required)")
	var rules, origins listFlag
	fs.Var(&rules, "require-role", "PATH=ROLE: PATH and every path below it, by whole segments (/admin: /admin and /admin/..., not /administrator), need ROLE in the token (repeatable; the longest PATH wins)")
	fs.Var(&origins, "allow-origin", allowOriginUsage)
	jwksFile := fs.String("jwks-file", "", "take keys from this JWKS file instead of the issuer; no revocation feed is followed")
	failOpen := fs.Bool("fail-open", false, "serve requests while the revocation feed is stale (default: answer 503)")
	stale := &durationFlag{d: guard.DefaultFeedStaleAfter}
	fs.Var(stale, "feed-stale-after", "how long the revocation feed may be unreachable before requests are refused (or, with --fail-open, let through)")
	upstreamTimeout := &durationFlag{d: proxy.DefaultResponseHeaderTimeout}
	fs.Var(upstreamTimeout, "upstream-timeout", "how long to wait for the upstream's response headers before answering 504")
	insecureAllowHTTP := fs.Bool("insecure-allow-http", false, "allow fetching metadata, keys and revocations over plain HTTP from an issuer that is not on loopback")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if *upstream == "" || *issuerURL == "" || *audience == "" {
		return usageError(fs, "--upstream, --issuer and --audience are required")
	}
	useTLS, err := lf.check()
	if err != nil {
		return err
	}
	up, err := url.Parse(*upstream)
	if err != nil {
		return fmt.Errorf("--upstream: %w", err)
	}
	roleRules, err := parseRules(rules.vals)
	if err != nil {
		return err
	}
	crossOrigin, err := newCORS(origins.vals)
	if err != nil {
		return err
	}

	log := slog.New(slog.NewJSONHandler(io.Err, nil))
	gc := guard.Config{
		Issuer: *issuerURL, Audience: *audience, FeedStaleAfter: stale.d, FailOpen: *failOpen,
		InsecureAllowHTTP: *insecureAllowHTTP, Logger: log,
	}
	if *jwksFile != "" {
		keys, err := keyset.LoadFile(*jwksFile)
		if err != nil {
			return err
		}
		gc.Keys, gc.InsecureNoRevocation = keys, true
		log.Warn("keys from a file and no revocation feed: revoked tokens are accepted until they expire", "jwks_file", *jwksFile)
	}
	g, err := guard.New(ctx, gc)
	if err != nil {
		return err
	}
	defer g.Close()
	h, err := proxy.New(proxy.Config{
		Upstream: up, Guard: g, Rules: roleRules, CORS: crossOrigin,
		ResponseHeaderTimeout: upstreamTimeout.d, Logger: log,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *lf.listen)
	if err != nil {
		return err
	}
	// No read or write timeout: uploads and downloads stream for as long
	// as they flow; the upstream's answer is bounded by --upstream-timeout.
	hs := newHTTPServer(h, log)
	log.Info("waxseal proxy listening", "addr", ln.Addr().String(), "upstream", up.Redacted(), "issuer", *issuerURL,
		"audience", *audience, "tls", useTLS)
	return lf.serve(ctx, hs, ln, log)
}

// parseRules reads --require-role values, each PATHPREFIX=ROLE.
func parseRules(vals []string) ([]proxy.Rule, error) {
	rules := make([]proxy.Rule, len(vals))
	for i, v := range vals {
		var err error
		if rules[i], err = proxy.ParseRule(v); err != nil {
			return nil, fmt.Errorf("--require-role: %w", err)
		}
	}
	return rules, nil
}
