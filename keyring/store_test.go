package keyring

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waxseal/waxseal/jwk"
)

// testStore is the behaviour every Store must have. newStore returns an
// empty store.
func testStore(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	rec := func(id string, minutes int) Record {
		at := t0.Add(time.Duration(minutes) * time.Minute)
		return Record{
			ID: id, Algorithm: jwk.EdDSA,
			Created: at, Activates: at.Add(time.Hour), Deactivates: at.Add(25 * time.Hour), Retires: at.Add(26 * time.Hour),
			Sealed: []byte("sealed " + id),
		}
	}
	load := func(t *testing.T, s Store) []Record {
		t.Helper()
		recs, err := s.LoadKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(recs, func(a, b Record) int { return strings.Compare(a.ID, b.ID) })
		return recs
	}
	same := func(t *testing.T, got, want []Record) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("got %d records, want %d", len(got), len(want))
		}
		for i := range got {
			g, w := got[i], want[i]
			if g.ID != w.ID || g.Algorithm != w.Algorithm || !bytes.Equal(g.Sealed, w.Sealed) ||
				!g.Created.Equal(w.Created) || !g.Activates.Equal(w.Activates) || !g.Deactivates.Equal(w.Deactivates) ||
				!g.Retires.Equal(w.Retires) || !g.Compromised.Equal(w.Compromised) {
				t.Errorf("record %d:\n got %+v\nwant %+v", i, g, w)
			}
		}
	}

	t.Run("empty", func(t *testing.T) {
		same(t, load(t, newStore(t)), nil)
	})
	t.Run("insert and update", func(t *testing.T) {
		s := newStore(t)
		a, b := rec("a", 0), rec("b", 1)
		for _, r := range []Record{a, b} {
			if err := s.SaveKey(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		same(t, load(t, s), []Record{a, b})
		a.Deactivates = a.Activates
		a.Compromised = t0.Add(time.Hour)
		if err := s.SaveKey(ctx, a); err != nil {
			t.Fatal(err)
		}
		same(t, load(t, s), []Record{a, b})
	})
	t.Run("concurrent saves", func(t *testing.T) {
		s := newStore(t)
		var want []Record
		var wg sync.WaitGroup
		for i := range 10 {
			r := rec(fmt.Sprintf("k%d", i), i)
			want = append(want, r)
			wg.Go(func() {
				if err := s.SaveKey(ctx, r); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		same(t, load(t, s), want)
	})
}

func TestMemStore(t *testing.T) {
	testStore(t, func(*testing.T) Store { return newMemStore() })
}

func TestFileStore(t *testing.T) {
	testStore(t, func(t *testing.T) Store {
		return NewFileStore(filepath.Join(t.TempDir(), "keys.json"))
	})
}

func TestFileStoreFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.json")
	s := NewFileStore(path)
	for i := range 3 {
		r := Record{ID: fmt.Sprint(i), Algorithm: jwk.EdDSA, Sealed: []byte{1}}
		if err := s.SaveKey(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %04o, want 0600", fi.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d files, want only the store: temporary files left behind", len(entries))
	}
}

func TestFileStorePermissions(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o640, false},
		{0o644, false},
		{0o606, false},
	} {
		t.Run(fmt.Sprintf("%04o", tc.mode), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys.json")
			writeFileMode(t, path, []byte(`{"version":1,"keys":[]}`), tc.mode)
			s := NewFileStore(path)
			_, loadErr := s.LoadKeys(ctx)
			saveErr := s.SaveKey(ctx, Record{ID: "a", Algorithm: jwk.EdDSA, Sealed: []byte{1}})
			if tc.ok {
				if loadErr != nil {
					t.Error(loadErr)
				}
				if tc.mode&0o200 != 0 && saveErr != nil {
					t.Error(saveErr)
				}
				return
			}
			for _, err := range []error{loadErr, saveErr} {
				if !errors.Is(err, ErrInsecurePermissions) {
					t.Errorf("err = %v, want ErrInsecurePermissions", err)
				}
			}
		})
	}
}

func TestFileStoreRejectsBadFiles(t *testing.T) {
	for _, tc := range []struct{ name, data string }{
		{"not JSON", "keys"},
		{"unknown version", `{"version":2,"keys":[]}`},
		{"no version", `{"keys":[]}`},
		{"unknown member", `{"version":1,"keys":[],"extra":1}`},
		{"record without kid", `{"version":1,"keys":[{"alg":"EdDSA","sealed":"AQ=="}]}`},
		{"unsupported algorithm", `{"version":1,"keys":[{"kid":"a","alg":"none","sealed":"AQ=="}]}`},
		{"record without key", `{"version":1,"keys":[{"kid":"a","alg":"EdDSA"}]}`},
		{"two records with one kid", `{"version":1,"keys":[{"kid":"a","alg":"EdDSA","sealed":"AQ=="},{"kid":"a","alg":"EdDSA","sealed":"AQ=="}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys.json")
			writeFileMode(t, path, []byte(tc.data), 0o600)
			if _, err := NewFileStore(path).LoadKeys(context.Background()); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// TestPersistence reopens a ring from its file after every kind of change.
func TestPersistence(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keys.json")
	clock := newClock()
	cfg := testConfig(jwk.ES256, clock)
	r := openRing(t, NewFileStore(path), cfg)
	first := signerID(t, r)
	clock.Add(time.Hour)
	if _, err := r.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Minute)
	if _, err := r.RotateNow(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Compromise(ctx, first); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Minute)

	again := openRing(t, NewFileStore(path), cfg)
	if got, want := again.Keys(), r.Keys(); !reflect.DeepEqual(got, want) {
		t.Errorf("reopened keys:\n got %+v\nwant %+v", got, want)
	}
	if got, want := signerID(t, again), signerID(t, r); got != want {
		t.Errorf("reopened signer %s, want %s", got, want)
	}
	gotSet, _ := again.PublicSet().MarshalJSON()
	wantSet, _ := r.PublicSet().MarshalJSON()
	if !bytes.Equal(gotSet, wantSet) {
		t.Errorf("reopened JWKS:\n got %s\nwant %s", gotSet, wantSet)
	}

	// No private key is in the file, neither raw nor as the base64 that
	// encoding/json would write for plaintext bytes.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range r.keys {
		if e.key == nil {
			continue
		}
		der, _ := e.key.MarshalBinary()
		parsed, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			t.Fatal(err)
		}
		scalar, err := parsed.(*ecdsa.PrivateKey).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range [][]byte{der, scalar, []byte(base64.StdEncoding.EncodeToString(der)), []byte(base64.StdEncoding.EncodeToString(scalar))} {
			if bytes.Contains(data, secret) {
				t.Errorf("the file holds private key %s in the clear", e.rec.ID)
			}
		}
	}
}
