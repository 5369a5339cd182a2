// Package sqlstore implements waxseal.Store once, in SQL that SQLite and
// PostgreSQL both accept, for packages sqlite and postgres. What differs
// between them, placeholders, types, row locks and notification, is
// described by a Dialect.
//
// Every change runs in one transaction on the write handle. Revocation
// cursors come from a one-row counter that each appending transaction
// increments first: the row stays locked until that transaction ends, so
// appends commit one at a time, in cursor order, and a reader that has seen
// cursor c can never later find an entry below c. A sequence or
// autoincrement column would not give that: two appenders could take 11 and
// 12 and commit 12 first.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/waxseal/waxseal"
)

// Dialect is what one engine's SQL differs in.
type Dialect struct {
	// Name starts every error message: "sqlite", "postgres".
	Name string
	// Numbered rewrites the ? placeholders of this package's statements
	// to $1, $2, ...
	Numbered bool
	// IntegerTimes stores times as integer unix microseconds; otherwise
	// they go to the driver as time.Time. Either way a zero time is NULL.
	IntegerTimes bool
	// ForUpdate ends a SELECT whose rows the transaction then changes:
	// " FOR UPDATE" where rows lock, empty where a writing transaction
	// already excludes every other writer.
	ForUpdate string
	// Strings turns a list of strings (a user's roles, a client's scopes)
	// into a statement argument; ScanStrings returns a destination that
	// turns it back.
	Strings     func([]string) any
	ScanStrings func(*[]string) sql.Scanner
	// Violation returns waxseal.ErrConflict for a uniqueness violation,
	// waxseal.ErrNotFound for a foreign key that points nowhere, and nil
	// for any other error.
	Violation func(error) error
	// Notify, if set, runs in every transaction that appends to the
	// revocation log, after the append, and in every one that saves a
	// signing key.
	Notify string
	// MigrationLock, if set, runs first in every migration transaction,
	// so that two processes migrating at once take turns.
	MigrationLock string
	// MigrationsTableExists is a query that returns one boolean: whether
	// an unqualified schema_migrations names a table (in PostgreSQL, in
	// the search_path).
	MigrationsTableExists string
	// Migrations holds the files migrations/NNNN_name.sql, applied in
	// order of NNNN.
	Migrations fs.FS
}

// Store implements waxseal.Store but for WatchRevocations and Close,
// which depend on the engine, and adds Migrate.
type Store struct {
	d        *Dialect
	write    *sql.DB // every transaction
	read     *sql.DB // single reads; may be write
	appended func()  // called after a commit that appended revocations or saved a key
}

// New returns a Store that writes through write and reads through read
// (which may be the same). appended, if not nil, is called after every
// commit that appended to the revocation log or saved a signing key.
func New(d *Dialect, write, read *sql.DB, appended func()) *Store {
	if appended == nil {
		appended = func() {}
	}
	return &Store{d: d, write: write, read: read, appended: appended}
}

// Ping checks that both handles answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.write.PingContext(ctx); err != nil {
		return s.errorf("ping: %w", err)
	}
	if s.read != s.write {
		if err := s.read.PingContext(ctx); err != nil {
			return s.errorf("ping: %w", err)
		}
	}
	return nil
}

func (s *Store) errorf(format string, args ...any) error {
	return fmt.Errorf(s.d.Name+": "+format, args...)
}

// fail wraps an error of the database, adding the waxseal error that a
// constraint violation stands for.
func (s *Store) fail(what string, err error) error {
	if v := s.d.Violation(err); v != nil {
		return s.errorf("%s: %w: %w", what, v, err)
	}
	return s.errorf("%s: %w", what, err)
}

// notFound wraps err as waxseal.ErrNotFound when it is sql.ErrNoRows.
func (s *Store) notFound(what string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return s.errorf("%s: %w", what, waxseal.ErrNotFound)
	}
	return s.fail(what, err)
}

// q returns query with its placeholders in the dialect's form. No
// statement of this package has a ? anywhere but in placeholders.
func (s *Store) q(query string) string {
	if !s.d.Numbered {
		return query
	}
	var b strings.Builder
	n := 0
	for _, part := range strings.SplitAfter(query, "?") {
		if p, ok := strings.CutSuffix(part, "?"); ok {
			n++
			b.WriteString(p)
			b.WriteString("$")
			b.WriteString(strconv.Itoa(n))
		} else {
			b.WriteString(part)
		}
	}
	return b.String()
}

// inTx runs fn in a transaction on the write handle and commits it if fn
// returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// exec runs one statement in its own transaction and returns the number of
// rows it changed.
func (s *Store) exec(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(query), args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// update runs one statement that changes the row what names, and returns
// waxseal.ErrNotFound if it changed none.
func (s *Store) update(ctx context.Context, what, query string, args ...any) error {
	n, err := s.exec(ctx, query, args...)
	if err != nil {
		return s.fail(what, err)
	}
	if n == 0 {
		return s.errorf("%s: %w", what, waxseal.ErrNotFound)
	}
	return nil
}

// tm is the argument for a time column.
func (s *Store) tm(t time.Time) any {
	switch {
	case t.IsZero():
		return nil
	case s.d.IntegerTimes:
		return t.UnixMicro()
	default:
		return t.UTC()
	}
}

// timeDest scans a time column of either form into a UTC time.Time; NULL
// is the zero time.
type timeDest struct{ t *time.Time }

func (d timeDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.t = time.Time{}
	case int64:
		*d.t = time.UnixMicro(v).UTC()
	case time.Time:
		*d.t = v.UTC()
	default:
		return fmt.Errorf("cannot scan %T into a time", src)
	}
	return nil
}

// list is the argument for a column of strings; nil is an empty list.
func (s *Store) list(v []string) any {
	if v == nil {
		v = []string{}
	}
	return s.d.Strings(v)
}

// listDest scans a column of strings; an empty list is nil.
func (s *Store) listDest(v *[]string) sql.Scanner { return listDest{s.d.ScanStrings(v), v} }

type listDest struct {
	sc sql.Scanner
	v  *[]string
}

func (d listDest) Scan(src any) error {
	if err := d.sc.Scan(src); err != nil {
		return err
	}
	if len(*d.v) == 0 {
		*d.v = nil
	}
	return nil
}

// blob is the argument for a nullable binary column: NULL if b is empty.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// row is a *sql.Row or *sql.Rows.
type row interface{ Scan(dest ...any) error }

// collect scans every row of a query's result.
func collect[T any](rows *sql.Rows, err error, scan func(row) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// checkLimit rejects a page size that cannot return anything.
func (s *Store) checkLimit(limit int) error {
	if limit < 1 {
		return s.errorf("limit %d is not positive", limit)
	}
	return nil
}
