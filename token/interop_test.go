package token_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	golangjwt "github.com/golang-jwt/jwt/v5"

	"github.com/waxseal/waxseal/jwk"
	"github.com/waxseal/waxseal/token"
)

// These tests check waxseal against two widely used JOSE libraries in both
// directions: what waxseal mints they verify, reading the asymmetric keys
// from waxseal's published JWK Set, and what they mint with waxseal's keys
// waxseal verifies, with the same claims, while it still rejects their
// tokens of the wrong type or key.

const (
	interopIssuer   = "https://issuer.example"
	interopAudience = "notes-api"
)

var (
	interopNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	algorithms = []jwk.Algorithm{jwk.EdDSA, jwk.ES256, jwk.RS256, jwk.HS256}
)

// interopKeys returns the keys the verifiers trust and, per algorithm, a
// second key they have never seen. Made once: RSA generation is slow.
var interopKeys = sync.OnceValues(func() (trusted, other map[jwk.Algorithm]*jwk.PrivateKey) {
	trusted, other = map[jwk.Algorithm]*jwk.PrivateKey{}, map[jwk.Algorithm]*jwk.PrivateKey{}
	for _, alg := range algorithms {
		for _, m := range []map[jwk.Algorithm]*jwk.PrivateKey{trusted, other} {
			k, err := jwk.Generate(alg, nil)
			if err != nil {
				panic(err)
			}
			m[alg] = k
		}
	}
	return trusted, other
})

func trustedKey(alg jwk.Algorithm) *jwk.PrivateKey { t, _ := interopKeys(); return t[alg] }
func otherKey(alg jwk.Algorithm) *jwk.PrivateKey   { _, o := interopKeys(); return o[alg] }

// setKeys is a KeySource over a fixed JWK Set.
type setKeys struct{ set *jwk.Set }

func (s setKeys) Key(_ context.Context, kid string) (*jwk.PublicKey, error) {
	if k := s.set.Lookup(kid); k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("%w: %q", token.ErrUnknownKey, kid)
}

// newInteropVerifier trusts every trusted key, the HS256 secret included.
func newInteropVerifier(tb testing.TB, cacheSize int) *token.Verifier {
	tb.Helper()
	set := &jwk.Set{}
	for _, alg := range algorithms {
		set.Keys = append(set.Keys, trustedKey(alg).Public())
	}
	v, err := token.NewVerifier(setKeys{set}, token.Config{
		Issuer:    interopIssuer,
		Audience:  interopAudience,
		CacheSize: cacheSize,
		Now:       func() time.Time { return interopNow },
	})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func interopClaims() *token.Claims {
	return &token.Claims{
		Issuer:    interopIssuer,
		Subject:   "user-1",
		Audience:  []string{interopAudience},
		Expiry:    interopNow.Add(5 * time.Minute),
		IssuedAt:  interopNow.Add(-time.Minute),
		ID:        "GpjyuRvx6TmYrjbfX1rq3w",
		ClientID:  "web",
		SessionID: "sess-1",
		Scope:     "notes:read notes:write",
		Roles:     []string{"user", "editor"},
	}
}

func mintWaxseal(tb testing.TB, alg jwk.Algorithm) string {
	tb.Helper()
	raw, err := token.Mint(trustedKey(alg), interopClaims())
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// publishedKeys is waxseal's JWK Set as a JWKS endpoint serves it, read by
// go-jose. HS256 secrets are never published.
func publishedKeys(tb testing.TB) jose.JSONWebKeySet {
	tb.Helper()
	set := &jwk.Set{}
	for _, alg := range algorithms {
		if !alg.Symmetric() {
			set.Keys = append(set.Keys, trustedKey(alg).Public())
		}
	}
	data, err := json.Marshal(set)
	if err != nil {
		tb.Fatal(err)
	}
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal(data, &jwks); err != nil {
		tb.Fatalf("go-jose cannot read waxseal's JWKS %s: %v", data, err)
	}
	if _, err := json.Marshal(&jwk.Set{Keys: []*jwk.PublicKey{trustedKey(jwk.HS256).Public()}}); !errors.Is(err, jwk.ErrSecretKey) {
		tb.Fatalf("publishing an HS256 key: %v, want ErrSecretKey", err)
	}
	return jwks
}

// verificationKey is the key another library verifies alg with: the JWKS
// entry for asymmetric keys, the shared secret for HS256.
func verificationKey(tb testing.TB, alg jwk.Algorithm) any {
	tb.Helper()
	k := trustedKey(alg)
	if alg.Symmetric() {
		return k.Public().Key()
	}
	jwks := publishedKeys(tb)
	found := jwks.Key(k.ID())
	if len(found) != 1 {
		tb.Fatalf("JWKS has %d keys with kid %q", len(found), k.ID())
	}
	j := found[0]
	if j.Algorithm != string(alg) || j.Use != "sig" || !j.IsPublic() || !j.Valid() {
		tb.Fatalf("JWKS key: alg %q use %q public %v valid %v", j.Algorithm, j.Use, j.IsPublic(), j.Valid())
	}
	tp, err := j.Thumbprint(crypto.SHA256)
	if err != nil {
		tb.Fatal(err)
	}
	if got := base64.RawURLEncoding.EncodeToString(tp); got != k.ID() {
		tb.Errorf("go-jose RFC 7638 thumbprint %q, waxseal kid %q", got, k.ID())
	}
	return j.Key
}

// signingKey is the private key as another library reads waxseal's stored
// form: PKCS #8 DER, or the raw HS256 secret.
func signingKey(tb testing.TB, k *jwk.PrivateKey) any {
	tb.Helper()
	der, err := k.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	if k.Algorithm().Symmetric() {
		return der
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

// privateClaims are the RFC 9068 claims the libraries do not know.
type privateClaims struct {
	ClientID  string   `json:"client_id"`
	SessionID string   `json:"sid,omitempty"`
	Scope     string   `json:"scope,omitempty"`
	Roles     []string `json:"roles,omitempty"`
}

// golangJWTClaims is an access token's claims as golang-jwt reads them.
type golangJWTClaims struct {
	golangjwt.RegisteredClaims
	privateClaims
}

// seen is what a library saw in a token, in one comparable form.
type seen struct {
	Alg, Kid, Typ             string
	Iss, Sub                  string
	Aud                       []string
	Exp, Iat                  int64
	Jti, ClientID, Sid, Scope string
	Roles                     []string
}

func want(alg jwk.Algorithm, c *token.Claims) seen {
	return seen{
		Alg: string(alg), Kid: trustedKey(alg).ID(), Typ: token.Type,
		Iss: c.Issuer, Sub: c.Subject, Aud: c.Audience, Exp: c.Expiry.Unix(), Iat: c.IssuedAt.Unix(),
		Jti: c.ID, ClientID: c.ClientID, Sid: c.SessionID, Scope: c.Scope, Roles: c.Roles,
	}
}

// verifyGoJose verifies raw the way a careful go-jose user does.
func verifyGoJose(alg jwk.Algorithm, key any, raw string) (seen, error) {
	tok, err := josejwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		return seen{}, err
	}
	h := tok.Headers[0]
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	if typ != token.Type {
		return seen{}, fmt.Errorf("typ %q", typ)
	}
	var std josejwt.Claims
	var priv privateClaims
	if err := tok.Claims(key, &std, &priv); err != nil {
		return seen{}, err
	}
	if std.Expiry == nil || std.IssuedAt == nil {
		return seen{}, errors.New("no exp or iat")
	}
	err = std.Validate(josejwt.Expected{Issuer: interopIssuer, AnyAudience: josejwt.Audience{interopAudience}, Time: interopNow})
	if err != nil {
		return seen{}, err
	}
	return seen{
		Alg: h.Algorithm, Kid: h.KeyID, Typ: typ,
		Iss: std.Issuer, Sub: std.Subject, Aud: std.Audience, Exp: std.Expiry.Time().Unix(), Iat: std.IssuedAt.Time().Unix(),
		Jti: std.ID, ClientID: priv.ClientID, Sid: priv.SessionID, Scope: priv.Scope, Roles: priv.Roles,
	}, nil
}

// newGolangJWTParser is a golang-jwt parser with every check waxseal makes
// that golang-jwt offers.
func newGolangJWTParser(alg jwk.Algorithm) *golangjwt.Parser {
	return golangjwt.NewParser(
		golangjwt.WithValidMethods([]string{string(alg)}),
		golangjwt.WithIssuer(interopIssuer),
		golangjwt.WithAudience(interopAudience),
		golangjwt.WithExpirationRequired(),
		golangjwt.WithTimeFunc(func() time.Time { return interopNow }),
	)
}

// golangJWTKeyfunc checks typ and kid before handing out key.
func golangJWTKeyfunc(kid string, key any) golangjwt.Keyfunc {
	return func(t *golangjwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != token.Type {
			return nil, fmt.Errorf("typ %q", typ)
		}
		if k, _ := t.Header["kid"].(string); k != kid {
			return nil, fmt.Errorf("unknown kid %q", k)
		}
		return key, nil
	}
}

func verifyGolangJWT(alg jwk.Algorithm, key any, raw string) (seen, error) {
	var c golangJWTClaims
	t, err := newGolangJWTParser(alg).ParseWithClaims(raw, &c, golangJWTKeyfunc(trustedKey(alg).ID(), key))
	if err != nil {
		return seen{}, err
	}
	if c.IssuedAt == nil {
		return seen{}, errors.New("no iat")
	}
	str := func(name string) string { s, _ := t.Header[name].(string); return s }
	return seen{
		Alg: str("alg"), Kid: str("kid"), Typ: str("typ"),
		Iss: c.Issuer, Sub: c.Subject, Aud: c.Audience, Exp: c.ExpiresAt.Unix(), Iat: c.IssuedAt.Unix(),
		Jti: c.ID, ClientID: c.ClientID, Sid: c.SessionID, Scope: c.Scope, Roles: c.Roles,
	}, nil
}

func TestInteropWaxsealMints(t *testing.T) {
	libraries := []struct {
		name   string
		verify func(alg jwk.Algorithm, key any, raw string) (seen, error)
	}{
		{"go-jose", verifyGoJose},
		{"golang-jwt", verifyGolangJWT},
	}
	for _, alg := range algorithms {
		for _, lib := range libraries {
			t.Run(string(alg)+"/"+lib.name, func(t *testing.T) {
				raw := mintWaxseal(t, alg)
				got, err := lib.verify(alg, verificationKey(t, alg), raw)
				if err != nil {
					t.Fatalf("%s rejects a waxseal token: %v\n%s", lib.name, err, raw)
				}
				if w := want(alg, interopClaims()); !reflect.DeepEqual(got, w) {
					t.Errorf("%s sees\n %+v\nwant\n %+v", lib.name, got, w)
				}
			})
		}
	}
}

// mintGoJose signs c with go-jose.
func mintGoJose(tb testing.TB, alg jwk.Algorithm, key any, kid, typ string, c *token.Claims) string {
	tb.Helper()
	// The kid goes in as a header: go-jose writes the KeyID of a
	// JSONWebKey signing key only for asymmetric keys and silently drops it
	// for an HMAC secret.
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", kid),
	)
	if err != nil {
		tb.Fatal(err)
	}
	std := josejwt.Claims{
		Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience, ID: c.ID,
		Expiry: josejwt.NewNumericDate(c.Expiry), IssuedAt: josejwt.NewNumericDate(c.IssuedAt),
	}
	priv := privateClaims{ClientID: c.ClientID, SessionID: c.SessionID, Scope: c.Scope, Roles: c.Roles}
	raw, err := josejwt.Signed(signer).Claims(std).Claims(priv).Serialize()
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// mintGolangJWT signs c with golang-jwt.
func mintGolangJWT(tb testing.TB, alg jwk.Algorithm, key any, kid, typ string, c *token.Claims) string {
	tb.Helper()
	t := golangjwt.NewWithClaims(golangjwt.GetSigningMethod(string(alg)), golangJWTClaims{
		RegisteredClaims: golangjwt.RegisteredClaims{
			Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience, ID: c.ID,
			ExpiresAt: golangjwt.NewNumericDate(c.Expiry), IssuedAt: golangjwt.NewNumericDate(c.IssuedAt),
		},
		privateClaims: privateClaims{ClientID: c.ClientID, SessionID: c.SessionID, Scope: c.Scope, Roles: c.Roles},
	})
	t.Header["typ"] = typ
	t.Header["kid"] = kid
	raw, err := t.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

func TestInteropWaxsealVerifies(t *testing.T) {
	libraries := []struct {
		name string
		mint func(tb testing.TB, alg jwk.Algorithm, key any, kid, typ string, c *token.Claims) string
	}{
		{"go-jose", mintGoJose},
		{"golang-jwt", mintGolangJWT},
	}
	tests := []struct {
		name   string
		typ    string
		signer func(jwk.Algorithm) *jwk.PrivateKey // the key that signs
		kid    func(jwk.Algorithm) *jwk.PrivateKey // the key whose ID is the "kid"
		want   error                               // nil: valid
	}{
		{"at+jwt", token.Type, trustedKey, trustedKey, nil},
		{"typ JWT", "JWT", trustedKey, trustedKey, token.ErrType},
		{"other key with a trusted kid", token.Type, otherKey, trustedKey, token.ErrSignature},
		{"other key with its own kid", token.Type, otherKey, otherKey, token.ErrUnknownKey},
	}
	for _, alg := range algorithms {
		for _, lib := range libraries {
			for _, tt := range tests {
				t.Run(string(alg)+"/"+lib.name+"/"+tt.name, func(t *testing.T) {
					c := interopClaims()
					raw := lib.mint(t, alg, signingKey(t, tt.signer(alg)), tt.kid(alg).ID(), tt.typ, c)
					got, err := newInteropVerifier(t, 0).Verify(context.Background(), raw)
					if tt.want != nil {
						if !errors.Is(err, tt.want) || got != nil {
							t.Fatalf("Verify = %v, %v; want %v\n%s", got, err, tt.want, raw)
						}
						return
					}
					if err != nil {
						t.Fatalf("waxseal rejects a %s token: %v\n%s", lib.name, err, raw)
					}
					header, _, err := token.DecodeUnverified(raw)
					if err != nil {
						t.Fatal(err)
					}
					var h struct{ Alg, Kid, Typ string }
					if err := json.Unmarshal(header, &h); err != nil {
						t.Fatal(err)
					}
					if got.KeyID != h.Kid {
						t.Errorf("KeyID %q, header kid %q", got.KeyID, h.Kid)
					}
					s := want(alg, got)
					s.Alg, s.Kid, s.Typ = h.Alg, h.Kid, h.Typ
					if w := want(alg, c); !reflect.DeepEqual(s, w) {
						t.Errorf("waxseal sees\n %+v\nwant\n %+v", s, w)
					}
				})
			}
		}
	}
}
