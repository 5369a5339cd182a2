// Package postgres keeps a waxseal.Store in PostgreSQL, for issuers that
// run as several instances.
//
// Times are timestamptz, which keeps microseconds; lists of strings (roles,
// scopes, grant types) are text[]. The statements are those of package
// sqlite, run through database/sql on a pgx connection pool. A refresh
// token's row and its session's row are read FOR UPDATE, so that of two
// instances rotating one token, one waits for the other and then sees its
// result. Every append to the revocation log sends a notification in the
// same transaction, so it is delivered only on commit, and every instance's
// WatchRevocations, listening on a connection of its own, wakes.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// channel is the notification channel of revocation appends. Its payload
// is the schema appended to, since channels span a whole database.
const channel = "waxseal_revocations"

// Listening connections check they are alive after this long without a
// notification, and a broken one is reconnected after a pause that grows
// from the first to the second of these.
const (
	listenPing     = time.Minute
	reconnectFirst = 100 * time.Millisecond
	reconnectMax   = 5 * time.Second
)

type store = sqlstore.Store

// DB is a waxseal.Store in a PostgreSQL database. It is safe for
// concurrent use, and any number of instances may share the database.
type DB struct {
	*store
	pool    *pgxpool.Pool
	sqldb   *sql.DB
	closed  chan struct{} // closed by Close, to end the watches
	closing sync.Once
}

var _ waxseal.Store = (*DB)(nil)

var dialect = &sqlstore.Dialect{
	Name:        "postgres",
	Numbered:    true,
	ForUpdate:   " FOR UPDATE",
	Strings:     func(list []string) any { return list },
	ScanStrings: func(list *[]string) sql.Scanner { return pgtype.NewMap().SQLScanner(list) },
	Violation: func(err error) error {
		var e *pgconn.PgError
		if !errors.As(err, &e) {
			return nil
		}
		switch e.Code {
		case "23505": // unique_violation
			return waxseal.ErrConflict
		case "23503": // foreign_key_violation
			return waxseal.ErrNotFound
		}
		return nil
	},
	Notify: `SELECT pg_notify('` + channel + `', coalesce(current_schema(), ''))`,
	// Advisory locks span the database, so migrations of schemas that
	// share one take turns too; they are short. The key is "waxseal" in
	// ASCII.
	MigrationLock: `SELECT pg_advisory_xact_lock(x'7761787365616c'::bigint)`,
	Migrations:    migrations,
	// to_regclass resolves the name as a query would, through search_path.
	MigrationsTableExists: `SELECT to_regclass('schema_migrations') IS NOT NULL`,
}

// DefaultMaxConns is the pool size when the URL sets no pool_max_conns:
// 16, or 4 per CPU on larger machines. With the driver's own default (4,
// or one per CPU) an issuer under load waits for connections, not for CPU:
// each token request holds a connection across several round trips (16
// served 2.3 times the refreshes of 4 on 2 cores: docs/BENCHMARKS.md).
// Every instance holds up to this many connections; keep the sum under the
// server's max_connections.
func DefaultMaxConns() int32 { return int32(max(16, 4*runtime.NumCPU())) }

// Open connects to the database at url, a postgres:// URL or a key=value
// connection string as libpq takes them, and checks that it answers. It
// does not create the tables; call Migrate. A search_path parameter in
// the URL selects the schema; pool_max_conns sets the pool size (default
// DefaultMaxConns), and the other pool_ parameters of pgxpool apply.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns()
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connecting: %w", err)
	}
	sqldb := stdlib.OpenDBFromPool(pool)
	return &DB{pool: pool, sqldb: sqldb, store: sqlstore.New(dialect, sqldb, sqldb, nil), closed: make(chan struct{})}, nil
}

// PoolStats are the connection pool's gauges and counters since Open.
type PoolStats struct {
	MaxConns, TotalConns, IdleConns, AcquiredConns int32
	// Acquires counts connections taken from the pool; Waits, those that
	// found none idle and waited (for a new one, or a busy one's return),
	// for WaitTime in all; Canceled, the waits given up.
	Acquires, Waits, Canceled int64
	WaitTime                  time.Duration
}

// PoolStats returns the pool's statistics: many Waits mean the pool, not
// the database, limits throughput (raise pool_max_conns).
func (db *DB) PoolStats() PoolStats {
	s := db.pool.Stat()
	return PoolStats{
		MaxConns: s.MaxConns(), TotalConns: s.TotalConns(), IdleConns: s.IdleConns(), AcquiredConns: s.AcquiredConns(),
		Acquires: s.AcquireCount(), Waits: s.EmptyAcquireCount(), Canceled: s.CanceledAcquireCount(),
		WaitTime: s.EmptyAcquireWaitTime(),
	}
}

// Close ends every WatchRevocations and closes the pool.
func (db *DB) Close() error {
	db.closing.Do(func() { close(db.closed) })
	err := db.sqldb.Close()
	db.pool.Close()
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

var errClosed = errors.New("postgres: database closed")

// WatchRevocations listens for appends on a connection of its own. When
// the connection breaks it reconnects, pausing longer after each failure,
// and wakes once it listens again, since notifications sent in between are
// lost; it also wakes once when it first listens, for the appends made
// before. It returns an error only when the first connection fails, or when
// ctx ends or the DB is closed.
func (db *DB) WatchRevocations(ctx context.Context, wake func()) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-db.closed:
			cancel(errClosed)
		case <-ctx.Done():
		}
	}()
	stopped := func() error { return context.Cause(ctx) }

	conn, schema, err := db.listen(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return stopped()
		}
		return fmt.Errorf("postgres: watching revocations: %w", err)
	}
	// Appends committed before LISTEN took effect sent notifications
	// nobody heard: wake once so the caller reads them.
	wake()
	for {
		waitNotifications(ctx, conn, schema, wake)
		conn.Close(context.Background())
		for pause := reconnectFirst; ; pause = min(2*pause, reconnectMax) {
			select {
			case <-ctx.Done():
				return stopped()
			case <-time.After(pause):
			}
			if conn, schema, err = db.listen(ctx); err == nil {
				break
			}
		}
		wake()
	}
}

// listen opens a connection that listens for appends, and returns it with
// the schema whose appends concern it.
func (db *DB) listen(ctx context.Context) (*pgx.Conn, string, error) {
	conn, err := pgx.ConnectConfig(ctx, db.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, "", err
	}
	var schema string
	err = conn.QueryRow(ctx, `SELECT coalesce(current_schema(), '')`).Scan(&schema)
	if err == nil {
		_, err = conn.Exec(ctx, `LISTEN `+channel)
	}
	if err != nil {
		conn.Close(context.Background())
		return nil, "", err
	}
	return conn, schema, nil
}

// waitNotifications calls wake for each notification about schema until
// the connection fails or ctx ends. A connection silent for listenPing is
// pinged, so that one the network lost is noticed.
func waitNotifications(ctx context.Context, conn *pgx.Conn, schema string, wake func()) {
	for {
		wctx, cancel := context.WithTimeout(ctx, listenPing)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			if n.Payload == schema {
				wake()
			}
		case ctx.Err() == nil && wctx.Err() != nil && !conn.IsClosed():
			if conn.Ping(ctx) != nil {
				return
			}
		default:
			return
		}
	}
}
