package token

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"time"

	"github.com/waxseal/waxseal/jwk"
)

// IDType is the "typ" header of ID tokens. OpenID Connect Core names none;
// "JWT" is what relying parties expect, and it differs from Type, so that an
// ID token is never accepted as an access token nor the other way round
// (RFC 8725 §3.11).
const IDType = "JWT"

// IDClaims are the claims of an OpenID Connect ID token (Core §2).
type IDClaims struct {
	Issuer            string    // iss
	Subject           string    // sub
	Audience          []string  // aud: the client ID
	Expiry            time.Time // exp
	IssuedAt          time.Time // iat
	AuthTime          time.Time // auth_time: when the user last entered a password
	Nonce             string    // nonce, echoed from the authorization request
	AccessTokenHash   string    // at_hash
	SessionID         string    // sid: the issuer session
	AuthorizedParty   string    // azp
	PreferredUsername string    // preferred_username, with scope profile
}

type idClaimsJSON struct {
	Iss               string `json:"iss"`
	Sub               string `json:"sub"`
	Aud               any    `json:"aud"`
	Exp               int64  `json:"exp"`
	Iat               int64  `json:"iat"`
	AuthTime          int64  `json:"auth_time,omitempty"`
	Nonce             string `json:"nonce,omitempty"`
	AtHash            string `json:"at_hash,omitempty"`
	Sid               string `json:"sid,omitempty"`
	Azp               string `json:"azp,omitempty"`
	PreferredUsername string `json:"preferred_username,omitempty"`
}

// MintID seals an ID token with key. iss, sub, aud, exp and iat are
// required.
func MintID(key *jwk.PrivateKey, c *IDClaims) (string, error) {
	switch {
	case c.Issuer == "" || c.Subject == "" || len(c.Audience) == 0:
		return "", errors.New("token: mint ID token: iss, sub and aud are required")
	case c.IssuedAt.IsZero() || !c.Expiry.After(c.IssuedAt):
		return "", errors.New("token: mint ID token: iat is required and exp must be after it")
	}
	cj := idClaimsJSON{Iss: c.Issuer, Sub: c.Subject, Exp: c.Expiry.Unix(), Iat: c.IssuedAt.Unix(),
		Nonce: c.Nonce, AtHash: c.AccessTokenHash, Sid: c.SessionID, Azp: c.AuthorizedParty,
		PreferredUsername: c.PreferredUsername}
	if !c.AuthTime.IsZero() {
		cj.AuthTime = c.AuthTime.Unix()
	}
	if len(c.Audience) == 1 {
		cj.Aud = c.Audience[0]
	} else {
		cj.Aud = c.Audience
	}
	return sign(key, header{Alg: string(key.Algorithm()), Kid: key.ID(), Typ: IDType}, cj)
}

// AccessTokenHash is the at_hash of an access token for an ID token
// signed with alg (OpenID Connect Core §3.1.3.6): the left half of the
// hash the algorithm uses, base64url. EdDSA with Ed25519 uses SHA-512.
func AccessTokenHash(alg jwk.Algorithm, accessToken string) string {
	var h hash.Hash
	if alg == jwk.EdDSA {
		h = sha512.New()
	} else {
		h = sha256.New()
	}
	h.Write([]byte(accessToken))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// VerifyIDTokenHint checks an ID token the issuer issued, as the
// end-session endpoint receives it in id_token_hint: the signature by a
// key of keys, typ "JWT" (an access token is refused), and iss. Its expiry
// is NOT checked: OpenID Connect RP-Initiated Logout §2 accepts an expired
// hint, which still names the user, the client and the session.
func VerifyIDTokenHint(ctx context.Context, keys KeySource, issuer, raw string) (*IDClaims, error) {
	if len(raw) > DefaultMaxTokenSize {
		return nil, fmt.Errorf("%w: %d bytes is too long", ErrMalformed, len(raw))
	}
	var sc scratch
	_, claims, err := openJWS(ctx, keys, raw, &sc, IDType)
	if err != nil {
		return nil, err
	}
	d := &sc.dec
	c := &IDClaims{}
	d.Reset(claims)
	err = d.Document(func(name []byte) error {
		var err error
		switch string(name) {
		case "iss":
			c.Issuer, err = d.String()
		case "sub":
			c.Subject, err = d.String()
		case "aud":
			c.Audience, err = d.StringOrArray()
		case "exp":
			c.Expiry, err = numericDate(d)
		case "iat":
			c.IssuedAt, err = numericDate(d)
		case "sid":
			c.SessionID, err = d.String()
		case "azp":
			c.AuthorizedParty, err = d.String()
		default:
			err = d.Skip()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: claims: %w", ErrMalformed, err)
	}
	if c.Issuer != issuer {
		return nil, fmt.Errorf("%w: %q", ErrIssuer, c.Issuer)
	}
	if c.Subject == "" || len(c.Audience) == 0 {
		return nil, fmt.Errorf("%w: claims: no sub or aud", ErrMalformed)
	}
	return c, nil
}
