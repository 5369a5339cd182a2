package keyring

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ErrInsecurePermissions is returned for a master key file or key store file
// that group or others may access. Such a file is refused rather than
// repaired: whoever could read it may already hold the keys, and that calls
// for a new master key, not a chmod.
var ErrInsecurePermissions = errors.New("keyring: file is accessible to group or others")

// MasterKey encrypts the signing keys at rest. It is never printed: String and
// every fmt verb give a redacted marker.
type MasterKey struct {
	key [32]byte
}

// GenerateMasterKey makes a new master key from rand (crypto/rand when nil).
func GenerateMasterKey(rand io.Reader) (MasterKey, error) {
	if rand == nil {
		rand = defaultRand
	}
	var k MasterKey
	if _, err := io.ReadFull(rand, k.key[:]); err != nil {
		return MasterKey{}, fmt.Errorf("keyring: generating master key: %w", err)
	}
	return k, nil
}

// masterKeyEncodings are tried in turn, so a key copied from any common
// base64 tool is accepted.
var masterKeyEncodings = []*base64.Encoding{
	base64.StdEncoding.Strict(),
	base64.RawStdEncoding.Strict(),
	base64.URLEncoding.Strict(),
	base64.RawURLEncoding.Strict(),
}

// ParseMasterKey reads a master key written as base64, in the standard or URL
// alphabet, padded or not, with surrounding white space ignored. It must
// decode to exactly 32 bytes. Errors never quote s.
func ParseMasterKey(s string) (MasterKey, error) {
	s = strings.TrimSpace(s)
	for _, enc := range masterKeyEncodings {
		b, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(b) != 32 {
			clear(b)
			return MasterKey{}, fmt.Errorf("keyring: master key has %d bytes, want 32", len(b))
		}
		var k MasterKey
		copy(k.key[:], b)
		clear(b)
		return k, nil
	}
	return MasterKey{}, errors.New("keyring: master key is not base64 of 32 bytes")
}

// LoadMasterKeyFile reads a master key file written by WriteMasterKeyFile. It
// refuses, with ErrInsecurePermissions, a file whose mode lets group or others
// access it.
func LoadMasterKeyFile(path string) (MasterKey, error) {
	f, err := openPrivateFile(path)
	if err != nil {
		return MasterKey{}, err
	}
	defer f.Close()
	// A key is 44 characters; anything much longer is not a key file.
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return MasterKey{}, fmt.Errorf("keyring: reading master key file %s: %w", path, err)
	}
	k, err := ParseMasterKey(string(b))
	clear(b)
	if err != nil {
		return MasterKey{}, fmt.Errorf("keyring: master key file %s: %w", path, err)
	}
	return k, nil
}

// WriteMasterKeyFile writes k to a new file at path, readable by its owner
// only. It never replaces an existing file: losing a master key loses every
// signing key sealed under it.
func WriteMasterKeyFile(path string, k MasterKey) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("keyring: creating master key file: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("keyring: writing master key file %s: %w", path, cerr)
		}
		if err != nil {
			os.Remove(path) // we created it; leave no half-written key behind
		}
	}()
	// The umask may only have removed bits from 0600, but say it outright.
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("keyring: writing master key file %s: %w", path, err)
	}
	if _, err := f.WriteString(k.Base64() + "\n"); err != nil {
		return fmt.Errorf("keyring: writing master key file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("keyring: writing master key file %s: %w", path, err)
	}
	return nil
}

// Base64 returns the key in the form ParseMasterKey reads and the master
// key file holds: standard base64, padded. Treat the result as the secret
// it is; it exists to hand a new key to a secret store.
func (k MasterKey) Base64() string { return base64.StdEncoding.EncodeToString(k.key[:]) }

// String returns a redacted marker, never the key.
func (k MasterKey) String() string { return "keyring.MasterKey(REDACTED)" }

// Format prints the redacted marker for every verb, so %x, %d or %#v cannot
// reveal the key either.
func (k MasterKey) Format(f fmt.State, verb rune) { io.WriteString(f, k.String()) }

// isZero reports whether k was never generated or parsed.
func (k MasterKey) isZero() bool {
	var zero [32]byte
	return subtle.ConstantTimeCompare(k.key[:], zero[:]) == 1
}

// openPrivateFile opens path for reading and refuses it if group or others
// may access it. The mode is read from the open file, so it is the mode of
// the file that is then read.
func openPrivateFile(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("keyring: %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		f.Close()
		return nil, fmt.Errorf("%w: %s has mode %04o, want 0600", ErrInsecurePermissions, path, perm)
	}
	return f, nil
}
