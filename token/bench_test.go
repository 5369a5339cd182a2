package token_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/waxseal/waxseal/jwk"
	"github.com/waxseal/waxseal/token"
)

// BenchmarkVerify verifies one valid token per algorithm with each
// implementation, so that one run compares them side by side:
//
//	go test ./token/ -run '^$' -bench BenchmarkVerify -benchmem -count 6 > bench.txt
//	benchstat -col /impl bench.txt
//
// waxseal-cold verifies fully every time (no cache); waxseal-warm is a cache
// hit. floor is the least any verifier can do: split, decode, unmarshal
// header and claims, and the bare signature check, with no rule checked.
// golang-jwt and go-jose are configured to check what they can of what
// waxseal checks: algorithm, kid, typ, iss, aud and time.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	cold := newInteropVerifier(b, -1)
	warm := newInteropVerifier(b, 0)
	for _, alg := range algorithms {
		raw := mintWaxseal(b, alg)
		key := trustedKey(alg).Public().Key()
		kid := trustedKey(alg).ID()
		golangJWT := newGolangJWTParser(alg)
		keyfunc := golangJWTKeyfunc(kid, key)
		impls := []struct {
			name   string
			verify func(raw string) error
		}{
			{"waxseal-cold", func(raw string) error { _, err := cold.Verify(ctx, raw); return err }},
			{"waxseal-warm", func(raw string) error { _, err := warm.Verify(ctx, raw); return err }},
			{"floor", floorVerifier(alg, key)},
			{"golang-jwt", func(raw string) error {
				var c golangJWTClaims
				_, err := golangJWT.ParseWithClaims(raw, &c, keyfunc)
				return err
			}},
			{"go-jose", func(raw string) error {
				tok, err := josejwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
				if err != nil {
					return err
				}
				if typ, _ := tok.Headers[0].ExtraHeaders[jose.HeaderType].(string); typ != token.Type {
					return fmt.Errorf("typ %q", typ)
				}
				if tok.Headers[0].KeyID != kid {
					return fmt.Errorf("unknown kid %q", tok.Headers[0].KeyID)
				}
				var std josejwt.Claims
				var priv privateClaims
				if err := tok.Claims(key, &std, &priv); err != nil {
					return err
				}
				if std.Expiry == nil {
					return errors.New("no exp")
				}
				return std.Validate(josejwt.Expected{Issuer: interopIssuer, AnyAudience: josejwt.Audience{interopAudience}, Time: interopNow})
			}},
		}
		bad := tamper(raw)
		for _, impl := range impls {
			// Each implementation must accept the token and reject it with
			// one signature character changed, or its number means nothing.
			if err := impl.verify(raw); err != nil {
				b.Fatalf("%s %s rejects the token: %v", alg, impl.name, err)
			}
			if err := impl.verify(bad); err == nil {
				b.Fatalf("%s %s accepts a tampered token", alg, impl.name)
			}
			b.Run("alg="+string(alg)+"/impl="+impl.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := impl.verify(raw); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// tamper changes one character in the middle of the signature.
func tamper(raw string) string {
	s := []byte(raw)
	i := strings.LastIndexByte(raw, '.') + 10
	if s[i] == 'A' {
		s[i] = 'B'
	} else {
		s[i] = 'A'
	}
	return string(s)
}

type floorHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

type floorClaims struct {
	Iss      string   `json:"iss"`
	Sub      string   `json:"sub"`
	Aud      string   `json:"aud"`
	Exp      int64    `json:"exp"`
	Iat      int64    `json:"iat"`
	Jti      string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Sid      string   `json:"sid"`
	Scope    string   `json:"scope"`
	Roles    []string `json:"roles"`
}

// floorVerifier returns the raw floor of verifying a token with key: split
// on dots, base64url-decode the three parts, unmarshal header and claims
// with encoding/json, and call the signature primitive. No rule is checked.
func floorVerifier(alg jwk.Algorithm, key crypto.PublicKey) func(raw string) error {
	var check func(signingInput, sig []byte) bool
	switch alg {
	case jwk.EdDSA:
		pub := key.(ed25519.PublicKey)
		check = func(in, sig []byte) bool { return ed25519.Verify(pub, in, sig) }
	case jwk.ES256:
		pub := key.(*ecdsa.PublicKey)
		check = func(in, sig []byte) bool {
			if len(sig) != 64 {
				return false
			}
			h := sha256.Sum256(in)
			return ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
		}
	case jwk.RS256:
		pub := key.(*rsa.PublicKey)
		check = func(in, sig []byte) bool {
			h := sha256.Sum256(in)
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig) == nil
		}
	case jwk.HS256:
		secret := key.([]byte)
		check = func(in, sig []byte) bool {
			m := hmac.New(sha256.New, secret)
			m.Write(in)
			return hmac.Equal(m.Sum(nil), sig)
		}
	}
	b64 := base64.RawURLEncoding
	return func(raw string) error {
		hPart, rest, ok1 := strings.Cut(raw, ".")
		pPart, sPart, ok2 := strings.Cut(rest, ".")
		if !ok1 || !ok2 {
			return errors.New("not three parts")
		}
		hb, err := b64.DecodeString(hPart)
		if err != nil {
			return err
		}
		pb, err := b64.DecodeString(pPart)
		if err != nil {
			return err
		}
		sig, err := b64.DecodeString(sPart)
		if err != nil {
			return err
		}
		var h floorHeader
		if err := json.Unmarshal(hb, &h); err != nil {
			return err
		}
		var c floorClaims
		if err := json.Unmarshal(pb, &c); err != nil {
			return err
		}
		if !check([]byte(raw[:len(hPart)+1+len(pPart)]), sig) {
			return errors.New("bad signature")
		}
		return nil
	}
}
