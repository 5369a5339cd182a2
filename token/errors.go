package token

import "errors"

// The reasons a token is rejected. Verify wraps one of these with detail for
// the log; callers branch with errors.Is and show clients only a short
// message, never the detail (it may quote the token).
var (
	ErrMalformed   = errors.New("token: malformed")
	ErrSignature   = errors.New("token: bad signature")
	ErrExpired     = errors.New("token: expired")
	ErrNotYetValid = errors.New("token: not yet valid")
	ErrIssuer      = errors.New("token: wrong issuer")
	ErrAudience    = errors.New("token: wrong audience")
	ErrType        = errors.New("token: wrong type")
	ErrUnknownKey  = errors.New("token: unknown key")
	ErrRevoked     = errors.New("token: revoked")
)
