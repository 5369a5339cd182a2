package keyring

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/waxseal/waxseal/jwk"
)

func newTestSealer(t testing.TB, m MasterKey) *sealer {
	t.Helper()
	s, err := newSealer(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sealedRecord makes a record for a new key of alg.
func sealedRecord(t *testing.T, s *sealer, alg jwk.Algorithm) (Record, *jwk.PrivateKey) {
	t.Helper()
	k, err := jwk.Generate(alg, nil)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.sealKey(defaultRand, k)
	if err != nil {
		t.Fatal(err)
	}
	return Record{ID: k.ID(), Algorithm: alg, Sealed: sealed}, k
}

func TestSealRoundTrip(t *testing.T) {
	s := newTestSealer(t, testMaster)
	for _, alg := range []jwk.Algorithm{jwk.EdDSA, jwk.ES256, jwk.RS256, jwk.HS256} {
		t.Run(string(alg), func(t *testing.T) {
			rec, k := sealedRecord(t, s, alg)
			got, err := s.openKey(rec)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := k.MarshalBinary()
			gotDER, _ := got.MarshalBinary()
			if !bytes.Equal(gotDER, want) || got.Algorithm() != alg {
				t.Error("unsealed a different key")
			}
			if bytes.Contains(rec.Sealed, want) {
				t.Error("sealed blob holds the plaintext")
			}
			again, err := s.sealKey(defaultRand, k)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(again, rec.Sealed) {
				t.Error("two seals of one key are equal: nonce reused")
			}
		})
	}
}

func TestSealWrongMasterKey(t *testing.T) {
	rec, _ := sealedRecord(t, newTestSealer(t, testMaster), jwk.EdDSA)
	other := testMaster
	other.key[31] ^= 1
	if _, err := newTestSealer(t, other).openKey(rec); err == nil {
		t.Error("opened with the wrong master key")
	}
}

func TestSealTampering(t *testing.T) {
	s := newTestSealer(t, testMaster)
	rec, _ := sealedRecord(t, s, jwk.EdDSA)
	for i := range rec.Sealed {
		for _, bit := range []byte{0x01, 0x80} {
			bad := rec
			bad.Sealed = bytes.Clone(rec.Sealed)
			bad.Sealed[i] ^= bit
			if _, err := s.openKey(bad); err == nil {
				t.Errorf("opened with byte %d flipped by %#x", i, bit)
			}
		}
	}
	for n := range len(rec.Sealed) {
		bad := rec
		bad.Sealed = rec.Sealed[:n]
		if _, err := s.openKey(bad); err == nil {
			t.Errorf("opened truncated to %d bytes", n)
		}
	}
	bad := rec
	bad.Sealed = append(bytes.Clone(rec.Sealed), 0)
	if _, err := s.openKey(bad); err == nil {
		t.Error("opened with a byte appended")
	}
}

// TestSealedKeySwap: a sealed key moved onto another record, or relabelled
// with another algorithm, does not open.
func TestSealedKeySwap(t *testing.T) {
	s := newTestSealer(t, testMaster)
	a, _ := sealedRecord(t, s, jwk.EdDSA)
	b, _ := sealedRecord(t, s, jwk.EdDSA)
	a.Sealed, b.Sealed = b.Sealed, a.Sealed
	for _, rec := range []Record{a, b} {
		if _, err := s.openKey(rec); err == nil {
			t.Errorf("record %s opened another key's seal", rec.ID)
		}
	}

	h, _ := sealedRecord(t, s, jwk.HS256)
	h.Algorithm = jwk.EdDSA
	if _, err := s.openKey(h); err == nil {
		t.Error("an HS256 seal opened as EdDSA")
	}

	// And through a store: the ring refuses to open.
	ctx := context.Background()
	store := NewFileStore(filepath.Join(t.TempDir(), "keys.json"))
	clock := newClock()
	r := openRing(t, store, testConfig(jwk.EdDSA, clock))
	if _, err := r.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	recs, err := store.LoadKeys(ctx)
	if err != nil || len(recs) != 2 {
		t.Fatalf("LoadKeys: %d records, %v", len(recs), err)
	}
	recs[0].Sealed, recs[1].Sealed = recs[1].Sealed, recs[0].Sealed
	for _, rec := range recs {
		if err := store.SaveKey(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	clock.Add(time.Minute)
	if _, err := Open(ctx, store, testMaster, testConfig(jwk.EdDSA, clock)); err == nil {
		t.Error("Open accepted swapped seals")
	}
}

func FuzzOpenSealed(f *testing.F) {
	s := newTestSealer(f, testMaster)
	k, err := jwk.Generate(jwk.EdDSA, nil)
	if err != nil {
		f.Fatal(err)
	}
	sealed, err := s.sealKey(defaultRand, k)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add([]byte{sealVersion})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, blob []byte) {
		got, err := s.openKey(Record{ID: k.ID(), Algorithm: jwk.EdDSA, Sealed: blob})
		if err == nil && !bytes.Equal(blob, sealed) {
			t.Errorf("opened a forged seal as key %s", got.ID())
		}
	})
}
