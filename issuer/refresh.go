package issuer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// Refresh tokens are 256 random bits, base64url: opaque to clients, and
// stored only as their SHA-256 digest. A guess has no better odds than a
// collision, so the digest needs no salt and no slow hash.
const refreshTokenBytes = 32

var refreshEncoding = base64.RawURLEncoding.Strict()

// newRefreshToken returns a fresh token and its digest.
func newRefreshToken() (tok string, digest []byte) {
	var raw [refreshTokenBytes]byte
	rand.Read(raw[:])
	sum := sha256.Sum256(raw[:])
	return refreshEncoding.EncodeToString(raw[:]), sum[:]
}

// parseRefreshToken returns the raw bytes and digest of a presented token,
// or false when it cannot be one of ours.
func parseRefreshToken(tok string) (raw, digest []byte, ok bool) {
	if len(tok) != refreshEncoding.EncodedLen(refreshTokenBytes) {
		return nil, nil, false
	}
	raw, err := refreshEncoding.DecodeString(tok)
	if err != nil || len(raw) != refreshTokenBytes {
		return nil, nil, false
	}
	sum := sha256.Sum256(raw)
	return raw, sum[:], true
}

// successorAEAD derives the cipher that seals a token's successor from the
// token itself. The database holds only the digest of the presented token,
// so whoever reads the database cannot open the successor; a client that
// retries with the presented token can.
func successorAEAD(presented []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, presented, nil, "waxseal refresh successor v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealSuccessor encrypts successor under a key derived from the presented
// token, bound to the presented token's digest.
func sealSuccessor(presented, digest []byte, successor string) ([]byte, error) {
	aead, err := successorAEAD(presented)
	if err != nil {
		return nil, fmt.Errorf("issuer: sealing successor: %w", err)
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(successor)+aead.Overhead())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, []byte(successor), digest), nil
}

// openSuccessor reverses sealSuccessor.
func openSuccessor(presented, digest, sealed []byte) (string, error) {
	aead, err := successorAEAD(presented)
	if err != nil {
		return "", fmt.Errorf("issuer: opening successor: %w", err)
	}
	if len(sealed) < aead.NonceSize() {
		return "", errors.New("issuer: opening successor: sealed value too short")
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], digest)
	if err != nil {
		return "", fmt.Errorf("issuer: opening successor: %w", err)
	}
	return string(plain), nil
}
