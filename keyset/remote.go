package keyset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/waxseal/waxseal/discovery"
	"github.com/waxseal/waxseal/jwk"
	"github.com/waxseal/waxseal/token"
)

// RemoteConfig configures NewRemote. Issuer or JWKSURL must be set; every
// other field has a usable zero value.
type RemoteConfig struct {
	// Issuer is the issuer's URL. NewRemote reads its RFC 8414 metadata once
	// to find jwks_uri. It is not used when JWKSURL is set.
	Issuer string

	// JWKSURL is the URL of the issuer's JWKS, for issuers that publish no
	// metadata. Setting it skips discovery.
	JWKSURL string

	// HTTPClient makes every request. Nil means a client with a 10 second
	// timeout. Each background refresh is also cut off after a minute, so a
	// client without a timeout cannot stall refreshes forever.
	HTTPClient *http.Client

	// MinRefresh is the floor for the issuer's Cache-Control max-age, the
	// refresh interval for "no-store" and "no-cache", and the first delay
	// after a failed refresh. Zero means one minute.
	MinRefresh time.Duration

	// MaxRefresh is the ceiling for max-age: keys are checked at least this
	// often, whatever the issuer says. Zero means 24 hours.
	MaxRefresh time.Duration

	// DefaultRefresh is the refresh interval when the issuer sends no
	// max-age, and the longest delay between retries after failures. It is
	// clamped to [MinRefresh, MaxRefresh]. Zero means five minutes.
	DefaultRefresh time.Duration

	// UnknownKeyCooldown is the shortest time between a fetch and one
	// started because a token named an unknown kid. Without it, tokens with
	// made-up kids would make every verifier hammer the issuer. Zero means
	// 30 seconds.
	UnknownKeyCooldown time.Duration

	// MaxResponseSize bounds the JWKS read, in bytes. Zero means 1 MiB.
	MaxResponseSize int64

	// InsecureAllowHTTP accepts a plain http issuer or JWKS URL on any
	// host, not only on the local machine. Anyone on the network path can
	// then choose the keys this verifier trusts.
	InsecureAllowHTTP bool

	// OnRemove, if set, is called with the kid of each key that a refresh
	// finds gone from the set, so that what was verified with that key can
	// be forgotten. It is called from the refreshing goroutine after the new
	// set is in use and before Key calls waiting for that refresh return.
	// Calls are never concurrent.
	OnRemove func(kid string)

	// Now is the clock. Nil means time.Now.
	Now func() time.Time

	// Logger receives failed refreshes and changes to the set. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// fetchTimeout bounds each background refresh, so that a client without a
// timeout cannot hold the one fetch slot forever.
const fetchTimeout = time.Minute

// Remote is the issuer's JWKS, fetched over HTTP and kept fresh.
//
// Key answers from memory whenever it knows the kid, even while a refresh is
// in progress and even when the set is past its refresh time; in that case it
// starts a refresh in the background. Only an unknown kid makes a caller wait
// for the network, at most once per UnknownKeyCooldown. There is never more
// than one fetch in flight. Refreshes happen only when Key is called: an idle
// verifier sends no requests, and a key the issuer withdrew is noticed (and
// OnRemove called) on the first Key call after the set is due.
//
// A failed refresh (network error, status other than 200, oversized or
// unparsable body, a set with no usable key) keeps the last good set: the
// issuer failing must not make verifiers forget its keys. Retries back off
// from MinRefresh, doubling up to DefaultRefresh.
type Remote struct {
	cfg       RemoteConfig // with defaults filled in
	url       string
	client    *http.Client
	ownClient bool // client was made by NewRemote and is closed by Close

	// wg counts fetch goroutines, so that Close can wait for them.
	wg sync.WaitGroup

	// mu guards the fields below. It is never held during network I/O, a
	// log call or OnRemove, so Key for a known kid never waits for them.
	mu        sync.RWMutex
	set       *jwk.Set  // never nil; replaced, never modified
	staleAt   time.Time // when set is due for a refresh
	lastFetch time.Time // start of the latest fetch, for UnknownKeyCooldown
	retryAt   time.Time // after failures: no fetch before this
	failures  int       // consecutive failed fetches
	inflight  *fetch    // the fetch in progress, or nil
	closed    bool
	revoked   map[string]bool // kids dropped by Revoke, never used again
}

// fetch is one refresh in progress, shared by every caller waiting for it.
type fetch struct {
	done   chan struct{} // closed once the result is in use
	cancel context.CancelFunc
	err    error // why the fetch failed; read only after done is closed
}

var _ token.KeySource = (*Remote)(nil)

// NewRemote finds the JWKS URL, through discovery unless cfg.JWKSURL is set,
// and fetches the first key set. It fails if it cannot get a set with at
// least one usable key, so a verifier never starts unable to verify. ctx
// bounds this start-up only; the JWKS URL is not looked up again.
func NewRemote(ctx context.Context, cfg RemoteConfig) (*Remote, error) {
	if cfg.MinRefresh == 0 {
		cfg.MinRefresh = time.Minute
	}
	if cfg.MaxRefresh == 0 {
		cfg.MaxRefresh = 24 * time.Hour
	}
	if cfg.DefaultRefresh == 0 {
		cfg.DefaultRefresh = 5 * time.Minute
	}
	if cfg.UnknownKeyCooldown == 0 {
		cfg.UnknownKeyCooldown = 30 * time.Second
	}
	if cfg.MaxResponseSize == 0 {
		cfg.MaxResponseSize = 1 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	switch {
	case cfg.MinRefresh < 0 || cfg.MaxRefresh < 0 || cfg.DefaultRefresh < 0 || cfg.UnknownKeyCooldown < 0:
		return nil, errors.New("keyset: negative duration in RemoteConfig")
	case cfg.MinRefresh > cfg.MaxRefresh:
		return nil, fmt.Errorf("keyset: MinRefresh %v is greater than MaxRefresh %v", cfg.MinRefresh, cfg.MaxRefresh)
	case cfg.MaxResponseSize < 0:
		return nil, errors.New("keyset: negative MaxResponseSize")
	case cfg.Issuer == "" && cfg.JWKSURL == "":
		return nil, errors.New("keyset: RemoteConfig needs an Issuer or a JWKSURL")
	}
	cfg.DefaultRefresh = min(max(cfg.DefaultRefresh, cfg.MinRefresh), cfg.MaxRefresh)

	r := &Remote{cfg: cfg, client: cfg.HTTPClient, url: cfg.JWKSURL}
	if r.client == nil {
		r.client = &http.Client{Timeout: 10 * time.Second}
		r.ownClient = true
	}
	if err := r.start(ctx); err != nil {
		if r.ownClient {
			r.client.CloseIdleConnections()
		}
		return nil, err
	}
	return r, nil
}

// start finds the JWKS URL and installs the first set.
func (r *Remote) start(ctx context.Context) error {
	if r.url == "" {
		m, err := discovery.Fetch(ctx, r.client, r.cfg.Issuer, discovery.Options{InsecureAllowHTTP: r.cfg.InsecureAllowHTTP})
		if err != nil {
			return fmt.Errorf("keyset: %w", err)
		}
		r.url = m.JWKSURI
	} else if err := discovery.CheckURL(r.url, r.cfg.InsecureAllowHTTP); err != nil {
		return fmt.Errorf("keyset: JWKS URL: %w", err)
	}
	now := r.cfg.Now()
	set, ttl, err := r.get(ctx)
	if err != nil {
		return err
	}
	r.set, r.staleAt, r.lastFetch = set, now.Add(ttl), now
	return nil
}

// Key returns the key with ID kid, or an error wrapping token.ErrUnknownKey.
// See Remote for when it fetches; ctx bounds only the wait for a fetch
// started for an unknown kid.
func (r *Remote) Key(ctx context.Context, kid string) (*jwk.PublicKey, error) {
	now := r.cfg.Now()
	r.mu.RLock()
	k := r.set.Lookup(kid)
	refresh := !now.Before(r.staleAt) && r.canFetchLocked(now)
	r.mu.RUnlock()
	if k != nil {
		if refresh {
			r.mu.Lock()
			if !now.Before(r.staleAt) && r.canFetchLocked(now) {
				r.startLocked(now)
			}
			r.mu.Unlock()
		}
		return k, nil
	}
	if kid == "" {
		return nil, fmt.Errorf("keyset: no kid: %w", token.ErrUnknownKey)
	}
	r.mu.RLock()
	revoked := r.revoked[kid]
	r.mu.RUnlock()
	if revoked { // no fetch can bring it back
		return nil, fmt.Errorf("keyset: kid %q is revoked: %w", kid, token.ErrUnknownKey)
	}
	return r.awaitUnknown(ctx, kid, now)
}

// awaitUnknown fetches the set for a kid it does not hold, or joins the fetch
// in flight, and waits for it.
func (r *Remote) awaitUnknown(ctx context.Context, kid string, now time.Time) (*jwk.PublicKey, error) {
	if err := ctx.Err(); err != nil { // no fetch for a caller already gone
		return nil, fmt.Errorf("keyset: kid %q: %w", kid, err)
	}
	r.mu.Lock()
	if k := r.set.Lookup(kid); k != nil { // a fetch ended since the read above
		r.mu.Unlock()
		return k, nil
	}
	f := r.inflight
	if f == nil {
		if !r.canFetchLocked(now) || now.Before(r.lastFetch.Add(r.cfg.UnknownKeyCooldown)) {
			r.mu.Unlock()
			return nil, fmt.Errorf("keyset: kid %q: %w", kid, token.ErrUnknownKey)
		}
		f = r.startLocked(now)
	}
	r.mu.Unlock()

	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("keyset: kid %q: waiting for the key set: %w", kid, ctx.Err())
	}
	r.mu.RLock()
	k := r.set.Lookup(kid)
	r.mu.RUnlock()
	switch {
	case k != nil:
		return k, nil
	case f.err != nil:
		return nil, fmt.Errorf("keyset: kid %q: %w; %w", kid, token.ErrUnknownKey, f.err)
	}
	return nil, fmt.Errorf("keyset: kid %q: %w", kid, token.ErrUnknownKey)
}

// Revoke drops the key kid at once and for good, for a key the issuer
// declared compromised: Key never returns it again, even from a set fetched
// later that still lists it (an issuer instance that has not heard of the
// compromise yet, or an HTTP cache in between). It also starts a refresh,
// so that the key replacing it is known before its first token arrives.
func (r *Remote) Revoke(kid string) {
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.revoked == nil {
		r.revoked = map[string]bool{}
	}
	r.revoked[kid] = true
	r.set = r.withoutRevokedLocked(r.set)
	r.staleAt = time.Time{} // due now; a fetch in flight may predate the revocation
	if r.canFetchLocked(now) {
		r.startLocked(now)
	}
}

// withoutRevokedLocked returns set without the revoked keys. r.mu must be
// held.
func (r *Remote) withoutRevokedLocked(set *jwk.Set) *jwk.Set {
	if len(r.revoked) == 0 {
		return set
	}
	out := &jwk.Set{Keys: make([]*jwk.PublicKey, 0, len(set.Keys))}
	for _, k := range set.Keys {
		if !r.revoked[k.ID()] {
			out.Keys = append(out.Keys, k)
		}
	}
	return out
}

// Keys returns a copy of the current key set.
func (r *Remote) Keys() *jwk.Set {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return &jwk.Set{Keys: slices.Clone(r.set.Keys)}
}

// Close stops a refresh in progress and waits for it to end. Afterwards Key
// still answers from the last set but never fetches again.
func (r *Remote) Close() {
	r.mu.Lock()
	r.closed = true
	if r.inflight != nil {
		r.inflight.cancel()
	}
	r.mu.Unlock()
	r.wg.Wait()
	if r.ownClient {
		r.client.CloseIdleConnections()
	}
}

// canFetchLocked reports whether a fetch may start now: none is in flight,
// r is open, and no backoff is pending. r.mu must be held, for reading at
// least.
func (r *Remote) canFetchLocked(now time.Time) bool {
	return r.inflight == nil && !r.closed && !now.Before(r.retryAt)
}

// startLocked starts a fetch in the background. r.mu must be held for
// writing.
func (r *Remote) startLocked(now time.Time) *fetch {
	// The fetch serves every waiter, so no caller's context may cancel it.
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	f := &fetch{done: make(chan struct{}), cancel: cancel}
	r.inflight = f
	r.lastFetch = now
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer cancel()
		set, ttl, err := r.get(ctx)
		r.install(f, set, ttl, err)
	}()
	return f
}

// install puts the result of f in use, then ends f.
func (r *Remote) install(f *fetch, set *jwk.Set, ttl time.Duration, err error) {
	now := r.cfg.Now()
	var added, removed []string
	var delay time.Duration
	r.mu.Lock()
	closed := r.closed
	if err != nil {
		r.failures++
		delay = r.backoffLocked()
		r.retryAt = now.Add(delay)
	} else {
		set = r.withoutRevokedLocked(set)
		added, removed = diff(set, r.set), diff(r.set, set)
		r.set, r.staleAt = set, now.Add(ttl)
		r.failures, r.retryAt = 0, time.Time{}
	}
	r.mu.Unlock()

	log := r.cfg.Logger
	switch {
	case err != nil && closed:
		log.Debug("keyset: refresh stopped by Close", "url", r.url, "err", err)
	case err != nil:
		log.Warn("keyset: refreshing the key set failed; keeping the last good set",
			"url", r.url, "err", err, "retry_in", delay)
	case len(added) > 0 || len(removed) > 0:
		log.Info("keyset: key set changed", "url", r.url, "keys", len(set.Keys),
			"added", added, "removed", removed, "fresh_for", ttl)
	default:
		log.Debug("keyset: key set refreshed", "url", r.url, "fresh_for", ttl)
	}
	if r.cfg.OnRemove != nil {
		for _, kid := range removed {
			r.cfg.OnRemove(kid)
		}
	}

	// Only now may another fetch start, so OnRemove calls never overlap.
	f.err = err
	r.mu.Lock()
	r.inflight = nil
	r.mu.Unlock()
	close(f.done)
}

// backoffLocked returns the delay before the next fetch after r.failures
// consecutive failures. r.mu must be held.
func (r *Remote) backoffLocked() time.Duration {
	d := r.cfg.MinRefresh
	for i := 1; i < r.failures && d < r.cfg.DefaultRefresh; i++ {
		d *= 2
	}
	return min(d, r.cfg.DefaultRefresh)
}

// diff returns the IDs of the keys in a that are not in b.
func diff(a, b *jwk.Set) []string {
	var ids []string
	for _, k := range a.Keys {
		if b.Lookup(k.ID()) == nil {
			ids = append(ids, k.ID())
		}
	}
	return ids
}

// get fetches and parses the JWKS and says how long it stays fresh.
func (r *Remote) get(ctx context.Context) (*jwk.Set, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("keyset: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("keyset: fetching the JWKS: %w", err)
	}
	defer resp.Body.Close()
	// A redirect must not lead from https to plain http.
	if err := discovery.CheckURL(resp.Request.URL.String(), r.cfg.InsecureAllowHTTP); err != nil {
		return nil, 0, fmt.Errorf("keyset: JWKS redirected: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("keyset: fetching %s: %s", r.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.cfg.MaxResponseSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("keyset: reading %s: %w", r.url, err)
	}
	if int64(len(body)) > r.cfg.MaxResponseSize {
		return nil, 0, fmt.Errorf("keyset: %s: JWKS larger than %d bytes", r.url, r.cfg.MaxResponseSize)
	}
	set, err := jwk.ParseSet(body)
	if err != nil {
		return nil, 0, fmt.Errorf("keyset: %s: %w", r.url, err)
	}
	if len(set.Keys) == 0 {
		return nil, 0, fmt.Errorf("keyset: %s: %w", r.url, errNoKeys)
	}
	return set, r.lifetime(resp.Header), nil
}

// lifetime returns how long a JWKS served with header h is used before a
// refresh: its freshness clamped to [MinRefresh, MaxRefresh], or
// DefaultRefresh when h says nothing. Expires is ignored; max-age is what
// JWKS publishers send.
func (r *Remote) lifetime(h http.Header) time.Duration {
	d, ok := freshness(h)
	if !ok {
		return r.cfg.DefaultRefresh
	}
	return min(max(d, r.cfg.MinRefresh), r.cfg.MaxRefresh)
}

// freshness returns the freshness lifetime left for a response with header h
// (RFC 9111 §4.2): Cache-Control max-age less Age. "no-store" and "no-cache"
// give zero, and so do an invalid or repeated-and-different max-age, which
// §4.2.1 says make the response stale. It reports false when h has no
// freshness information.
func freshness(h http.Header) (time.Duration, bool) {
	maxAge := int64(-1)
	for _, line := range h.Values("Cache-Control") {
		for dir := range strings.SplitSeq(line, ",") {
			name, value, _ := strings.Cut(dir, "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store", "no-cache":
				return 0, true
			case "max-age":
				n, ok := deltaSeconds(value)
				if !ok || (maxAge >= 0 && n != maxAge) {
					return 0, true
				}
				maxAge = n
			}
		}
	}
	if maxAge < 0 {
		return 0, false
	}
	if age, ok := deltaSeconds(h.Get("Age")); ok {
		maxAge = max(maxAge-age, 0)
	}
	return time.Duration(maxAge) * time.Second, true
}

// deltaSeconds parses RFC 9111 delta-seconds, also in the quoted form
// §5.2 asks recipients to accept. Values past 2^31 read as 2^31 (§1.2.2).
func deltaSeconds(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if s == "" {
		return 0, false
	}
	var n int64
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < 1<<31 {
			n = n*10 + int64(c-'0')
		}
	}
	return min(n, 1<<31), true
}
