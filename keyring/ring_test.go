package keyring

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waxseal/waxseal/jwk"
	"github.com/waxseal/waxseal/token"
)

// TestLifecycle walks keys through every state with the clock of
// testConfig: publish lead 1h, active period 24h, token lifetime 15m.
func TestLifecycle(t *testing.T) {
	for _, alg := range []jwk.Algorithm{jwk.EdDSA, jwk.ES256, jwk.HS256, jwk.RS256} {
		t.Run(string(alg), func(t *testing.T) {
			ctx := context.Background()
			clock := newClock()
			r := openRing(t, newMemStore(), testConfig(alg, clock))
			public := !alg.Symmetric()

			// First start: the only key signs at once.
			a := signerID(t, r)
			wantInfo(t, r, Info{ID: a, Algorithm: alg, State: StateActive,
				Created: t0, Activates: t0, Deactivates: t0.Add(24 * time.Hour), Retires: t0.Add(24*time.Hour + 15*time.Minute)})
			wantVisible(t, r, a, public)

			// Rotate publishes b now; it signs after the publish lead, and a
			// stops signing then.
			clock.Set(t0.Add(2 * time.Hour))
			bi, err := r.Rotate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			b := bi.ID
			wantInfo(t, r, Info{ID: b, Algorithm: alg, State: StatePending,
				Created: t0.Add(2 * time.Hour), Activates: t0.Add(3 * time.Hour), Deactivates: t0.Add(27 * time.Hour), Retires: t0.Add(27*time.Hour + 15*time.Minute)})
			wantInfo(t, r, Info{ID: a, Algorithm: alg, State: StateActive,
				Created: t0, Activates: t0, Deactivates: t0.Add(3 * time.Hour), Retires: t0.Add(3*time.Hour + 15*time.Minute)})
			wantVisible(t, r, b, public)
			checkInvariants(t, r)

			clock.Set(t0.Add(3*time.Hour - time.Second))
			wantSigner(t, r, a)
			clock.Set(t0.Add(3 * time.Hour))
			wantSigner(t, r, b)
			wantState(t, r, a, StateVerifying)
			wantVisible(t, r, a, public)

			// a stays published until every token it signed expired.
			clock.Set(t0.Add(3*time.Hour + 15*time.Minute - time.Second))
			wantVisible(t, r, a, public)
			clock.Set(t0.Add(3*time.Hour + 15*time.Minute))
			wantState(t, r, a, StateRetired)
			wantVisible(t, r, a, false)
			if _, err := r.Key(ctx, a); !errors.Is(err, token.ErrUnknownKey) {
				t.Errorf("Key(retired) = %v, want ErrUnknownKey", err)
			}
			if err := r.Maintain(ctx); err != nil {
				t.Fatal(err)
			}
			if r.keys[a].key != nil {
				t.Error("Maintain kept the private key of a retired key")
			}

			// Maintain publishes a successor one publish lead before b stops
			// signing, and not earlier.
			clock.Set(t0.Add(26*time.Hour - time.Second))
			if err := r.Maintain(ctx); err != nil {
				t.Fatal(err)
			}
			if n := len(r.Keys()); n != 2 {
				t.Fatalf("Maintain made a key too early: %d keys", n)
			}
			clock.Set(t0.Add(26 * time.Hour))
			for range 2 { // the second call finds the successor
				if err := r.Maintain(ctx); err != nil {
					t.Fatal(err)
				}
			}
			infos := r.Keys()
			if len(infos) != 3 {
				t.Fatalf("after Maintain: %d keys, want 3", len(infos))
			}
			c := infos[2].ID
			wantInfo(t, r, Info{ID: c, Algorithm: alg, State: StatePending,
				Created: t0.Add(26 * time.Hour), Activates: t0.Add(27 * time.Hour), Deactivates: t0.Add(51 * time.Hour), Retires: t0.Add(51*time.Hour + 15*time.Minute)})
			wantVisible(t, r, c, public)
			checkInvariants(t, r)
			clock.Set(t0.Add(27 * time.Hour))
			wantSigner(t, r, c)

			// Compromising the signer drops it at once; a new key signs.
			clock.Set(t0.Add(27*time.Hour + 5*time.Minute))
			ci, err := r.Compromise(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			if ci.State != StateCompromised || !ci.Compromised.Equal(t0.Add(27*time.Hour+5*time.Minute)) {
				t.Errorf("Compromise returned %+v", ci)
			}
			wantVisible(t, r, c, false)
			if _, err := r.Key(ctx, c); !errors.Is(err, token.ErrUnknownKey) {
				t.Errorf("Key(compromised) = %v, want ErrUnknownKey", err)
			}
			d := signerID(t, r)
			if d == c {
				t.Fatal("the compromised key still signs")
			}
			wantState(t, r, d, StateActive)
			wantVisible(t, r, d, public)
			wantState(t, r, b, StateVerifying) // its tokens are still good
			checkInvariants(t, r)
		})
	}
}

func wantInfo(t *testing.T, r *Ring, want Info) {
	t.Helper()
	if got := keyInfo(t, r, want.ID); got != want {
		t.Errorf("key info:\n got %+v\nwant %+v", got, want)
	}
}

func wantState(t *testing.T, r *Ring, kid string, want State) {
	t.Helper()
	if got := keyInfo(t, r, kid).State; got != want {
		t.Errorf("key %s is %s, want %s", kid, got, want)
	}
}

func wantSigner(t *testing.T, r *Ring, kid string) {
	t.Helper()
	if got := signerID(t, r); got != kid {
		t.Errorf("signer is %s, want %s", got, kid)
	}
}

// wantVisible checks that kid is in the JWKS exactly when public, and that
// the issuer trusts it exactly when it is published (public or HS256).
func wantVisible(t *testing.T, r *Ring, kid string, public bool) {
	t.Helper()
	if got := inPublicSet(r, kid); got != public {
		t.Errorf("key %s in PublicSet = %v, want %v", kid, got, public)
	}
	published := published(keyInfo(t, r, kid).State)
	if got := trusted(t, r, kid); got != published {
		t.Errorf("Key(%s) found = %v, want %v", kid, got, published)
	}
}

func TestRotateNow(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	r := openRing(t, newMemStore(), testConfig(jwk.EdDSA, clock))
	a := signerID(t, r)

	clock.Add(time.Hour)
	bi, err := r.RotateNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	wantSigner(t, r, bi.ID)
	if !bi.Activates.Equal(now) || bi.State != StateActive {
		t.Errorf("RotateNow returned %+v, want a key active from %v", bi, now)
	}
	ai := keyInfo(t, r, a)
	if ai.State != StateVerifying || !ai.Deactivates.Equal(now) || !ai.Retires.Equal(now.Add(15*time.Minute)) {
		t.Errorf("old signer after RotateNow: %+v", ai)
	}
	wantVisible(t, r, a, true)
	checkInvariants(t, r)
}

// TestRotateNowTwiceAtOneInstant is a regression test: two keys activating
// at the same second must not both be active.
func TestRotateNowTwiceAtOneInstant(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	r := openRing(t, newMemStore(), testConfig(jwk.EdDSA, clock))
	a := signerID(t, r)
	b, err := r.RotateNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.RotateNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantSigner(t, r, c.ID)
	wantState(t, r, a, StateVerifying)
	wantState(t, r, b.ID, StateVerifying)
	checkInvariants(t, r)
}

// TestRotateWithPendingSuccessor checks that a rotation while a successor
// waits leaves one signer at every moment.
func TestRotateWithPendingSuccessor(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	r := openRing(t, newMemStore(), testConfig(jwk.EdDSA, clock))
	a := signerID(t, r)
	b, err := r.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(10 * time.Minute)
	c, err := r.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, r)
	for _, step := range []struct {
		at     time.Duration
		signer string
	}{
		{59 * time.Minute, a},
		{60 * time.Minute, b.ID},
		{70*time.Minute - time.Second, b.ID},
		{70 * time.Minute, c.ID},
	} {
		clock.Set(t0.Add(step.at))
		if got := signerID(t, r); got != step.signer {
			t.Errorf("at +%v signer is %s, want %s", step.at, got, step.signer)
		}
	}
	checkInvariants(t, r)
}

// TestMaintainAfterOutage: when Maintain has not run for longer than a key's
// active period, nothing signs; the next Maintain makes a key that signs at
// once.
func TestMaintainAfterOutage(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	r := openRing(t, newMemStore(), testConfig(jwk.EdDSA, clock))
	clock.Add(30 * 24 * time.Hour)
	if _, err := r.Signer(); err == nil {
		t.Fatal("a key signs after its active period ended")
	}
	if err := r.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	wantState(t, r, signerID(t, r), StateActive)
	checkInvariants(t, r)
}

func TestCompromise(t *testing.T) {
	ctx := context.Background()
	t.Run("pending successor", func(t *testing.T) {
		clock := newClock()
		r := openRing(t, newMemStore(), testConfig(jwk.EdDSA, clock))
		a := signerID(t, r)
		b, err := r.Rotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Compromise(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		wantVisible(t, r, b.ID, false)
		wantSigner(t, r, a)
		// a stops signing when b would have started; a new successor takes
		// over then.
		clock.Set(b.Activates)
		if got := signerID(t, r); got == a || got == b.ID {
			t.Errorf("signer at %v is %s", b.Activates, got)
		}
		checkInvariants(t, r)
	})
	t.Run("verifying key", func(t *testing.T) {
		clock := newClock()
		r := openRing(t, newMemStore(), testConfig(jwk.EdDSA, clock))
		a := signerID(t, r)
		b, err := r.RotateNow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Compromise(ctx, a); err != nil {
			t.Fatal(err)
		}
		wantVisible(t, r, a, false)
		wantSigner(t, r, b.ID)
		if n := len(r.Keys()); n != 2 {
			t.Errorf("compromising a key that does not sign made a new key: %d keys", n)
		}
	})
	t.Run("twice", func(t *testing.T) {
		clock := newClock()
		r := openRing(t, newMemStore(), testConfig(jwk.EdDSA, clock))
		a := signerID(t, r)
		first, err := r.Compromise(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Minute)
		second, err := r.Compromise(ctx, a)
		if err != nil || second != first {
			t.Errorf("second Compromise = %+v, %v; want %+v", second, err, first)
		}
		if n := len(r.Keys()); n != 2 {
			t.Errorf("%d keys, want 2", n)
		}
	})
	t.Run("unknown kid", func(t *testing.T) {
		r := openRing(t, newMemStore(), testConfig(jwk.EdDSA, newClock()))
		if _, err := r.Compromise(ctx, "no-such-key"); err == nil {
			t.Error("Compromise of an unknown kid succeeded")
		}
	})
}

// TestMaintainConverges runs two issuer instances on one store.
func TestMaintainConverges(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	store := newMemStore()
	r1 := openRing(t, store, testConfig(jwk.EdDSA, clock))
	r2 := openRing(t, store, testConfig(jwk.EdDSA, clock))
	wantSigner(t, r2, signerID(t, r1))

	b, err := r1.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if inPublicSet(r2, b.ID) {
		t.Fatal("r2 knows b before Maintain")
	}
	if err := r2.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if !inPublicSet(r2, b.ID) {
		t.Fatal("r2 does not publish b after Maintain")
	}
	clock.Set(b.Activates)
	wantSigner(t, r2, b.ID)

	// Automatic rotation by one instance reaches the other.
	clock.Set(b.Deactivates.Add(-time.Hour))
	if err := r2.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r1.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := len(r1.Keys()), len(r2.Keys()); got != want || got != 3 {
		t.Fatalf("r1 has %d keys, r2 %d; want 3 each", got, want)
	}
	clock.Set(b.Deactivates)
	wantSigner(t, r1, signerID(t, r2))
}

// TestSaveBeforeChange checks that a change the store did not take leaves
// the ring as the store is.
func TestSaveBeforeChange(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		at        time.Duration // after t0
		failAfter int           // saves that succeed
		op        func(r *Ring, kid string) error
	}{
		{"Rotate", 2 * time.Hour, 0, func(r *Ring, _ string) error { _, err := r.Rotate(ctx); return err }},
		{"Rotate, old key not cut", 2 * time.Hour, 1, func(r *Ring, _ string) error { _, err := r.Rotate(ctx); return err }},
		{"RotateNow", 2 * time.Hour, 0, func(r *Ring, _ string) error { _, err := r.RotateNow(ctx); return err }},
		{"RotateNow, old key not cut", 2 * time.Hour, 1, func(r *Ring, _ string) error { _, err := r.RotateNow(ctx); return err }},
		{"Compromise", 2 * time.Hour, 0, func(r *Ring, kid string) error { _, err := r.Compromise(ctx, kid); return err }},
		{"Compromise, no replacement", 2 * time.Hour, 1, func(r *Ring, kid string) error { _, err := r.Compromise(ctx, kid); return err }},
		{"Maintain", 23 * time.Hour, 0, func(r *Ring, _ string) error { return r.Maintain(ctx) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			store := newMemStore()
			r := openRing(t, store, testConfig(jwk.EdDSA, clock))
			a := signerID(t, r)
			clock.Add(tc.at)
			store.setFailAfter(tc.failAfter)
			if err := tc.op(r, a); !errors.Is(err, errStoreDown) {
				t.Fatalf("error = %v, want the store's", err)
			}
			if got, want := fmt.Sprint(r.Keys()), fmt.Sprint(storedInfos(t, store, clock.Now())); got != want {
				t.Errorf("ring differs from store:\n ring  %s\n store %s", got, want)
			}
			if tc.failAfter == 0 {
				if n := len(r.Keys()); n != 1 {
					t.Errorf("%d keys after a failed save, want 1", n)
				}
				wantSigner(t, r, a)
			}
		})
	}
}

// storedInfos describes the records in store as Ring.Keys would.
func storedInfos(t *testing.T, store Store, now time.Time) []Info {
	t.Helper()
	recs, err := store.LoadKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]*entry{}
	for _, rec := range recs {
		keys[rec.ID] = &entry{rec: rec}
	}
	var infos []Info
	for _, e := range sortedEntries(keys) {
		infos = append(infos, info(e.rec, now))
	}
	return infos
}

// allowedMembers are the public JWK members.
var allowedMembers = map[string]bool{
	"kty": true, "use": true, "alg": true, "kid": true, "crv": true, "x": true, "y": true, "n": true, "e": true,
}

func TestPublicSetHasNoSecrets(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	store := newMemStore()
	// One store through every algorithm, so the set holds keys of several
	// and an HS256 key that still verifies.
	var kids []string
	for _, alg := range []jwk.Algorithm{jwk.HS256, jwk.ES256, jwk.RS256, jwk.EdDSA} {
		r := openRing(t, store, testConfig(alg, clock))
		if _, err := r.RotateNow(ctx); err != nil {
			t.Fatal(err)
		}
		kids = append(kids, signerID(t, r))
	}
	r := openRing(t, store, testConfig(jwk.EdDSA, clock))
	data, err := json.Marshal(r.PublicSet())
	if err != nil {
		t.Fatal(err)
	}
	var set struct{ Keys []map[string]any }
	if err := json.Unmarshal(data, &set); err != nil {
		t.Fatal(err)
	}
	algs := map[string]bool{}
	for _, k := range set.Keys {
		for m := range k {
			if !allowedMembers[m] {
				t.Errorf("published key has member %q: %s", m, data)
			}
		}
		algs[fmt.Sprint(k["alg"])] = true
	}
	if algs["HS256"] {
		t.Errorf("an HS256 key is published: %s", data)
	}
	for _, alg := range []string{"EdDSA", "ES256", "RS256"} {
		if !algs[alg] {
			t.Errorf("no %s key published: %s", alg, data)
		}
	}
	// The HS256 key is withheld, not forgotten: the issuer still verifies
	// with it.
	if !trusted(t, r, kids[0]) {
		t.Error("the HS256 key no longer verifies")
	}

	hs := openRing(t, newMemStore(), testConfig(jwk.HS256, clock))
	data, err = json.Marshal(hs.PublicSet())
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != `{"keys":[]}` {
		t.Errorf("HS256 ring publishes %s", data)
	}
}

func TestOpenRejectsConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"negative PublishLead", Config{PublishLead: -time.Second}},
		{"negative ActivePeriod", Config{ActivePeriod: -time.Second}},
		{"negative MaxTokenTTL", Config{MaxTokenTTL: -time.Second}},
		{"ActivePeriod shorter than PublishLead", Config{PublishLead: 2 * time.Hour, ActivePeriod: time.Hour}},
		{"unsupported algorithm", Config{Algorithm: "none"}},
		{"algorithm in the wrong case", Config{Algorithm: "eddsa"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newMemStore()
			if _, err := Open(context.Background(), store, testMaster, tc.cfg); err == nil {
				t.Error("Open succeeded")
			}
			if len(store.recs) != 0 {
				t.Error("Open wrote to the store")
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	r := openRing(t, newMemStore(), Config{})
	if got := r.JWKSMaxAge(); got != 30*time.Minute {
		t.Errorf("JWKSMaxAge = %v, want 30m", got)
	}
	i := r.Keys()[0]
	if i.Algorithm != jwk.EdDSA {
		t.Errorf("default algorithm %s", i.Algorithm)
	}
	if got := i.Deactivates.Sub(i.Activates); got != 30*24*time.Hour {
		t.Errorf("default active period %v", got)
	}
	if got := i.Retires.Sub(i.Deactivates); got != time.Hour {
		t.Errorf("default token lifetime %v", got)
	}
}

func TestOpenRejectsMasterKey(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	openRing(t, store, testConfig(jwk.EdDSA, newClock()))
	other, err := GenerateMasterKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]MasterKey{"zero": {}, "wrong": other} {
		if _, err := Open(ctx, store, m, Config{}); err == nil {
			t.Errorf("Open with the %s master key succeeded", name)
		}
	}
}

// TestConcurrentUse is for the race detector.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	r := openRing(t, newMemStore(), testConfig(jwk.EdDSA, clock))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				k, err := r.Signer()
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := r.Key(ctx, k.ID()); err != nil {
					t.Error(err)
				}
				r.PublicSet()
				r.Keys()
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			var err error
			switch i % 3 {
			case 0:
				_, err = r.Rotate(ctx)
			case 1:
				_, err = r.RotateNow(ctx)
			case 2:
				err = r.Maintain(ctx)
			}
			if err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	checkInvariants(t, r)
}

func TestKeyUnknown(t *testing.T) {
	r := openRing(t, newMemStore(), testConfig(jwk.EdDSA, newClock()))
	_, err := r.Key(context.Background(), "nope")
	if !errors.Is(err, token.ErrUnknownKey) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("Key(unknown) = %v", err)
	}
}

// TestExtraAlgorithm: a key of an extra algorithm signs beside the default
// one, on its own schedule: rotating or compromising one never cuts the
// other short, and both are published.
func TestExtraAlgorithm(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	cfg := testConfig(jwk.EdDSA, clock)
	cfg.Extra = []jwk.Algorithm{jwk.RS256, jwk.EdDSA, jwk.RS256}
	r := openRing(t, newMemStore(), cfg)
	if got := r.Algorithms(); !slices.Equal(got, []jwk.Algorithm{jwk.EdDSA, jwk.RS256}) {
		t.Fatalf("Algorithms() = %v", got)
	}
	def, err := r.Signer()
	if err != nil || def.Algorithm() != jwk.EdDSA {
		t.Fatalf("Signer() = %v, %v; want the EdDSA key", def, err)
	}
	rsa, err := r.SignerFor(jwk.RS256)
	if err != nil || rsa.Algorithm() != jwk.RS256 {
		t.Fatalf("SignerFor(RS256) = %v, %v", rsa, err)
	}
	if k, err := r.SignerFor(jwk.EdDSA); err != nil || k.ID() != def.ID() {
		t.Errorf("SignerFor(EdDSA) = %v, %v; want the default signer", k, err)
	}
	if _, err := r.SignerFor(jwk.ES256); err == nil {
		t.Error("SignerFor(ES256) found a key the ring does not keep")
	}
	if !inPublicSet(r, def.ID()) || !inPublicSet(r, rsa.ID()) {
		t.Error("both signers must be published")
	}

	// Rotating the default keys leaves the RS256 key signing.
	if _, err := r.RotateNow(ctx); err != nil {
		t.Fatal(err)
	}
	if k, _ := r.SignerFor(jwk.RS256); k.ID() != rsa.ID() {
		t.Error("rotating the default keys replaced the RS256 signer")
	}
	if k, _ := r.Signer(); k.ID() == def.ID() || k.Algorithm() != jwk.EdDSA {
		t.Errorf("after RotateNow the signer is %s (%s)", k.ID(), k.Algorithm())
	}
	// Compromising the RS256 key replaces it at once, with another RS256 key.
	if _, err := r.Compromise(ctx, rsa.ID()); err != nil {
		t.Fatal(err)
	}
	next, err := r.SignerFor(jwk.RS256)
	if err != nil || next.ID() == rsa.ID() || inPublicSet(r, rsa.ID()) {
		t.Errorf("after compromise: SignerFor(RS256) = %v, %v; old key published: %v", next, err, inPublicSet(r, rsa.ID()))
	}
	// Each lane rotates on its own schedule before its key stops signing.
	clock.Add(23*time.Hour + 30*time.Minute)
	if err := r.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Hour)
	if k, err := r.SignerFor(jwk.RS256); err != nil || k.ID() == next.ID() {
		t.Errorf("RS256 key not rotated on schedule: %v, %v", k, err)
	}
	if _, err := r.Signer(); err != nil {
		t.Error(err)
	}
	checkInvariants(t, r)
}

// TestRotateNowPromotesPending: with a successor already published,
// RotateNow makes that key sign at once rather than a new one, so no
// verifier meets a kid it has not seen in the JWKS.
func TestRotateNowPromotesPending(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	r := openRing(t, newMemStore(), testConfig(jwk.EdDSA, clock))
	a := signerID(t, r)
	b, err := r.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(10 * time.Minute)
	got, err := r.RotateNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != b.ID {
		t.Fatalf("RotateNow made key %s; want the published successor %s promoted", got.ID, b.ID)
	}
	now := clock.Now()
	wantSigner(t, r, b.ID)
	if bi := keyInfo(t, r, b.ID); bi.State != StateActive || !bi.Activates.Equal(now) {
		t.Errorf("promoted key: %+v", bi)
	}
	if ai := keyInfo(t, r, a); ai.State != StateVerifying || !ai.Deactivates.Equal(now) {
		t.Errorf("old signer after the promotion: %+v", ai)
	}
	if n := len(r.Keys()); n != 2 {
		t.Errorf("%d keys after the promotion, want 2", n)
	}
	checkInvariants(t, r)
}
