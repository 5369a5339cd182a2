// Package password hashes the passwords users log in with, decides which
// new passwords to accept, and canonicalizes the user names they log in as.
//
// Hashes are argon2id (RFC 9106) in the PHC string format, so another
// implementation can read them and the parameters travel with each hash:
// raising the cost later needs no migration, because Verify reports which
// hashes to redo at the next successful login. Argon2id is memory-hard by
// design, which also makes every login cost the server that memory; a Hasher
// therefore runs a bounded number of hashes at once and turns the rest away
// with ErrBusy rather than let a flood of logins exhaust memory.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	"golang.org/x/crypto/argon2"
)

// ErrBusy means no hashing slot became free in time, or the caller's context
// ended while waiting. Callers answer 503 with a Retry-After of
// (*Hasher).RetryAfter: the request was fine, the server was full.
var ErrBusy = errors.New("password: too many password hashes in progress")

// Params are the argon2id cost parameters and sizes of a hash.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8  // lanes; each lane runs on its own goroutine
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams meet OWASP's minimum for argon2id (19 MiB, two passes, one
// lane). One lane keeps a login to one core, so MaxConcurrent logins use
// MaxConcurrent cores. The 16-byte salt and 32-byte key are RFC 9106's
// recommendations.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Limits on parameters, for the Hasher's own and for those read from a
// stored hash. The upper limits are what matter: a stored hash names its own
// cost, and without them one row with m=4 GiB or t=1e9 would take the server
// down on the next login attempt for that user.
const (
	maxMemory  = 1 << 20 // KiB, 1 GiB
	maxTime    = 100
	minSaltLen = 8 // RFC 9106's minimum
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64
)

func (p Params) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("time %d outside 1..%d", p.Time, maxTime)
	case p.Threads < 1:
		return errors.New("threads must be at least 1")
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("memory %d KiB outside %d..%d", p.Memory, 8*uint32(p.Threads), maxMemory)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("salt length %d outside %d..%d", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("key length %d outside %d..%d", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// HasherConfig configures a Hasher. Every zero value means the default.
type HasherConfig struct {
	// Params of new hashes. Zero means DefaultParams. Values below it are
	// accepted, for tests and for hardware that cannot afford it.
	Params Params

	// MaxConcurrent is how many hashes run at once, and so bounds the
	// memory hashing holds at MaxConcurrent × Params.Memory. Each hash
	// allocates afresh and the garbage collector returns blocks late, so
	// the process peak is a few times that, but bounded whatever the
	// number of logins (see docs/BENCHMARKS.md). Zero means
	// runtime.NumCPU(): argon2id is CPU-bound, so more would only queue on
	// the scheduler while holding their memory.
	MaxConcurrent int

	// MaxWait is how long a call waits for a slot before ErrBusy. Zero
	// means two seconds; a negative value means not to wait at all.
	MaxWait time.Duration

	// Rand supplies salts. Nil means crypto/rand.Reader.
	Rand io.Reader
}

// Hasher hashes and verifies passwords with argon2id, at most MaxConcurrent
// at a time. It is safe for concurrent use.
type Hasher struct {
	params     Params
	slots      chan struct{} // a send takes a slot, a receive frees it
	maxWait    time.Duration
	retryAfter time.Duration
	rand       io.Reader
	dummy      string // a hash at params that no password matches; see VerifyDummy

	// testHook, when set, runs while the caller holds a slot.
	testHook func()
}

// NewHasher returns a Hasher for cfg. It fails if cfg.Params lie outside the
// limits Verify enforces, since such a Hasher would write hashes it then
// refuses to read.
func NewHasher(cfg HasherConfig) (*Hasher, error) {
	if cfg.Params == (Params{}) {
		cfg.Params = DefaultParams
	}
	if err := cfg.Params.validate(); err != nil {
		return nil, fmt.Errorf("password: invalid params: %s", err)
	}
	if cfg.MaxConcurrent < 0 {
		return nil, fmt.Errorf("password: negative MaxConcurrent %d", cfg.MaxConcurrent)
	}
	if cfg.MaxConcurrent == 0 {
		cfg.MaxConcurrent = runtime.NumCPU()
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 2 * time.Second
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	h := &Hasher{
		params:  cfg.Params,
		slots:   make(chan struct{}, cfg.MaxConcurrent),
		maxWait: cfg.MaxWait,
		rand:    cfg.Rand,
	}
	// Retry-After counts whole seconds; round up, and never say "now".
	h.retryAfter = max(time.Second, (cfg.MaxWait+time.Second-1)/time.Second*time.Second)

	// The dummy needs no real hash behind it: Verify does the full work
	// whatever the stored key is, and a random key matches no password.
	salt := make([]byte, h.params.SaltLen)
	key := make([]byte, h.params.KeyLen)
	if _, err := io.ReadFull(h.rand, salt); err != nil {
		return nil, fmt.Errorf("password: reading salt: %w", err)
	}
	if _, err := io.ReadFull(h.rand, key); err != nil {
		return nil, fmt.Errorf("password: reading dummy key: %w", err)
	}
	h.dummy = encodePHC(h.params, salt, key)
	return h, nil
}

// RetryAfter is a hint for the Retry-After header of the 503 that answers
// ErrBusy: MaxWait rounded up to whole seconds, at least one. A slot that
// stayed taken for all of MaxWait is unlikely to free much sooner.
func (h *Hasher) RetryAfter() time.Duration { return h.retryAfter }

// Hash returns the PHC string of password under a fresh salt. It normalizes
// password first (see NormalizePassword) but applies no policy: call
// CheckPassword before accepting a new password.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	pw, err := NormalizePassword(password)
	if err != nil {
		return "", err
	}
	salt := make([]byte, h.params.SaltLen)
	if _, err := io.ReadFull(h.rand, salt); err != nil {
		return "", fmt.Errorf("password: reading salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	key := argon2.IDKey([]byte(pw), salt, h.params.Time, h.params.Memory, h.params.Threads, h.params.KeyLen)
	return encodePHC(h.params, salt, key), nil
}

// Verify reports whether password matches the PHC string encoded, and,
// when it does, whether encoded was made with other parameters than the
// Hasher's, in which case the caller should store a fresh Hash now, while it
// has the password in hand.
//
// A password that is not valid UTF-8 cannot have been hashed, so it does not
// match; that answer comes without hashing, which tells the client nothing it
// did not send. An encoded string that is not a well-formed argon2id hash
// within the limits of Params is an error: it is the server's data, not the
// client's input, that is wrong.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, needsRehash bool, err error) {
	p, salt, want, err := parsePHC(encoded)
	if err != nil {
		return false, false, err
	}
	pw, err := NormalizePassword(password)
	if err != nil {
		return false, false, nil
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	return true, p != h.params, nil
}

// VerifyDummy does the work of a Verify that fails, against a hash at the
// Hasher's parameters that no password matches. Call it when the user name
// is unknown, so that an unknown name costs as long as a wrong password and
// answers ErrBusy under the same load: otherwise the response time tells an
// attacker which names exist. It returns only an error because its answer is
// always no.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	_, _, err := h.Verify(ctx, password, h.dummy)
	return err
}

// acquire takes a slot, waiting at most maxWait and not past ctx.
func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrBusy, err)
	}
	select {
	case h.slots <- struct{}{}:
		h.held()
		return nil
	default:
	}
	if h.maxWait < 0 {
		return ErrBusy
	}
	t := time.NewTimer(h.maxWait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		h.held()
		return nil
	case <-t.C:
		return ErrBusy
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrBusy, context.Cause(ctx))
	}
}

func (h *Hasher) held() {
	if h.testHook != nil {
		h.testHook()
	}
}

func (h *Hasher) release() { <-h.slots }
