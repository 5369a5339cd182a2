package token

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/waxseal/waxseal/internal/strictjson"
	"github.com/waxseal/waxseal/jwk"
)

// Defaults and limits of Config.
const (
	DefaultLeeway       = 30 * time.Second
	MaxLeeway           = 5 * time.Minute
	DefaultMaxTokenSize = 8 << 10
	DefaultCacheSize    = 16 << 10
)

// Denylist reports whether a verified token has been revoked: by its "jti",
// its session "sid", a not-before time for its "sub", or its signing key.
// It is asked on every call, cache hits included, so it must answer from
// memory.
type Denylist interface {
	Revoked(c *Claims) bool
}

// Config says what a Verifier accepts. The zero value of each optional
// field gives the documented default.
type Config struct {
	// Issuer is the exact "iss" every token must carry. Required.
	Issuer string
	// Audience is this service's name; a token's "aud" must contain it
	// exactly. Required: a token minted for another service is not for us.
	Audience string
	// InsecureSkipAudienceCheck accepts a token whatever its "aud". It is
	// for inspecting tokens (the CLI's "token verify" without --audience),
	// never for a service deciding whom to serve.
	InsecureSkipAudienceCheck bool
	// Leeway absorbs clock skew when checking exp, nbf and iat. Zero means
	// DefaultLeeway; negative means none; at most MaxLeeway.
	Leeway time.Duration
	// MaxTokenSize caps the token's length, checked before any decoding.
	// Zero means DefaultMaxTokenSize.
	MaxTokenSize int
	// CacheSize bounds the cache of verified tokens. Zero means
	// DefaultCacheSize; negative disables the cache.
	CacheSize int
	// Denylist, if set, is asked about every token.
	Denylist Denylist
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verifier checks access tokens: strict compact JWS parsing, a key found
// only by "kid" in its KeySource, the key's own algorithm, and the claims
// rules of RFC 9068 and RFC 8725. A token that passed is remembered until it
// expires, so the next sight of it costs a map lookup and the denylist check.
// A Verifier is safe for concurrent use.
type Verifier struct {
	keys     KeySource
	issuer   string
	audience string
	skipAud  bool
	leeway   time.Duration
	maxSize  int
	denylist Denylist
	now      func() time.Time
	cache    *cache // nil when disabled
}

// NewVerifier returns a Verifier that finds keys in keys.
func NewVerifier(keys KeySource, cfg Config) (*Verifier, error) {
	if keys == nil {
		return nil, errors.New("token: no key source")
	}
	if cfg.Issuer == "" {
		return nil, errors.New("token: Config.Issuer is required")
	}
	if cfg.Audience == "" && !cfg.InsecureSkipAudienceCheck {
		return nil, errors.New("token: Config.Audience is required")
	}
	v := &Verifier{
		keys: keys, issuer: cfg.Issuer, audience: cfg.Audience, skipAud: cfg.InsecureSkipAudienceCheck, leeway: cfg.Leeway,
		maxSize: cfg.MaxTokenSize, denylist: cfg.Denylist, now: cfg.Now,
	}
	switch {
	case v.leeway == 0:
		v.leeway = DefaultLeeway
	case v.leeway < 0:
		v.leeway = 0
	case v.leeway > MaxLeeway:
		return nil, fmt.Errorf("token: leeway %v is over the maximum %v", cfg.Leeway, MaxLeeway)
	}
	if v.maxSize <= 0 {
		v.maxSize = DefaultMaxTokenSize
	}
	if v.now == nil {
		v.now = time.Now
	}
	switch {
	case cfg.CacheSize == 0:
		v.cache = newCache(DefaultCacheSize)
	case cfg.CacheSize > 0:
		v.cache = newCache(cfg.CacheSize)
	}
	return v, nil
}

// Verify checks raw and returns its claims. Errors wrap one of the package's
// sentinels; their text may quote token contents, so show clients only the
// sentinel's meaning.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	if len(raw) > v.maxSize {
		return nil, fmt.Errorf("%w: %d bytes is over the limit of %d", ErrMalformed, len(raw), v.maxSize)
	}
	now := v.now()
	if v.cache != nil {
		if c, until, ok := v.cache.get(raw); ok {
			if !now.Before(until) {
				return nil, fmt.Errorf("%w: at %v", ErrExpired, c.Expiry)
			}
			return v.checkRevoked(c)
		}
	}
	var gen uint64
	if v.cache != nil {
		gen = v.cache.generation()
	}
	c, err := v.verifyCold(ctx, raw, now)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		v.cache.put(raw, c, c.Expiry.Add(v.leeway), now, gen)
	}
	return v.checkRevoked(c)
}

func (v *Verifier) checkRevoked(c *Claims) (*Claims, error) {
	if v.denylist != nil && v.denylist.Revoked(c) {
		return nil, fmt.Errorf("%w: jti %q", ErrRevoked, c.ID)
	}
	return c, nil
}

// ForgetKey drops every cached token signed by kid. A key set calls it when
// a key is retired or compromised, so the cache never outlives the key.
func (v *Verifier) ForgetKey(kid string) {
	if v.cache != nil {
		v.cache.forgetKey(kid)
	}
}

// scratch holds the buffers of one cold verification.
type scratch struct {
	dec    strictjson.Decoder
	header []byte
	claims []byte
	sig    []byte
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// b64 decodes canonical unpadded base64url: Strict rejects non-zero padding
// bits, and splitToken has already rejected the CR and LF that the decoder
// would otherwise skip.
var b64 = base64.RawURLEncoding.Strict()

// isB64URL marks the base64url alphabet.
var isB64URL = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		t[c] = true
	}
	return t
}()

// splitToken splits a compact JWS into its three parts and checks that each
// is made only of base64url characters.
func splitToken(raw string) (header, payload, sig string, err error) {
	header, rest, ok1 := strings.Cut(raw, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(sig, '.') >= 0 {
		return "", "", "", fmt.Errorf("%w: not a compact JWS of three parts", ErrMalformed)
	}
	if header == "" || payload == "" || sig == "" {
		return "", "", "", fmt.Errorf("%w: empty part", ErrMalformed)
	}
	for i := 0; i < len(raw); i++ {
		if !isB64URL[raw[i]] && raw[i] != '.' {
			return "", "", "", fmt.Errorf("%w: character %q at offset %d is not base64url", ErrMalformed, raw[i], i)
		}
	}
	return header, payload, sig, nil
}

func decodePart(dst []byte, part, what string) ([]byte, error) {
	dst = slices.Grow(dst[:0], b64.DecodedLen(len(part)))[:b64.DecodedLen(len(part))]
	n, err := b64.Decode(dst, []byte(part))
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not canonical base64url: %w", ErrMalformed, what, err)
	}
	return dst[:n], nil
}

func (v *Verifier) verifyCold(ctx context.Context, raw string, now time.Time) (*Claims, error) {
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	kid, claims, err := openJWS(ctx, v.keys, raw, s, Type)
	if err != nil {
		return nil, err
	}
	c := &Claims{KeyID: kid}
	if err := parseClaims(&s.dec, claims, c); err != nil {
		return nil, err
	}
	if err := v.checkClaims(c, now); err != nil {
		return nil, err
	}
	return c, nil
}

// openJWS checks a compact JWS's form, its header (typ must be typ), its key
// (found only by kid in keys, and of the header's algorithm) and its
// signature, and only then returns its claims, decoded into s.claims.
func openJWS(ctx context.Context, keys KeySource, raw string, s *scratch, typ string) (kid string, claims []byte, err error) {
	hPart, pPart, sPart, err := splitToken(raw)
	if err != nil {
		return "", nil, err
	}
	if s.header, err = decodePart(s.header, hPart, "header"); err != nil {
		return "", nil, err
	}
	h, err := parseHeader(&s.dec, s.header)
	if err != nil {
		return "", nil, err
	}
	if err := checkHeader(&h, typ); err != nil {
		return "", nil, err
	}
	key, err := keys.Key(ctx, h.Kid)
	if err != nil {
		if errors.Is(err, ErrUnknownKey) {
			return "", nil, err
		}
		return "", nil, fmt.Errorf("%w: kid %q: %w", ErrUnknownKey, h.Kid, err)
	}
	if string(key.Algorithm()) != h.Alg {
		return "", nil, fmt.Errorf("%w: alg %q but key %q is for %s", ErrSignature, h.Alg, h.Kid, key.Algorithm())
	}
	if s.sig, err = decodePart(s.sig, sPart, "signature"); err != nil {
		return "", nil, err
	}
	signingInput := raw[:len(hPart)+1+len(pPart)]
	if !key.Verify([]byte(signingInput), s.sig) {
		return "", nil, fmt.Errorf("%w: key %q", ErrSignature, h.Kid)
	}
	// Only authenticated claims are decoded.
	if s.claims, err = decodePart(s.claims, pPart, "claims"); err != nil {
		return "", nil, err
	}
	return h.Kid, s.claims, nil
}

// checkHeader applies the header rules that need no key; the token's typ
// must be want.
func checkHeader(h *Header, want string) error {
	if _, err := jwk.ParseAlgorithm(h.Alg); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	// Media types compare case-insensitively, and RFC 9068 §4 allows the
	// "application/" prefix.
	typ := h.Typ
	if len(typ) > len("application/") && strings.EqualFold(typ[:len("application/")], "application/") {
		typ = typ[len("application/"):]
	}
	if !strings.EqualFold(typ, want) {
		return fmt.Errorf("%w: typ %q", ErrType, h.Typ)
	}
	// waxseal understands no JWS extension, so any "crit" fails
	// (RFC 7515 §4.1.11).
	if len(h.Crit) > 0 {
		return fmt.Errorf("%w: critical extension %q not understood", ErrMalformed, h.Crit[0])
	}
	if h.Kid == "" {
		return fmt.Errorf("%w: no kid", ErrUnknownKey)
	}
	return nil
}

func (v *Verifier) checkClaims(c *Claims, now time.Time) error {
	if c.Issuer != v.issuer {
		return fmt.Errorf("%w: %q", ErrIssuer, c.Issuer)
	}
	if !v.skipAud && !slices.Contains(c.Audience, v.audience) {
		return fmt.Errorf("%w: %q", ErrAudience, c.Audience)
	}
	if !now.Before(c.Expiry.Add(v.leeway)) {
		return fmt.Errorf("%w: at %v", ErrExpired, c.Expiry)
	}
	if !c.NotBefore.IsZero() && now.Add(v.leeway).Before(c.NotBefore) {
		return fmt.Errorf("%w: nbf %v", ErrNotYetValid, c.NotBefore)
	}
	if now.Add(v.leeway).Before(c.IssuedAt) {
		return fmt.Errorf("%w: issued in the future at %v", ErrNotYetValid, c.IssuedAt)
	}
	return nil
}

// DecodeUnverified returns the header and claims of raw as JSON, after the
// same syntax checks Verify makes (three parts, canonical base64url, strict
// JSON objects) but WITHOUT checking the signature or any claim. Nothing it
// returns may be trusted; it exists for inspecting tokens.
func DecodeUnverified(raw string) (header, claims []byte, err error) {
	if len(raw) > DefaultMaxTokenSize*8 {
		return nil, nil, fmt.Errorf("%w: %d bytes is too long", ErrMalformed, len(raw))
	}
	hPart, pPart, sPart, err := splitToken(raw)
	if err != nil {
		return nil, nil, err
	}
	if header, err = decodePart(nil, hPart, "header"); err != nil {
		return nil, nil, err
	}
	if claims, err = decodePart(nil, pPart, "claims"); err != nil {
		return nil, nil, err
	}
	if _, err = decodePart(nil, sPart, "signature"); err != nil {
		return nil, nil, err
	}
	var d strictjson.Decoder
	for _, part := range [][]byte{header, claims} {
		d.Reset(part)
		if err := d.Document(func([]byte) error { return d.Skip() }); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
	}
	return header, claims, nil
}
