package issuer_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/waxseal/waxseal/issuer"
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
