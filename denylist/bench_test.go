package denylist

import (
	"testing"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/token"
)

// BenchmarkRevoked is the per-request check of a token that is not revoked,
// on a list that holds entries of every kind, as a guard's list does once
// anyone has logged out: every check must look up the token's digests.
func BenchmarkRevoked(b *testing.B) {
	l := New()
	exp := time.Now().Add(time.Hour)
	for _, k := range []waxseal.RevocationKind{waxseal.RevokeToken, waxseal.RevokeSession, waxseal.RevokeSubject, waxseal.RevokeKey} {
		l.Apply(waxseal.Revocation{Kind: k, Value: "other-" + string(k), NotBefore: exp, Expires: exp})
	}
	c := &token.Claims{ID: "KKPITt5odgBPEvNLILKEwg", SessionID: "x7__0yPY-CahwE-_myl_QQ", Subject: "osY4ND6CcowvSj55_3l8-g", KeyID: "kid", IssuedAt: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		if l.Revoked(c) {
			b.Fatal("revoked")
		}
	}
}

// TestRevokedAllocatesNothing: the check runs on every request; looking up
// a token's digests must not allocate.
func TestRevokedAllocatesNothing(t *testing.T) {
	l := New()
	exp := time.Now().Add(time.Hour)
	for _, k := range []waxseal.RevocationKind{waxseal.RevokeToken, waxseal.RevokeSession, waxseal.RevokeSubject} {
		l.Apply(waxseal.Revocation{Kind: k, Value: "v", NotBefore: exp, Expires: exp})
	}
	c := &token.Claims{ID: "KKPITt5odgBPEvNLILKEwg", SessionID: "x7__0yPY-CahwE-_myl_QQ", Subject: "osY4ND6CcowvSj55_3l8-g", IssuedAt: time.Now()}
	if n := testing.AllocsPerRun(100, func() { l.Revoked(c) }); n != 0 {
		t.Errorf("Revoked allocates %v times per call, want 0", n)
	}
	// And it still finds what it holds.
	l.Apply(waxseal.Revocation{Kind: waxseal.RevokeSession, Value: c.SessionID, Expires: exp})
	if !l.Revoked(c) {
		t.Error("a revoked session's token is not revoked")
	}
}
