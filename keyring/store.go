package keyring

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/waxseal/waxseal/jwk"
)

// Record is what a Store keeps for one signing key. The private key is only
// ever stored sealed under the master key; everything else is public.
type Record struct {
	ID          string // the key's "kid"
	Algorithm   jwk.Algorithm
	Created     time.Time // published from here on
	Activates   time.Time // signs from here on
	Deactivates time.Time // signs until here
	Retires     time.Time // published until here
	Compromised time.Time // zero unless the key was declared compromised
	Sealed      []byte    // the private key, encrypted
}

// Store keeps the key records of one issuer. Several issuer instances may
// share one store; each picks up the others' changes in Ring.Maintain.
type Store interface {
	// LoadKeys returns every record, in any order.
	LoadKeys(ctx context.Context) ([]Record, error)
	// SaveKey inserts r, or replaces the record with r's ID. It must not
	// return before r is durable: the ring acts on a change only once saved.
	SaveKey(ctx context.Context, r Record) error
}

// FileStore is a Store in one JSON file, for an issuer that runs as a single
// process. The file is readable by its owner only; LoadKeys refuses it, with
// ErrInsecurePermissions, if group or others may access it.
//
// A FileStore is safe for concurrent use within one process. Two processes
// must not share one file: the last writer wins.
type FileStore struct {
	path string
	mu   sync.Mutex // serializes SaveKey's read-modify-write of the file
}

// NewFileStore returns a store in the file at path. A missing file holds no
// keys; it is created by the first SaveKey.
func NewFileStore(path string) *FileStore {
	return &FileStore{path: path}
}

// The file format. Version changes when a reader of the old format would
// misread the new one.
const fileVersion = 1

type fileContents struct {
	Version int          `json:"version"`
	Keys    []fileRecord `json:"keys"`
}

type fileRecord struct {
	ID          string        `json:"kid"`
	Algorithm   jwk.Algorithm `json:"alg"`
	Created     time.Time     `json:"created"`
	Activates   time.Time     `json:"activates"`
	Deactivates time.Time     `json:"deactivates"`
	Retires     time.Time     `json:"retires"`
	Compromised time.Time     `json:"compromised,omitzero"`
	Sealed      []byte        `json:"sealed"`
}

// LoadKeys reads every record from the file.
func (s *FileStore) LoadKeys(ctx context.Context) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loadLocked()
}

// SaveKey inserts or replaces r and rewrites the file atomically: readers and
// a crash see either the old file or the new one.
func (s *FileStore) SaveKey(ctx context.Context, r Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkRecord(r); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	recs, err := s.loadLocked()
	if err != nil {
		return err
	}
	replaced := false
	for i := range recs {
		if recs[i].ID == r.ID {
			recs[i], replaced = r, true
		}
	}
	if !replaced {
		recs = append(recs, r)
	}
	return s.writeLocked(recs)
}

func (s *FileStore) loadLocked() ([]Record, error) {
	f, err := openPrivateFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var c fileContents
	d := json.NewDecoder(f)
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil {
		return nil, fmt.Errorf("keyring: reading %s: %w", s.path, err)
	}
	if c.Version != fileVersion {
		return nil, fmt.Errorf("keyring: reading %s: unknown version %d", s.path, c.Version)
	}
	recs := make([]Record, len(c.Keys))
	seen := make(map[string]bool, len(c.Keys))
	for i, k := range c.Keys {
		recs[i] = Record(k)
		if err := checkRecord(recs[i]); err != nil {
			return nil, fmt.Errorf("keyring: reading %s: %w", s.path, err)
		}
		if seen[k.ID] {
			return nil, fmt.Errorf("keyring: reading %s: two records for key %s", s.path, k.ID)
		}
		seen[k.ID] = true
	}
	return recs, nil
}

// writeLocked replaces the file: a temporary file in the same directory is
// written, synced and renamed over it, and the directory is synced so the
// rename itself survives a crash.
func (s *FileStore) writeLocked(recs []Record) (err error) {
	c := fileContents{Version: fileVersion, Keys: make([]fileRecord, len(recs))}
	for i, r := range recs {
		c.Keys[i] = fileRecord(r)
	}
	data, err := json.MarshalIndent(c, "", "\t")
	if err != nil {
		return fmt.Errorf("keyring: encoding %s: %w", s.path, err)
	}
	data = append(data, '\n')

	dir := filepath.Dir(s.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(s.path)+".*.tmp") // created 0600
	if err != nil {
		return fmt.Errorf("keyring: writing %s: %w", s.path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("keyring: writing %s: %w", s.path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("keyring: writing %s: %w", s.path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("keyring: writing %s: %w", s.path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keyring: writing %s: %w", s.path, err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("keyring: writing %s: %w", s.path, err)
	}
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("keyring: syncing directory of %s: %w", s.path, err)
		}
	}
	return nil
}

// checkRecord rejects a record no ring could have written.
func checkRecord(r Record) error {
	if r.ID == "" {
		return errors.New("keyring: record has no key ID")
	}
	if _, err := jwk.ParseAlgorithm(string(r.Algorithm)); err != nil {
		return fmt.Errorf("keyring: record %s: %w", r.ID, err)
	}
	if len(r.Sealed) == 0 {
		return fmt.Errorf("keyring: record %s has no sealed key", r.ID)
	}
	return nil
}
