package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/denylist"
	"github.com/waxseal/waxseal/discovery"
	"github.com/waxseal/waxseal/feed"
	"github.com/waxseal/waxseal/jwk"
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
	// no metadata is fetched, so FeedURL must name the revocation feed, or
	// InsecureNoRevocation must be set.
	Keys token.KeySource
	// FeedURL overrides the metadata's revocation_feed_endpoint.
	FeedURL string
	// InsecureNoRevocation follows no revocation feed: a revoked token is
	// accepted until it expires, and the guard is always ready. It is for
	// air-gapped services that have keys (Keys) but cannot reach the issuer.
	// New logs a warning when it is set.
	InsecureNoRevocation bool

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
	cfg      Config
	verifier *token.Verifier
	denied   *denylist.List
	keys     pendingKeys // with Config.Keys unset: the issuer's keys, once fetched
	revoked  revokedKeys // the verifier's key source: keys or Config.Keys, less revoked keys
	follower atomic.Pointer[feed.Follower]
	hasFeed  bool // a revocation feed is followed (or will be, once connected)
	stale    time.Duration
	failOpen bool
	log      *slog.Logger
	now      func() time.Time
	runCtx   context.Context
	cancel   context.CancelFunc
	done     chan struct{}
	wg       sync.WaitGroup // the follower

	// connected is closed once the keys and the follower exist; connectErr
	// holds why the latest attempt to reach the issuer failed.
	connected  chan struct{}
	connectErr atomic.Pointer[error]

	stats struct {
		allowed, refused, failedOpen, failedClosed atomic.Int64
	}
}

// Retry bounds for reaching an issuer that did not answer at start.
const (
	connectMinBackoff = 250 * time.Millisecond
	connectMaxBackoff = 30 * time.Second
	connectTimeout    = 10 * time.Second
)

// ErrNotReady is wrapped by ReadyErr while the guard cannot yet promise to
// verify tokens and honour revocations.
var ErrNotReady = errors.New("guard: not ready")

// pendingKeys is the key source of a guard that gets its keys from the
// issuer: empty until the first key set arrives, so that a guard can start
// while the issuer is down.
type pendingKeys struct{ remote atomic.Pointer[keyset.Remote] }

func (p *pendingKeys) Key(ctx context.Context, kid string) (*jwk.PublicKey, error) {
	r := p.remote.Load()
	if r == nil {
		return nil, fmt.Errorf("%w: the issuer's keys have not been fetched yet", token.ErrUnknownKey)
	}
	return r.Key(ctx, kid)
}

// revokedKeys is a key source less every key the feed has revoked, for as
// long as the guard runs: a compromised key is refused whatever a JWKS
// fetched later, or a key file, still says.
type revokedKeys struct {
	src  token.KeySource
	mu   sync.RWMutex
	kids map[string]bool // guarded by mu
}

func (k *revokedKeys) Key(ctx context.Context, kid string) (*jwk.PublicKey, error) {
	k.mu.RLock()
	revoked := k.kids[kid]
	k.mu.RUnlock()
	if revoked {
		return nil, fmt.Errorf("guard: key %q is revoked: %w", kid, token.ErrUnknownKey)
	}
	return k.src.Key(ctx, kid)
}

func (k *revokedKeys) add(kid string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.kids == nil {
		k.kids = map[string]bool{}
	}
	k.kids[kid] = true
}

func (k *revokedKeys) list() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return slices.Collect(maps.Keys(k.kids))
}

// New starts a Guard. With Config.Keys unset it reads the issuer's
// metadata and keys once, bounded by ctx and 10 s; if the issuer does not
// answer, New still returns a guard, which logs why and retries in the
// background with jittered backoff (250 ms doubling to 30 s) while its
// protected routes answer 503. The revocation feed is followed in the
// background. Until the keys are there and the first catch-up of the feed
// has completed, the guard is not Ready. New fails only on a configuration
// that can never work (a missing field, a URL that is not https off
// loopback).
func New(ctx context.Context, cfg Config) (*Guard, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("guard: Config.Issuer and Config.Audience are required")
	}
	g := &Guard{
		cfg:       cfg,
		denied:    denylist.NewAt(cfg.Now),
		stale:     cfg.FeedStaleAfter,
		failOpen:  cfg.FailOpen,
		log:       cfg.Logger,
		now:       cfg.Now,
		done:      make(chan struct{}),
		connected: make(chan struct{}),
		hasFeed:   !cfg.InsecureNoRevocation,
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
	switch {
	case cfg.InsecureNoRevocation && cfg.FeedURL != "":
		return nil, errors.New("guard: Config.FeedURL and InsecureNoRevocation contradict each other")
	case cfg.InsecureNoRevocation:
		g.log.Warn("guard: InsecureNoRevocation: no revocation feed is followed; revoked tokens are accepted until they expire",
			"issuer", cfg.Issuer, "audience", cfg.Audience)
	case cfg.Keys != nil && cfg.FeedURL == "":
		return nil, errors.New("guard: Config.Keys without Config.FeedURL would follow no revocation feed: " +
			"set FeedURL, or set InsecureNoRevocation to accept revoked tokens until they expire")
	}
	if cfg.Keys == nil {
		if err := discovery.CheckURL(cfg.Issuer, cfg.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("guard: issuer: %w", err)
		}
		if _, err := discovery.WellKnownURL(cfg.Issuer); err != nil {
			return nil, fmt.Errorf("guard: %w", err)
		}
	}
	if cfg.FeedURL != "" {
		if err := discovery.CheckURL(cfg.FeedURL, cfg.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("guard: revocation feed: %w", err)
		}
	}
	g.revoked.src = &g.keys
	if cfg.Keys != nil {
		g.revoked.src = cfg.Keys
	}
	var err error
	g.verifier, err = token.NewVerifier(&g.revoked, token.Config{
		Issuer: cfg.Issuer, Audience: cfg.Audience, Leeway: cfg.Leeway, Denylist: g.denied, Now: cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	g.runCtx, g.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if cfg.Keys != nil {
		if err := g.startFeed(cfg.FeedURL); err != nil {
			g.cancel()
			return nil, err
		}
		close(g.connected)
	} else {
		first, cancel := context.WithTimeout(ctx, connectTimeout)
		err := g.connect(first)
		cancel()
		if err != nil {
			g.log.Warn("guard: the issuer does not answer; protected routes answer 503 until it does; retrying",
				"issuer", cfg.Issuer, "err", err)
		}
	}
	go g.run(g.runCtx)
	return g, nil
}

// connect reads the issuer's metadata and keys and starts following its
// feed; on success it closes g.connected.
func (g *Guard) connect(ctx context.Context) error {
	err := g.tryConnect(ctx)
	if err != nil {
		g.connectErr.Store(&err)
		return err
	}
	g.connectErr.Store(nil)
	close(g.connected)
	return nil
}

func (g *Guard) tryConnect(ctx context.Context) error {
	cfg := g.cfg
	md, err := discovery.Fetch(ctx, cfg.HTTPClient, cfg.Issuer, discovery.Options{InsecureAllowHTTP: cfg.InsecureAllowHTTP})
	if err != nil {
		return fmt.Errorf("guard: %w", err)
	}
	feedURL := cfg.FeedURL
	if feedURL == "" && !cfg.InsecureNoRevocation {
		if md.RevocationFeedEndpoint == "" {
			return errors.New("guard: the issuer publishes no revocation_feed_endpoint")
		}
		if err := discovery.CheckURL(md.RevocationFeedEndpoint, cfg.InsecureAllowHTTP); err != nil {
			return fmt.Errorf("guard: revocation feed: %w", err)
		}
		feedURL = md.RevocationFeedEndpoint
	}
	remote, err := keyset.NewRemote(ctx, keyset.RemoteConfig{
		Issuer: cfg.Issuer, JWKSURL: md.JWKSURI, HTTPClient: cfg.HTTPClient,
		InsecureAllowHTTP: cfg.InsecureAllowHTTP, Logger: g.log, Now: cfg.Now,
		// A key the issuer stops publishing takes its cached tokens along.
		OnRemove: func(kid string) { g.verifier.ForgetKey(kid) },
	})
	if err != nil {
		return fmt.Errorf("guard: %w", err)
	}
	if err := g.startFeed(feedURL); err != nil {
		remote.Close()
		return err
	}
	g.keys.remote.Store(remote)
	for _, kid := range g.revoked.list() { // revoked before remote was stored
		remote.Revoke(kid)
	}
	return nil
}

// startFeed starts following the revocation feed at url, if any.
func (g *Guard) startFeed(url string) error {
	if url == "" {
		return nil
	}
	// The feed goes where the metadata and keys come from, so it uses the
	// same transport (a private CA, a proxy), without the overall timeout
	// that would cut its stream.
	var client *http.Client
	if g.cfg.HTTPClient != nil {
		client = &http.Client{Transport: g.cfg.HTTPClient.Transport}
	}
	f, err := feed.NewFollower(feed.FollowerConfig{URL: url, Apply: g.apply, Logger: g.log, Now: g.cfg.Now, Client: client})
	if err != nil {
		return err
	}
	g.follower.Store(f)
	g.wg.Go(func() { f.Run(g.runCtx) })
	return nil
}

// apply takes revocations from the feed. A revoked key is dropped at once:
// from the key source for good, from the verifier's cache, and from the
// JWKS cache, which refetches to learn the key that replaces it.
func (g *Guard) apply(rs []waxseal.Revocation) {
	g.denied.Apply(rs...)
	for _, r := range rs {
		if r.Kind != waxseal.RevokeKey {
			continue
		}
		g.revoked.add(r.Value)
		if remote := g.keys.remote.Load(); remote != nil {
			remote.Revoke(r.Value)
		}
		g.verifier.ForgetKey(r.Value)
	}
}

// run reaches the issuer if New could not, and prunes the denylist, until
// Close.
func (g *Guard) run(ctx context.Context) {
	defer close(g.done)
	defer g.wg.Wait()
	retry := time.NewTimer(jitter(connectMinBackoff))
	defer retry.Stop()
	select {
	case <-g.connected:
		retry.Stop()
	default:
	}
	backoff := connectMinBackoff
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-retry.C:
			attempt, cancel := context.WithTimeout(ctx, connectTimeout)
			err := g.connect(attempt)
			cancel()
			if err == nil {
				g.log.Info("guard: the issuer answered; keys and revocation feed follow", "issuer", g.cfg.Issuer)
				continue
			}
			if ctx.Err() != nil {
				return
			}
			backoff = min(2*backoff, connectMaxBackoff)
			wait := jitter(backoff)
			g.log.Warn("guard: the issuer does not answer; protected routes answer 503 until it does; retrying",
				"issuer", g.cfg.Issuer, "err", err, "retry_in", wait.Round(time.Millisecond))
			retry.Reset(wait)
		case <-tick.C:
			g.denied.Prune(g.now())
		}
	}
}

// jitter returns a wait between d/2 and d, so that a fleet of guards that
// lost the issuer together does not call it back in step.
func jitter(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }

// Close stops the guard's background work.
func (g *Guard) Close() {
	g.cancel()
	<-g.done
	if r := g.keys.remote.Load(); r != nil {
		r.Close()
	}
}

// Ready reports whether the guard can verify tokens and promise
// revocations: it has the issuer's keys, has caught up with the feed at
// least once, and has heard from it within FeedStaleAfter (the issuer
// sends a keep-alive every 15 s, so an open stream is heard from often; a
// silently dead one is not). A guard with InsecureNoRevocation needs only
// its keys.
func (g *Guard) Ready() bool { return g.ReadyErr() == nil }

// ReadyErr is nil when the guard is Ready, and otherwise says why not, in
// an error wrapping ErrNotReady: for readiness probes and logs.
func (g *Guard) ReadyErr() error {
	select {
	case <-g.connected:
	default:
		if p := g.connectErr.Load(); p != nil {
			return fmt.Errorf("%w: %w", ErrNotReady, *p)
		}
		return fmt.Errorf("%w: the issuer has not been reached yet", ErrNotReady)
	}
	if !g.hasFeed {
		return nil
	}
	f := g.follower.Load()
	select {
	case <-f.Ready():
	default:
		return fmt.Errorf("%w: the revocation feed has not been caught up with yet", ErrNotReady)
	}
	if since := g.now().Sub(f.LastContact()); since > g.stale {
		return fmt.Errorf("%w: no word from the revocation feed for %v", ErrNotReady, since.Round(time.Second))
	}
	return nil
}

// hasKeys reports whether the guard can verify signatures at all.
func (g *Guard) hasKeys() bool {
	select {
	case <-g.connected:
		return true
	default:
		return false
	}
}

// WaitReady blocks until the guard has its keys and has caught up with the
// feed once, or ctx ends.
func (g *Guard) WaitReady(ctx context.Context) error {
	select {
	case <-g.connected:
	case <-ctx.Done():
		return ctx.Err()
	}
	f := g.follower.Load()
	if f == nil {
		return nil
	}
	select {
	case <-f.Ready():
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
	if f := g.follower.Load(); f != nil {
		s.FeedCursor = f.Cursor()
	}
	return s
}
