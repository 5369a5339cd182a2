package jwk

import (
	"fmt"
	"log/slog"
)

// Keys print as their algorithm and key ID only, however they are printed:
// fmt's verbs (String, GoString and Format cover %v, %+v, %#v, %s, %q, %x
// and the rest, also when the key sits inside another value) and slog
// (LogValue). A private key, and an HS256 public key which is the shared
// secret itself, would otherwise print their key bytes into any log line
// that mentions them. The methods have value receivers so that a copied key
// prints safely too.

var (
	_ fmt.Stringer   = PrivateKey{}
	_ fmt.GoStringer = PrivateKey{}
	_ fmt.Formatter  = PrivateKey{}
	_ slog.LogValuer = PrivateKey{}
	_ fmt.Stringer   = PublicKey{}
	_ fmt.GoStringer = PublicKey{}
	_ fmt.Formatter  = PublicKey{}
	_ slog.LogValuer = PublicKey{}
)

func describe(typ string, alg Algorithm, kid string) string {
	return "jwk." + typ + "{alg: " + string(alg) + ", kid: " + kid + "}"
}

// String returns the key's type, algorithm and ID, never its material.
func (k PrivateKey) String() string {
	if k.pub == nil {
		return "jwk.PrivateKey{}"
	}
	return describe("PrivateKey", k.pub.alg, k.pub.id)
}

// GoString is String: %#v must not print the key either.
func (k PrivateKey) GoString() string { return k.String() }

// Format writes String for every verb.
func (k PrivateKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// LogValue logs the algorithm and key ID.
func (k PrivateKey) LogValue() slog.Value {
	if k.pub == nil {
		return slog.GroupValue()
	}
	return k.pub.LogValue()
}

// String returns the key's type, algorithm and ID, never its material.
func (k PublicKey) String() string { return describe("PublicKey", k.alg, k.id) }

// GoString is String: %#v must not print an HS256 secret either.
func (k PublicKey) GoString() string { return k.String() }

// Format writes String for every verb.
func (k PublicKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// LogValue logs the algorithm and key ID.
func (k PublicKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("alg", string(k.alg)), slog.String("kid", k.id))
}
