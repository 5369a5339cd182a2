// Package ratelimit slows down password guessing and signup floods: a token
// bucket per key ("acct:<canonical name>", "ip:<client network>",
// "client:<client id>"), asked before any password is hashed, so a refused
// attempt costs the issuer almost nothing.
//
// The issuer asks the client network's Limiter first and the account's
// second, so that attempts refused for their source leave the account's
// budget alone; it answers 429 with Retry-After when either refuses, 503
// when either fails, and resets the account's bucket after a correct
// password.
//
// Memory keeps the buckets of one issuer instance; Redis keeps them in a
// Redis server that every instance shares, so an attacker gains nothing by
// spreading attempts over instances.
//
// A lockout is also a weapon: anyone can make attempts on someone else's
// account. So the bucket refills with time whatever happens, and the backoff
// that refused attempts earn is capped at Policy.MaxPenalty: once an attack
// stops, the real user can log in again within MaxPenalty.
package ratelimit

import (
	"context"
	"fmt"
	"time"
)

// Limiter decides whether an attempt on a key may go ahead. The issuer
// defines the same interface where it consumes one; it is declared here so
// that Memory and Redis are checked against it and one test suite runs on
// both.
type Limiter interface {
	// Allow takes a token from key's bucket, at time now. An error means
	// the limit could not be checked; the caller should refuse the attempt
	// (fail closed) and not retry at once.
	Allow(ctx context.Context, key string, now time.Time) (Decision, error)
	// Reset forgets key's bucket. Call it after an attempt that proves
	// ownership of the key: the account's key after a correct password, so
	// that a user's own typos do not count against the next login. Never
	// reset a client address's key: an attacker with one account of their
	// own would reset their address between guesses at others.
	Reset(ctx context.Context, key string) error
	// Peek reports what Allow would answer at now without taking a
	// token or earning backoff. It lets a caller count failures only:
	// peek before an attempt, and Allow after one that failed.
	Peek(ctx context.Context, key string, now time.Time) (Decision, error)
}

var (
	_ Limiter = (*Memory)(nil)
	_ Limiter = (*Redis)(nil)
)

// Decision is the answer to one attempt.
type Decision struct {
	Allowed bool
	// RetryAfter is how long until an attempt would be allowed, when this
	// one was not; it goes into the Retry-After header. Zero when Allowed.
	RetryAfter time.Duration
}

// Policy is the shape of every bucket of a Limiter.
//
// A bucket holds at most Burst tokens and gains one every Refill, whatever
// is attempted meanwhile. An attempt takes a token, or is refused when there
// is none. Each refused attempt doubles the wait for the next token (the
// backoff), but never beyond MaxPenalty, so a bucket that an attacker keeps
// empty opens at most MaxPenalty after the attacker's last attempt. Over a
// long time, at most one attempt per Refill goes through.
//
// Times are kept in whole microseconds.
type Policy struct {
	Burst  int           // at least 1
	Refill time.Duration // at least one microsecond
	// MaxPenalty caps the backoff. Zero means no backoff: a refused
	// attempt waits for the next token only, at most Refill. A MaxPenalty
	// at or below Refill has the same effect.
	MaxPenalty time.Duration
}

// Policies for the issuer's keys.
var (
	// AccountPolicy guards one account against guessing from any number
	// of addresses. Ten attempts cover a user's typos and a few devices
	// retrying at once; after that one guess per 30 seconds, 2,880 a day,
	// is hopeless against a password of fifteen characters that passed the
	// blocklist (package password). The five-minute cap is the longest an
	// attacker can keep the real user out after stopping.
	AccountPolicy = Policy{Burst: 10, Refill: 30 * time.Second, MaxPenalty: 5 * time.Minute}

	// IPPolicy guards against one network (an IPv4 address or an IPv6
	// /64; see ClientNetwork) trying many accounts, and against signup
	// floods. Many users can share one address behind NAT or an office
	// gateway, so the burst is large and the cap short; protecting any one
	// account is AccountPolicy's job.
	IPPolicy = Policy{Burst: 50, Refill: time.Second, MaxPenalty: time.Minute}

	// ClientPolicy guards the client_credentials grant. A client secret
	// has 256 random bits and cannot be guessed, so this limit only sheds
	// load; it is large enough for a fleet of services that all start at
	// once, and it forgives fast.
	ClientPolicy = Policy{Burst: 100, Refill: 100 * time.Millisecond, MaxPenalty: 10 * time.Second}
)

// Validate reports why p cannot work, if it cannot: Burst below 1, Refill
// below a microsecond, a negative MaxPenalty, or spans too long to keep.
func (p Policy) Validate() error {
	switch {
	case p.Burst < 1:
		return fmt.Errorf("ratelimit: Policy.Burst %d is below 1", p.Burst)
	case p.Refill < time.Microsecond:
		return fmt.Errorf("ratelimit: Policy.Refill %v is below one microsecond", p.Refill)
	case p.MaxPenalty < 0:
		return fmt.Errorf("ratelimit: Policy.MaxPenalty %v is negative", p.MaxPenalty)
	case p.Refill.Microseconds() > maxSpan/int64(p.Burst):
		return fmt.Errorf("ratelimit: Policy.Burst %d × Refill %v is over 35 years", p.Burst, p.Refill)
	case p.MaxPenalty.Microseconds() > maxSpan:
		return fmt.Errorf("ratelimit: Policy.MaxPenalty %v is over 35 years", p.MaxPenalty)
	}
	return nil
}

// check panics on a Policy that cannot work: a programming error.
func (p Policy) check() {
	if err := p.Validate(); err != nil {
		panic(err.Error())
	}
}

// maxSpan bounds the spans of a Policy, in microseconds, so that the sum of
// a time and two spans stays exact in the float64 numbers of Redis's Lua.
const maxSpan = 1 << 50

// peek is step without its effect: the Decision an attempt at now would get,
// with the plain wait for the next token and no backoff.
func (p Policy) peek(tat, now int64) Decision {
	refill := p.Refill.Microseconds()
	window := int64(p.Burst) * refill
	tat = max(tat, now)
	if tat-now <= window-refill {
		return Decision{Allowed: true}
	}
	return Decision{RetryAfter: time.Duration(tat+refill-window-now) * time.Microsecond}
}

// step is the bucket's arithmetic, with times in microseconds since the
// Unix epoch; bucket.lua repeats it for Redis. The bucket is kept as one
// number, tat, the time at which it would be full again (the generic cell
// rate algorithm): a bucket with tat at or before now is full, and so the
// same as no bucket at all. It returns the new tat.
func (p Policy) step(tat, now int64) (int64, Decision) {
	refill := p.Refill.Microseconds()
	window := int64(p.Burst) * refill // from empty to full
	tat = max(tat, now)
	if tat-now <= window-refill {
		return tat + refill, Decision{Allowed: true}
	}
	wait := tat + refill - window - now
	if w := min(2*wait, p.MaxPenalty.Microseconds()); w > wait {
		wait = w
		tat = now + wait + window - refill
	}
	return tat, Decision{RetryAfter: time.Duration(wait) * time.Microsecond}
}
