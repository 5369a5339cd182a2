package e2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/waxseal/waxseal/guard"
	"github.com/waxseal/waxseal/internal/e2e/issuertest"
	"github.com/waxseal/waxseal/token"
)

// TestCompromisedKeyStaysRefused steals the issuer's signing key, declares
// it compromised the way `waxseal keys compromise` does, and steps the
// clock past the access-token lifetime (15 min), the JWKS cache lifetime
// (30 min) and the longest token lifetime plus that (60 min). At each step
// a token freshly forged with the stolen key must be refused by a guard
// that had trusted the key, and by a guard started at that moment.
func TestCompromisedKeyStaysRefused(t *testing.T) {
	for _, e := range issuertest.Engines {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			iss := issuertest.Start(t, issuertest.Config{Store: e.Open(t)})
			alice := iss.AddUser("alice")
			startGuard := func() *guard.Guard {
				g, err := guard.New(ctx, iss.GuardConfig("notes"))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(g.Close)
				issuertest.WaitReady(t, g)
				return g
			}
			old := startGuard()

			stolen, err := iss.Ring.Signer()
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			forge := func() string {
				now := iss.Clock.Now()
				n++
				raw, err := token.Mint(stolen, &token.Claims{
					Issuer: iss.URL, Subject: alice.ID, Audience: []string{"notes"}, ClientID: "test",
					IssuedAt: now, Expiry: now.Add(10 * time.Minute), ID: fmt.Sprintf("forged-%d", n),
					Roles: []string{"admin"},
				})
				if err != nil {
					t.Fatal(err)
				}
				return raw
			}
			if _, err := old.Verify(ctx, forge()); err != nil {
				t.Fatalf("before the compromise, a token signed with the key is refused: %v", err)
			}

			if _, _, err := iss.Accounts.CompromiseKey(ctx, iss.Ring, stolen.ID()); err != nil {
				t.Fatal(err)
			}
			last := iss.LastCursor()
			issuertest.WaitFor(t, "the guard to hear of the compromise", func() bool { return old.Stats().FeedCursor >= last })

			start := iss.Clock.Now()
			for _, at := range []time.Duration{0, 16 * time.Minute, 31 * time.Minute, 61 * time.Minute, 2 * time.Hour} {
				iss.Clock.Advance(start.Add(at).Sub(iss.Clock.Now()))
				// Twice: the first call may be the one that finds the
				// JWKS due and starts its refresh.
				for i := range 2 {
					if _, err := old.Verify(ctx, forge()); err == nil {
						t.Errorf("+%v: a guard that trusted the key accepts a forged token (call %d)", at, i+1)
					}
				}
				if _, err := startGuard().Verify(ctx, forge()); err == nil {
					t.Errorf("+%v: a guard started now accepts a forged token", at)
				}
			}
		})
	}
}
