package token

import (
	"sync"
	"time"
)

// cache remembers tokens that passed every check, keyed by the whole token
// string, until they expire. Only an exact byte-for-byte repeat of a
// verified token can hit, so a hit is as good as a fresh verification but
// for revocation, which Verify still checks.
type cache struct {
	max int

	mu  sync.RWMutex
	m   map[string]cacheEntry // guarded by mu
	gen uint64                // guarded by mu; counts forgetKey calls
}

type cacheEntry struct {
	claims *Claims
	until  time.Time // expiry plus leeway
}

func newCache(max int) *cache {
	return &cache{max: max, m: make(map[string]cacheEntry)}
}

func (c *cache) get(raw string) (*Claims, time.Time, bool) {
	c.mu.RLock()
	e, ok := c.m[raw]
	c.mu.RUnlock()
	return e.claims, e.until, ok
}

// generation returns a value to hand to put: put stores nothing if a key
// was forgotten in between, so a token verified with a key while the key
// set was dropping it is not cached after the drop.
func (c *cache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

func (c *cache) put(raw string, claims *Claims, until, now time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.m) >= c.max {
		c.evictLocked(now)
	}
	c.m[raw] = cacheEntry{claims: claims, until: until}
}

// evictLocked drops expired entries and, if that frees too little, an
// arbitrary eighth of the rest: a full cache costs one sweep per max/8
// insertions, and the tokens dropped are simply verified again.
func (c *cache) evictLocked(now time.Time) {
	for k, e := range c.m {
		if !now.Before(e.until) {
			delete(c.m, k)
		}
	}
	excess := len(c.m) - c.max + c.max/8 + 1
	for k := range c.m {
		if excess <= 0 {
			break
		}
		delete(c.m, k)
		excess--
	}
}

func (c *cache) forgetKey(kid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k, e := range c.m {
		if e.claims.KeyID == kid {
			delete(c.m, k)
		}
	}
}

func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
