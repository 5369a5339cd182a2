package keyset

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waxseal/waxseal/jwk"
	"github.com/waxseal/waxseal/token"
)

// deadline bounds waits for things that should happen; passing tests never
// come near it.
const deadline = 10 * time.Second

// The defaults, repeated so that tests read in numbers.
const (
	minRefresh     = time.Minute
	defaultRefresh = 5 * time.Minute
	cooldown       = 30 * time.Second
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeIssuer serves RFC 8414 metadata and a JWKS on a loopback address.
type fakeIssuer struct {
	srv      *httptest.Server
	fetches  atomic.Int64  // JWKS requests
	metadata atomic.Int64  // metadata requests
	arrived  chan struct{} // one value per JWKS request
	quit     chan struct{} // closed at cleanup, to free held requests

	mu           sync.Mutex
	body         []byte           // the JWKS served
	cacheControl string           // Cache-Control of the JWKS response
	serve        http.HandlerFunc // if set, answers JWKS requests instead
	hold         chan struct{}    // if set, JWKS requests wait until it is closed
}

func newIssuer(t *testing.T, keys ...*jwk.PublicKey) *fakeIssuer {
	t.Helper()
	iss := &fakeIssuer{arrived: make(chan struct{}, 1000), quit: make(chan struct{})}
	iss.setKeys(t, keys...)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		iss.metadata.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"issuer":"` + iss.srv.URL + `","jwks_uri":"` + iss.srv.URL + `/jwks"}`))
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		iss.fetches.Add(1)
		iss.arrived <- struct{}{}
		iss.mu.Lock()
		body, cc, serve, hold := iss.body, iss.cacheControl, iss.serve, iss.hold
		iss.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			case <-iss.quit:
				return
			}
		}
		if serve != nil {
			serve(w, r)
			return
		}
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(body)
	})
	iss.srv = httptest.NewServer(mux)
	t.Cleanup(iss.srv.Close)
	t.Cleanup(func() { close(iss.quit) }) // runs first
	return iss
}

func (iss *fakeIssuer) setKeys(t *testing.T, keys ...*jwk.PublicKey) {
	b := marshalSet(t, keys...)
	iss.mu.Lock()
	iss.body = b
	iss.mu.Unlock()
}

func (iss *fakeIssuer) set(f func(iss *fakeIssuer)) {
	iss.mu.Lock()
	f(iss)
	iss.mu.Unlock()
}

// waitArrived waits for the next JWKS request to reach the server.
func (iss *fakeIssuer) waitArrived(t *testing.T) {
	t.Helper()
	select {
	case <-iss.arrived:
	case <-time.After(deadline):
		t.Fatal("no JWKS request arrived")
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newRemote returns a Remote on iss's JWKS with clock clk, logging to the
// returned buffer. edit, if not nil, changes the config first.
func newRemote(t *testing.T, iss *fakeIssuer, clk *clock, edit func(*RemoteConfig)) (*Remote, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	cfg := RemoteConfig{
		Issuer: iss.srv.URL,
		Now:    clk.Now,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&cfg)
	}
	r, err := NewRemote(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	for len(iss.arrived) > 0 { // the first fetch
		<-iss.arrived
	}
	return r, logs
}

// waitIdle waits for the fetch in flight, if any, to finish.
func waitIdle(t *testing.T, r *Remote) {
	t.Helper()
	r.mu.RLock()
	f := r.inflight
	r.mu.RUnlock()
	if f == nil {
		return
	}
	select {
	case <-f.done:
	case <-time.After(deadline):
		t.Fatal("fetch did not finish")
	}
}

func wantFetches(t *testing.T, iss *fakeIssuer, want int64) {
	t.Helper()
	if got := iss.fetches.Load(); got != want {
		t.Fatalf("%d JWKS fetches, want %d", got, want)
	}
}

func wantKey(t *testing.T, r *Remote, k *jwk.PublicKey) {
	t.Helper()
	got, err := r.Key(context.Background(), k.ID())
	if err != nil || !got.Equal(k) {
		t.Fatalf("Key(%s) = %v, %v", k.ID(), got, err)
	}
}

func wantUnknown(t *testing.T, r *Remote, kid string) {
	t.Helper()
	if k, err := r.Key(context.Background(), kid); !errors.Is(err, token.ErrUnknownKey) {
		t.Fatalf("Key(%s) = %v, %v; want ErrUnknownKey", kid, k, err)
	}
}

func TestNewRemoteDiscovery(t *testing.T) {
	a, b := newKey(t), newKey(t)
	iss := newIssuer(t, a, b)
	r, _ := newRemote(t, iss, newClock(), nil)
	if n := iss.metadata.Load(); n != 1 {
		t.Errorf("%d metadata requests, want 1", n)
	}
	wantFetches(t, iss, 1)
	got := r.Keys()
	if len(got.Keys) != 2 || got.Lookup(a.ID()) == nil || got.Lookup(b.ID()) == nil {
		t.Errorf("Keys() = %v", got.Keys)
	}
	got.Keys[0] = nil // a copy: must not reach r
	wantKey(t, r, a)
	wantKey(t, r, b)
	wantFetches(t, iss, 1)
}

func TestNewRemoteJWKSURL(t *testing.T) {
	a := newKey(t)
	iss := newIssuer(t, a)
	r, _ := newRemote(t, iss, newClock(), func(c *RemoteConfig) {
		c.Issuer = ""
		c.JWKSURL = strings.Replace(iss.srv.URL, "127.0.0.1", "localhost", 1) + "/jwks"
	})
	if n := iss.metadata.Load(); n != 0 {
		t.Errorf("%d metadata requests with JWKSURL set", n)
	}
	wantKey(t, r, a)
}

func TestNewRemoteFails(t *testing.T) {
	a := newKey(t)
	tests := []struct {
		name  string
		serve http.HandlerFunc
		edit  func(c *RemoteConfig, srvURL string)
	}{
		{
			name:  "server error",
			serve: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusInternalServerError) },
		},
		{
			name:  "empty set",
			serve: func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"keys":[]}`)) },
		},
		{
			name: "set larger than MaxResponseSize",
			edit: func(c *RemoteConfig, _ string) { c.MaxResponseSize = 50 },
		},
		{
			name: "http to another host",
			edit: func(c *RemoteConfig, _ string) { c.Issuer, c.JWKSURL = "", "http://jwks.example/jwks" },
		},
		{
			name: "http issuer on another host",
			edit: func(c *RemoteConfig, _ string) { c.Issuer = "http://issuer.example" },
		},
		{
			name: "issuer mismatch",
			edit: func(c *RemoteConfig, srvURL string) { c.Issuer = srvURL + "/" },
		},
		{
			name: "no issuer or URL",
			edit: func(c *RemoteConfig, _ string) { c.Issuer = "" },
		},
		{
			name: "MinRefresh above MaxRefresh",
			edit: func(c *RemoteConfig, _ string) { c.MinRefresh, c.MaxRefresh = time.Hour, time.Minute },
		},
		{
			name: "negative cooldown",
			edit: func(c *RemoteConfig, _ string) { c.UnknownKeyCooldown = -time.Second },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := newIssuer(t, a)
			iss.set(func(iss *fakeIssuer) { iss.serve = tt.serve })
			cfg := RemoteConfig{Issuer: iss.srv.URL, Logger: slog.New(slog.DiscardHandler)}
			if tt.edit != nil {
				tt.edit(&cfg, iss.srv.URL)
			}
			if r, err := NewRemote(context.Background(), cfg); err == nil {
				r.Close()
				t.Fatal("NewRemote succeeded")
			}
		})
	}
}

// TestKnownKeyNeverWaits checks that a stale set still answers known kids
// from memory while its refresh hangs, and that the many lookups of a stale
// set start one refresh between them.
func TestKnownKeyNeverWaits(t *testing.T) {
	a := newKey(t)
	iss := newIssuer(t, a)
	clk := newClock()
	// No client timeout: a Key call that waited would wait past the deadline.
	r, _ := newRemote(t, iss, clk, func(c *RemoteConfig) { c.HTTPClient = &http.Client{} })
	hold := make(chan struct{})
	iss.set(func(iss *fakeIssuer) { iss.hold = hold })
	clk.Advance(defaultRefresh)

	lookup := func() {
		if k, err := r.Key(context.Background(), a.ID()); err != nil || !k.Equal(a) {
			t.Errorf("Key(a) = %v, %v", k, err)
		}
	}
	within := func(what string, f func()) {
		t.Helper()
		done := make(chan struct{})
		go func() {
			defer close(done)
			f()
		}()
		select {
		case <-done:
		case <-time.After(deadline):
			t.Fatalf("%s waited for the refresh in flight", what)
		}
	}
	within("Key starting the refresh", lookup)
	iss.waitArrived(t)
	within("Key during the refresh", func() {
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(lookup)
		}
		wg.Wait()
	})
	wantFetches(t, iss, 2)
	close(hold)
	waitIdle(t, r)
}

func TestStaleWhileRevalidate(t *testing.T) {
	a, b := newKey(t), newKey(t)
	iss := newIssuer(t, a)
	clk := newClock()
	r, _ := newRemote(t, iss, clk, nil)
	iss.setKeys(t, b)

	clk.Advance(defaultRefresh - time.Nanosecond)
	wantKey(t, r, a)
	waitIdle(t, r)
	wantFetches(t, iss, 1)

	clk.Advance(time.Nanosecond)
	wantKey(t, r, a) // answered from the stale set
	waitIdle(t, r)
	wantFetches(t, iss, 2)
	wantKey(t, r, b)
	wantFetches(t, iss, 2)
	if r.Keys().Lookup(a.ID()) != nil {
		t.Error("key removed by the issuer is still in the set")
	}
}

// TestUnknownKidOneFetch checks that many callers asking at once for a
// kid the verifier has not seen share one fetch.
func TestUnknownKidOneFetch(t *testing.T) {
	a, b := newKey(t), newKey(t)
	unknown := newKey(t).ID()
	tests := []struct {
		name    string
		kid     string
		wantErr bool
	}{
		{name: "newly published", kid: b.ID()},
		{name: "never published", kid: unknown, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := newIssuer(t, a)
			clk := newClock()
			r, _ := newRemote(t, iss, clk, nil)
			iss.setKeys(t, a, b)
			hold := make(chan struct{})
			iss.set(func(iss *fakeIssuer) { iss.hold = hold })
			clk.Advance(cooldown)

			var wg sync.WaitGroup
			for range 100 {
				wg.Go(func() {
					k, err := r.Key(context.Background(), tt.kid)
					if tt.wantErr {
						if !errors.Is(err, token.ErrUnknownKey) {
							t.Errorf("Key = %v, %v; want ErrUnknownKey", k, err)
						}
					} else if err != nil || k.ID() != tt.kid {
						t.Errorf("Key = %v, %v", k, err)
					}
				})
			}
			iss.waitArrived(t)
			close(hold)
			wg.Wait()
			wantFetches(t, iss, 2)
		})
	}
}

func TestUnknownKidCooldown(t *testing.T) {
	a, b := newKey(t), newKey(t)
	iss := newIssuer(t, a)
	clk := newClock()
	r, _ := newRemote(t, iss, clk, nil)
	iss.setKeys(t, a, b)

	// The first fetch was just now: an unknown kid must not fetch again.
	wantUnknown(t, r, b.ID())
	wantFetches(t, iss, 1)

	clk.Advance(cooldown)
	wantKey(t, r, b)
	wantFetches(t, iss, 2)

	unknown := newKey(t).ID()
	wantUnknown(t, r, unknown)
	wantFetches(t, iss, 2)
	clk.Advance(cooldown - time.Nanosecond)
	wantUnknown(t, r, unknown)
	wantFetches(t, iss, 2)
	clk.Advance(time.Nanosecond)
	wantUnknown(t, r, unknown)
	wantFetches(t, iss, 3)

	wantUnknown(t, r, "")
	wantFetches(t, iss, 3)
}

func TestUnknownKidHonoursContext(t *testing.T) {
	a := newKey(t)
	iss := newIssuer(t, a)
	clk := newClock()
	r, _ := newRemote(t, iss, clk, nil)
	hold := make(chan struct{})
	iss.set(func(iss *fakeIssuer) { iss.hold = hold })
	clk.Advance(cooldown)

	unknown := newKey(t).ID()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := r.Key(ctx, unknown)
		errc <- err
	}()
	iss.waitArrived(t)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Key error = %v, want context.Canceled", err)
		}
	case <-time.After(deadline):
		t.Fatal("Key ignored its context")
	}
	// The fetch itself goes on for other callers.
	close(hold)
	waitIdle(t, r)
	wantKey(t, r, a)
}

// TestKeepLastGood checks that a failing issuer never makes the verifier
// forget its keys.
func TestKeepLastGood(t *testing.T) {
	a := newKey(t)
	tests := []struct {
		name  string
		serve http.HandlerFunc
	}{
		{"server error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusBadGateway) }},
		{"not found", http.NotFound},
		{"empty set", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"keys":[]}`)) }},
		{"not JSON", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`<html>`)) }},
		{"duplicate member", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"keys":[],"keys":[]}`)) }},
		{"kid not thumbprint", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
		}},
		{"oversized", func(w http.ResponseWriter, r *http.Request) {
			// Valid, but one byte past the limit.
			set := marshalSet(t, newKey(t))
			pad := 1<<20 + 1 - len(set) - len(`,"pad":""`)
			w.Write([]byte(string(set[:len(set)-1]) + `,"pad":"` + strings.Repeat("a", pad) + `"}`))
		}},
		{"hang up", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := newIssuer(t, a)
			clk := newClock()
			r, logs := newRemote(t, iss, clk, nil)
			iss.set(func(iss *fakeIssuer) { iss.serve = tt.serve })

			clk.Advance(defaultRefresh)
			wantKey(t, r, a)
			waitIdle(t, r)
			if iss.fetches.Load() < 2 {
				t.Fatal("no refresh")
			}
			wantKey(t, r, a)
			if got := r.Keys(); len(got.Keys) != 1 || !got.Keys[0].Equal(a) {
				t.Errorf("Keys() = %v after a failed refresh", got.Keys)
			}
			if !strings.Contains(logs.String(), "keeping the last good set") {
				t.Errorf("failure not logged; log:\n%s", logs)
			}
		})
	}
}

// TestBackoff checks that a failing issuer is retried ever more slowly, and
// that the first success ends the backoff.
func TestBackoff(t *testing.T) {
	a, b := newKey(t), newKey(t)
	iss := newIssuer(t, a)
	clk := newClock()
	r, _ := newRemote(t, iss, clk, nil)
	iss.set(func(iss *fakeIssuer) {
		iss.serve = func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) }
	})
	unknown := newKey(t).ID()
	fetches := int64(1)

	clk.Advance(defaultRefresh)
	wantKey(t, r, a)
	waitIdle(t, r)
	fetches++
	wantFetches(t, iss, fetches)
	// Each failure is followed by a wait of 1, 2, 4, then 5 minutes (the
	// DefaultRefresh cap), during which neither the stale set nor an
	// unknown kid makes a request.
	for _, wait := range []time.Duration{minRefresh, 2 * minRefresh, 4 * minRefresh, defaultRefresh, defaultRefresh} {
		clk.Advance(wait - time.Nanosecond)
		wantKey(t, r, a)
		wantUnknown(t, r, unknown)
		waitIdle(t, r)
		wantFetches(t, iss, fetches)
		clk.Advance(time.Nanosecond)
		wantKey(t, r, a)
		waitIdle(t, r)
		fetches++
		wantFetches(t, iss, fetches)
	}

	iss.set(func(iss *fakeIssuer) { iss.serve = nil })
	iss.setKeys(t, b)
	clk.Advance(defaultRefresh)
	wantKey(t, r, a)
	waitIdle(t, r)
	wantKey(t, r, b)
	wantFetches(t, iss, fetches+1)
	// Healthy again: the next refresh is a normal interval away.
	clk.Advance(defaultRefresh - time.Nanosecond)
	wantKey(t, r, b)
	waitIdle(t, r)
	wantFetches(t, iss, fetches+1)
}

func TestOnRemove(t *testing.T) {
	a, b, c := newKey(t), newKey(t), newKey(t)
	iss := newIssuer(t, a, b)
	clk := newClock()
	var mu sync.Mutex
	var removed []string
	r, _ := newRemote(t, iss, clk, func(cfg *RemoteConfig) {
		cfg.OnRemove = func(kid string) {
			mu.Lock()
			removed = append(removed, kid)
			mu.Unlock()
		}
	})
	iss.setKeys(t, b, c)
	clk.Advance(cooldown)
	// OnRemove has run by the time the caller that waited gets its key.
	wantKey(t, r, c)
	mu.Lock()
	got := removed
	mu.Unlock()
	if len(got) != 1 || got[0] != a.ID() {
		t.Fatalf("OnRemove called with %v, want [%s]", got, a.ID())
	}
	wantUnknown(t, r, a.ID())

	// A failed refresh removes nothing.
	iss.set(func(iss *fakeIssuer) { iss.serve = http.NotFound })
	clk.Advance(defaultRefresh)
	wantKey(t, r, b)
	waitIdle(t, r)
	mu.Lock()
	got = removed
	mu.Unlock()
	if len(got) != 1 {
		t.Errorf("OnRemove called with %v after a failed refresh", got)
	}
}

// TestMaxAge checks that the issuer's Cache-Control decides, within bounds,
// when the set is next fetched.
func TestMaxAge(t *testing.T) {
	a := newKey(t)
	tests := []struct {
		cacheControl string
		want         time.Duration
	}{
		{"", defaultRefresh},
		{"public, max-age=600", 10 * time.Minute},
		{"max-age=10", minRefresh},
		{"max-age=99999999999999999999", 24 * time.Hour},
		{"no-store", minRefresh},
		{"max-age=3600, no-cache", minRefresh},
	}
	for _, tt := range tests {
		t.Run(tt.cacheControl, func(t *testing.T) {
			iss := newIssuer(t, a)
			iss.set(func(iss *fakeIssuer) { iss.cacheControl = tt.cacheControl })
			clk := newClock()
			r, _ := newRemote(t, iss, clk, nil)
			clk.Advance(tt.want - time.Nanosecond)
			wantKey(t, r, a)
			waitIdle(t, r)
			wantFetches(t, iss, 1)
			clk.Advance(time.Nanosecond)
			wantKey(t, r, a)
			waitIdle(t, r)
			wantFetches(t, iss, 2)
		})
	}
}

func TestLifetime(t *testing.T) {
	r := &Remote{cfg: RemoteConfig{MinRefresh: minRefresh, MaxRefresh: 24 * time.Hour, DefaultRefresh: defaultRefresh}}
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{name: "none", header: http.Header{}, want: defaultRefresh},
		{name: "no max-age", header: http.Header{"Cache-Control": {"public"}}, want: defaultRefresh},
		{name: "max-age", header: http.Header{"Cache-Control": {"max-age=900"}}, want: 15 * time.Minute},
		{name: "upper case", header: http.Header{"Cache-Control": {"Public, MAX-AGE=900"}}, want: 15 * time.Minute},
		{name: "quoted", header: http.Header{"Cache-Control": {`max-age="900"`}}, want: 15 * time.Minute},
		{name: "spaces", header: http.Header{"Cache-Control": {" public , max-age=900 "}}, want: 15 * time.Minute},
		{name: "second line", header: http.Header{"Cache-Control": {"public", "max-age=900"}}, want: 15 * time.Minute},
		{name: "repeated alike", header: http.Header{"Cache-Control": {"max-age=900, max-age=900"}}, want: 15 * time.Minute},
		{name: "repeated unlike", header: http.Header{"Cache-Control": {"max-age=900, max-age=3600"}}, want: minRefresh},
		{name: "below floor", header: http.Header{"Cache-Control": {"max-age=0"}}, want: minRefresh},
		{name: "above ceiling", header: http.Header{"Cache-Control": {"max-age=604800"}}, want: 24 * time.Hour},
		{name: "overflow", header: http.Header{"Cache-Control": {"max-age=18446744073709551616"}}, want: 24 * time.Hour},
		{name: "negative", header: http.Header{"Cache-Control": {"max-age=-1"}}, want: minRefresh},
		{name: "not a number", header: http.Header{"Cache-Control": {"max-age=1h"}}, want: minRefresh},
		{name: "empty", header: http.Header{"Cache-Control": {"max-age="}}, want: minRefresh},
		{name: "no-store", header: http.Header{"Cache-Control": {"no-store"}}, want: minRefresh},
		{name: "no-cache", header: http.Header{"Cache-Control": {"max-age=900, no-cache"}}, want: minRefresh},
		{name: "no-cache with field", header: http.Header{"Cache-Control": {`no-cache="Set-Cookie", max-age=900`}}, want: minRefresh},
		{name: "s-maxage ignored", header: http.Header{"Cache-Control": {"s-maxage=900"}}, want: defaultRefresh},
		{name: "age", header: http.Header{"Cache-Control": {"max-age=900"}, "Age": {"300"}}, want: 10 * time.Minute},
		{name: "age beyond max-age", header: http.Header{"Cache-Control": {"max-age=900"}, "Age": {"1000"}}, want: minRefresh},
		{name: "bad age ignored", header: http.Header{"Cache-Control": {"max-age=900"}, "Age": {"soon"}}, want: 15 * time.Minute},
	}
	for _, tt := range tests {
		if got := r.lifetime(tt.header); got != tt.want {
			t.Errorf("%s: lifetime(%v) = %v, want %v", tt.name, tt.header, got, tt.want)
		}
	}
}

// TestClose checks that Close ends a hanging refresh and leaves no goroutine
// behind, and that a closed Remote still answers but never fetches.
func TestClose(t *testing.T) {
	a := newKey(t)
	iss := newIssuer(t, a)
	clk := newClock()
	// No client timeout: only Close can end the refresh before the deadline.
	r, _ := newRemote(t, iss, clk, func(c *RemoteConfig) { c.HTTPClient = &http.Client{} })
	iss.set(func(iss *fakeIssuer) { iss.hold = make(chan struct{}) }) // never released

	clk.Advance(defaultRefresh)
	wantKey(t, r, a)
	iss.waitArrived(t)

	closed := make(chan struct{})
	go func() {
		r.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(deadline):
		t.Fatal("Close did not return while a refresh hung")
	}
	waitNoRemoteGoroutines(t)

	clk.Advance(defaultRefresh + cooldown)
	wantKey(t, r, a)
	wantUnknown(t, r, newKey(t).ID())
	wantFetches(t, iss, 2)
	r.Close() // a second Close is harmless
}

// waitNoRemoteGoroutines waits until no goroutine is running Remote's code.
// A goroutine that has just called wg.Done may still be on its way out, so
// this polls until the deadline.
func waitNoRemoteGoroutines(t *testing.T) {
	t.Helper()
	stop := time.Now().Add(deadline)
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if !bytes.Contains(buf[:n], []byte("waxseal/keyset.(*Remote)")) {
			return
		}
		if time.Now().After(stop) {
			t.Fatalf("goroutines left after Close:\n%s", buf[:n])
		}
		time.Sleep(time.Millisecond)
	}
}

// dialTo returns a client that connects to addr whatever the URL's host, so
// that a loopback server can stand in for another machine.
func dialTo(addr string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
}

func TestInsecureAllowHTTP(t *testing.T) {
	a := newKey(t)
	iss := newIssuer(t, a)
	u, err := url.Parse(iss.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg := RemoteConfig{
		JWKSURL:    "http://jwks.example:" + u.Port() + "/jwks",
		HTTPClient: dialTo(u.Host),
		Logger:     slog.New(slog.DiscardHandler),
	}
	if r, err := NewRemote(context.Background(), cfg); err == nil {
		r.Close()
		t.Fatal("http JWKS URL on another host accepted")
	}
	wantFetches(t, iss, 0)

	cfg.InsecureAllowHTTP = true
	r, err := NewRemote(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	wantKey(t, r, a)
}

// TestRedirectToHTTP checks that a redirect cannot take the JWKS fetch from
// an allowed URL to plain http on another host.
func TestRedirectToHTTP(t *testing.T) {
	a := newKey(t)
	iss := newIssuer(t, a)
	u, err := url.Parse(iss.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	redirect := httptest.NewServer(http.RedirectHandler("http://jwks.example:"+u.Port()+"/jwks", http.StatusFound))
	defer redirect.Close()
	cfg := RemoteConfig{
		JWKSURL:    redirect.URL,
		HTTPClient: dialTo(u.Host),
		Logger:     slog.New(slog.DiscardHandler),
	}
	if r, err := NewRemote(context.Background(), cfg); err == nil {
		r.Close()
		t.Fatal("JWKS fetched through a redirect to plain http")
	}
}

// FuzzLifetime checks that no Cache-Control or Age value escapes the
// configured bounds.
func FuzzLifetime(f *testing.F) {
	for _, s := range []string{"max-age=60", `max-age="60"`, "no-store", "max-age=1, max-age=2", "max-age=99999999999999999999", ", ,=,", "MAX-AGE=0"} {
		f.Add(s, "0")
	}
	f.Add("max-age=600", "30")
	f.Add("max-age=600", "99999999999999999999")
	r := &Remote{cfg: RemoteConfig{MinRefresh: minRefresh, MaxRefresh: 24 * time.Hour, DefaultRefresh: defaultRefresh}}
	f.Fuzz(func(t *testing.T, cc, age string) {
		d := r.lifetime(http.Header{"Cache-Control": {cc}, "Age": {age}})
		if d < minRefresh || d > 24*time.Hour {
			t.Fatalf("lifetime(%q, Age %q) = %v", cc, age, d)
		}
	})
}

// TestRevokeDropsKeyForGood: a revoked key is gone at once, a refresh
// starts to learn its replacement, and no set fetched later brings it
// back, even one that still lists it, whatever the clock says.
func TestRevokeDropsKeyForGood(t *testing.T) {
	a, b := newKey(t), newKey(t)
	iss := newIssuer(t, a)
	clk := newClock()
	r, _ := newRemote(t, iss, clk, nil)
	wantKey(t, r, a)

	iss.setKeys(t, a, b) // an instance that has not heard of the compromise
	r.Revoke(a.ID())
	wantUnknown(t, r, a.ID())
	iss.waitArrived(t) // the refresh Revoke started, without waiting for a cooldown
	waitIdle(t, r)
	wantKey(t, r, b)
	wantUnknown(t, r, a.ID())
	for _, d := range []time.Duration{cooldown, defaultRefresh, 24 * time.Hour} {
		clk.Advance(d)
		wantUnknown(t, r, a.ID())
		waitIdle(t, r)
		wantUnknown(t, r, a.ID())
	}
}
