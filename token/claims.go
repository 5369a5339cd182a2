package token

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/waxseal/waxseal/internal/strictjson"
	"github.com/waxseal/waxseal/jwk"
)

// Type is the "typ" header of every waxseal access token (RFC 9068 §2.1).
// Explicit typing keeps an ID token or any other JWT signed by the same key
// from being accepted as an access token (RFC 8725 §3.11).
const Type = "at+jwt"

// Claims are the claims of an access token (RFC 9068 §2.2). A *Claims
// returned by Verify may be shared with other callers: treat it as read-only.
type Claims struct {
	Issuer    string    // iss
	Subject   string    // sub: the user, or the client for client_credentials
	Audience  []string  // aud
	Expiry    time.Time // exp
	IssuedAt  time.Time // iat
	NotBefore time.Time // nbf; zero when absent
	ID        string    // jti: 128 bits of randomness, the handle for revoking one token
	ClientID  string    // client_id
	SessionID string    // sid: the login session, empty when there is none
	Scope     string    // scope: space-separated
	Roles     []string  // roles

	// KeyID is the "kid" header of the verified token: the key that signed it.
	// Verify fills it so a denylist can reject every token of a revoked key.
	KeyID string
}

// HasRole reports whether the token carries role r.
func (c *Claims) HasRole(r string) bool {
	for _, x := range c.Roles {
		if x == r {
			return true
		}
	}
	return false
}

// HasScope reports whether the space-separated scope contains s.
func (c *Claims) HasScope(s string) bool {
	if s == "" {
		return false
	}
	for rest := c.Scope; rest != ""; {
		var w string
		w, rest, _ = strings.Cut(rest, " ")
		if w == s {
			return true
		}
	}
	return false
}

// NewID returns a fresh "jti": 128 random bits, base64url.
func NewID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// header is what Mint writes. Field order is stable so tokens are
// reproducible for one key and claims.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// claimsJSON is the wire form Mint writes. NumericDates are integers.
type claimsJSON struct {
	Iss      string   `json:"iss"`
	Sub      string   `json:"sub"`
	Aud      any      `json:"aud"`
	Exp      int64    `json:"exp"`
	Iat      int64    `json:"iat"`
	Nbf      int64    `json:"nbf,omitempty"`
	Jti      string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Sid      string   `json:"sid,omitempty"`
	Scope    string   `json:"scope,omitempty"`
	Roles    []string `json:"roles,omitempty"`
}

// Mint seals c with key as a compact JWS. Every claim that Verify requires
// must be set: iss, sub, aud, exp, iat, jti and client_id. Times are written
// as whole seconds; exp after iat.
func Mint(key *jwk.PrivateKey, c *Claims) (string, error) {
	switch {
	case c.Issuer == "" || c.Subject == "" || len(c.Audience) == 0 || c.ID == "" || c.ClientID == "":
		return "", errors.New("token: mint: iss, sub, aud, jti and client_id are required")
	case c.Expiry.IsZero() || c.IssuedAt.IsZero():
		return "", errors.New("token: mint: exp and iat are required")
	case !c.Expiry.After(c.IssuedAt):
		return "", errors.New("token: mint: exp must be after iat")
	}
	cj := claimsJSON{
		Iss: c.Issuer, Sub: c.Subject, Exp: c.Expiry.Unix(), Iat: c.IssuedAt.Unix(),
		Jti: c.ID, ClientID: c.ClientID, Sid: c.SessionID, Scope: c.Scope, Roles: c.Roles,
	}
	if !c.NotBefore.IsZero() {
		cj.Nbf = c.NotBefore.Unix()
	}
	// A single audience is written as a string, as most verifiers expect.
	if len(c.Audience) == 1 {
		cj.Aud = c.Audience[0]
	} else {
		cj.Aud = c.Audience
	}
	return sign(key, header{Alg: string(key.Algorithm()), Kid: key.ID(), Typ: Type}, cj)
}

// sign writes a compact JWS of any header and payload.
func sign(key *jwk.PrivateKey, h, payload any) (string, error) {
	hj, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("token: encoding header: %w", err)
	}
	pj, err := json.Marshal(payload)
	if err != nil {
		return "", fmt.Errorf("token: encoding claims: %w", err)
	}
	enc := base64.RawURLEncoding
	n := enc.EncodedLen(len(hj)) + 1 + enc.EncodedLen(len(pj))
	buf := make([]byte, n, n+1+enc.EncodedLen(512))
	enc.Encode(buf, hj)
	buf[enc.EncodedLen(len(hj))] = '.'
	enc.Encode(buf[enc.EncodedLen(len(hj))+1:], pj)
	sig, err := key.Sign(buf)
	if err != nil {
		return "", fmt.Errorf("token: signing: %w", err)
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// Header is the protected header of a token.
type Header struct {
	Alg  string
	Kid  string
	Typ  string
	Crit []string
}

// parseHeader reads the JOSE header strictly. "jwk", "jku", "x5u", "x5c"
// and the like are read past and never used: a key is never taken from the
// token it should check. "zip" (a compressed payload, RFC 7516 §4.1.3) and
// "cty" (a nested token, RFC 7515 §4.1.10) change how the payload is read;
// waxseal never issues either, so a token carrying one is refused rather
// than read in a way its signer may not have meant.
func parseHeader(d *strictjson.Decoder, data []byte) (Header, error) {
	var h Header
	var sawCrit bool
	d.Reset(data)
	err := d.Document(func(name []byte) error {
		var err error
		switch string(name) {
		case "alg":
			h.Alg, err = d.String()
		case "kid":
			h.Kid, err = d.String()
		case "typ":
			h.Typ, err = d.String()
		case "crit":
			sawCrit = true
			h.Crit, err = d.StringArray()
		case "zip", "cty":
			return fmt.Errorf("header parameter %q not accepted", name)
		default:
			err = d.Skip()
		}
		return err
	})
	if err != nil {
		return h, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	if sawCrit && len(h.Crit) == 0 {
		return h, fmt.Errorf("%w: header: empty crit", ErrMalformed)
	}
	return h, nil
}

// parseClaims reads the claims strictly into c.
func parseClaims(d *strictjson.Decoder, data []byte, c *Claims) error {
	var sawExp, sawIat bool
	d.Reset(data)
	err := d.Document(func(name []byte) error {
		var err error
		switch string(name) {
		case "iss":
			c.Issuer, err = d.String()
		case "sub":
			c.Subject, err = d.String()
		case "aud":
			c.Audience, err = d.StringOrArray()
		case "exp":
			sawExp = true
			c.Expiry, err = numericDate(d)
		case "iat":
			sawIat = true
			c.IssuedAt, err = numericDate(d)
		case "nbf":
			c.NotBefore, err = numericDate(d)
		case "jti":
			c.ID, err = d.String()
		case "client_id":
			c.ClientID, err = d.String()
		case "sid":
			c.SessionID, err = d.String()
		case "scope":
			c.Scope, err = d.String()
		case "roles":
			c.Roles, err = d.StringArray()
		default:
			err = d.Skip()
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: claims: %w", ErrMalformed, err)
	}
	switch {
	case !sawExp:
		return fmt.Errorf("%w: claims: no exp", ErrMalformed)
	case !sawIat:
		return fmt.Errorf("%w: claims: no iat", ErrMalformed)
	case c.Subject == "":
		return fmt.Errorf("%w: claims: no sub", ErrMalformed)
	case c.ID == "":
		return fmt.Errorf("%w: claims: no jti", ErrMalformed)
	case c.ClientID == "":
		return fmt.Errorf("%w: claims: no client_id", ErrMalformed)
	}
	return nil
}

// maxNumericDate keeps NumericDates inside what time.Time and int64
// nanoseconds handle without overflow (year 2262).
const maxNumericDate = math.MaxInt64 / int64(time.Second)

// numericDate reads a NumericDate: a JSON number of seconds since the epoch,
// possibly fractional (RFC 7519 §2), never a string.
func numericDate(d *strictjson.Decoder) (time.Time, error) {
	f, err := d.Number()
	if err != nil {
		return time.Time{}, err
	}
	if f < 0 || f > float64(maxNumericDate) {
		return time.Time{}, errors.New("NumericDate out of range " + strconv.FormatFloat(f, 'g', -1, 64))
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}
