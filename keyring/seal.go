package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/waxseal/waxseal/jwk"
)

// A sealed key is
//
//	version (1 byte) || nonce (12 bytes) || AES-256-GCM ciphertext and tag
//
// under a key derived from the master key with HKDF-SHA256. The additional
// data binds the blob to its record's kid and algorithm, so a sealed key
// copied onto another record does not open.
const (
	sealVersion = 1
	sealInfo    = "waxseal signing key v1" // HKDF info: names the purpose, so the master key can serve others
)

// sealer seals and opens private keys. It is safe for concurrent use.
type sealer struct {
	aead cipher.AEAD
}

func newSealer(m MasterKey) (*sealer, error) {
	if m.isZero() {
		return nil, errors.New("keyring: master key is zero (neither generated nor parsed)")
	}
	k, err := hkdf.Key(sha256.New, m.key[:], nil, sealInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("keyring: deriving sealing key: %w", err)
	}
	defer clear(k)
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return &sealer{aead: aead}, nil
}

// additionalData is the version, then the algorithm prefixed with its length
// (so no kid can be read as part of it), then the kid.
func additionalData(kid string, alg jwk.Algorithm) []byte {
	ad := make([]byte, 0, 2+len(alg)+len(kid))
	ad = append(ad, sealVersion, byte(len(alg)))
	ad = append(ad, alg...)
	return append(ad, kid...)
}

// seal encrypts plaintext for the record with the given kid and algorithm.
func (s *sealer) seal(rand io.Reader, kid string, alg jwk.Algorithm, plaintext []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	out := make([]byte, 1+n, 1+n+len(plaintext)+s.aead.Overhead())
	out[0] = sealVersion
	if _, err := io.ReadFull(rand, out[1:]); err != nil {
		return nil, fmt.Errorf("keyring: sealing key %s: %w", kid, err)
	}
	return s.aead.Seal(out, out[1:], plaintext, additionalData(kid, alg)), nil
}

// open decrypts a blob made by seal for the same kid and algorithm.
func (s *sealer) open(kid string, alg jwk.Algorithm, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() {
		return nil, fmt.Errorf("keyring: unsealing key %s: sealed key is truncated", kid)
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("keyring: unsealing key %s: unknown sealing version %d", kid, sealed[0])
	}
	pt, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], additionalData(kid, alg))
	if err != nil {
		// GCM cannot tell these apart, and neither can we.
		return nil, fmt.Errorf("keyring: unsealing key %s: wrong master key, or the record was altered", kid)
	}
	return pt, nil
}

// sealKey seals a private key for its own record.
func (s *sealer) sealKey(rand io.Reader, k *jwk.PrivateKey) ([]byte, error) {
	der, err := k.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("keyring: encoding key %s: %w", k.ID(), err)
	}
	defer clear(der)
	return s.seal(rand, k.ID(), k.Algorithm(), der)
}

// openKey unseals a record's private key and checks that it is the key the
// record names.
func (s *sealer) openKey(rec Record) (*jwk.PrivateKey, error) {
	der, err := s.open(rec.ID, rec.Algorithm, rec.Sealed)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	k, err := jwk.ParsePrivateKey(rec.Algorithm, der)
	if err != nil {
		return nil, fmt.Errorf("keyring: unsealing key %s: %w", rec.ID, err)
	}
	if k.ID() != rec.ID {
		return nil, fmt.Errorf("keyring: unsealing key %s: sealed key has kid %s", rec.ID, k.ID())
	}
	return k, nil
}
