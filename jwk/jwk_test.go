package jwk

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"strings"
	"testing"
)

var algs = []Algorithm{EdDSA, ES256, RS256, HS256}

func TestSignVerify(t *testing.T) {
	for _, alg := range algs {
		t.Run(string(alg), func(t *testing.T) {
			k, err := Generate(alg, nil)
			if err != nil {
				t.Fatal(err)
			}
			msg := []byte("header.payload")
			sig, err := k.Sign(msg)
			if err != nil {
				t.Fatal(err)
			}
			if !k.Public().Verify(msg, sig) {
				t.Fatal("signature does not verify")
			}
			if k.Public().Verify([]byte("header.payloaD"), sig) {
				t.Error("signature verifies another message")
			}
			bad := append([]byte(nil), sig...)
			bad[len(bad)/2] ^= 1
			if k.Public().Verify(msg, bad) {
				t.Error("altered signature verifies")
			}
			if k.Public().Verify(msg, sig[:len(sig)-1]) {
				t.Error("truncated signature verifies")
			}
			other, _ := Generate(alg, nil)
			if other.Public().Verify(msg, sig) {
				t.Error("another key verifies the signature")
			}

			der, _ := k.MarshalBinary()
			back, err := ParsePrivateKey(alg, der)
			if err != nil {
				t.Fatal(err)
			}
			if back.ID() != k.ID() || !back.Public().Equal(k.Public()) {
				t.Error("private key does not round-trip")
			}
		})
	}
}

func TestPublicJSONRoundTrip(t *testing.T) {
	set := &Set{}
	for _, alg := range []Algorithm{EdDSA, ES256, RS256} {
		k, err := Generate(alg, nil)
		if err != nil {
			t.Fatal(err)
		}
		set.Keys = append(set.Keys, k.Public())
	}
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	for _, private := range []string{`"d"`, `"p"`, `"q"`, `"dp"`, `"dq"`, `"qi"`, `"k"`} {
		if strings.Contains(string(data), private+":") {
			t.Errorf("published set has private member %s: %s", private, data)
		}
	}
	back, err := ParseSet(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Keys) != len(set.Keys) {
		t.Fatalf("%d keys back, want %d", len(back.Keys), len(set.Keys))
	}
	for i, k := range set.Keys {
		if !back.Keys[i].Equal(k) || back.Keys[i].Algorithm() != k.Algorithm() {
			t.Errorf("key %d: %s does not round-trip", i, k.Algorithm())
		}
		var m map[string]any
		j, _ := json.Marshal(k)
		json.Unmarshal(j, &m)
		if m["use"] != "sig" || m["alg"] != string(k.Algorithm()) || m["kid"] != k.ID() {
			t.Errorf("key %d JSON lacks use/alg/kid: %s", i, j)
		}
	}
}

func TestSymmetricKeyNeverPublished(t *testing.T) {
	k, _ := Generate(HS256, nil)
	if _, err := json.Marshal(k.Public()); err == nil {
		t.Fatal("HS256 key marshalled as a JWK")
	}
	if _, err := json.Marshal(&Set{Keys: []*PublicKey{k.Public()}}); err == nil {
		t.Fatal("set with an HS256 key marshalled")
	}
}

// RFC 7638 §3.1 and RFC 8037 Appendix A.3 give these thumbprints.
func TestThumbprintVectors(t *testing.T) {
	tests := []struct{ name, jwk, kid string }{
		{"RFC 7638 RSA", `{"kty":"RSA","alg":"RS256","e":"AQAB","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","kid":"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"}`, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
		{"RFC 8037 Ed25519", `{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"}`, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"},
	}
	for _, tt := range tests {
		k, err := ParseKey([]byte(tt.jwk))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if k.ID() != tt.kid {
			t.Errorf("%s: kid %s, want %s", tt.name, k.ID(), tt.kid)
		}
	}
}

func TestParseSetRules(t *testing.T) {
	ed, _ := Generate(EdDSA, nil)
	edJSON, _ := json.Marshal(ed.Public())
	good := string(edJSON)
	with := func(old, new string) string { return strings.Replace(good, old, new, 1) }
	tests := []struct {
		name  string
		set   string
		keys  int
		valid bool
	}{
		{"one key", `{"keys":[` + good + `]}`, 1, true},
		{"empty set", `{"keys":[]}`, 0, true},
		{"unknown members", `{"keys":[` + with(`"use"`, `"x5c":["AAAA"],"key_ops":["verify"],"use"`) + `],"extra":1}`, 1, true},
		{"encryption key skipped", `{"keys":[` + with(`"use":"sig"`, `"use":"enc"`) + `]}`, 0, true},
		{"key without alg skipped", `{"keys":[` + with(`"alg":"EdDSA",`, "") + `]}`, 0, true},
		{"unknown kty skipped", `{"keys":[{"kty":"XYZ","alg":"ZZ1"}]}`, 0, true},
		{"no keys member", `{"Keys":[]}`, 0, false},
		{"duplicate member", `{"keys":[],"keys":[` + good + `]}`, 0, false},
		{"duplicate kid", `{"keys":[` + good + `,` + good + `]}`, 0, false},
		{"private member", `{"keys":[` + with(`"use"`, `"d":"AAAA","use"`) + `]}`, 0, false},
		{"kid not thumbprint", `{"keys":[` + with(ed.ID(), "my-key") + `]}`, 0, false},
		{"alg on wrong kty", `{"keys":[` + with(`"kty":"OKP"`, `"kty":"EC"`) + `]}`, 0, false},
		{"padded base64", `{"keys":[` + strings.TrimSuffix(good, `"}`) + `="}]}`, 0, false},
		{"HS256 key skipped", `{"keys":[{"kty":"oct","alg":"HS256","use":"sig","kid":"x"}]}`, 0, true},
		{"not JSON", `{"keys":[`, 0, false},
	}
	for _, tt := range tests {
		s, err := ParseSet([]byte(tt.set))
		if (err == nil) != tt.valid {
			t.Errorf("%s: ParseSet = %v, want valid=%v", tt.name, err, tt.valid)
			continue
		}
		if err == nil && len(s.Keys) != tt.keys {
			t.Errorf("%s: %d keys, want %d", tt.name, len(s.Keys), tt.keys)
		}
	}
}

func TestKeyValidation(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewPrivateKey(RS256, small); err == nil {
		t.Error("1024-bit RSA key accepted")
	}
	if _, err := NewPublicKey(HS256, make([]byte, 31)); err == nil {
		t.Error("248-bit HS256 secret accepted")
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := NewPrivateKey(ES256, p384); err == nil {
		t.Error("P-384 key accepted for ES256")
	}
	_, edPriv, _ := ed25519.GenerateKey(nil)
	if _, err := NewPrivateKey(ES256, edPriv); err == nil {
		t.Error("Ed25519 key accepted for ES256")
	}
	if _, err := NewPrivateKey("none", edPriv); err == nil {
		t.Error("alg none accepted")
	}
	// A point off the curve must not become a key.
	offCurve := `{"kty":"EC","crv":"P-256","alg":"ES256","use":"sig","kid":"x","x":"` + b64.EncodeToString(make([]byte, 32)) + `","y":"` + b64.EncodeToString(append(make([]byte, 31), 1)) + `"}`
	if _, err := ParseKey([]byte(offCurve)); err == nil {
		t.Error("point off the curve accepted")
	}
	for _, s := range []string{"EdDSA", "ES256", "RS256", "HS256"} {
		if a, err := ParseAlgorithm(s); err != nil || string(a) != s {
			t.Errorf("ParseAlgorithm(%q) = %q, %v", s, a, err)
		}
	}
	for _, s := range []string{"none", "eddsa", "RS512", "ES256K", ""} {
		if _, err := ParseAlgorithm(s); err == nil {
			t.Errorf("ParseAlgorithm(%q) accepted", s)
		}
	}
}
