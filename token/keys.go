package token

import (
	"context"

	"github.com/waxseal/waxseal/jwk"
)

// KeySource finds the key that verifies a token by the token's "kid". It
// returns an error wrapping ErrUnknownKey when it has no such key. It is
// never handed anything else from the token: keys are never taken from a
// token's own "jwk", "jku", "x5u" or "x5c" headers.
//
// Key is called on every first sight of a token, so it must answer from
// memory when it can; ctx bounds any fetch it starts.
type KeySource interface {
	Key(ctx context.Context, kid string) (*jwk.PublicKey, error)
}
