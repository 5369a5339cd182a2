package notes

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver
)

// Note is one note of one user.
type Note struct {
	ID      int64     `json:"id"`
	Owner   string    `json:"owner"` // the "sub" of the token that wrote it
	Text    string    `json:"text"`
	Created time.Time `json:"created"`
}

// maxList bounds how many notes one listing returns.
const maxList = 1000

// Store keeps notes in a SQLite file. Any number of processes may share the
// file: it is in WAL mode, so readers never wait, and writers wait for each
// other up to a busy timeout instead of failing. That is what makes the
// service's instances interchangeable behind a load balancer.
type Store struct {
	db *sql.DB
}

const schema = `
CREATE TABLE IF NOT EXISTS notes (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	owner   TEXT    NOT NULL,
	text    TEXT    NOT NULL,
	created INTEGER NOT NULL -- unix microseconds, UTC
);
CREATE INDEX IF NOT EXISTS notes_owner ON notes (owner, id);
`

// OpenStore opens the notes file at path, creating it and its table if
// need be.
func OpenStore(ctx context.Context, path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("notes: %w", err)
	}
	// A file: URI, so that a path holding ? or # stays one path.
	uri := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(abs) +
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", uri)
	if err != nil {
		return nil, fmt.Errorf("notes: %w", err)
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("notes: opening %s: %w", abs, err)
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the file can be read.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Add stores a note and returns it with its ID.
func (s *Store) Add(ctx context.Context, owner, text string, now time.Time) (Note, error) {
	n := Note{Owner: owner, Text: text, Created: now.UTC().Truncate(time.Microsecond)}
	err := s.db.QueryRowContext(ctx,
		`INSERT INTO notes (owner, text, created) VALUES (?, ?, ?) RETURNING id`,
		owner, text, n.Created.UnixMicro()).Scan(&n.ID)
	if err != nil {
		return Note{}, fmt.Errorf("notes: adding a note: %w", err)
	}
	return n, nil
}

// List returns the notes of owner, oldest first.
func (s *Store) List(ctx context.Context, owner string) ([]Note, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, text, created FROM notes WHERE owner = ? ORDER BY id LIMIT ?`, owner, maxList)
	if err != nil {
		return nil, fmt.Errorf("notes: listing: %w", err)
	}
	defer rows.Close()
	list := []Note{}
	for rows.Next() {
		n := Note{Owner: owner}
		var created int64
		if err := rows.Scan(&n.ID, &n.Text, &created); err != nil {
			return nil, fmt.Errorf("notes: listing: %w", err)
		}
		n.Created = time.UnixMicro(created).UTC()
		list = append(list, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("notes: listing: %w", err)
	}
	return list, nil
}

// ErrNotFound is returned for a note that does not exist or that the
// caller may not touch: the two look alike, so nobody learns which IDs
// other users hold.
var ErrNotFound = errors.New("notes: no such note")

// Delete deletes note id if owner wrote it, or whoever wrote it if anyOwner.
func (s *Store) Delete(ctx context.Context, id int64, owner string, anyOwner bool) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM notes WHERE id = ? AND (owner = ? OR ?)`, id, owner, anyOwner)
	if err != nil {
		return fmt.Errorf("notes: deleting note %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("notes: deleting note %d: %w", id, err)
	} else if n == 0 {
		return ErrNotFound
	}
	return nil
}
