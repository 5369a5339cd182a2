package jwk

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/waxseal/waxseal/internal/strictjson"
)

// ErrSecretKey is returned when an HS256 key would be written out as a JWK.
// Shared secrets are never published.
var ErrSecretKey = errors.New("jwk: refusing to publish a symmetric key")

var b64 = base64.RawURLEncoding.Strict()

// thumbprint computes the RFC 7638 thumbprint: SHA-256 over the required
// members in lexicographic order, without white space.
func (k *PublicKey) thumbprint() string {
	var m string
	switch k.alg {
	case EdDSA:
		m = `{"crv":"Ed25519","kty":"OKP","x":"` + b64.EncodeToString(k.ed) + `"}`
	case ES256:
		x, y := ecCoordinates(k.ec)
		m = `{"crv":"P-256","kty":"EC","x":"` + b64.EncodeToString(x) + `","y":"` + b64.EncodeToString(y) + `"}`
	case RS256:
		m = `{"e":"` + b64.EncodeToString(big.NewInt(int64(k.rsa.E)).Bytes()) + `","kty":"RSA","n":"` + b64.EncodeToString(k.rsa.N.Bytes()) + `"}`
	case HS256:
		m = `{"k":"` + b64.EncodeToString(k.secret) + `","kty":"oct"}`
	}
	sum := sha256.Sum256([]byte(m))
	return b64.EncodeToString(sum[:])
}

func ecCoordinates(pub *ecdsa.PublicKey) (x, y []byte) {
	raw, _ := pub.Bytes() // 0x04 || X || Y, each 32 bytes; pub was checked when made
	return raw[1:33], raw[33:65]
}

// jsonKey is the public JWK form. Field order follows RFC 7517's examples.
type jsonKey struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}

// MarshalJSON writes the public JWK with "kid", "alg" and "use": "sig". It
// never writes a private member, and fails with ErrSecretKey for HS256.
func (k *PublicKey) MarshalJSON() ([]byte, error) {
	j := jsonKey{Use: "sig", Alg: string(k.alg), Kid: k.id}
	switch k.alg {
	case EdDSA:
		j.Kty, j.Crv, j.X = "OKP", "Ed25519", b64.EncodeToString(k.ed)
	case ES256:
		x, y := ecCoordinates(k.ec)
		j.Kty, j.Crv, j.X, j.Y = "EC", "P-256", b64.EncodeToString(x), b64.EncodeToString(y)
	case RS256:
		j.Kty = "RSA"
		j.N = b64.EncodeToString(k.rsa.N.Bytes())
		j.E = b64.EncodeToString(big.NewInt(int64(k.rsa.E)).Bytes())
	default:
		return nil, ErrSecretKey
	}
	return json.Marshal(j)
}

// Set is a JWK Set (RFC 7517 §5).
type Set struct {
	Keys []*PublicKey
}

// Lookup returns the key with ID kid, or nil.
func (s *Set) Lookup(kid string) *PublicKey {
	for _, k := range s.Keys {
		if k.id == kid {
			return k
		}
	}
	return nil
}

// MarshalJSON writes {"keys":[...]}.
func (s *Set) MarshalJSON() ([]byte, error) {
	keys := s.Keys
	if keys == nil {
		keys = []*PublicKey{}
	}
	return json.Marshal(struct {
		Keys []*PublicKey `json:"keys"`
	}{keys})
}

// ParseSet reads a JWK Set strictly (exact member names, no duplicates).
//
// Keys that are not for signing, whose type or curve waxseal does not support,
// or that carry no "alg" are skipped, as RFC 7517 §5 asks of keys a reader
// does not understand: waxseal binds every key to one algorithm and will not
// guess it. A key that claims a supported algorithm but is malformed, carries
// private members, or whose "kid" is not its RFC 7638 thumbprint makes the
// whole set an error, so a broken publisher is noticed rather than half
// trusted. Two keys with one "kid" are an error too.
func ParseSet(data []byte) (*Set, error) {
	d := strictjson.NewDecoder(data)
	set := &Set{}
	sawKeys := false
	err := d.Document(func(name []byte) error {
		if string(name) != "keys" {
			return d.Skip()
		}
		sawKeys = true
		return d.Array(func() error {
			k, err := parseKey(d)
			if err != nil || k == nil {
				return err
			}
			if set.Lookup(k.id) != nil {
				return fmt.Errorf("jwk: two keys with kid %q", k.id)
			}
			set.Keys = append(set.Keys, k)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("jwk: parsing key set: %w", err)
	}
	if !sawKeys {
		return nil, errors.New("jwk: parsing key set: no \"keys\" member")
	}
	return set, nil
}

// ParseKey reads one public JWK strictly. Unlike ParseSet it fails for a key
// it does not support.
func ParseKey(data []byte) (*PublicKey, error) {
	d := strictjson.NewDecoder(data)
	k, err := parseKey(d)
	if err == nil {
		err = d.End()
	}
	if err != nil {
		return nil, fmt.Errorf("jwk: parsing key: %w", err)
	}
	if k == nil {
		return nil, errors.New("jwk: parsing key: not a supported signature key")
	}
	return k, nil
}

// privateMembers are the JWK members that hold private key material
// (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
var privateMembers = map[string]bool{
	"d": true, "p": true, "q": true, "dp": true, "dq": true, "qi": true, "oth": true, "k": true,
}

// parseKey reads one JWK object. It returns nil, nil for a key to skip.
func parseKey(d *strictjson.Decoder) (*PublicKey, error) {
	m := map[string]string{}
	err := d.Object(func(name []byte) error {
		n := string(name)
		if privateMembers[n] {
			return fmt.Errorf("key has private member %q", n)
		}
		switch n {
		case "kty", "use", "alg", "kid", "crv", "x", "y", "n", "e":
			s, err := d.String()
			m[n] = s
			return err
		}
		return d.Skip() // key_ops, x5c and friends: never used to find or trust a key
	})
	if err != nil {
		return nil, err
	}
	if u, ok := m["use"]; ok && u != "sig" {
		return nil, nil
	}
	alg, err := ParseAlgorithm(m["alg"])
	if err != nil || alg == HS256 {
		return nil, nil
	}
	dec := func(member string) ([]byte, error) {
		v, ok := m[member]
		if !ok {
			return nil, fmt.Errorf("%s key has no %q", alg, member)
		}
		b, err := b64.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("%s key: member %q is not base64url: %w", alg, member, err)
		}
		return b, nil
	}
	var pub any
	switch alg {
	case EdDSA:
		if m["kty"] != "OKP" || m["crv"] != "Ed25519" {
			return nil, fmt.Errorf("EdDSA key must be an OKP key on Ed25519")
		}
		x, err := dec("x")
		if err != nil {
			return nil, err
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("Ed25519 key has %d bytes", len(x))
		}
		pub = ed25519.PublicKey(x)
	case ES256:
		if m["kty"] != "EC" || m["crv"] != "P-256" {
			return nil, fmt.Errorf("ES256 key must be an EC key on P-256")
		}
		x, err := dec("x")
		if err != nil {
			return nil, err
		}
		y, err := dec("y")
		if err != nil {
			return nil, err
		}
		if len(x) != 32 || len(y) != 32 {
			return nil, fmt.Errorf("P-256 coordinates must have 32 bytes")
		}
		p, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, fmt.Errorf("P-256 key: %w", err)
		}
		pub = p
	case RS256:
		if m["kty"] != "RSA" {
			return nil, fmt.Errorf("RS256 key must be an RSA key")
		}
		n, err := dec("n")
		if err != nil {
			return nil, err
		}
		e, err := dec("e")
		if err != nil {
			return nil, err
		}
		if len(e) == 0 || len(e) > 4 || e[0] == 0 || len(n) == 0 || n[0] == 0 {
			return nil, fmt.Errorf("RSA key has a non-minimal or invalid modulus or exponent")
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	k, err := NewPublicKey(alg, pub)
	if err != nil {
		return nil, err
	}
	if kid, ok := m["kid"]; !ok || kid != k.id {
		return nil, fmt.Errorf("key's kid %q is not its RFC 7638 thumbprint %q", m["kid"], k.id)
	}
	return k, nil
}
