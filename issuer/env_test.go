package issuer_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/internal/dburl"
	"github.com/waxseal/waxseal/internal/e2e/issuertest"
	"github.com/waxseal/waxseal/internal/sqlstore/pgtest"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/keyring"
	"github.com/waxseal/waxseal/password"
)

// clock is the settable clock the issuer, its keys and its tests share,
// so that expiry and grace windows are tested without sleeping.
type clock = issuertest.Clock

// engine opens a fresh, migrated store.
type engine struct {
	name string
	open func(t testing.TB) dburl.DB
}

func sqliteEngine() engine { return engine{"sqlite", issuertest.SQLite} }

// postgresEngine opens a schema of its own in the test database; two calls
// with the same url give two instances sharing one database.
func postgresEngine(url func(t testing.TB) string) engine {
	return engine{"postgres", issuertest.PostgresAt(url)}
}

// forEachEngine runs test on SQLite and on PostgreSQL.
func forEachEngine(t *testing.T, test func(t *testing.T, e engine)) {
	for _, e := range []engine{sqliteEngine(), postgresEngine(pgtest.URL)} {
		t.Run(e.name, func(t *testing.T) { test(t, e) })
	}
}

// cheapHashes keeps tests fast; DefaultParams are tested in package password.
var cheapHashes = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// env is one issuer instance on a store, served on loopback.
type env struct {
	t     testing.TB
	store waxseal.Store
	srv   *issuer.Server
	http  *httptest.Server
	clock *clock
	acct  *issuer.Accounts
}

const testIssuer = "https://issuer.test"

type envOption func(*issuer.Config, *password.HasherConfig)

var testMasterKey = func() keyring.MasterKey {
	k, err := keyring.GenerateMasterKey(nil)
	if err != nil {
		panic(err)
	}
	return k
}()

// newEnv starts an issuer on store. Instances on one store share the
// master key, as instances of one deployment do.
func newEnv(t testing.TB, store waxseal.Store, clk *clock, opts ...envOption) *env {
	t.Helper()
	e := newIdleEnv(t, store, clk, opts...)
	stop, err := e.srv.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop) // runs before the HTTP server closes; it ends the streams first
	return e
}

// newIdleEnv is newEnv without the issuer's background work: the test
// decides when the issuer reads the revocation log (Server.CatchUp).
func newIdleEnv(t testing.TB, store waxseal.Store, clk *clock, opts ...envOption) *env {
	t.Helper()
	if clk == nil {
		clk = issuertest.NewClock()
	}
	ring, err := keyring.Open(context.Background(), store, testMasterKey, keyring.Config{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	hc := password.HasherConfig{Params: cheapHashes}
	cfg := issuer.Config{Issuer: testIssuer, Store: store, Keys: ring, Now: clk.Now, Audiences: []string{"notes"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(&cfg, &hc)
	}
	h, err := password.NewHasher(hc)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Hasher = h
	srv, err := issuer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.StopStreams() // before Close, which waits for streams
		hs.Close()
	})
	return &env{t: t, store: store, srv: srv, http: hs, clock: clk,
		acct: &issuer.Accounts{Store: store, Hasher: h, Now: clk.Now, AccessTTL: cfg.AccessTTL, Logger: cfg.Logger}}
}

func (e *env) addUser(name, pw string, roles ...string) *waxseal.User {
	e.t.Helper()
	u, err := e.acct.AddUser(context.Background(), name, pw, roles)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// response is a decoded answer of the issuer.
type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func (r response) str(k string) string { s, _ := r.Body[k].(string); return s }

func (e *env) do(req *http.Request) response {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	json.Unmarshal(raw, &r.Body)
	return r
}

func (e *env) postForm(path string, form url.Values, bearer string) response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return e.do(req)
}

// loopbackProxies trusts the test's own loopback peer as a proxy, so that
// postFormFrom can give each request a client address of its own.
var loopbackProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// postFormFrom posts with X-Forwarded-For naming client as the address.
func (e *env) postFormFrom(client, path string, form url.Values) response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", client)
	return e.do(req)
}

func (e *env) get(path, bearer string) response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.http.URL+path, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return e.do(req)
}

func (e *env) login(name, pw string) response {
	e.t.Helper()
	return e.postForm(issuer.TokenPath, url.Values{"grant_type": {"password"}, "username": {name}, "password": {pw}, "client_id": {"web"}}, "")
}

func (e *env) mustLogin(name, pw string) (access, refresh string) {
	e.t.Helper()
	r := e.login(name, pw)
	if r.Status != http.StatusOK {
		e.t.Fatalf("login: %d %s", r.Status, r.Raw)
	}
	return r.str("access_token"), r.str("refresh_token")
}

func (e *env) refresh(rt string) response {
	e.t.Helper()
	return e.postForm(issuer.TokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "")
}

// works reports whether access is accepted by the issuer's own bearer check.
func (e *env) works(access string) bool {
	e.t.Helper()
	r := e.get(issuer.UserinfoPath, access)
	if r.Status != http.StatusOK && r.Status != http.StatusUnauthorized {
		e.t.Fatalf("userinfo: %d %s", r.Status, r.Raw)
	}
	return r.Status == http.StatusOK
}

// refusedSoon reports whether access is refused within a few seconds: for
// revocations made outside this instance, which reach it through the log.
func (e *env) refusedSoon(access string) bool {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.works(access) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// revocations reads the whole feed as JSON pages.
func (e *env) revocations() []map[string]any {
	e.t.Helper()
	var all []map[string]any
	after := "0"
	for {
		r := e.get(issuer.RevocationsPath+"?after="+after, "")
		if r.Status != http.StatusOK {
			e.t.Fatalf("feed: %d %s", r.Status, r.Raw)
		}
		for _, x := range r.Body["revocations"].([]any) {
			all = append(all, x.(map[string]any))
		}
		after = strconv.FormatInt(int64(r.Body["cursor"].(float64)), 10)
		if more, _ := r.Body["more"].(bool); !more {
			return all
		}
	}
}

const testPassword = "tangerine submarine orchestra 42"
