package token_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/waxseal/waxseal/jwk"
	"github.com/waxseal/waxseal/token"
)

type oneKey struct{ k *jwk.PrivateKey }

func (o oneKey) Key(_ context.Context, kid string) (*jwk.PublicKey, error) {
	if kid != o.k.ID() {
		return nil, token.ErrUnknownKey
	}
	return o.k.Public(), nil
}

// TestIDTokenAndAccessTokenDoNotMix: an ID token never passes as an access
// token, and an access token never passes as an ID token hint, though one
// key signed both (RFC 8725 §3.11).
func TestIDTokenAndAccessTokenDoNotMix(t *testing.T) {
	key, err := jwk.Generate(jwk.RS256, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_900_000_000, 0)
	const iss = "https://issuer.example"
	id, err := token.MintID(key, &token.IDClaims{Issuer: iss, Subject: "u1", Audience: []string{"app"},
		IssuedAt: now, Expiry: now.Add(time.Minute), SessionID: "s1", Nonce: "n"})
	if err != nil {
		t.Fatal(err)
	}
	access, err := token.Mint(key, &token.Claims{Issuer: iss, Subject: "u1", Audience: []string{"app"},
		IssuedAt: now, Expiry: now.Add(time.Minute), ID: token.NewID(), ClientID: "app", SessionID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := token.NewVerifier(oneKey{key}, token.Config{Issuer: iss, Audience: "app", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), id); !errors.Is(err, token.ErrType) {
		t.Errorf("ID token as access token: %v, want ErrType", err)
	}
	if _, err := token.VerifyIDTokenHint(context.Background(), oneKey{key}, iss, access); !errors.Is(err, token.ErrType) {
		t.Errorf("access token as ID token hint: %v, want ErrType", err)
	}
	c, err := token.VerifyIDTokenHint(context.Background(), oneKey{key}, iss, id)
	if err != nil || c.Subject != "u1" || c.SessionID != "s1" || c.Audience[0] != "app" {
		t.Fatalf("hint = %+v, %v", c, err)
	}
	if _, err := token.VerifyIDTokenHint(context.Background(), oneKey{key}, "https://other.example", id); !errors.Is(err, token.ErrIssuer) {
		t.Errorf("hint from another issuer: %v", err)
	}
	tampered := id[:len(id)-4] + "AAAA"
	if _, err := token.VerifyIDTokenHint(context.Background(), oneKey{key}, iss, tampered); err == nil {
		t.Error("a tampered hint passed")
	}
}

// TestAccessTokenHash is the example of OpenID Connect Core §A.3/A.4
// (at_hash of "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y" with RS256).
func TestAccessTokenHash(t *testing.T) {
	if got := token.AccessTokenHash(jwk.RS256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"); got != "77QmUPtjPfzWtF2AnpK9RQ" {
		t.Errorf("at_hash = %s, want 77QmUPtjPfzWtF2AnpK9RQ", got)
	}
}
