package ratelimit

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// t0 is the suite's "now"; attempts are at offsets from it.
var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// attempt is one call in a bucket's history and what it must answer.
type attempt struct {
	at      time.Duration // since t0
	allowed bool
	retry   time.Duration
}

func ok(at time.Duration) attempt                 { return attempt{at: at, allowed: true} }
func refused(at, retry time.Duration) attempt     { return attempt{at: at, retry: retry} }
func burst(n int, at time.Duration) (a []attempt) { return repeat(n, ok(at)) }

func repeat(n int, a attempt) []attempt {
	as := make([]attempt, n)
	for i := range as {
		as[i] = a
	}
	return as
}

func seq(parts ...[]attempt) (as []attempt) {
	for _, p := range parts {
		as = append(as, p...)
	}
	return as
}

const s = time.Second

// testLimiter is the suite that every Limiter passes. open returns two
// Limiters on the same buckets, as two issuer instances have (a Memory
// returns itself twice), with keys that no other test uses.
func testLimiter(t *testing.T, open func(t *testing.T, p Policy) (a, b Limiter)) {
	for _, tc := range []struct {
		name     string
		policy   Policy
		attempts []attempt // alternately through a and b
	}{
		{
			name:   "BurstThenRefused",
			policy: Policy{Burst: 3, Refill: 10 * s},
			attempts: seq(burst(3, 0), []attempt{
				refused(0, 10*s), refused(0, 10*s), refused(4*s, 6*s), ok(10 * s), refused(10*s, 10*s),
			}),
		},
		{
			name:   "Refill",
			policy: Policy{Burst: 3, Refill: 10 * s},
			attempts: seq(burst(3, 0), []attempt{
				refused(5*s, 5*s), ok(25 * s), ok(25 * s), refused(25*s, 5*s), ok(30 * s),
			},
				// An idle bucket fills up to Burst and no further.
				burst(3, time.Hour), []attempt{refused(time.Hour, 10*s)}),
		},
		{
			name:   "BackoffDoublesUpToMaxPenalty",
			policy: Policy{Burst: 2, Refill: 10 * s, MaxPenalty: 60 * s},
			attempts: seq(burst(2, 0), []attempt{
				refused(0, 20*s), refused(0, 40*s), refused(0, 60*s), refused(0, 60*s),
				// The lockout runs MaxPenalty from the last refused attempt, and
				// then the bucket has a token whatever happened before.
				refused(30*s, 60*s), ok(90 * s), refused(90*s, 20*s),
			}),
		},
		{
			name:   "MaxPenaltyBelowRefillMeansNoBackoff",
			policy: Policy{Burst: 1, Refill: time.Minute, MaxPenalty: 10 * s},
			attempts: []attempt{
				ok(0), refused(0, time.Minute), refused(30*s, 30*s), ok(time.Minute),
			},
		},
		{
			// An instance whose clock is behind gets no token back.
			name:     "ClockBehindRefundsNothing",
			policy:   Policy{Burst: 2, Refill: 10 * s},
			attempts: seq(burst(2, 100*s), []attempt{refused(95*s, 15*s), refused(100*s, 10*s)}),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := open(t, tc.policy)
			for i, at := range tc.attempts {
				l := []Limiter{a, b}[i%2]
				d, err := l.Allow(t.Context(), "acct:jane", t0.Add(at.at))
				if err != nil {
					t.Fatal(err)
				}
				if want := (Decision{Allowed: at.allowed, RetryAfter: at.retry}); d != want {
					t.Fatalf("attempt %d at +%v = %+v, want %+v", i, at.at, d, want)
				}
			}
		})
	}

	t.Run("KeysAreApart", func(t *testing.T) {
		t.Parallel()
		a, b := open(t, Policy{Burst: 1, Refill: time.Hour})
		ctx := t.Context()
		for _, key := range []string{"acct:jane", "acct:joe", "ip:192.0.2.1", ""} {
			if d, err := a.Allow(ctx, key, t0); err != nil || !d.Allowed {
				t.Fatalf("first attempt on %q = %+v, %v", key, d, err)
			}
			if d, err := b.Allow(ctx, key, t0); err != nil || d.Allowed {
				t.Fatalf("second attempt on %q = %+v, %v", key, d, err)
			}
		}
	})

	t.Run("Reset", func(t *testing.T) {
		t.Parallel()
		a, b := open(t, Policy{Burst: 2, Refill: time.Hour, MaxPenalty: 2 * time.Hour})
		ctx := t.Context()
		for range 4 {
			if _, err := a.Allow(ctx, "acct:jane", t0); err != nil {
				t.Fatal(err)
			}
		}
		for range 2 {
			if d, _ := a.Allow(ctx, "acct:joe", t0); !d.Allowed {
				t.Fatal("acct:joe refused")
			}
		}
		if err := b.Reset(ctx, "acct:jane"); err != nil {
			t.Fatal(err)
		}
		if err := b.Reset(ctx, "acct:nobody"); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if d, _ := a.Allow(ctx, "acct:jane", t0); !d.Allowed {
				t.Fatalf("attempt %d after Reset refused", i)
			}
		}
		if d, _ := a.Allow(ctx, "acct:joe", t0); d.Allowed {
			t.Fatal("Reset of acct:jane refilled acct:joe")
		}
	})

	// An attack that keeps an account locked for an hour locks its user
	// out for at most MaxPenalty after it stops.
	t.Run("LongAttackLocksOutForAtMostMaxPenalty", func(t *testing.T) {
		t.Parallel()
		p := AccountPolicy
		a, b := open(t, p)
		ctx := t.Context()
		var allowed int
		var now time.Time
		for i := range 3600 {
			now = t0.Add(time.Duration(i) * s)
			d, err := []Limiter{a, b}[i%2].Allow(ctx, "acct:jane", now)
			if err != nil {
				t.Fatal(err)
			}
			if d.RetryAfter > p.MaxPenalty {
				t.Fatalf("attempt at +%ds: RetryAfter %v, over MaxPenalty", i, d.RetryAfter)
			}
			if d.Allowed {
				allowed++
			}
		}
		if allowed != p.Burst {
			t.Errorf("attack got %d attempts through, want the burst, %d", allowed, p.Burst)
		}
		if d, err := a.Allow(ctx, "acct:jane", now.Add(p.MaxPenalty)); err != nil || !d.Allowed {
			t.Errorf("MaxPenalty after the attack: %+v, %v; want allowed", d, err)
		}
	})

	// Peek answers what Allow would, and takes nothing.
	t.Run("PeekTakesNothing", func(t *testing.T) {
		t.Parallel()
		p := Policy{Burst: 3, Refill: 10 * s, MaxPenalty: time.Minute}
		a, b := open(t, p)
		ctx := t.Context()
		for i := range 10 {
			if d, err := []Limiter{a, b}[i%2].Peek(ctx, "acct:jane", t0); err != nil || !d.Allowed {
				t.Fatalf("peek %d on a full bucket: %+v, %v", i, d, err)
			}
		}
		for i := range p.Burst {
			if d, _ := a.Allow(ctx, "acct:jane", t0); !d.Allowed {
				t.Fatalf("attempt %d after peeks refused: peeks took tokens", i)
			}
		}
		for range 5 {
			if d, err := b.Peek(ctx, "acct:jane", t0.Add(4*s)); err != nil || d.Allowed || d.RetryAfter != 6*s {
				t.Fatalf("peek on an empty bucket: %+v, %v; want refused, retry 6s (no backoff)", d, err)
			}
		}
		if d, _ := a.Allow(ctx, "acct:jane", t0.Add(10*s)); !d.Allowed {
			t.Error("peeks on an empty bucket earned backoff")
		}
		if d, _ := b.Peek(ctx, "acct:other", t0); !d.Allowed {
			t.Error("peek on an unknown key refused")
		}
	})

	// Attempts at the same moment through both instances get exactly the
	// budget between them, however they interleave.
	t.Run("ConcurrentAttemptsGetTheBudget", func(t *testing.T) {
		t.Parallel()
		p := Policy{Burst: 100, Refill: time.Hour, MaxPenalty: 0}
		a, b := open(t, p)
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for g := range 50 {
			l := []Limiter{a, b}[g%2]
			wg.Go(func() {
				for range 20 {
					d, err := l.Allow(t.Context(), "acct:jane", t0)
					if err != nil {
						t.Error(err)
						return
					}
					if d.Allowed {
						allowed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if n := allowed.Load(); n != int64(p.Burst) {
			t.Errorf("1000 concurrent attempts: %d allowed, want %d", n, p.Burst)
		}
	})
}

func TestMemory(t *testing.T) {
	testLimiter(t, func(t *testing.T, p Policy) (a, b Limiter) {
		m := NewMemory(p)
		return m, m
	})
}

func TestPolicyPanics(t *testing.T) {
	for _, p := range []Policy{
		{},
		{Burst: 0, Refill: s},
		{Burst: 1, Refill: 0},
		{Burst: 1, Refill: time.Nanosecond},
		{Burst: 1, Refill: s, MaxPenalty: -1},
		{Burst: 1 << 30, Refill: 24 * time.Hour},
		{Burst: 1, Refill: s, MaxPenalty: 1 << 62},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewMemory(%+v) did not panic", p)
				}
			}()
			NewMemory(p)
		}()
	}
	for _, p := range []Policy{AccountPolicy, IPPolicy, ClientPolicy} {
		p.check()
	}
}

// TestMemoryBound sprays a million keys; a Memory keeps at most
// MaxMemoryKeys of them.
func TestMemoryBound(t *testing.T) {
	t.Parallel()
	m := NewMemory(IPPolicy)
	ctx := context.Background()
	for i := range 1_000_000 {
		if _, err := m.Allow(ctx, "ip:"+strconv.Itoa(i), t0); err != nil {
			t.Fatal(err)
		}
		if i%100_000 == 0 && m.size() > MaxMemoryKeys {
			t.Fatalf("after %d keys: %d buckets", i+1, m.size())
		}
	}
	if n := m.size(); n != MaxMemoryKeys {
		t.Errorf("after a million keys: %d buckets, want %d", n, MaxMemoryKeys)
	}
}

// TestMemorySprayKeepsLockout: spraying keys to push an account's bucket
// out of a Memory does not work while the attack on it goes on.
func TestMemorySprayKeepsLockout(t *testing.T) {
	t.Parallel()
	m := NewMemory(AccountPolicy)
	ctx := context.Background()
	for range AccountPolicy.Burst {
		m.Allow(ctx, "acct:jane", t0)
	}
	for i := range 3 * MaxMemoryKeys {
		m.Allow(ctx, "acct:spray"+strconv.Itoa(i), t0)
		if i%10_000 == 0 {
			if d, _ := m.Allow(ctx, "acct:jane", t0); d.Allowed {
				t.Fatalf("after %d sprayed keys: acct:jane allowed", i+1)
			}
		}
	}
}

// TestMemoryEvictionNeverResetsABucket: an attacker who locks an account
// out, then sprays enough other keys (from many IPv6 /64s, say) to push the
// account's bucket out of a full Memory before the next guess, must not find
// a fresh burst waiting: a bucket pushed out is remembered, conservatively,
// and a key that comes back starts no fuller than it left. Keys that were
// never seen still start full.
func TestMemoryEvictionNeverResetsABucket(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		policy Policy
		target string
	}{
		{"account", AccountPolicy, "acct:jane"},
		{"network", IPPolicy, "ip:203.0.113.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMemory(tc.policy)
			ctx := context.Background()
			now := t0
			for range tc.policy.Burst {
				m.Allow(ctx, tc.target, now)
			}
			if d, _ := m.Allow(ctx, tc.target, now); d.Allowed {
				t.Fatal("the burst did not run out")
			}
			for i := range MaxMemoryKeys + 10 {
				m.Allow(ctx, "ip:2001:db8:"+strconv.Itoa(i)+"::/64", now)
			}
			now = now.Add(time.Second)
			if d, _ := m.Allow(ctx, tc.target, now); d.Allowed {
				t.Fatalf("%s allowed again after its bucket was pushed out", tc.target)
			}
			fresh := 0
			for i := range 1000 {
				if d, _ := m.Allow(ctx, "acct:new"+strconv.Itoa(i), now); d.Allowed {
					fresh++
				}
			}
			if fresh != 1000 {
				t.Errorf("%d of 1000 new keys allowed, want all", fresh)
			}
		})
	}
}

// TestMemoryDropsIdle: buckets that are full again are forgotten as the
// Memory is used.
func TestMemoryDropsIdle(t *testing.T) {
	m := NewMemory(Policy{Burst: 5, Refill: s, MaxPenalty: 10 * s})
	ctx := context.Background()
	for i := range 1000 {
		m.Allow(ctx, "ip:"+strconv.Itoa(i), t0)
	}
	for i := range 600 {
		m.Allow(ctx, "ip:active", t0.Add(time.Minute+time.Duration(i)*s))
	}
	if n := m.size(); n != 1 {
		t.Errorf("%d buckets, want 1", n)
	}
}

func BenchmarkMemoryAllow(b *testing.B) {
	m := NewMemory(IPPolicy)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		m.Allow(ctx, "ip:"+strconv.Itoa(i%1000), t0)
	}
}
