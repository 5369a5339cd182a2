package keyring

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/waxseal/waxseal/jwk"
)

var defaultRand io.Reader = rand.Reader

// Config sets how a Ring rotates its keys. The zero value is a working
// configuration.
type Config struct {
	// Algorithm is the algorithm of new keys. Zero means jwk.EdDSA. Changing
	// it leaves existing keys as they are: the next rotation moves the issuer
	// to the new algorithm.
	Algorithm jwk.Algorithm

	// Extra are algorithms the ring also keeps a signing key of, each on
	// its own schedule beside the keys of Algorithm: an issuer that signs
	// access tokens with EdDSA signs OpenID Connect ID tokens with RS256,
	// which every relying party supports. Algorithm itself in Extra is
	// ignored.
	Extra []jwk.Algorithm

	// PublishLead is how long a new key is published before it signs. It
	// must be at least the time verifiers cache the JWKS, so that every
	// verifier knows a key before the first token it signed arrives. The
	// ring tells verifiers to cache for half of it (see Ring.JWKSMaxAge);
	// the other half absorbs the period between Maintain calls and clock
	// skew. Zero means one hour.
	PublishLead time.Duration

	// ActivePeriod is how long a key signs. It must be at least
	// PublishLead, so a successor can be published for PublishLead while
	// its predecessor still signs. Zero means 30 days.
	ActivePeriod time.Duration

	// MaxTokenTTL is the longest lifetime of an access token plus the clock
	// leeway verifiers allow. A key stays published this long after it
	// stops signing, so every token it signed verifies until it expires.
	// Zero means one hour.
	MaxTokenTTL time.Duration

	// Now is the clock. Nil means time.Now.
	Now func() time.Time

	// Rand is the source of keys and nonces. Nil means crypto/rand.
	Rand io.Reader
}

// withDefaults returns c with its zero fields set, or an error if c cannot
// work.
func (c Config) withDefaults() (Config, error) {
	if c.Algorithm == "" {
		c.Algorithm = jwk.EdDSA
	}
	if _, err := jwk.ParseAlgorithm(string(c.Algorithm)); err != nil {
		return Config{}, fmt.Errorf("keyring: config: %w", err)
	}
	var extra []jwk.Algorithm
	for _, a := range c.Extra {
		if _, err := jwk.ParseAlgorithm(string(a)); err != nil {
			return Config{}, fmt.Errorf("keyring: config: Extra: %w", err)
		}
		if a != c.Algorithm && !slices.Contains(extra, a) {
			extra = append(extra, a)
		}
	}
	c.Extra = extra
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"PublishLead", &c.PublishLead, time.Hour},
		{"ActivePeriod", &c.ActivePeriod, 30 * 24 * time.Hour},
		{"MaxTokenTTL", &c.MaxTokenTTL, time.Hour},
	} {
		if *d.v < 0 {
			return Config{}, fmt.Errorf("keyring: config: %s is negative (%v)", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.PublishLead <= jwksMaxAge(c.PublishLead) {
		return Config{}, errors.New("keyring: config: PublishLead must be longer than the JWKS cache lifetime")
	}
	if c.ActivePeriod < c.PublishLead {
		return Config{}, fmt.Errorf("keyring: config: ActivePeriod (%v) is shorter than PublishLead (%v)", c.ActivePeriod, c.PublishLead)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = defaultRand
	}
	return c, nil
}

// jwksMaxAge is half the publish lead: a verifier that fetched the JWKS just
// before a key was published fetches it again while the key still waits.
func jwksMaxAge(publishLead time.Duration) time.Duration { return publishLead / 2 }
