package jwk

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// Algorithm is a JWS "alg" value (RFC 7518) that waxseal signs and verifies.
type Algorithm string

// The algorithms waxseal supports. EdDSA is the default: small keys, small
// signatures, fast verification and no nonce to get wrong.
const (
	EdDSA Algorithm = "EdDSA" // Ed25519 (RFC 8037)
	ES256 Algorithm = "ES256" // ECDSA P-256 with SHA-256
	RS256 Algorithm = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256, modulus of at least 2048 bits
	HS256 Algorithm = "HS256" // HMAC SHA-256 with a secret of at least 256 bits; one service only
)

// Minimum sizes of key material.
const (
	MinRSABits     = 2048
	MinSecretBytes = 32
)

// ErrUnsupportedAlgorithm is returned for an "alg" waxseal does not implement
// ("none" included).
var ErrUnsupportedAlgorithm = errors.New("jwk: unsupported algorithm")

// ParseAlgorithm returns the Algorithm named s, matched exactly.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch a := Algorithm(s); a {
	case EdDSA, ES256, RS256, HS256:
		return a, nil
	}
	return "", fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, s)
}

// Symmetric reports whether a signs and verifies with one shared secret.
// Such keys are never published.
func (a Algorithm) Symmetric() bool { return a == HS256 }

// PublicKey checks signatures made with one algorithm. For HS256 it holds the
// shared secret, so it must be kept as carefully as the signing key; its JSON
// form refuses to reveal it.
type PublicKey struct {
	id     string
	alg    Algorithm
	ed     ed25519.PublicKey
	ec     *ecdsa.PublicKey
	rsa    *rsa.PublicKey
	secret []byte
}

// NewPublicKey binds key to alg. key is an ed25519.PublicKey, an
// *ecdsa.PublicKey on P-256, an *rsa.PublicKey of at least 2048 bits, or a
// []byte secret of at least 32 bytes for HS256. The key ID is its RFC 7638
// thumbprint.
func NewPublicKey(alg Algorithm, key crypto.PublicKey) (*PublicKey, error) {
	k := &PublicKey{alg: alg}
	switch alg {
	case EdDSA:
		ed, ok := key.(ed25519.PublicKey)
		if !ok || len(ed) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("jwk: %s needs an Ed25519 public key, got %T", alg, key)
		}
		k.ed = append(ed25519.PublicKey(nil), ed...)
	case ES256:
		ec, ok := key.(*ecdsa.PublicKey)
		if !ok || ec.Curve != elliptic.P256() {
			return nil, fmt.Errorf("jwk: %s needs a P-256 public key, got %T", alg, key)
		}
		// Round-trip through the uncompressed encoding: it rejects points
		// that are not on the curve.
		raw, err := ec.Bytes()
		if err != nil {
			return nil, fmt.Errorf("jwk: invalid P-256 public key: %w", err)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
		if err != nil {
			return nil, fmt.Errorf("jwk: invalid P-256 public key: %w", err)
		}
		k.ec = pub
	case RS256:
		r, ok := key.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("jwk: %s needs an RSA public key, got %T", alg, key)
		}
		if r.N == nil || r.N.BitLen() < MinRSABits {
			return nil, fmt.Errorf("jwk: RSA key must have at least %d bits", MinRSABits)
		}
		if r.E < 3 || r.E%2 == 0 {
			return nil, fmt.Errorf("jwk: invalid RSA public exponent %d", r.E)
		}
		k.rsa = &rsa.PublicKey{N: new(big.Int).Set(r.N), E: r.E}
	case HS256:
		s, ok := key.([]byte)
		if !ok {
			return nil, fmt.Errorf("jwk: %s needs a []byte secret, got %T", alg, key)
		}
		if len(s) < MinSecretBytes {
			return nil, fmt.Errorf("jwk: HS256 secret must have at least %d bytes", MinSecretBytes)
		}
		k.secret = append([]byte(nil), s...)
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, alg)
	}
	k.id = k.thumbprint()
	return k, nil
}

// ID returns the key ID, the RFC 7638 thumbprint of the key.
func (k *PublicKey) ID() string { return k.id }

// Algorithm returns the one algorithm this key verifies.
func (k *PublicKey) Algorithm() Algorithm { return k.alg }

// Key returns the key material: ed25519.PublicKey, *ecdsa.PublicKey,
// *rsa.PublicKey, or a copy of the HS256 secret.
func (k *PublicKey) Key() crypto.PublicKey {
	switch {
	case k.ed != nil:
		return k.ed
	case k.ec != nil:
		return k.ec
	case k.rsa != nil:
		return k.rsa
	}
	return append([]byte(nil), k.secret...)
}

// Equal reports whether k and o are the same key for the same algorithm. It
// compares in constant time.
func (k *PublicKey) Equal(o *PublicKey) bool {
	if k == nil || o == nil {
		return k == o
	}
	return k.alg == o.alg && subtle.ConstantTimeCompare([]byte(k.id), []byte(o.id)) == 1
}

// Verify reports whether sig is a valid signature of signingInput under this
// key and its algorithm.
func (k *PublicKey) Verify(signingInput, sig []byte) bool {
	switch k.alg {
	case EdDSA:
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(k.ed, signingInput, sig)
	case ES256:
		// JWS carries R and S as two fixed 32-byte big-endian integers
		// (RFC 7518 §3.4), not as ASN.1.
		if len(sig) != 64 {
			return false
		}
		h := sha256.Sum256(signingInput)
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k.ec, h[:], r, s)
	case RS256:
		if len(sig) != k.rsa.Size() {
			return false
		}
		h := sha256.Sum256(signingInput)
		return rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, h[:], sig) == nil
	case HS256:
		if len(sig) != sha256.Size {
			return false
		}
		var sum [sha256.Size]byte
		m := hmac.New(sha256.New, k.secret)
		m.Write(signingInput)
		return hmac.Equal(m.Sum(sum[:0]), sig)
	}
	return false
}

// PrivateKey signs with one algorithm. Only the issuer holds these.
type PrivateKey struct {
	pub    *PublicKey
	signer crypto.Signer // nil for HS256
	der    []byte        // PKCS #8, or the raw HS256 secret
}

// Generate makes a new key for alg. RSA keys have 2048 bits; HS256 secrets
// 256 bits. A nil random source means crypto/rand.
func Generate(alg Algorithm, random io.Reader) (*PrivateKey, error) {
	if random == nil {
		random = rand.Reader
	}
	var key any
	var err error
	switch alg {
	case EdDSA:
		_, key, err = ed25519.GenerateKey(random)
	case ES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), random)
	case RS256:
		key, err = rsa.GenerateKey(random, MinRSABits)
	case HS256:
		s := make([]byte, MinSecretBytes)
		_, err = io.ReadFull(random, s)
		key = s
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, alg)
	}
	if err != nil {
		return nil, fmt.Errorf("jwk: generating %s key: %w", alg, err)
	}
	return NewPrivateKey(alg, key)
}

// NewPrivateKey binds key to alg. key is an ed25519.PrivateKey, an
// *ecdsa.PrivateKey on P-256, an *rsa.PrivateKey of at least 2048 bits, or a
// []byte secret of at least 32 bytes for HS256.
func NewPrivateKey(alg Algorithm, key any) (*PrivateKey, error) {
	k := &PrivateKey{}
	var pub crypto.PublicKey
	switch alg {
	case HS256:
		s, ok := key.([]byte)
		if !ok {
			return nil, fmt.Errorf("jwk: %s needs a []byte secret, got %T", alg, key)
		}
		pub = s
		k.der = append([]byte(nil), s...)
	default:
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("jwk: %s needs a private key, got %T", alg, key)
		}
		switch key.(type) {
		case ed25519.PrivateKey, *ecdsa.PrivateKey, *rsa.PrivateKey:
		default:
			return nil, fmt.Errorf("jwk: unsupported private key type %T", key)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, fmt.Errorf("jwk: encoding private key: %w", err)
		}
		k.signer, k.der, pub = signer, der, signer.Public()
	}
	p, err := NewPublicKey(alg, pub)
	if err != nil {
		return nil, err
	}
	k.pub = p
	return k, nil
}

// ParsePrivateKey reads a key written by MarshalBinary and binds it to alg.
func ParsePrivateKey(alg Algorithm, data []byte) (*PrivateKey, error) {
	if alg == HS256 {
		return NewPrivateKey(alg, data)
	}
	key, err := x509.ParsePKCS8PrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("jwk: parsing private key: %w", err)
	}
	return NewPrivateKey(alg, key)
}

// MarshalBinary returns the private key as PKCS #8 DER, or the raw secret for
// HS256. The result is secret: store it only encrypted.
func (k *PrivateKey) MarshalBinary() ([]byte, error) {
	return append([]byte(nil), k.der...), nil
}

// Public returns the key that verifies this key's signatures.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// ID returns the key ID shared with the public key.
func (k *PrivateKey) ID() string { return k.pub.id }

// Algorithm returns the one algorithm this key signs with.
func (k *PrivateKey) Algorithm() Algorithm { return k.pub.alg }

// Sign returns the JWS signature of signingInput.
func (k *PrivateKey) Sign(signingInput []byte) ([]byte, error) {
	switch k.pub.alg {
	case EdDSA:
		return k.signer.Sign(nil, signingInput, crypto.Hash(0))
	case ES256:
		h := sha256.Sum256(signingInput)
		r, s, err := ecdsa.Sign(rand.Reader, k.signer.(*ecdsa.PrivateKey), h[:])
		if err != nil {
			return nil, fmt.Errorf("jwk: signing: %w", err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig, nil
	case RS256:
		h := sha256.Sum256(signingInput)
		return rsa.SignPKCS1v15(nil, k.signer.(*rsa.PrivateKey), crypto.SHA256, h[:])
	case HS256:
		m := hmac.New(sha256.New, k.der)
		m.Write(signingInput)
		return m.Sum(nil), nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, k.pub.alg)
}
