// Package issuertest runs a waxseal issuer in-process, on loopback, with a
// settable clock, for the tests of everything that talks to one: the guard,
// the feed follower, the examples and the end-to-end tests.
package issuertest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/feed"
	"github.com/waxseal/waxseal/guard"
	"github.com/waxseal/waxseal/internal/dburl"
	"github.com/waxseal/waxseal/internal/sqlstore/pgtest"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/keyring"
	"github.com/waxseal/waxseal/password"
	"github.com/waxseal/waxseal/postgres"
	"github.com/waxseal/waxseal/sqlite"
)

// Password is the password of every user AddUser creates.
const Password = "tangerine submarine orchestra 42"

// Clock is a settable clock, shared by an issuer and the verifiers under
// test, so that expiry and staleness are tested without sleeping.
type Clock struct {
	mu sync.Mutex
	t  time.Time // guarded by mu
}

// NewClock returns a clock stopped at the current whole second.
func NewClock() *Clock { return &Clock{t: time.Now().Truncate(time.Second)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Engine opens a fresh, migrated store, closed when the test ends.
type Engine struct {
	Name string
	Open func(t testing.TB) dburl.DB
}

// Engines are SQLite and PostgreSQL; PostgreSQL is skipped (or failed, with
// CI=true) when WAXSEAL_TEST_POSTGRES is unset and nothing listens at
// 127.0.0.1:5432.
var Engines = []Engine{{"sqlite", SQLite}, {"postgres", Postgres}}

// SQLite opens a store in a temporary file.
func SQLite(t testing.TB) dburl.DB {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "waxseal.db"))
	return migrated(t, db, err)
}

// Postgres opens a store in a schema of its own in the test database.
func Postgres(t testing.TB) dburl.DB { return PostgresAt(pgtest.URL)(t) }

// PostgresAt opens stores in the database url returns: two opens with the
// same URL are two instances sharing one database.
func PostgresAt(url func(testing.TB) string) func(testing.TB) dburl.DB {
	return func(t testing.TB) dburl.DB {
		db, err := postgres.Open(context.Background(), url(t))
		return migrated(t, db, err)
	}
}

func migrated[DB dburl.DB](t testing.TB, db DB, err error) dburl.DB {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// Config describes the issuer Start runs. Every field may be left zero.
type Config struct {
	// Store holds the issuer's data. Nil means a fresh SQLite file.
	Store waxseal.Store
	// Clock is the issuer's clock. Nil means NewClock().
	Clock *Clock
	// Audiences go into every access token besides the issuer. Nil means
	// "notes".
	Audiences []string
	// AccessTTL is the access-token lifetime. Zero means the issuer's
	// default.
	AccessTTL time.Duration
	// Scopes is the scope policy. Nil means notes:read and notes:write
	// for every user.
	Scopes []issuer.ScopeRule
}

// Issuer is a running issuer.
type Issuer struct {
	URL      string // the issuer URL: every token's "iss"
	Server   *issuer.Server
	Ring     *keyring.Ring
	Accounts *issuer.Accounts
	Clock    *Clock
	Store    waxseal.Store

	t    testing.TB
	http *httptest.Server
	stop sync.Once
	done func()
}

// Quiet is a logger that writes nowhere.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// cheapHashes keeps logins fast; real parameters are tested in package
// password.
var cheapHashes = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Start runs an issuer on a loopback port until the test ends.
func Start(t testing.TB, cfg Config) *Issuer {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = SQLite(t)
	}
	if cfg.Clock == nil {
		cfg.Clock = NewClock()
	}
	if cfg.Audiences == nil {
		cfg.Audiences = []string{"notes"}
	}
	if cfg.Scopes == nil {
		cfg.Scopes = []issuer.ScopeRule{{Scope: "notes:read"}, {Scope: "notes:write"}}
	}
	master, err := keyring.GenerateMasterKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keyring.Open(context.Background(), cfg.Store, master, keyring.Config{Now: cfg.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := password.NewHasher(password.HasherConfig{Params: cheapHashes})
	if err != nil {
		t.Fatal(err)
	}
	// The issuer URL must be known before the issuer exists: listen first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	srv, err := issuer.New(issuer.Config{
		Issuer: base, Store: cfg.Store, Keys: ring, Hasher: hasher, Audiences: cfg.Audiences, Scopes: cfg.Scopes,
		AccessTTL: cfg.AccessTTL, Now: cfg.Clock.Now, Logger: Quiet,
	})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	stop, err := srv.Start(context.Background())
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv)
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	iss := &Issuer{
		URL: base, Server: srv, Ring: ring, Clock: cfg.Clock, Store: cfg.Store, t: t, http: hs,
		Accounts: &issuer.Accounts{Store: cfg.Store, Hasher: hasher, AccessTTL: cfg.AccessTTL, Now: cfg.Clock.Now, Logger: Quiet},
		done:     stop,
	}
	t.Cleanup(iss.Stop)
	return iss
}

// Stop ends the issuer's feed streams, closes its listener and stops its
// background work. It is safe to call more than once.
func (i *Issuer) Stop() {
	i.stop.Do(func() {
		i.Server.StopStreams()
		i.http.Close()
		i.done()
	})
}

// GuardConfig returns the configuration of a guard of the audience that
// trusts i, on i's clock, logging nowhere.
func (i *Issuer) GuardConfig(audience string) guard.Config {
	return guard.Config{Issuer: i.URL, Audience: audience, Now: i.Clock.Now, Logger: Quiet}
}

// WaitReady waits up to ten seconds for r, a guard or a service holding
// one, to catch up with the revocation feed.
func WaitReady(t testing.TB, r interface{ WaitReady(context.Context) error }) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.WaitReady(ctx); err != nil {
		t.Fatalf("not ready: %v", err)
	}
}

// AddUser creates a user with Password and the given roles.
func (i *Issuer) AddUser(name string, roles ...string) *waxseal.User {
	i.t.Helper()
	u, err := i.Accounts.AddUser(context.Background(), name, Password, roles)
	if err != nil {
		i.t.Fatal(err)
	}
	return u
}

// Tokens are what a login returns.
type Tokens struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
}

// Login logs name in with Password through the token endpoint, asking for
// scope (which may be empty), and fails the test unless it succeeds.
func (i *Issuer) Login(name, scope string) Tokens {
	i.t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {name}, "password": {Password}, "client_id": {"test"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	status, body := i.Post(issuer.TokenPath, form, "")
	var tok Tokens
	if status != http.StatusOK || json.Unmarshal(body, &tok) != nil || tok.Access == "" {
		i.t.Fatalf("login %s: %d %s", name, status, body)
	}
	return tok
}

// Post sends a form to the issuer endpoint at path, with a bearer token
// unless it is empty, and returns the status and body.
func (i *Issuer) Post(path string, form url.Values, bearer string) (int, []byte) {
	i.t.Helper()
	req, err := http.NewRequest(http.MethodPost, i.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		i.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		i.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		i.t.Fatal(err)
	}
	return resp.StatusCode, body
}

// LastCursor returns the cursor of the last entry in the revocation feed.
func (i *Issuer) LastCursor() int64 {
	i.t.Helper()
	var after int64
	for {
		resp, err := http.Get(i.URL + issuer.RevocationsPath + "?after=" + strconv.FormatInt(after, 10))
		if err != nil {
			i.t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			i.t.Fatalf("revocation feed: %d %s %v", resp.StatusCode, body, err)
		}
		page, err := feed.ParsePage(body)
		if err != nil {
			i.t.Fatal(err)
		}
		if after = page.Cursor; !page.More {
			return after
		}
	}
}

// WaitFor polls cond until it holds, failing the test if it does not within
// ten seconds: for what reaches a verifier asynchronously, like a
// revocation.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
