package jwk

import (
	"bytes"
	"testing"
)

// FuzzParseSet checks that ParseSet never panics and that whatever it
// accepts is consistent: every key's ID is its thumbprint, IDs are unique,
// no key is symmetric (an HS256 secret is never read from a published set),
// and the set survives a round trip through MarshalJSON unchanged. The seed
// corpus in testdata/fuzz/FuzzParseSet holds a set of each supported key
// type and the malformed shapes TestParseSetRules names.
func FuzzParseSet(f *testing.F) {
	f.Add([]byte(`{"keys":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSet(data)
		if err != nil {
			if s != nil {
				t.Fatal("ParseSet returned a set with an error")
			}
			return
		}
		seen := map[string]bool{}
		for _, k := range s.Keys {
			if k.Algorithm().Symmetric() {
				t.Fatalf("symmetric key %s read from a published set", k.ID())
			}
			if k.ID() != k.thumbprint() {
				t.Fatalf("kid %q is not the thumbprint %q", k.ID(), k.thumbprint())
			}
			if seen[k.ID()] {
				t.Fatalf("two keys with kid %q", k.ID())
			}
			seen[k.ID()] = true
			if s.Lookup(k.ID()) != k {
				t.Fatalf("Lookup(%q) does not find the key", k.ID())
			}
		}
		out, err := s.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		again, err := ParseSet(out)
		if err != nil {
			t.Fatalf("reparsing %s: %v", out, err)
		}
		if len(again.Keys) != len(s.Keys) {
			t.Fatalf("round trip kept %d of %d keys", len(again.Keys), len(s.Keys))
		}
		for i, k := range again.Keys {
			if !k.Equal(s.Keys[i]) {
				t.Fatalf("round trip changed key %d", i)
			}
		}
		out2, _ := again.MarshalJSON()
		if !bytes.Equal(out, out2) {
			t.Fatalf("marshalling is not stable:\n%s\n%s", out, out2)
		}
	})
}
