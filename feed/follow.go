package feed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/waxseal/waxseal"
)

// FollowerConfig says where a Follower reads and what it does with entries.
type FollowerConfig struct {
	// URL is the issuer's revocation_feed_endpoint. Required.
	URL string
	// Apply receives entries in cursor order, each at least once. Required.
	Apply func([]waxseal.Revocation)
	// Cursor is where to start: entries after it are read. Zero reads the
	// whole log.
	Cursor int64
	// Client makes the requests. Nil means a client without an overall
	// timeout (a stream lives long), whose dial and header waits are bounded.
	Client *http.Client
	// MinBackoff and MaxBackoff bound the wait before reconnecting after an
	// error; it doubles from one to the other, with jitter so a fleet of
	// verifiers does not reconnect in step. Zero means 100 ms and 10 s.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives connection errors. Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Follower keeps a verifier's copy of the revocation log current: it
// catches up from JSON pages, then follows the SSE stream, and after any
// disconnect catches up again from its last cursor, so no entry is ever
// missed however long it was cut off.
type Follower struct {
	cfg FollowerConfig

	mu          sync.Mutex
	cursor      int64     // guarded by mu
	caughtUp    bool      // guarded by mu; a catch-up has completed
	lastContact time.Time // guarded by mu; the last time the issuer answered
	ready       chan struct{}
}

// NewFollower returns a Follower; Run starts it.
func NewFollower(cfg FollowerConfig) (*Follower, error) {
	if cfg.URL == "" || cfg.Apply == nil {
		return nil, errors.New("feed: FollowerConfig.URL and Apply are required")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			ResponseHeaderTimeout: 10 * time.Second,
			IdleConnTimeout:       90 * time.Second,
		}}
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Follower{cfg: cfg, cursor: cfg.Cursor, ready: make(chan struct{})}, nil
}

// Ready is closed when the first catch-up has completed.
func (f *Follower) Ready() <-chan struct{} { return f.ready }

// Cursor returns the cursor of the last entry applied.
func (f *Follower) Cursor() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cursor
}

// LastContact returns when the issuer last answered: a page, an event or a
// keep-alive. An open stream hears a keep-alive every 15 s, so a silently
// dead one shows as an old contact.
func (f *Follower) LastContact() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastContact
}

func (f *Follower) contact() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastContact = f.cfg.Now()
}

func (f *Follower) apply(entries []Entry) {
	if len(entries) == 0 {
		return
	}
	rs := make([]waxseal.Revocation, len(entries))
	for i, e := range entries {
		rs[i] = e.Revocation()
	}
	f.cfg.Apply(rs)
	f.mu.Lock()
	f.cursor = entries[len(entries)-1].Cursor
	f.mu.Unlock()
}

// Run follows the feed until ctx ends, reconnecting after every error.
func (f *Follower) Run(ctx context.Context) {
	backoff := f.cfg.MinBackoff
	for ctx.Err() == nil {
		err := f.catchUp(ctx)
		if err == nil {
			f.mu.Lock()
			if !f.caughtUp {
				f.caughtUp = true
				close(f.ready)
			}
			f.mu.Unlock()
			var streamed bool
			streamed, err = f.stream(ctx)
			if streamed {
				backoff = f.cfg.MinBackoff
			}
		}
		if ctx.Err() != nil {
			return
		}
		f.cfg.Logger.WarnContext(ctx, "revocation feed: reconnecting", "url", f.cfg.URL, "err", err, "after", backoff)
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, f.cfg.MaxBackoff)
	}
}

// catchUp reads JSON pages after the cursor until the log is exhausted.
func (f *Follower) catchUp(ctx context.Context) error {
	for {
		u, err := url.Parse(f.cfg.URL)
		if err != nil {
			return err
		}
		q := u.Query()
		q.Set("after", strconv.FormatInt(f.Cursor(), 10))
		u.RawQuery = q.Encode()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := f.cfg.Client.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("feed: %s: status %d", f.cfg.URL, resp.StatusCode)
		}
		page, err := ParsePage(body)
		if err != nil {
			return err
		}
		f.contact()
		f.apply(page.Revocations)
		if !page.More {
			return nil
		}
	}
}

// stream follows the SSE stream from the cursor. It reports whether the
// stream worked for a while, which resets the backoff.
func (f *Follower) stream(ctx context.Context) (bool, error) {
	// The reader goroutine below ends with this call, whatever ended it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.cfg.URL, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-store")
	req.Header.Set("Last-Event-ID", strconv.FormatInt(f.Cursor(), 10))
	resp, err := f.cfg.Client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("feed: stream: status %d", resp.StatusCode)
	}
	f.contact()
	opened := time.Now()
	// Only a stream that lasted resets the backoff: an issuer that answers
	// and hangs up at once (one shutting down) must not be hammered.
	lasted := func() bool { return time.Since(opened) >= f.cfg.MaxBackoff }

	// The issuer sends a comment every 15 s; a stream silent for longer
	// than a minute is dead even if TCP has not noticed.
	events := make(chan Event)
	errc := make(chan error, 1)
	go func() {
		er := NewEventReader(resp.Body)
		er.OnComment = func() {
			select {
			case events <- Event{}:
			case <-ctx.Done():
			}
		}
		for {
			ev, err := er.Next()
			if err != nil {
				errc <- err
				return
			}
			select {
			case events <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	idle := time.NewTimer(time.Minute)
	defer idle.Stop()
	for {
		select {
		case ev := <-events:
			f.contact()
			idle.Reset(time.Minute)
			if ev.Type != EventType {
				continue
			}
			e, err := ParseEntry([]byte(ev.Data))
			if err != nil {
				return lasted(), err
			}
			if e.Cursor <= f.Cursor() {
				continue // a replay; already applied
			}
			f.apply([]Entry{e})
		case err := <-errc:
			return lasted(), err
		case <-idle.C:
			return lasted(), errors.New("feed: stream silent for a minute")
		case <-ctx.Done():
			return lasted(), ctx.Err()
		}
	}
}
