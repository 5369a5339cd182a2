package issuer_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/internal/sqlstore/pgtest"
	"github.com/waxseal/waxseal/issuer"
	"github.com/waxseal/waxseal/jwk"
	"github.com/waxseal/waxseal/keyring"
	"github.com/waxseal/waxseal/password"
	"github.com/waxseal/waxseal/sqlite"
	"github.com/waxseal/waxseal/token"
)

// TestOwnRevocationKeepsCatchUpCursor: an entry the issuer writes itself
// and applies at once must not move the cursor it catches up from, or an
// entry another process (the CLI, another instance) committed just below
// it would be skipped for ever, and the token it revokes would keep
// working at the issuer's own endpoints.
func TestOwnRevocationKeepsCatchUpCursor(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		store := eng.open(t)
		e := newIdleEnv(t, store, nil)
		if err := e.srv.CatchUp(context.Background()); err != nil {
			t.Fatal(err)
		}
		e.addUser("alice", testPassword)
		e.addUser("bob", testPassword)
		victim, _ := e.mustLogin("alice", testPassword)
		_, rt := e.mustLogin("bob", testPassword)
		if r := e.refresh(rt); r.Status != http.StatusOK {
			t.Fatalf("refresh: %d %s", r.Status, r.Raw)
		}

		// The CLI revokes alice's token: committed, but this instance has
		// not read the log since.
		jti, exp := unverifiedIDs(t, victim)
		if _, err := e.acct.RevokeToken(context.Background(), jti, exp, ""); err != nil {
			t.Fatal(err)
		}
		// Meanwhile the server detects reuse of bob's rotated refresh
		// token and appends (and applies) a revocation of its own.
		e.clock.Advance(issuer.DefaultRefreshGrace + time.Second)
		if r := e.refresh(rt); r.Status != http.StatusBadRequest {
			t.Fatalf("reuse: %d %s", r.Status, r.Raw)
		}
		// The wake for the CLI's entry arrives now.
		if err := e.srv.CatchUp(context.Background()); err != nil {
			t.Fatal(err)
		}
		if e.works(victim) {
			t.Error("the token the CLI revoked still works at the issuer")
		}
	})
}

// unverifiedIDs returns a token's jti and exp, unverified.
func unverifiedIDs(t *testing.T, raw string) (string, time.Time) {
	t.Helper()
	_, body, err := token.DecodeUnverified(raw)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		ID  string `json:"jti"`
		Exp int64  `json:"exp"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	return c.ID, time.Unix(c.Exp, 0)
}

// sharedStores opens two handles on one fresh database, as a running
// `waxseal serve` and a `waxseal` command beside it hold, on each engine.
func sharedStores(t *testing.T, test func(t *testing.T, serve, cli waxseal.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "waxseal.db")
		open := func() waxseal.Store {
			db, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			return db
		}
		test(t, open(), open())
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.URL(t)
		eng := postgresEngine(func(testing.TB) string { return url })
		test(t, eng.open(t), eng.open(t))
	})
}

// signingKey returns the kid of the key that signs the issuer's tokens now.
func (e *env) signingKey() string {
	e.t.Helper()
	access, _ := e.mustLogin("alice", testPassword)
	header, _, err := token.DecodeUnverified(access)
	if err != nil {
		e.t.Fatal(err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(header, &h); err != nil {
		e.t.Fatal(err)
	}
	return h.Kid
}

// published reports whether the issuer's JWKS lists kid.
func (e *env) published(kid string) bool {
	e.t.Helper()
	r := e.get(issuer.JWKSPath, "")
	set, err := jwk.ParseSet([]byte(r.Raw))
	if r.Status != http.StatusOK || err != nil {
		e.t.Fatalf("jwks: %d %v", r.Status, err)
	}
	return set.Lookup(kid) != nil
}

// TestKeyChangesReachRunningIssuer: a key compromised or rotated from the
// command line, on the same database, reaches a running issuer through
// the store's change notification (LISTEN/NOTIFY, the SQLite watch), not
// at its next once-a-minute maintenance. The wait allowed here, 10 s, is
// far below that minute and far above the notification's delay (at most a
// quarter second for SQLite's poll), so the test tells the two apart on a
// loaded machine without timing anything.
func TestKeyChangesReachRunningIssuer(t *testing.T) {
	sharedStores(t, func(t *testing.T, serve, cli waxseal.Store) {
		ctx := context.Background()
		e := newEnv(t, serve, nil)
		e.addUser("alice", testPassword)
		ring, err := keyring.Open(ctx, cli, testMasterKey, keyring.Config{Now: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		stolen := e.signingKey()
		if _, _, err := e.acct.CompromiseKey(ctx, ring, stolen); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the issuer to stop signing with the compromised key", func() bool { return e.signingKey() != stolen })
		if e.published(stolen) {
			t.Error("the issuer still publishes the compromised key")
		}

		// keys rotate, then keys rotate --now: the published successor
		// takes over at once, everywhere.
		next, err := ring.Rotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the issuer to publish the successor", func() bool { return e.published(next.ID) })
		now, err := ring.RotateNow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if now.ID != next.ID {
			t.Errorf("rotate --now made %s instead of promoting the published %s", now.ID, next.ID)
		}
		waitUntil(t, "the issuer to sign with the promoted key", func() bool { return e.signingKey() == now.ID })
	})
}

// waitUntil polls cond for up to 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRevocationLifetimeFromServerPolicy: `waxseal user disable` run with
// the CLI's default --access-ttl against a server whose tokens live an
// hour must not write an entry that lapses after 15 minutes, while the
// disabled user's token still works.
func TestRevocationLifetimeFromServerPolicy(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		store := eng.open(t)
		e := newEnv(t, store, nil, func(c *issuer.Config, _ *password.HasherConfig) { c.AccessTTL = time.Hour })
		u := e.addUser("alice", testPassword)
		access, _ := e.mustLogin("alice", testPassword)
		cli := &issuer.Accounts{Store: store, Now: e.clock.Now, Logger: e.acct.Logger} // the CLI's default AccessTTL
		if _, err := cli.EndUser(context.Background(), u.ID, true, "user_disabled", ""); err != nil {
			t.Fatal(err)
		}
		if !e.refusedSoon(access) {
			t.Fatal("the disabled user's token works")
		}
		_, exp := unverifiedIDs(t, access)
		e.clock.Advance(exp.Sub(e.clock.Now()) - time.Minute) // the token still has a minute
		if err := e.srv.CatchUp(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, r := range e.revocations() {
			if r["kind"] == "sub" && r["digest"] == waxseal.RevokeSubject.Digest(u.ID) {
				return
			}
		}
		t.Error("the disabled user's entry left the feed while their token is still valid")
	})
}
