// Package keyset supplies verifiers with the issuer's public keys.
//
// Static holds a fixed set, for tests and for deployments that ship the
// JWKS as a file. Remote fetches the issuer's JWKS over HTTP and keeps it
// fresh. Both implement token.KeySource. Neither ever takes a key from a
// token: a key is trusted because the configured source published it.
package keyset

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/waxseal/waxseal/jwk"
	"github.com/waxseal/waxseal/token"
)

// Static is a key set that never changes.
type Static struct {
	set *jwk.Set
}

var _ token.KeySource = (*Static)(nil)

// NewStatic returns a key source answering from set. Later changes to set
// do not affect it.
func NewStatic(set *jwk.Set) *Static {
	if set == nil {
		panic("keyset: NewStatic with a nil set")
	}
	return &Static{set: &jwk.Set{Keys: slices.Clone(set.Keys)}}
}

// LoadFile reads a JWKS file. A file with no key waxseal can use is an error:
// a verifier holding no keys would reject every token, which is almost
// certainly a mistake in deployment.
func LoadFile(path string) (*Static, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keyset: %w", err)
	}
	set, err := jwk.ParseSet(data)
	if err != nil {
		return nil, fmt.Errorf("keyset: %s: %w", path, err)
	}
	if len(set.Keys) == 0 {
		return nil, fmt.Errorf("keyset: %s: %w", path, errNoKeys)
	}
	return &Static{set: set}, nil
}

// errNoKeys is reported for a key set with no usable key.
var errNoKeys = errors.New("no usable signature keys")

// Key returns the key with ID kid, or an error wrapping token.ErrUnknownKey.
func (s *Static) Key(_ context.Context, kid string) (*jwk.PublicKey, error) {
	if k := s.set.Lookup(kid); k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("keyset: kid %q: %w", kid, token.ErrUnknownKey)
}
