// Package sqlite keeps a waxseal.Store in one SQLite file, for an issuer
// on one machine. It needs no cgo.
//
// Times are stored as integer unix microseconds in UTC, the precision
// PostgreSQL keeps, so both engines give back the same times; lists of
// strings (roles, scopes, grant types) as JSON arrays. The database runs in
// WAL mode: reads go through a pool of read-only connections and never wait
// for a writer, and every write goes through one connection, in a
// transaction that takes SQLite's write lock at BEGIN (BEGIN IMMEDIATE).
// Writers of one process therefore queue instead of failing with
// SQLITE_BUSY; writers of several processes sharing the file wait for each
// other up to a busy timeout of 5 s.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// pollInterval is how often a DB looks for revocations appended by other
// processes sharing its file, to wake its watchers.
const pollInterval = 250 * time.Millisecond

type store = sqlstore.Store

// DB is a waxseal.Store in a SQLite file. It is safe for concurrent use,
// and several processes may share one file.
type DB struct {
	*store      // the methods shared with package postgres
	write, read *sql.DB
	changes     sqlstore.Broadcaster
	stopPoll    context.CancelFunc
	polling     sync.WaitGroup
}

var _ waxseal.Store = (*DB)(nil)

var dialect = &sqlstore.Dialect{
	Name:         "sqlite",
	IntegerTimes: true,
	Strings: func(list []string) any {
		b, _ := json.Marshal(list) // cannot fail for strings
		return string(b)
	},
	ScanStrings: func(list *[]string) sql.Scanner { return jsonStrings{list} },
	Violation: func(err error) error {
		var e *sqlite.Error
		if !errors.As(err, &e) {
			return nil
		}
		switch e.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return waxseal.ErrConflict
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return waxseal.ErrNotFound
		}
		return nil
	},
	Migrations:            migrations,
	MigrationsTableExists: `SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')`,
}

type jsonStrings struct{ list *[]string }

func (j jsonStrings) Scan(src any) error {
	s, ok := src.(string)
	if !ok {
		return fmt.Errorf("list is %T, not JSON text", src)
	}
	return json.Unmarshal([]byte(s), j.list)
}

// Open opens the database in the file at path, creating it, readable by
// its owner only, if it does not exist. It refuses a file that group or
// others may access: the file holds password hashes and sealed keys. Open
// does not create the tables; call Migrate.
func Open(ctx context.Context, path string) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := createPrivate(abs); err != nil {
		return nil, err
	}
	// A file: URI, so that a path holding ? or # stays one path.
	uri := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(abs) +
		"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"
	write, err := sql.Open("sqlite", uri+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	write.SetMaxOpenConns(1)
	if err := write.PingContext(ctx); err != nil { // sets WAL mode before any reader opens
		write.Close()
		return nil, fmt.Errorf("sqlite: opening %s: %w", abs, err)
	}
	read, err := sql.Open("sqlite", uri+"&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)

	db := &DB{write: write, read: read}
	db.store = sqlstore.New(dialect, write, read, db.changes.Wake)
	poll, err := read.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: opening %s: %w", abs, err)
	}
	pollCtx, stop := context.WithCancel(context.Background())
	db.stopPoll = stop
	db.polling.Go(func() { db.poll(pollCtx, poll) })
	return db, nil
}

// createPrivate creates the file at path with mode 0600 if it does not
// exist, and refuses it if group or others may access it. SQLite gives
// the -wal and -shm files it creates beside it the same mode.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("sqlite: %s has mode %04o: group or others may access it, want 0600", path, perm)
	}
	return nil
}

// poll wakes the watchers when another process (or another DB on the
// same file) commits: an append to the revocation log or a changed signing
// key. This process's own appends and key saves wake them at once, through
// the store. PRAGMA data_version changes with every commit of another
// connection, so other writes wake the watchers too, at most once a poll.
func (db *DB) poll(ctx context.Context, conn *sql.Conn) {
	defer conn.Close()
	var last int64 = -1
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		var v int64
		// The first reading wakes the watchers too: one that read the log
		// before it would otherwise not learn of appends in between.
		if err := conn.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err == nil {
			if v != last {
				db.changes.Wake()
			}
			last = v
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// WatchRevocations calls wake after an append to the revocation log or a
// change of signing keys: at once for a change by this DB, within a quarter
// second for one by another process or another DB on the same file.
func (db *DB) WatchRevocations(ctx context.Context, wake func()) error {
	err := db.changes.Watch(ctx, wake)
	if errors.Is(err, sqlstore.ErrClosed) {
		err = fmt.Errorf("sqlite: watching revocations: %w", err)
	}
	return err
}

// Close stops the watchers and closes the database.
func (db *DB) Close() error {
	if db.stopPoll != nil {
		db.stopPoll()
		db.polling.Wait()
	}
	db.changes.Close()
	return errors.Join(db.read.Close(), db.write.Close())
}
