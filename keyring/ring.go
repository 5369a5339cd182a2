package keyring

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/waxseal/waxseal/jwk"
	"github.com/waxseal/waxseal/token"
)

// State is where a key is in its lifecycle at a given time.
type State string

const (
	StatePending     State = "pending"     // published, not yet signing
	StateActive      State = "active"      // published and signing
	StateVerifying   State = "verifying"   // published only, until the tokens it signed expire
	StateRetired     State = "retired"     // neither published nor signing
	StateCompromised State = "compromised" // dropped at once, whatever its times said
)

// Info describes one key for operators. It holds nothing secret, and its
// JSON form is what the command line and the admin API show.
type Info struct {
	ID          string        `json:"kid"`
	Algorithm   jwk.Algorithm `json:"alg"`
	State       State         `json:"state"`
	Created     time.Time     `json:"created"`
	Activates   time.Time     `json:"activates"`
	Deactivates time.Time     `json:"deactivates"`
	Retires     time.Time     `json:"retires"`
	Compromised time.Time     `json:"compromised,omitzero"` // zero unless compromised
}

// Ring holds an issuer's signing keys and moves them through their
// lifecycle. It is safe for concurrent use.
type Ring struct {
	store  Store
	sealer *sealer
	cfg    Config

	// change serializes the operations that change keys (Maintain, Rotate,
	// RotateNow, Compromise), so each decides on the state it replaces. It
	// is held across store calls and key generation; mu is not. keys is
	// written only with both held, so a holder of change may read keys
	// without mu.
	change sync.Mutex

	mu   sync.RWMutex      // guards keys
	keys map[string]*entry // by ID; an entry is replaced, never modified
}

// entry is one record and, while the key may still be published, its
// unsealed private key.
type entry struct {
	rec Record
	key *jwk.PrivateKey // nil once retired or compromised
}

var _ token.KeySource = (*Ring)(nil)

// Open loads the keys in store, unsealing each one that is still published
// with master. If no key can sign now, as on the first start, it makes one
// that signs at once: nothing was published before, so no verifier's cache
// needs waiting for. Open then does what Maintain does.
func Open(ctx context.Context, store Store, master MasterKey, cfg Config) (*Ring, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s, err := newSealer(master)
	if err != nil {
		return nil, err
	}
	r := &Ring{store: store, sealer: s, cfg: cfg, keys: map[string]*entry{}}
	if err := r.Maintain(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// JWKSMaxAge is how long verifiers may cache the JWKS: the max-age the issuer
// sends with it. It is half of Config.PublishLead.
func (r *Ring) JWKSMaxAge() time.Duration { return jwksMaxAge(r.cfg.PublishLead) }

// TrustHorizon is how long after a key leaves the JWKS something may still
// trust it: a verifier may have fetched the JWKS just before (JWKSMaxAge),
// and a token the key signed just before lives for up to MaxTokenTTL. A
// revocation of the key must be kept at least this long.
func (r *Ring) TrustHorizon() time.Duration { return r.JWKSMaxAge() + r.cfg.MaxTokenTTL }

// Signer returns the key that signs now. It fails when no key does, as after
// Maintain did not run for a whole active period; Maintain repairs that.
func (r *Ring) Signer() (*jwk.PrivateKey, error) {
	now := r.cfg.Now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e := r.signerAt(r.keys, now, ""); e != nil {
		return e.key, nil
	}
	return nil, fmt.Errorf("keyring: no key signs at %v", now)
}

// SignerFor returns the key that signs now with alg: Config.Algorithm (or
// whatever the default keys still use while moving to it) or one of
// Config.Extra.
func (r *Ring) SignerFor(alg jwk.Algorithm) (*jwk.PrivateKey, error) {
	now := r.cfg.Now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e := r.signerAt(r.keys, now, r.lane(alg)); e != nil && e.rec.Algorithm == alg {
		return e.key, nil
	}
	return nil, fmt.Errorf("keyring: no %s key signs at %v", alg, now)
}

// Algorithms lists the algorithms the ring keeps a signing key of:
// Config.Algorithm first, then Config.Extra.
func (r *Ring) Algorithms() []jwk.Algorithm {
	return append([]jwk.Algorithm{r.cfg.Algorithm}, r.cfg.Extra...)
}

// lane names the schedule a key of alg follows: its own algorithm for an
// extra one, "" for the default keys, whatever their algorithm.
func (r *Ring) lane(alg jwk.Algorithm) jwk.Algorithm {
	if slices.Contains(r.cfg.Extra, alg) {
		return alg
	}
	return ""
}

// Key returns a published key by its kid, the HS256 keys included, so the
// issuer can verify its own tokens. Any other kid gives an error wrapping
// token.ErrUnknownKey.
func (r *Ring) Key(ctx context.Context, kid string) (*jwk.PublicKey, error) {
	now := r.cfg.Now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e := r.keys[kid]; e != nil && e.key != nil && published(stateAt(e.rec, now)) {
		return e.key.Public(), nil
	}
	return nil, fmt.Errorf("keyring: key %q: %w", kid, token.ErrUnknownKey)
}

// PublicSet returns the keys verifiers may trust now: pending, active and
// verifying ones. HS256 keys are shared secrets and never in it.
func (r *Ring) PublicSet() *jwk.Set {
	now := r.cfg.Now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	set := &jwk.Set{}
	for _, e := range sortedEntries(r.keys) {
		if e.key != nil && !e.rec.Algorithm.Symmetric() && published(stateAt(e.rec, now)) {
			set.Keys = append(set.Keys, e.key.Public())
		}
	}
	return set
}

// Keys describes every key the store holds, retired and compromised ones
// included, in the order they activate.
func (r *Ring) Keys() []Info {
	now := r.cfg.Now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	var infos []Info
	for _, e := range sortedEntries(r.keys) {
		infos = append(infos, info(e.rec, now))
	}
	return infos
}

// Rotate publishes a new key that starts signing after Config.PublishLead,
// when the key signing now stops. Verifiers learn of it before they see a
// token it signed.
func (r *Ring) Rotate(ctx context.Context) (Info, error) {
	return r.rotate(ctx, r.cfg.PublishLead)
}

// RotateNow makes a key sign at once, for emergencies. If a successor is
// already published (pending), it is promoted, so verifiers never meet a
// kid they have not seen; otherwise a new key is made, and verifiers whose
// JWKS cache predates it fetch it on its first token. The key that signed
// until now stays published until its tokens expire; use Compromise to drop
// it instead.
func (r *Ring) RotateNow(ctx context.Context) (Info, error) {
	r.change.Lock()
	if err := r.reloadLocked(ctx); err != nil {
		r.change.Unlock()
		return Info{}, err
	}
	now := r.cfg.Now()
	var next *entry
	for _, e := range sortedEntries(r.keys) {
		if e.key != nil && stateAt(e.rec, now) == StatePending && r.lane(e.rec.Algorithm) == r.lane(r.cfg.Algorithm) {
			next = e
			break
		}
	}
	if next == nil {
		r.change.Unlock()
		return r.rotate(ctx, 0)
	}
	defer r.change.Unlock()
	rec := next.rec
	rec.Activates = truncate(now)
	var cut []*entry
	for _, e := range sortedEntries(r.keys) {
		o := e.rec
		if o.ID == rec.ID || r.lane(o.Algorithm) != r.lane(rec.Algorithm) || !o.Compromised.IsZero() || stateAt(o, now) != StateActive {
			continue
		}
		o.Deactivates = rec.Activates
		o.Retires = rec.Activates.Add(r.cfg.MaxTokenTTL)
		cut = append(cut, &entry{rec: o, key: e.key})
	}
	// The promoted key first: between the saves, the latest-activated key
	// signs, and that is already the promoted one.
	if err := r.commitLocked(ctx, append([]*entry{{rec: rec, key: next.key}}, cut...)...); err != nil {
		return Info{}, err
	}
	return info(rec, now), nil
}

func (r *Ring) rotate(ctx context.Context, lead time.Duration) (Info, error) {
	r.change.Lock()
	defer r.change.Unlock()
	if err := r.reloadLocked(ctx); err != nil {
		return Info{}, err
	}
	now := r.cfg.Now()
	rec, err := r.addKeyLocked(ctx, now, truncate(now).Add(lead), r.cfg.Algorithm)
	if err != nil {
		return Info{}, err
	}
	return info(rec, now), nil
}

// Compromise drops the key kid from the JWKS and from Key at once. If it was
// the key signing now, a new key that signs at once replaces it.
func (r *Ring) Compromise(ctx context.Context, kid string) (Info, error) {
	r.change.Lock()
	defer r.change.Unlock()
	if err := r.reloadLocked(ctx); err != nil {
		return Info{}, err
	}
	now := r.cfg.Now()
	e := r.keys[kid]
	if e == nil {
		return Info{}, fmt.Errorf("keyring: no key %q: %w", kid, token.ErrUnknownKey)
	}
	if !e.rec.Compromised.IsZero() {
		return info(e.rec, now), nil
	}
	rec := e.rec
	rec.Compromised = truncate(now)
	if err := r.commitLocked(ctx, &entry{rec: rec}); err != nil {
		return Info{}, err
	}
	// A replacement for the signer, or a successor for the signer whose
	// successor this was.
	if err := r.ensureSignerLocked(ctx, now); err != nil {
		return info(rec, now), fmt.Errorf("keyring: key %s compromised, but: %w", kid, err)
	}
	return info(rec, now), nil
}

// Maintain rotates keys on schedule. It reloads the store, so issuer
// instances sharing one store converge on the same keys; forgets the private
// keys of retired keys; and, when the key signing now stops within
// Config.PublishLead and has no successor yet, publishes one that takes over
// the moment it stops. Call it periodically, such as every minute.
func (r *Ring) Maintain(ctx context.Context) error {
	r.change.Lock()
	defer r.change.Unlock()
	if err := r.reloadLocked(ctx); err != nil {
		return err
	}
	return r.ensureSignerLocked(ctx, r.cfg.Now())
}

// Reload reads the keys from the store, for an issuer that learnt another
// instance (or the command line) changed them: a compromised key stops
// signing and leaves the JWKS at once, a promoted key starts signing.
func (r *Ring) Reload(ctx context.Context) error {
	r.change.Lock()
	defer r.change.Unlock()
	return r.reloadLocked(ctx)
}

// reloadLocked replaces the keys with the store's records, unsealing those
// still published and keeping already unsealed keys.
func (r *Ring) reloadLocked(ctx context.Context) error {
	recs, err := r.store.LoadKeys(ctx)
	if err != nil {
		return fmt.Errorf("keyring: loading keys: %w", err)
	}
	now := r.cfg.Now()
	keys := make(map[string]*entry, len(recs))
	for _, rec := range recs {
		if keys[rec.ID] != nil {
			return fmt.Errorf("keyring: store holds two records for key %s", rec.ID)
		}
		e := &entry{rec: rec}
		if published(stateAt(rec, now)) {
			if old := r.keys[rec.ID]; old != nil && old.key != nil && old.rec.Algorithm == rec.Algorithm && bytes.Equal(old.rec.Sealed, rec.Sealed) {
				e.key = old.key
			} else if e.key, err = r.sealer.openKey(rec); err != nil {
				return err
			}
		}
		keys[rec.ID] = e
	}
	r.mu.Lock()
	r.keys = keys
	r.mu.Unlock()
	return nil
}

// ensureSignerLocked makes sure a key of each algorithm signs now and that
// a successor is published in time.
func (r *Ring) ensureSignerLocked(ctx context.Context, now time.Time) error {
	for _, alg := range r.Algorithms() {
		if err := r.ensureLaneLocked(ctx, now, alg); err != nil {
			return err
		}
	}
	return nil
}

func (r *Ring) ensureLaneLocked(ctx context.Context, now time.Time, alg jwk.Algorithm) error {
	lane := r.lane(alg)
	s := r.signerAt(r.keys, now, lane)
	if s == nil {
		_, err := r.addKeyLocked(ctx, now, truncate(now), alg)
		return err
	}
	if s.rec.Deactivates.Sub(now) > r.cfg.PublishLead {
		return nil
	}
	for _, e := range r.keys {
		a := e.rec.Activates
		if r.lane(e.rec.Algorithm) == lane && e.rec.Compromised.IsZero() && a.After(s.rec.Activates) && !a.After(s.rec.Deactivates) {
			return nil // already published
		}
	}
	_, err := r.addKeyLocked(ctx, now, s.rec.Deactivates, alg)
	return err
}

// addKeyLocked makes a key of alg that is published now and signs from
// activates. It signs for the active period or until the next scheduled
// key of its lane activates, and any key of its lane that would still sign
// at activates stops then. The new key is
// saved before the keys it cuts short, so a failure between the saves leaves
// a key signing longer than planned, never a gap.
func (r *Ring) addKeyLocked(ctx context.Context, now, activates time.Time, alg jwk.Algorithm) (Record, error) {
	k, err := jwk.Generate(alg, r.cfg.Rand)
	if err != nil {
		return Record{}, fmt.Errorf("keyring: %w", err)
	}
	if r.keys[k.ID()] != nil {
		return Record{}, fmt.Errorf("keyring: generated key %s already exists", k.ID())
	}
	sealed, err := r.sealer.sealKey(r.cfg.Rand, k)
	if err != nil {
		return Record{}, err
	}
	rec := Record{
		ID:          k.ID(),
		Algorithm:   k.Algorithm(),
		Created:     truncate(now),
		Activates:   activates,
		Deactivates: activates.Add(r.cfg.ActivePeriod),
		Sealed:      sealed,
	}
	var cut []*entry
	for _, e := range sortedEntries(r.keys) {
		o := e.rec
		if r.lane(o.Algorithm) != r.lane(alg) || !o.Compromised.IsZero() || stateAt(o, now) == StateRetired {
			continue
		}
		if o.Activates.After(activates) && o.Activates.Before(rec.Deactivates) {
			rec.Deactivates = o.Activates
		}
		if !o.Activates.After(activates) && activates.Before(o.Deactivates) {
			o.Deactivates = activates
			o.Retires = activates.Add(r.cfg.MaxTokenTTL)
			cut = append(cut, &entry{rec: o, key: e.key})
		}
	}
	rec.Retires = rec.Deactivates.Add(r.cfg.MaxTokenTTL)
	if err := r.commitLocked(ctx, append([]*entry{{rec: rec, key: k}}, cut...)...); err != nil {
		return Record{}, err
	}
	return rec, nil
}

// commitLocked saves each entry and, once it is saved, puts it in the ring.
func (r *Ring) commitLocked(ctx context.Context, es ...*entry) error {
	for _, e := range es {
		if err := r.store.SaveKey(ctx, e.rec); err != nil {
			return fmt.Errorf("keyring: saving key %s: %w", e.rec.ID, err)
		}
		r.mu.Lock()
		r.keys[e.rec.ID] = e
		r.mu.Unlock()
	}
	return nil
}

// stateAt is the state of rec at now.
func stateAt(rec Record, now time.Time) State {
	switch {
	case !rec.Compromised.IsZero():
		return StateCompromised
	case !now.Before(rec.Retires):
		return StateRetired
	case now.Before(rec.Activates):
		return StatePending
	case now.Before(rec.Deactivates):
		return StateActive
	}
	return StateVerifying
}

func published(s State) bool {
	return s == StatePending || s == StateActive || s == StateVerifying
}

// signerAt returns the key of lane that signs at now: of its active keys,
// the one that activated last. Ties, which only instances racing on one
// store make, go to the greater ID, so every instance picks the same key.
func (r *Ring) signerAt(keys map[string]*entry, now time.Time, lane jwk.Algorithm) *entry {
	var s *entry
	for _, e := range keys {
		if e.key == nil || r.lane(e.rec.Algorithm) != lane || stateAt(e.rec, now) != StateActive {
			continue
		}
		if s == nil || e.rec.Activates.After(s.rec.Activates) ||
			e.rec.Activates.Equal(s.rec.Activates) && e.rec.ID > s.rec.ID {
			s = e
		}
	}
	return s
}

// sortedEntries returns the entries in the order they activate.
func sortedEntries(keys map[string]*entry) []*entry {
	es := make([]*entry, 0, len(keys))
	for _, e := range keys {
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b *entry) int {
		if c := a.rec.Activates.Compare(b.rec.Activates); c != 0 {
			return c
		}
		return cmp.Compare(a.rec.ID, b.rec.ID)
	})
	return es
}

func info(rec Record, now time.Time) Info {
	return Info{
		ID:          rec.ID,
		Algorithm:   rec.Algorithm,
		State:       stateAt(rec, now),
		Created:     rec.Created,
		Activates:   rec.Activates,
		Deactivates: rec.Deactivates,
		Retires:     rec.Retires,
		Compromised: rec.Compromised,
	}
}

// truncate drops the monotonic reading, the time zone and everything below
// the second: JWT times are whole seconds, and every store can hold these
// exactly.
func truncate(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }
