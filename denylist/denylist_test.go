package denylist

import (
	"testing"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/token"
)

func TestRevoked(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	l := NewAt(func() time.Time { return now })
	l.Apply(
		waxseal.Revocation{Cursor: 1, Kind: waxseal.RevokeToken, Value: "j1", Expires: now.Add(time.Hour)},
		waxseal.Revocation{Cursor: 2, Kind: waxseal.RevokeSession, Value: "s1", Expires: now.Add(time.Hour)},
		waxseal.Revocation{Cursor: 3, Kind: waxseal.RevokeKey, Value: "k1", Expires: now.Add(time.Hour)},
		waxseal.Revocation{Cursor: 4, Kind: waxseal.RevokeSubject, Value: "u1", NotBefore: now, Expires: now.Add(time.Hour)},
	)
	base := token.Claims{ID: "j0", SessionID: "s0", KeyID: "k0", Subject: "u0", IssuedAt: now.Add(-time.Minute)}
	tests := []struct {
		name string
		edit func(c *token.Claims)
		want bool
	}{
		{"nothing matches", func(*token.Claims) {}, false},
		{"jti", func(c *token.Claims) { c.ID = "j1" }, true},
		{"sid", func(c *token.Claims) { c.SessionID = "s1" }, true},
		{"no sid", func(c *token.Claims) { c.SessionID = "" }, false},
		{"kid", func(c *token.Claims) { c.KeyID = "k1" }, true},
		{"sub issued before", func(c *token.Claims) { c.Subject = "u1" }, true},
		{"sub issued at not-before", func(c *token.Claims) { c.Subject, c.IssuedAt = "u1", now }, false},
		{"sub issued after", func(c *token.Claims) { c.Subject, c.IssuedAt = "u1", now.Add(time.Second) }, false},
	}
	for _, tt := range tests {
		c := base
		tt.edit(&c)
		if got := l.Revoked(&c); got != tt.want {
			t.Errorf("%s: Revoked = %v, want %v", tt.name, got, tt.want)
		}
	}
	if l.Cursor() != 4 {
		t.Errorf("Cursor = %d, want 4", l.Cursor())
	}
}

func TestPrune(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	l := NewAt(func() time.Time { return now })
	l.Apply(
		waxseal.Revocation{Cursor: 1, Kind: waxseal.RevokeToken, Value: "old", Expires: now.Add(-time.Second)},
		waxseal.Revocation{Cursor: 2, Kind: waxseal.RevokeToken, Value: "new", Expires: now.Add(time.Second)},
		waxseal.Revocation{Cursor: 3, Kind: waxseal.RevokeSubject, Value: "u", NotBefore: now, Expires: now.Add(-time.Second)},
	)
	if n := l.Prune(now); n != 2 {
		t.Errorf("Prune dropped %d, want 2", n)
	}
	if l.Len() != 1 || !l.Revoked(&token.Claims{ID: "new"}) || l.Revoked(&token.Claims{ID: "old"}) {
		t.Errorf("after Prune: %d entries", l.Len())
	}
	// Replaying an entry keeps the later expiry and the cursor.
	l.Apply(waxseal.Revocation{Cursor: 2, Kind: waxseal.RevokeToken, Value: "new", Expires: now.Add(-time.Hour)})
	if l.Prune(now) != 0 || l.Cursor() != 3 {
		t.Error("replay shortened an entry or moved the cursor back")
	}
}

// TestAddKeepsCursor: an entry learnt out of order (the issuer's own) is
// honoured at once but does not move the cursor, so an entry below it that
// has not been read yet is still read.
func TestAddKeepsCursor(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	l := NewAt(func() time.Time { return now })
	l.Apply(waxseal.Revocation{Cursor: 1, Kind: waxseal.RevokeToken, Value: "a", Expires: now.Add(time.Hour)})
	l.Add(waxseal.Revocation{Cursor: 3, Kind: waxseal.RevokeToken, Value: "c", Expires: now.Add(time.Hour)})
	if !l.Revoked(&token.Claims{ID: "c"}) {
		t.Error("an added entry is not honoured")
	}
	if l.Cursor() != 1 {
		t.Errorf("Cursor = %d after Add, want 1", l.Cursor())
	}
}

// TestExpiredEntryStopsMatching: an entry stops matching at its expiry on
// the list's clock, before Prune runs, so the list answers the same
// whatever the prune schedule.
func TestExpiredEntryStopsMatching(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	l := NewAt(func() time.Time { return now })
	l.Apply(waxseal.Revocation{Cursor: 1, Kind: waxseal.RevokeKey, Value: "k", Expires: now.Add(time.Minute)})
	if !l.Revoked(&token.Claims{KeyID: "k"}) {
		t.Fatal("a live entry does not match")
	}
	now = now.Add(time.Minute + time.Second)
	if l.Revoked(&token.Claims{KeyID: "k"}) {
		t.Error("an expired entry still matches")
	}
}
