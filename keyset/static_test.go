package keyset

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/waxseal/waxseal/jwk"
	"github.com/waxseal/waxseal/token"
)

func newKey(t *testing.T) *jwk.PublicKey {
	t.Helper()
	k, err := jwk.Generate(jwk.EdDSA, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k.Public()
}

func marshalSet(t *testing.T, keys ...*jwk.PublicKey) []byte {
	t.Helper()
	b, err := json.Marshal(&jwk.Set{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStatic(t *testing.T) {
	a, b := newKey(t), newKey(t)
	set := &jwk.Set{Keys: []*jwk.PublicKey{a}}
	s := NewStatic(set)
	set.Keys[0] = b // must not reach s

	ctx := context.Background()
	if k, err := s.Key(ctx, a.ID()); err != nil || !k.Equal(a) {
		t.Errorf("Key(a) = %v, %v", k, err)
	}
	for _, kid := range []string{b.ID(), "", "nope"} {
		if _, err := s.Key(ctx, kid); !errors.Is(err, token.ErrUnknownKey) {
			t.Errorf("Key(%q) error = %v, want ErrUnknownKey", kid, err)
		}
	}
}

func TestLoadFile(t *testing.T) {
	a, b := newKey(t), newKey(t)
	dir := t.TempDir()
	tests := []struct {
		name    string
		data    []byte // nil: no file
		wantErr bool
	}{
		{name: "two keys", data: marshalSet(t, a, b)},
		{name: "missing", data: nil, wantErr: true},
		{name: "not JSON", data: []byte("keys"), wantErr: true},
		{name: "no keys member", data: []byte(`{}`), wantErr: true},
		{name: "empty set", data: []byte(`{"keys":[]}`), wantErr: true},
		{name: "only unsupported keys", data: []byte(`{"keys":[{"kty":"RSA","alg":"PS256","n":"AQAB","e":"AQAB"}]}`), wantErr: true},
		{name: "duplicate member", data: []byte(`{"keys":[],"keys":[]}`), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".json")
			if tt.data != nil {
				if err := os.WriteFile(path, tt.data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			s, err := LoadFile(path)
			if (err != nil) != tt.wantErr {
				t.Fatalf("LoadFile error = %v, want error: %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			for _, want := range []*jwk.PublicKey{a, b} {
				if k, err := s.Key(context.Background(), want.ID()); err != nil || !k.Equal(want) {
					t.Errorf("Key(%s) = %v, %v", want.ID(), k, err)
				}
			}
		})
	}
}
