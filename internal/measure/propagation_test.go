// Package measure holds the measurements reported in docs/BENCHMARKS.md
// that the Go benchmark harness cannot take: how long a revocation takes to
// reach every guard, and HTTP throughput under load from wrk. They run only
// with WAXSEAL_MEASURE=1, take minutes, and want a machine otherwise idle.
package measure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/guard"
	"github.com/waxseal/waxseal/internal/sqlstore/pgtest"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/keyring"
	"github.com/waxseal/waxseal/password"
	"github.com/waxseal/waxseal/postgres"
	"github.com/waxseal/waxseal/token"
)

// gate skips a measurement unless WAXSEAL_MEASURE=1.
func gate(t *testing.T) {
	t.Helper()
	if os.Getenv("WAXSEAL_MEASURE") != "1" {
		t.Skip("a measurement for docs/BENCHMARKS.md: set WAXSEAL_MEASURE=1 to run it (minutes, on a quiet machine)")
	}
}

const (
	// revocations is how many access tokens are revoked, one at a time.
	revocations = 1000
	// propagationLimit fails the run if one revocation takes longer than
	// this to reach every guard: the feed is broken, not slow.
	propagationLimit = 10 * time.Second
	audience         = "notes"
	userPassword     = "tangerine submarine orchestra 42"
)

// warnings logs what matters (a feed reconnecting) and drops the rest.
var warnings = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

// instance is one issuer process's worth of state, served on loopback.
type instance struct {
	url   string
	store waxseal.Store
	ring  *keyring.Ring
}

// startInstance runs an issuer on store, answering at ln, whose tokens say
// iss. Instances of one deployment share the store, iss and master key.
func startInstance(t *testing.T, store waxseal.Store, master keyring.MasterKey, iss string, ln net.Listener) *instance {
	t.Helper()
	ring, err := keyring.Open(context.Background(), store, master, keyring.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := issuer.New(issuer.Config{Issuer: iss, Store: store, Keys: ring, Hasher: cheapHasher(t),
		Audiences: []string{audience}, AccessTTL: time.Hour, Logger: warnings,
		// Every stream here, idle ones included, comes from loopback.
		FeedMaxStreams: 1 << 14, FeedMaxStreamsPerClient: 1 << 14})
	if err != nil {
		t.Fatal(err)
	}
	stop, err := srv.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv)
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(func() {
		srv.StopStreams()
		hs.Close()
		stop()
	})
	return &instance{url: "http://" + ln.Addr().String(), store: store, ring: ring}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func openPostgres(t *testing.T, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// post sends a form and returns the status, the time the response headers
// arrived, and the body.
func post(t *testing.T, c *http.Client, u string, form url.Values) (int, time.Time, []byte) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	at := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, at, body
}

type tokenResponse struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
}

func grant(t *testing.T, c *http.Client, base string, form url.Values) tokenResponse {
	t.Helper()
	status, _, body := post(t, c, base+issuer.TokenPath, form)
	var tr tokenResponse
	if status != http.StatusOK || json.Unmarshal(body, &tr) != nil || tr.Access == "" {
		t.Fatalf("token endpoint: %d %s", status, body)
	}
	return tr
}

// rewriteHost sends every request to host instead of the URL's own, so a
// guard configured with one instance's issuer URL talks only to another.
type rewriteHost struct {
	host string
	next http.RoundTripper
}

func (rt rewriteHost) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Host = rt.host
	r.Host = rt.host
	return rt.next.RoundTrip(r)
}

// TestRevocationPropagation measures how long a revocation takes to reach
// every guard. Two issuer instances share one PostgreSQL database; guards
// 1 and 2 follow instance A's feed, guard 3 follows instance B's (and
// fetches metadata and keys from B). Each access token is revoked through
// POST /revoke, alternately at A and at B; the clock starts when the 200
// arrives and stops, per guard, at the first Verify that answers
// token.ErrRevoked. Every guard is polled in one goroutine, round after
// round, yielding the processor between rounds.
func TestRevocationPropagation(t *testing.T) {
	gate(t)
	dbURL := pgtest.URL(t)
	storeA, storeB := openPostgres(t, dbURL), openPostgres(t, dbURL)
	if err := storeA.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	master, err := keyring.GenerateMasterKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	lnA, lnB := listen(t), listen(t)
	iss := "http://" + lnA.Addr().String()
	a := startInstance(t, storeA, master, iss, lnA)
	b := startInstance(t, storeB, master, iss, lnB)
	instances := []*instance{a, b}

	ctx := context.Background()
	newGuard := func(cfg guard.Config) *guard.Guard {
		cfg.Issuer, cfg.Audience, cfg.Logger = iss, audience, warnings
		g, err := guard.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Close)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := g.WaitReady(wctx); err != nil {
			t.Fatal(err)
		}
		return g
	}
	guards := []*guard.Guard{
		newGuard(guard.Config{}),
		newGuard(guard.Config{}),
		newGuard(guard.Config{
			FeedURL:    b.url + issuer.RevocationsPath,
			HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: rewriteHost{lnB.Addr().String(), http.DefaultTransport}},
		}),
	}
	// feedOf[g] is the instance whose feed guard g follows.
	feedOf := []int{0, 0, 1}

	// One login, then a chain of refreshes alternating between the
	// instances: revocations+1 access tokens of one session.
	acct := &issuer.Accounts{Store: a.store, Hasher: cheapHasher(t), Logger: warnings}
	if _, err := acct.AddUser(ctx, "alice", userPassword, nil); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	tr := grant(t, client, a.url, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {userPassword}, "client_id": {"web"}})
	toks := []string{tr.Access}
	for i := range revocations - 1 {
		tr = grant(t, client, instances[i%2].url, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.Refresh}})
		toks = append(toks, tr.Access)
	}
	// Every guard accepts every token before the first revocation, and
	// has it in its cache: what is timed below is the feed, not a cold
	// signature check.
	for _, g := range guards {
		for _, tok := range toks {
			if _, err := g.Verify(ctx, tok); err != nil {
				t.Fatalf("before revocation: %v", err)
			}
		}
	}

	idle := openIdleStreams(t, instances)

	load0 := loadavg()
	var all, same, other []time.Duration
	started := time.Now()
	for i, tok := range toks {
		via := i % 2
		status, t0, body := post(t, client, instances[via].url+issuer.RevokePath, url.Values{"token": {tok}})
		if status != http.StatusOK {
			t.Fatalf("revoke: %d %s", status, body)
		}
		var lat [3]time.Duration
		pending := len(guards)
		for pending > 0 {
			for gi, g := range guards {
				if lat[gi] != 0 {
					continue
				}
				_, err := g.Verify(ctx, tok)
				switch {
				case errors.Is(err, token.ErrRevoked):
					lat[gi] = max(time.Since(t0), time.Nanosecond)
					pending--
				case err != nil:
					t.Fatalf("guard %d: %v", gi+1, err)
				}
			}
			if time.Since(t0) > propagationLimit {
				t.Fatalf("revocation %d: not every guard rejects the token after %v (per guard: %v)", i, propagationLimit, lat)
			}
			runtime.Gosched()
		}
		all = append(all, slices.Max(lat[:]))
		for gi, d := range lat {
			if feedOf[gi] == via {
				same = append(same, d)
			} else {
				other = append(other, d)
			}
		}
	}
	elapsed := time.Since(started)
	for gi, g := range guards {
		if s := g.Stats(); s.Revocations < revocations {
			t.Errorf("guard %d holds %d revocations, want at least %d", gi+1, s.Revocations, revocations)
		}
	}

	t.Logf("%d revocations in %v with %d idle feed streams open; GOMAXPROCS=%d; load average before %s, after %s",
		len(all), elapsed.Round(time.Millisecond), idle, runtime.GOMAXPROCS(0), load0, loadavg())
	t.Logf("| from the revoke call's 200 until | n | p50 | p90 | p99 | max |")
	t.Logf("|---|---|---|---|---|---|")
	t.Logf("| every guard rejects the token | %s |", summary(all))
	t.Logf("| a guard following the instance that revoked | %s |", summary(same))
	t.Logf("| a guard following the other instance | %s |", summary(other))
}

// cheapHasher hashes passwords cheaply: logins are not what is measured.
func cheapHasher(t *testing.T) *password.Hasher {
	t.Helper()
	h, err := password.NewHasher(password.HasherConfig{Params: password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// summary formats n, p50, p90, p99 and max (nearest-rank percentiles).
func summary(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(p float64) string {
		return ms(s[int(math.Ceil(p*float64(len(s))))-1])
	}
	return strings.Join([]string{fmt.Sprint(len(s)), q(0.50), q(0.90), q(0.99), ms(s[len(s)-1])}, " | ")
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// loadavg returns the 1, 5 and 15 minute load averages.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// openIdleStreams opens WAXSEAL_IDLE_STREAMS feed streams (none when
// unset), half on each instance, each on its own connection, read and
// discarded until the test ends: the crowd of followers a big fleet keeps
// open, which every revocation must reach besides the measured guards.
func openIdleStreams(t *testing.T, instances []*instance) int {
	t.Helper()
	n, _ := strconv.Atoi(os.Getenv("WAXSEAL_IDLE_STREAMS"))
	if n <= 0 {
		return 0
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	opened := make(chan error, n)
	for i := range n {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, instances[i%len(instances)].url+issuer.RevocationsPath, nil)
		req.Header.Set("Accept", "text/event-stream")
		wg.Go(func() {
			resp, err := client.Do(req)
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			opened <- err
			if err != nil {
				return
			}
			defer resp.Body.Close()
			io.Copy(io.Discard, resp.Body)
		})
	}
	for range n {
		if err := <-opened; err != nil {
			t.Fatalf("opening an idle stream: %v", err)
		}
	}
	return n
}
