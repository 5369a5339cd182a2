package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/internal/sqlstore/sqltest"
	"github.com/waxseal/waxseal/sqlite"
	"github.com/waxseal/waxseal/storetest"
)

// open opens the database at path, migrated, until t ends.
func open(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path)
	return sqltest.Migrated(t, db, err)
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) waxseal.Store {
		return open(t, filepath.Join(t.TempDir(), "waxseal.db"))
	})
}

// TestInstances runs two DBs on one file, as two processes would.
func TestInstances(t *testing.T) {
	storetest.RunInstances(t, func(t *testing.T) (waxseal.Store, waxseal.Store) {
		path := filepath.Join(t.TempDir(), "waxseal.db")
		return open(t, path), open(t, path)
	})
}

func TestFileMode(t *testing.T) {
	dir := t.TempDir()
	db := open(t, filepath.Join(dir, "waxseal.db"))
	if err := db.AppendAudit(t.Context(), waxseal.AuditEvent{Time: time.Now(), Type: "test"}); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", e.Name(), fi.Mode().Perm())
		}
	}
	if len(entries) < 2 {
		t.Errorf("found only %d files; is the database in WAL mode?", len(entries))
	}
}

func TestRefusesOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "waxseal.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	if db, err := sqlite.Open(t.Context(), path); err == nil {
		db.Close()
		t.Fatal("opened a file that others may read")
	}
}

// TestPath opens a file whose name means something in a URI.
func TestPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a?b#c%41d.db")
	open(t, path)
	if _, err := os.Stat(path); err != nil {
		t.Error(err)
	}
}

func TestMigrate(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "waxseal.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.UserByName(ctx, "alice"); err == nil || errors.Is(err, waxseal.ErrNotFound) {
		t.Errorf("before Migrate, UserByName = %v; want the table to be missing", err)
	}
	for range 2 {
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.UserByName(ctx, "alice"); !errors.Is(err, waxseal.ErrNotFound) {
		t.Errorf("after Migrate, UserByName = %v; want ErrNotFound", err)
	}
	// A second process migrating the same file finds nothing to do.
	other := open(t, path)
	if err := other.Ping(ctx); err != nil {
		t.Error(err)
	}
}

func TestCheckSchema(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "waxseal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sqltest.CheckSchema(t, db)
}

// TestWatchBeforeFirstPoll watches a DB whose poll has not yet read the
// cursor, here because its tables do not exist yet, while another DB on the
// file appends. The poll's first reading must wake the watch.
func TestWatchBeforeFirstPoll(t *testing.T) {
	path := filepath.Join(t.TempDir(), "waxseal.db")
	b, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	wakes := make(chan struct{}, 1)
	go b.WatchRevocations(t.Context(), func() {
		select {
		case wakes <- struct{}{}:
		default:
		}
	})
	<-wakes // at the start

	a := open(t, path)
	now := time.Now()
	if _, err := a.AppendRevocation(t.Context(), waxseal.Revocation{Kind: waxseal.RevokeToken, Value: "jti",
		Created: now, Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wakes:
	case <-time.After(5 * time.Second):
		t.Fatal("the watch did not wake for an append made before its DB first polled")
	}
}

func TestCloseEndsWatch(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "waxseal.db"))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- db.WatchRevocations(context.Background(), func() {}) }()
	time.Sleep(50 * time.Millisecond)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err == nil {
			t.Error("WatchRevocations returned nil")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WatchRevocations still runs after Close")
	}
}
