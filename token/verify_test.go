package token

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waxseal/waxseal/jwk"
)

const (
	testIssuer   = "https://issuer.example"
	testAudience = "notes-api"
)

var testNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// mapKeys is the simplest KeySource: a fixed set of keys.
type mapKeys map[string]*jwk.PublicKey

func (m mapKeys) Key(_ context.Context, kid string) (*jwk.PublicKey, error) {
	if k, ok := m[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
}

var (
	keysOnce sync.Once
	testKeys map[jwk.Algorithm]*jwk.PrivateKey
)

// keys returns one key per algorithm, made once: RSA generation is slow.
func keys(t testing.TB) map[jwk.Algorithm]*jwk.PrivateKey {
	t.Helper()
	keysOnce.Do(func() {
		testKeys = map[jwk.Algorithm]*jwk.PrivateKey{}
		for _, alg := range []jwk.Algorithm{jwk.EdDSA, jwk.ES256, jwk.RS256, jwk.HS256} {
			k, err := jwk.Generate(alg, nil)
			if err != nil {
				panic(err)
			}
			testKeys[alg] = k
		}
	})
	return testKeys
}

func keySource(t testing.TB) mapKeys {
	m := mapKeys{}
	for _, k := range keys(t) {
		m[k.ID()] = k.Public()
	}
	return m
}

func newTestVerifier(t testing.TB, cfg Config) *Verifier {
	t.Helper()
	if cfg.Issuer == "" {
		cfg.Issuer = testIssuer
	}
	if cfg.Audience == "" {
		cfg.Audience = testAudience
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	v, err := NewVerifier(keySource(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func validClaims() *Claims {
	return &Claims{
		Issuer:    testIssuer,
		Subject:   "user-1",
		Audience:  []string{testAudience},
		Expiry:    testNow.Add(5 * time.Minute),
		IssuedAt:  testNow.Add(-time.Minute),
		ID:        NewID(),
		ClientID:  "web",
		SessionID: "sess-1",
		Scope:     "notes:read notes:write",
		Roles:     []string{"user", "editor"},
	}
}

func mint(t testing.TB, alg jwk.Algorithm, edit func(*Claims)) string {
	t.Helper()
	c := validClaims()
	if edit != nil {
		edit(c)
	}
	tok, err := Mint(keys(t)[alg], c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// signRaw signs arbitrary header and claims text with key, so that the
// parser's rules are tested on tokens whose signature is valid.
func signRaw(t testing.TB, key *jwk.PrivateKey, header, claims string) string {
	t.Helper()
	in := enc(header) + "." + enc(claims)
	sig, err := key.Sign([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func edHeader(t testing.TB) string {
	return `{"alg":"EdDSA","kid":"` + keys(t)[jwk.EdDSA].ID() + `","typ":"at+jwt"}`
}

func claimsJSONWith(extra string) string {
	s := fmt.Sprintf(`{"iss":%q,"sub":"user-1","aud":%q,"exp":%d,"iat":%d,"jti":"j1","client_id":"web"`,
		testIssuer, testAudience, testNow.Add(5*time.Minute).Unix(), testNow.Add(-time.Minute).Unix())
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

func TestVerifyValid(t *testing.T) {
	for _, alg := range []jwk.Algorithm{jwk.EdDSA, jwk.ES256, jwk.RS256, jwk.HS256} {
		t.Run(string(alg), func(t *testing.T) {
			v := newTestVerifier(t, Config{CacheSize: -1})
			want := validClaims()
			tok, err := Mint(keys(t)[alg], want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Verify(context.Background(), tok)
			if err != nil {
				t.Fatal(err)
			}
			want.KeyID = keys(t)[alg].ID()
			want.Expiry, want.IssuedAt = want.Expiry.Local(), want.IssuedAt.Local()
			if fmt.Sprint(*got) != fmt.Sprint(*want) {
				t.Errorf("claims:\n got %+v\nwant %+v", *got, *want)
			}
			if !got.HasRole("editor") || got.HasRole("admin") || !got.HasScope("notes:write") || got.HasScope("notes") {
				t.Errorf("HasRole/HasScope wrong for %+v", got)
			}
		})
	}
}

func TestVerifyRules(t *testing.T) {
	ed := func(t testing.TB) *jwk.PrivateKey { return keys(t)[jwk.EdDSA] }
	edKid := func(t testing.TB) string { return keys(t)[jwk.EdDSA].ID() }
	hdr := func(t testing.TB, members string) string {
		return `{"alg":"EdDSA","kid":"` + edKid(t) + `"` + members + `}`
	}
	raw := func(header, claims func(t testing.TB) string) func(t testing.TB) string {
		return func(t testing.TB) string { return signRaw(t, ed(t), header(t), claims(t)) }
	}
	constant := func(s string) func(testing.TB) string { return func(testing.TB) string { return s } }
	stdHeader := func(t testing.TB) string { return edHeader(t) }
	stdClaims := constant(claimsJSONWith(""))
	claims := func(extra string) func(testing.TB) string { return constant(claimsJSONWith(extra)) }
	at := func(d time.Duration) int64 { return testNow.Add(d).Unix() }
	claimsAt := func(exp, iat int64, extra string) func(testing.TB) string {
		s := fmt.Sprintf(`{"iss":%q,"sub":"user-1","aud":%q,"exp":%d,"iat":%d,"jti":"j1","client_id":"web"%s}`,
			testIssuer, testAudience, exp, iat, extra)
		return constant(s)
	}

	tests := []struct {
		name  string
		token func(t testing.TB) string
		want  error // nil: valid
	}{
		// Valid variants.
		{"minted", func(t testing.TB) string { return mint(t, jwk.EdDSA, nil) }, nil},
		{"aud array", raw(stdHeader, func(testing.TB) string {
			return strings.Replace(claimsJSONWith(""), `"aud":"notes-api"`, `"aud":["other","notes-api"]`, 1)
		}), nil},
		{"typ with application prefix", raw(func(t testing.TB) string { return hdr(t, `,"typ":"application/at+jwt"`) }, stdClaims), nil},
		{"typ in upper case", raw(func(t testing.TB) string { return hdr(t, `,"typ":"AT+JWT"`) }, stdClaims), nil},
		{"fractional NumericDate", raw(stdHeader, claimsAt(at(time.Minute), at(-time.Minute), `,"nbf":1.5`)), nil},
		{"white space in JSON", raw(func(t testing.TB) string {
			return " {\n\t\"alg\" : \"EdDSA\" , \"kid\":\"" + edKid(t) + "\",\"typ\":\"at+jwt\"} "
		}, stdClaims), nil},
		{"unknown members skipped", raw(func(t testing.TB) string { return hdr(t, `,"typ":"at+jwt","x-extra":{"a":[1,true,null]}`) }, claims(`"custom":{"n":-1.5e3}`)), nil},
		{"escaped strings", raw(stdHeader, func(testing.TB) string {
			return strings.Replace(claimsJSONWith(""), `"sub":"user-1"`, `"sub":"us\u0065r-\ud83d\ude00"`, 1)
		}), nil},
		{"expired within leeway", raw(stdHeader, claimsAt(at(-10*time.Second), at(-time.Minute), "")), nil},
		{"nbf within leeway", raw(stdHeader, claimsAt(at(time.Minute), at(-time.Minute), fmt.Sprintf(`,"nbf":%d`, at(20*time.Second)))), nil},
		{"iat within leeway", raw(stdHeader, claimsAt(at(time.Minute), at(20*time.Second), "")), nil},

		// Compact form and encoding.
		{"too large", func(t testing.TB) string {
			return mint(t, jwk.EdDSA, func(c *Claims) { c.Scope = strings.Repeat("s", DefaultMaxTokenSize) })
		}, ErrMalformed},
		{"empty", constant(""), ErrMalformed},
		{"two parts", func(t testing.TB) string { s := mint(t, jwk.EdDSA, nil); return s[:strings.LastIndexByte(s, '.')] }, ErrMalformed},
		{"four parts", func(t testing.TB) string { return mint(t, jwk.EdDSA, nil) + ".AAAA" }, ErrMalformed},
		{"JWE-like five parts", constant("a.b.c.d.e"), ErrMalformed},
		{"empty signature", func(t testing.TB) string { s := mint(t, jwk.EdDSA, nil); return s[:strings.LastIndexByte(s, '.')+1] }, ErrMalformed},
		{"padding", func(t testing.TB) string { return mint(t, jwk.EdDSA, nil) + "=" }, ErrMalformed},
		{"standard alphabet", func(t testing.TB) string { return strings.Replace(mint(t, jwk.EdDSA, nil), "e", "+", 1) }, ErrMalformed},
		{"line break", func(t testing.TB) string { s := mint(t, jwk.EdDSA, nil); return s[:10] + "\r\n" + s[10:] }, ErrMalformed},
		{"space", func(t testing.TB) string { return " " + mint(t, jwk.EdDSA, nil) }, ErrMalformed},
		{"non-canonical base64 trailing bits", func(t testing.TB) string {
			// "{}" encodes as "e30"; "e31" decodes to the same bytes with
			// non-zero padding bits.
			return "e31." + enc(claimsJSONWith("")) + ".AAAA"
		}, ErrMalformed},
		{"impossible base64 length", func(t testing.TB) string { s := mint(t, jwk.EdDSA, nil); return "e30A" + s[strings.IndexByte(s, '.'):] }, ErrMalformed},

		// JSON strictness.
		{"header not an object", raw(constant(`["EdDSA"]`), stdClaims), ErrMalformed},
		{"claims not an object", raw(stdHeader, constant(`"sub"`)), ErrMalformed},
		{"claims null", raw(stdHeader, constant(`null`)), ErrMalformed},
		{"header member case", raw(func(t testing.TB) string { return `{"ALG":"EdDSA","kid":"` + edKid(t) + `","typ":"at+jwt"}` }, stdClaims), ErrMalformed},
		{"duplicate header member", raw(func(t testing.TB) string { return hdr(t, `,"typ":"at+jwt","alg":"EdDSA"`) }, stdClaims), ErrMalformed},
		{"duplicate typ hides JWT", raw(func(t testing.TB) string { return hdr(t, `,"typ":"at+jwt","typ":"JWT"`) }, stdClaims), ErrMalformed},
		{"duplicate claim", raw(stdHeader, claims(`"sub":"admin"`)), ErrMalformed},
		{"duplicate claim escaped", raw(stdHeader, claims(`"s\u0075b":"admin"`)), ErrMalformed},
		{"duplicate in nested unknown claim", raw(stdHeader, claims(`"x":{"a":1,"a":2}`)), ErrMalformed},
		{"claim member case", raw(stdHeader, constant(strings.Replace(claimsJSONWith(""), `"exp"`, `"Exp"`, 1))), ErrMalformed},
		{"exp as string", raw(stdHeader, constant(strings.Replace(claimsJSONWith(""), fmt.Sprintf(`"exp":%d`, at(5*time.Minute)), fmt.Sprintf(`"exp":"%d"`, at(5*time.Minute)), 1))), ErrMalformed},
		{"exp negative", raw(stdHeader, claimsAt(-1, at(-time.Minute), "")), ErrMalformed},
		{"exp huge", raw(stdHeader, constant(strings.Replace(claimsJSONWith(""), fmt.Sprintf(`"exp":%d`, at(5*time.Minute)), `"exp":1e300`, 1))), ErrMalformed},
		{"exp leading zero", raw(stdHeader, constant(strings.Replace(claimsJSONWith(""), fmt.Sprintf(`"exp":%d`, at(5*time.Minute)), fmt.Sprintf(`"exp":0%d`, at(5*time.Minute)), 1))), ErrMalformed},
		{"no exp", raw(stdHeader, constant(strings.Replace(claimsJSONWith(""), fmt.Sprintf(`"exp":%d,`, at(5*time.Minute)), "", 1))), ErrMalformed},
		{"no iat", raw(stdHeader, constant(strings.Replace(claimsJSONWith(""), fmt.Sprintf(`"iat":%d,`, at(-time.Minute)), "", 1))), ErrMalformed},
		{"no sub", raw(stdHeader, constant(strings.Replace(claimsJSONWith(""), `"sub":"user-1",`, "", 1))), ErrMalformed},
		{"no jti", raw(stdHeader, constant(strings.Replace(claimsJSONWith(""), `"jti":"j1",`, "", 1))), ErrMalformed},
		{"no client_id", raw(stdHeader, constant(strings.Replace(claimsJSONWith(""), `,"client_id":"web"`, "", 1))), ErrMalformed},
		{"aud number", raw(stdHeader, constant(strings.Replace(claimsJSONWith(""), `"aud":"notes-api"`, `"aud":7`, 1))), ErrMalformed},
		{"roles not strings", raw(stdHeader, claims(`"roles":["admin",1]`)), ErrMalformed},
		{"invalid UTF-8", raw(stdHeader, claims("\"name\":\"\xff\"")), ErrMalformed},
		{"lone surrogate", raw(stdHeader, claims(`"name":"\ud800"`)), ErrMalformed},
		{"control character", raw(stdHeader, claims("\"name\":\"a\x01\"")), ErrMalformed},
		{"trailing data", raw(stdHeader, constant(claimsJSONWith("")+"{}")), ErrMalformed},
		{"trailing comma", raw(stdHeader, constant(strings.TrimSuffix(claimsJSONWith(""), "}")+",}")), ErrMalformed},
		{"deep nesting", raw(stdHeader, claims(`"x":`+strings.Repeat("[", 100)+strings.Repeat("]", 100))), ErrMalformed},

		// Time.
		{"expired", raw(stdHeader, claimsAt(at(-31*time.Second), at(-time.Hour), "")), ErrExpired},
		{"expired exactly at leeway", raw(stdHeader, claimsAt(at(-30*time.Second), at(-time.Hour), "")), ErrExpired},
		{"not yet valid", raw(stdHeader, claimsAt(at(time.Hour), at(-time.Minute), fmt.Sprintf(`,"nbf":%d`, at(31*time.Second)))), ErrNotYetValid},
		{"issued in the future", raw(stdHeader, claimsAt(at(time.Hour), at(time.Minute), "")), ErrNotYetValid},

		// Issuer, audience, type.
		{"wrong issuer", func(t testing.TB) string {
			return mint(t, jwk.EdDSA, func(c *Claims) { c.Issuer = "https://evil.example" })
		}, ErrIssuer},
		{"issuer trailing slash", func(t testing.TB) string { return mint(t, jwk.EdDSA, func(c *Claims) { c.Issuer = testIssuer + "/" }) }, ErrIssuer},
		{"issuer case", func(t testing.TB) string {
			return mint(t, jwk.EdDSA, func(c *Claims) { c.Issuer = strings.ToUpper(testIssuer) })
		}, ErrIssuer},
		{"no iss", raw(stdHeader, constant(strings.Replace(claimsJSONWith(""), `"iss":"`+testIssuer+`",`, "", 1))), ErrIssuer},
		{"wrong audience", func(t testing.TB) string {
			return mint(t, jwk.EdDSA, func(c *Claims) { c.Audience = []string{"billing"} })
		}, ErrAudience},
		{"audience prefix", func(t testing.TB) string {
			return mint(t, jwk.EdDSA, func(c *Claims) { c.Audience = []string{testAudience + "2"} })
		}, ErrAudience},
		{"audience array without us", func(t testing.TB) string {
			return mint(t, jwk.EdDSA, func(c *Claims) { c.Audience = []string{"a", "b"} })
		}, ErrAudience},
		{"no aud", raw(stdHeader, constant(strings.Replace(claimsJSONWith(""), `"aud":"notes-api",`, "", 1))), ErrAudience},
		{"typ JWT", raw(func(t testing.TB) string { return hdr(t, `,"typ":"JWT"`) }, stdClaims), ErrType},
		{"no typ", raw(func(t testing.TB) string { return hdr(t, "") }, stdClaims), ErrType},
		{"typ near miss", raw(func(t testing.TB) string { return hdr(t, `,"typ":"application/at+jwt+x"`) }, stdClaims), ErrType},

		// Critical extensions.
		{"crit", raw(func(t testing.TB) string { return hdr(t, `,"typ":"at+jwt","crit":["exp"],"exp":1`) }, stdClaims), ErrMalformed},
		{"empty crit", raw(func(t testing.TB) string { return hdr(t, `,"typ":"at+jwt","crit":[]`) }, stdClaims), ErrMalformed},
		{"crit not array", raw(func(t testing.TB) string { return hdr(t, `,"typ":"at+jwt","crit":"b64"`) }, stdClaims), ErrMalformed},

		// Header parameters that change how the payload is read, signed with
		// the real key: waxseal never issues them, so it never reads past them.
		{"zip", func(t testing.TB) string {
			return signRaw(t, keys(t)[jwk.EdDSA], `{"alg":"EdDSA","kid":"`+edKid(t)+`","typ":"at+jwt","zip":"DEF"}`, claimsJSONWith(""))
		}, ErrMalformed},
		{"cty", func(t testing.TB) string {
			return signRaw(t, keys(t)[jwk.EdDSA], `{"alg":"EdDSA","kid":"`+edKid(t)+`","typ":"at+jwt","cty":"JWT"}`, claimsJSONWith(""))
		}, ErrMalformed},
		{"cty at+jwt", func(t testing.TB) string {
			return signRaw(t, keys(t)[jwk.EdDSA], `{"alg":"EdDSA","kid":"`+edKid(t)+`","typ":"at+jwt","cty":"at+jwt"}`, claimsJSONWith(""))
		}, ErrMalformed},

		// Keys and algorithms.
		{"unknown kid", func(t testing.TB) string {
			other, _ := jwk.Generate(jwk.EdDSA, nil)
			tok, _ := Mint(other, validClaims())
			return tok
		}, ErrUnknownKey},
		{"no kid", raw(constant(`{"alg":"EdDSA","typ":"at+jwt"}`), stdClaims), ErrUnknownKey},
		{"alg none", func(t testing.TB) string {
			return enc(`{"alg":"none","kid":"`+edKid(t)+`","typ":"at+jwt"}`) + "." + enc(claimsJSONWith("")) + ".AAAA"
		}, ErrMalformed},
		{"alg none unsigned", func(t testing.TB) string {
			return enc(`{"alg":"none","typ":"at+jwt"}`) + "." + enc(claimsJSONWith("")) + "."
		}, ErrMalformed},
		{"alg case", raw(func(t testing.TB) string { return `{"alg":"eddsa","kid":"` + edKid(t) + `","typ":"at+jwt"}` }, stdClaims), ErrMalformed},
		{"alg differs from key", func(t testing.TB) string {
			h := `{"alg":"ES256","kid":"` + edKid(t) + `","typ":"at+jwt"}`
			return signRaw(t, keys(t)[jwk.ES256], h, claimsJSONWith(""))
		}, ErrSignature},
		{"RS256 key used as HMAC secret", func(t testing.TB) string {
			rsaKey := keys(t)[jwk.RS256]
			der, _ := x509.MarshalPKIXPublicKey(rsaKey.Public().Key())
			in := enc(`{"alg":"HS256","kid":"`+rsaKey.ID()+`","typ":"at+jwt"}`) + "." + enc(claimsJSONWith(""))
			m := hmac.New(sha256.New, der)
			m.Write([]byte(in))
			return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
		}, ErrSignature},
		{"embedded jwk is not trusted", func(t testing.TB) string {
			attacker, _ := jwk.Generate(jwk.EdDSA, nil)
			pub, _ := attacker.Public().MarshalJSON()
			h := `{"alg":"EdDSA","kid":"` + edKid(t) + `","typ":"at+jwt","jwk":` + string(pub) + `,"jku":"https://evil.example/jwks"}`
			return signRaw(t, attacker, h, claimsJSONWith(""))
		}, ErrSignature},
		{"embedded jwk with its own kid", func(t testing.TB) string {
			attacker, _ := jwk.Generate(jwk.EdDSA, nil)
			pub, _ := attacker.Public().MarshalJSON()
			h := `{"alg":"EdDSA","kid":"` + attacker.ID() + `","typ":"at+jwt","jwk":` + string(pub) + `}`
			return signRaw(t, attacker, h, claimsJSONWith(""))
		}, ErrUnknownKey},
		{"flipped signature bit", func(t testing.TB) string {
			s := []byte(mint(t, jwk.EdDSA, nil))
			i := len(s) - 5
			if s[i] == 'A' {
				s[i] = 'B'
			} else {
				s[i] = 'A'
			}
			return string(s)
		}, ErrSignature},
		{"changed claims", func(t testing.TB) string {
			s := mint(t, jwk.EdDSA, nil)
			parts := strings.Split(s, ".")
			parts[1] = enc(strings.Replace(claimsJSONWith(""), "user-1", "admin", 1))
			return strings.Join(parts, ".")
		}, ErrSignature},
		{"short signature", func(t testing.TB) string {
			s := mint(t, jwk.EdDSA, nil)
			return s[:strings.LastIndexByte(s, '.')+1] + "AAAA"
		}, ErrSignature},
		{"ES256 signature in ASN.1", func(t testing.TB) string {
			s := mint(t, jwk.ES256, nil)
			return s[:strings.LastIndexByte(s, '.')+1] + base64.RawURLEncoding.EncodeToString(make([]byte, 72))
		}, ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newTestVerifier(t, Config{})
			tok := tt.token(t)
			c, err := v.Verify(context.Background(), tok)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("Verify: %v", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			case tt.want != nil && c != nil:
				t.Fatalf("Verify returned claims with error %v", err)
			}
			// A second call must give the same answer, from the cache or not.
			if _, err2 := v.Verify(context.Background(), tok); (err == nil) != (err2 == nil) || (err != nil && !errors.Is(err2, tt.want)) {
				t.Fatalf("second Verify = %v, first %v", err2, err)
			}
		})
	}
}

func TestNoLeeway(t *testing.T) {
	v := newTestVerifier(t, Config{Leeway: -1})
	tok := mint(t, jwk.EdDSA, func(c *Claims) { c.Expiry = testNow.Add(-time.Second) })
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("Verify = %v, want ErrExpired", err)
	}
}

func TestConfig(t *testing.T) {
	ks := keySource(t)
	for _, cfg := range []Config{
		{Audience: "a"},
		{Issuer: "i"},
		{Issuer: "i", Audience: "a", Leeway: MaxLeeway + time.Second},
	} {
		if _, err := NewVerifier(ks, cfg); err == nil {
			t.Errorf("NewVerifier(%+v) succeeded", cfg)
		}
	}
	if _, err := NewVerifier(nil, Config{Issuer: "i", Audience: "a"}); err == nil {
		t.Error("NewVerifier without keys succeeded")
	}
	if _, err := NewVerifier(ks, Config{Issuer: "i", Audience: "a", Leeway: MaxLeeway}); err != nil {
		t.Errorf("maximum leeway refused: %v", err)
	}
}

func TestMintRequiresClaims(t *testing.T) {
	k := keys(t)[jwk.EdDSA]
	for name, edit := range map[string]func(*Claims){
		"iss":        func(c *Claims) { c.Issuer = "" },
		"sub":        func(c *Claims) { c.Subject = "" },
		"aud":        func(c *Claims) { c.Audience = nil },
		"jti":        func(c *Claims) { c.ID = "" },
		"client_id":  func(c *Claims) { c.ClientID = "" },
		"exp":        func(c *Claims) { c.Expiry = time.Time{} },
		"iat":        func(c *Claims) { c.IssuedAt = time.Time{} },
		"exp <= iat": func(c *Claims) { c.Expiry = c.IssuedAt },
	} {
		c := validClaims()
		edit(c)
		if _, err := Mint(k, c); err == nil {
			t.Errorf("Mint without %s succeeded", name)
		}
	}
}

func TestNewIDIsRandom(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		raw, err := base64.RawURLEncoding.DecodeString(id)
		if err != nil || len(raw) != 16 {
			t.Fatalf("NewID() = %q: %d bytes, %v", id, len(raw), err)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
}

type denyAll struct{ ids map[string]bool }

func (d denyAll) Revoked(c *Claims) bool { return d.ids[c.ID] || d.ids[c.KeyID] }

func TestCache(t *testing.T) {
	now := testNow
	deny := denyAll{ids: map[string]bool{}}
	v := newTestVerifier(t, Config{Now: func() time.Time { return now }, Denylist: deny, CacheSize: 8})
	ctx := context.Background()
	tok := mint(t, jwk.EdDSA, func(c *Claims) { c.ID = "cached" })

	c1, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if c1 != c2 {
		t.Error("second Verify did not answer from the cache")
	}

	t.Run("revocation checked on a hit", func(t *testing.T) {
		deny.ids["cached"] = true
		defer delete(deny.ids, "cached")
		if _, err := v.Verify(ctx, tok); !errors.Is(err, ErrRevoked) {
			t.Fatalf("Verify of a revoked cached token = %v", err)
		}
	})

	t.Run("key revocation checked on a hit", func(t *testing.T) {
		deny.ids[c1.KeyID] = true
		defer delete(deny.ids, c1.KeyID)
		if _, err := v.Verify(ctx, tok); !errors.Is(err, ErrRevoked) {
			t.Fatalf("Verify of a token of a revoked key = %v", err)
		}
	})

	t.Run("ForgetKey empties the key's entries", func(t *testing.T) {
		other := mint(t, jwk.ES256, nil)
		if _, err := v.Verify(ctx, other); err != nil {
			t.Fatal(err)
		}
		v.ForgetKey(c1.KeyID)
		if _, _, ok := v.cache.get(tok); ok {
			t.Error("token of the forgotten key still cached")
		}
		if _, _, ok := v.cache.get(other); !ok {
			t.Error("token of another key dropped")
		}
	})

	t.Run("bounded", func(t *testing.T) {
		for range 50 {
			if _, err := v.Verify(ctx, mint(t, jwk.HS256, nil)); err != nil {
				t.Fatal(err)
			}
			if n := v.cache.len(); n > 8 {
				t.Fatalf("cache holds %d entries, limit 8", n)
			}
		}
	})

	t.Run("expiry enforced on a hit", func(t *testing.T) {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
		now = testNow.Add(5*time.Minute + DefaultLeeway)
		if _, err := v.Verify(ctx, tok); !errors.Is(err, ErrExpired) {
			t.Fatalf("Verify after expiry = %v", err)
		}
	})
}

func TestCacheHitDoesNotAllocate(t *testing.T) {
	v := newTestVerifier(t, Config{Denylist: denyAll{ids: map[string]bool{}}})
	tok := mint(t, jwk.EdDSA, nil)
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { v.Verify(ctx, tok) }); n != 0 {
		t.Errorf("cache hit allocates %v times", n)
	}
}

func TestConcurrentVerify(t *testing.T) {
	v := newTestVerifier(t, Config{CacheSize: 16})
	ctx := context.Background()
	toks := make([]string, 32)
	for i := range toks {
		toks[i] = mint(t, jwk.HS256, nil)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if _, err := v.Verify(ctx, toks[(g+i)%len(toks)]); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					v.ForgetKey(keys(t)[jwk.HS256].ID())
				}
			}
		}()
	}
	wg.Wait()
}

func TestDecodeUnverified(t *testing.T) {
	tok := mint(t, jwk.EdDSA, nil)
	h, c, err := DecodeUnverified(tok)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(h), `"typ":"at+jwt"`) || !strings.Contains(string(c), `"sub":"user-1"`) {
		t.Errorf("DecodeUnverified = %s %s", h, c)
	}
	for _, bad := range []string{"", "a.b", enc("[]") + "." + enc("{}") + ".AA", enc(`{"a":1,"a":2}`) + "." + enc("{}") + ".AA"} {
		if _, _, err := DecodeUnverified(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeUnverified(%q) = %v", bad, err)
		}
	}
}

// forgettingKeys is a KeySource whose key set drops its key while a
// verification is under way, as a remote key set's refresh can.
type forgettingKeys struct {
	mapKeys
	v *Verifier
}

func (f *forgettingKeys) Key(ctx context.Context, kid string) (*jwk.PublicKey, error) {
	k, err := f.mapKeys.Key(ctx, kid)
	f.v.ForgetKey(kid)
	return k, err
}

func TestKeyForgottenDuringVerifyIsNotCached(t *testing.T) {
	ks := &forgettingKeys{mapKeys: keySource(t)}
	v, err := NewVerifier(ks, Config{Issuer: testIssuer, Audience: testAudience, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	ks.v = v
	tok := mint(t, jwk.EdDSA, nil)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := v.cache.get(tok); ok {
		t.Error("token cached although its key was forgotten during verification")
	}
}

func TestInsecureSkipAudienceCheck(t *testing.T) {
	v, err := NewVerifier(keySource(t), Config{Issuer: testIssuer, InsecureSkipAudienceCheck: true, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	tok := mint(t, jwk.EdDSA, func(c *Claims) { c.Audience = []string{"anything"} })
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("Verify with the audience check skipped: %v", err)
	}
}
