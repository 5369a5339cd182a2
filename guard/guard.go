package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/denylist"
	"github.com/waxseal/waxseal/discovery"
	"github.com/waxseal/waxseal/feed"
	"github.com/waxseal/waxseal/keyset"
	"github.com/waxseal/waxseal/token"
)

// Defaults of Config.
const (
	DefaultFeedStaleAfter = time.Minute
)

// Config says whose tokens a Guard accepts. Only Issuer and Audience are
// required; everything else is found through the issuer's metadata.
type Config struct {
	// Issuer is the issuer's URL, exactly as in its tokens' "iss". Required.
	Issuer string
	// Audience is this service's name; tokens must list it in "aud".
	// Required.
	Audience string

	// Keys, if set, is where keys come from instead of the issuer's
	// jwks_uri (for example a keyset.Static from a JWKS file). With Keys set
	// no metadata is fetched and no revocation feed is followed unless
	// FeedURL is set: an air-gapped guard honours expiry only.
	Keys token.KeySource
	// FeedURL overrides the metadata's revocation_feed_endpoint.
	FeedURL string

	// FeedStaleAfter is how long the revocation feed may be unreachable
	// before protected routes follow the stale-feed policy. Zero means
	// DefaultFeedStaleAfter.
	FeedStaleAfter time.Duration
	// FailOpen serves requests while the feed is stale, logging and counting
	// each (Stats.FailedOpen). The default, fail closed, answers 503: a
	// guard that cannot hear revocations cannot promise them.
	FailOpen bool

	// Leeway for exp, nbf and iat; see token.Config.
	Leeway time.Duration
	// HTTPClient fetches metadata and keys. Nil means a client with a 10 s
	// timeout. The feed uses its own client: its stream lives long.
	HTTPClient *http.Client
	// InsecureAllowHTTP allows plain HTTP to an issuer that is not on
	// loopback.
	InsecureAllowHTTP bool
	// Logger receives refusals with their causes. Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Guard verifies bearer tokens for one service. It is safe for concurrent
// use; create one per process and share it across handlers.
type Guard struct {
	verifier *token.Verifier
	denied   *denylist.List
	follower *feed.Follower // nil without a feed
	remote   *keyset.Remote // nil with Config.Keys
	stale    time.Duration
	failOpen bool
	log      *slog.Logger
	now      func() time.Time
	cancel   context.CancelFunc
	done     chan struct{}
	wg       sync.WaitGroup // the follower

	stats struct {
		allowed, refused, failedOpen, failedClosed atomic.Int64
	}
}

// New starts a Guard: it reads the issuer's metadata, loads its keys, and
// starts following its revocation feed in the background. Until the first
// catch-up of the feed completes, protected routes answer as if the feed
// were stale (see Ready).
func New(ctx context.Context, cfg Config) (*Guard, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("guard: Config.Issuer and Config.Audience are required")
	}
	g := &Guard{
		denied:   denylist.New(),
		stale:    cfg.FeedStaleAfter,
		failOpen: cfg.FailOpen,
		log:      cfg.Logger,
		now:      cfg.Now,
		done:     make(chan struct{}),
	}
	if g.stale <= 0 {
		g.stale = DefaultFeedStaleAfter
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.now == nil {
		g.now = time.Now
	}
	keys, feedURL := cfg.Keys, cfg.FeedURL
	if keys == nil {
		md, err := discovery.Fetch(ctx, cfg.HTTPClient, cfg.Issuer, discovery.Options{InsecureAllowHTTP: cfg.InsecureAllowHTTP})
		if err != nil {
			return nil, fmt.Errorf("guard: %w", err)
		}
		if feedURL == "" {
			if md.RevocationFeedEndpoint == "" {
				return nil, errors.New("guard: the issuer publishes no revocation_feed_endpoint")
			}
			feedURL = md.RevocationFeedEndpoint
		}
		g.remote, err = keyset.NewRemote(ctx, keyset.RemoteConfig{
			Issuer: cfg.Issuer, JWKSURL: md.JWKSURI, HTTPClient: cfg.HTTPClient,
			InsecureAllowHTTP: cfg.InsecureAllowHTTP, Logger: g.log, Now: cfg.Now,
			// A key the issuer stops publishing takes its cached tokens along.
			OnRemove: func(kid string) { g.verifier.ForgetKey(kid) },
		})
		if err != nil {
			return nil, fmt.Errorf("guard: %w", err)
		}
		keys = g.remote
	}
	if feedURL != "" {
		if err := discovery.CheckURL(feedURL, cfg.InsecureAllowHTTP); err != nil {
			g.closeKeys()
			return nil, fmt.Errorf("guard: revocation feed: %w", err)
		}
		var err error
		g.follower, err = feed.NewFollower(feed.FollowerConfig{URL: feedURL, Apply: g.apply, Logger: g.log, Now: cfg.Now})
		if err != nil {
			g.closeKeys()
			return nil, err
		}
	}
	var err error
	g.verifier, err = token.NewVerifier(keys, token.Config{
		Issuer: cfg.Issuer, Audience: cfg.Audience, Leeway: cfg.Leeway, Denylist: g.denied, Now: cfg.Now,
	})
	if err != nil {
		g.closeKeys()
		return nil, fmt.Errorf("guard: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g.cancel = cancel
	go g.run(runCtx)
	return g, nil
}

func (g *Guard) apply(rs []waxseal.Revocation) { g.denied.Apply(rs...) }

func (g *Guard) closeKeys() {
	if g.remote != nil {
		g.remote.Close()
	}
}

// run follows the feed and prunes the denylist until Close.
func (g *Guard) run(ctx context.Context) {
	defer close(g.done)
	defer g.wg.Wait()
	if g.follower != nil {
		g.wg.Go(func() { g.follower.Run(ctx) })
	}
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			g.denied.Prune(g.now())
		}
	}
}

// Close stops the guard's background work.
func (g *Guard) Close() {
	g.cancel()
	<-g.done
	g.closeKeys()
}

// Ready reports whether the guard can promise revocations: it has caught up
// with the feed at least once and heard from it within FeedStaleAfter (the
// issuer sends a keep-alive every 15 s, so an open stream is heard from
// often; a silently dead one is not). A guard without a feed is always
// ready.
func (g *Guard) Ready() bool {
	if g.follower == nil {
		return true
	}
	select {
	case <-g.follower.Ready():
	default:
		return false
	}
	return g.now().Sub(g.follower.LastContact()) <= g.stale
}

// WaitReady blocks until the first catch-up of the feed, or ctx ends.
func (g *Guard) WaitReady(ctx context.Context) error {
	if g.follower == nil {
		return nil
	}
	select {
	case <-g.follower.Ready():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Verify checks a raw token: signature, claims and revocation. It ignores
// the stale-feed policy; the middleware applies it.
func (g *Guard) Verify(ctx context.Context, raw string) (*token.Claims, error) {
	return g.verifier.Verify(ctx, raw)
}

// Stats are counters of the guard's decisions since it started.
type Stats struct {
	Allowed      int64 // requests let through with a valid token
	Refused      int64 // requests refused: no token, invalid token, missing role or scope
	FailedOpen   int64 // requests let through while the feed was stale (FailOpen)
	FailedClosed int64 // requests refused with 503 while the feed was stale
	Revocations  int   // entries in the denylist now
	FeedCursor   int64 // the last revocation applied
}

// Stats returns the guard's counters.
func (g *Guard) Stats() Stats {
	s := Stats{
		Allowed:      g.stats.allowed.Load(),
		Refused:      g.stats.refused.Load(),
		FailedOpen:   g.stats.failedOpen.Load(),
		FailedClosed: g.stats.failedClosed.Load(),
		Revocations:  g.denied.Len(),
	}
	if g.follower != nil {
		s.FeedCursor = g.follower.Cursor()
	}
	return s
}
