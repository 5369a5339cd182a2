package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

type migration struct {
	version int64
	name    string
}

// migrations lists the dialect's migration files in version order.
func (s *Store) migrations() ([]migration, error) {
	names, err := fs.Glob(s.d.Migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		digits, _, _ := strings.Cut(path.Base(name), "_")
		v, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: name does not start with a version NNNN_", name)
		}
		ms = append(ms, migration{v, name})
	}
	slices.SortFunc(ms, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s have one version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// Migrate applies every migration the database lacks, each in its own
// transaction that also records it in schema_migrations. It is safe to run
// again, and, where the dialect has a MigrationLock, from several
// processes at once.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := s.migrations()
	if err != nil {
		return s.errorf("migrating: %w", err)
	}
	for _, m := range ms {
		if err := s.inTx(ctx, func(tx *sql.Tx) error { return s.apply(ctx, tx, m) }); err != nil {
			return s.errorf("migrating to %s: %w", m.name, err)
		}
	}
	return nil
}

func (s *Store) apply(ctx context.Context, tx *sql.Tx, m migration) error {
	if s.d.MigrationLock != "" {
		if _, err := tx.ExecContext(ctx, s.d.MigrationLock); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version bigint PRIMARY KEY, name text NOT NULL)`)
	if err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT count(*) FROM schema_migrations WHERE version = ?`), m.version).Scan(&n); err != nil || n > 0 {
		return err
	}
	body, err := fs.ReadFile(s.d.Migrations, m.name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, name) VALUES (?, ?)`), m.version, m.name)
	return err
}

// ErrNoSchema and ErrOlderSchema are the answers of CheckSchema.
var (
	ErrNoSchema    = errors.New("no waxseal tables")
	ErrOlderSchema = errors.New("the schema is older than this waxseal")
)

// CheckSchema returns nil if the database holds every migration of this
// binary, and otherwise ErrNoSchema (no migration recorded: an empty
// database, or the wrong one) or ErrOlderSchema (one missing: an older
// release migrated it). It changes nothing, so that a command that only
// reads or edits rows never creates or alters tables behind the
// operator's back; migrations that a newer release recorded are allowed,
// as Migrate allows them.
func (s *Store) CheckSchema(ctx context.Context) error {
	ms, err := s.migrations()
	if err != nil {
		return s.errorf("checking the schema: %w", err)
	}
	var exists bool
	if err := s.read.QueryRowContext(ctx, s.d.MigrationsTableExists).Scan(&exists); err != nil {
		return s.errorf("checking the schema: %w", err)
	}
	if !exists {
		return s.errorf("%w", ErrNoSchema)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return s.errorf("checking the schema: %w", err)
	}
	defer rows.Close()
	have := map[int64]bool{}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return s.errorf("checking the schema: %w", err)
		}
		have[v] = true
	}
	if err := rows.Err(); err != nil {
		return s.errorf("checking the schema: %w", err)
	}
	if len(have) == 0 {
		return s.errorf("%w", ErrNoSchema)
	}
	var missing []string
	for _, m := range ms {
		if !have[m.version] {
			missing = append(missing, path.Base(m.name))
		}
	}
	if len(missing) > 0 {
		return s.errorf("%w: it lacks %s", ErrOlderSchema, strings.Join(missing, ", "))
	}
	return nil
}
