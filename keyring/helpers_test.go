package keyring

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/waxseal/waxseal/jwk"
)

// t0 is where the test clocks start.
var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// memStore is the simplest Store. It can be told to fail saves after a
// number of successful ones.
type memStore struct {
	mu        sync.Mutex
	recs      map[string]Record
	failAfter int // saves that succeed before the rest fail; negative: never fail
}

func newMemStore() *memStore { return &memStore{recs: map[string]Record{}, failAfter: -1} }

var errStoreDown = errors.New("store down")

func (s *memStore) LoadKeys(ctx context.Context) ([]Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var recs []Record
	for _, r := range s.recs {
		r.Sealed = slices.Clone(r.Sealed)
		recs = append(recs, r)
	}
	return recs, nil
}

func (s *memStore) SaveKey(ctx context.Context, r Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAfter == 0 {
		return errStoreDown
	}
	if s.failAfter > 0 {
		s.failAfter--
	}
	r.Sealed = slices.Clone(r.Sealed)
	s.recs[r.ID] = r
	return nil
}

func (s *memStore) setFailAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failAfter = n
}

var testMaster = MasterKey{key: [32]byte{
	0xfb, 0xff, 0xbf, 0x3e, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
	16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
}}

// testConfig has distinct durations, so a test that confuses two of them
// fails.
func testConfig(alg jwk.Algorithm, c *fakeClock) Config {
	return Config{
		Algorithm:    alg,
		PublishLead:  time.Hour,
		ActivePeriod: 24 * time.Hour,
		MaxTokenTTL:  15 * time.Minute,
		Now:          c.Now,
	}
}

func openRing(t *testing.T, store Store, cfg Config) *Ring {
	t.Helper()
	r, err := Open(context.Background(), store, testMaster, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return r
}

func signerID(t *testing.T, r *Ring) string {
	t.Helper()
	k, err := r.Signer()
	if err != nil {
		t.Fatalf("Signer: %v", err)
	}
	return k.ID()
}

func keyInfo(t *testing.T, r *Ring, kid string) Info {
	t.Helper()
	for _, i := range r.Keys() {
		if i.ID == kid {
			return i
		}
	}
	t.Fatalf("no key %s in Keys()", kid)
	return Info{}
}

func inPublicSet(r *Ring, kid string) bool {
	return r.PublicSet().Lookup(kid) != nil
}

// trusted reports whether Key finds kid.
func trusted(t *testing.T, r *Ring, kid string) bool {
	t.Helper()
	_, err := r.Key(context.Background(), kid)
	return err == nil
}

// checkInvariants asserts what must hold after every operation: exactly one
// key signs, and no two keys' signing periods overlap.
func checkInvariants(t *testing.T, r *Ring) {
	t.Helper()
	if _, err := r.Signer(); err != nil {
		t.Errorf("no signer: %v", err)
	}
	var live []Info
	for _, i := range r.Keys() {
		if i.Compromised.IsZero() && i.Activates.Before(i.Deactivates) {
			live = append(live, i)
		}
		if i.Retires.Before(i.Deactivates) {
			t.Errorf("key %s retires at %v, before it stops signing at %v", i.ID, i.Retires, i.Deactivates)
		}
	}
	for a := range live {
		for b := a + 1; b < len(live); b++ {
			x, y := live[a], live[b]
			if r.lane(x.Algorithm) == r.lane(y.Algorithm) && x.Activates.Before(y.Deactivates) && y.Activates.Before(x.Deactivates) {
				t.Errorf("keys %s [%v, %v) and %s [%v, %v) of one lane sign at the same time",
					x.ID, x.Activates, x.Deactivates, y.ID, y.Activates, y.Deactivates)
			}
		}
	}
}
