package token

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/waxseal/waxseal/internal/strictjson"
	"github.com/waxseal/waxseal/jwk"
)

// FuzzVerify feeds whole tokens to Verify. Nothing may panic, every
// rejection must wrap one of the package's sentinels, and the only tokens
// that pass are ones a key in the set really signed. Seeds live in code and
// in testdata/fuzz/FuzzVerify.
func FuzzVerify(f *testing.F) {
	for _, alg := range []jwk.Algorithm{jwk.EdDSA, jwk.ES256, jwk.HS256} {
		f.Add(mint(f, alg, nil))
	}
	f.Add(signRaw(f, keys(f)[jwk.EdDSA], edHeader(f), claimsJSONWith(`"x":{"a":[1,2,{"b":null}]}`)))
	f.Add(enc(`{"alg":"none","typ":"at+jwt"}`) + "." + enc(claimsJSONWith("")) + ".")
	f.Add("e30.e30.AAAA")
	v := newTestVerifier(f, Config{CacheSize: -1})
	sentinels := []error{ErrMalformed, ErrSignature, ErrExpired, ErrNotYetValid, ErrIssuer, ErrAudience, ErrType, ErrUnknownKey}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(context.Background(), raw)
		if err != nil {
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("error %v wraps no sentinel", err)
		}
		if c == nil || c.Issuer != testIssuer || c.Subject == "" {
			t.Fatalf("accepted %q with claims %+v", raw, c)
		}
		if _, _, err := DecodeUnverified(raw); err != nil {
			t.Fatalf("Verify accepted what DecodeUnverified rejects: %v", err)
		}
	})
}

// FuzzParseClaims reaches the claims parser without a signature in the way.
// Whatever it accepts must be valid JSON.
func FuzzParseClaims(f *testing.F) {
	f.Add([]byte(claimsJSONWith("")))
	f.Add([]byte(claimsJSONWith(`"roles":["a","b"],"nbf":1.5,"sid":"s"`)))
	f.Add([]byte(`{"exp":"1","iat":1,"sub":"a","jti":"b"}`))
	f.Add([]byte(`{"exp":1,"exp":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d strictjson.Decoder
		var c Claims
		if err := parseClaims(&d, data, &c); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
	})
}
