package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/internal/sqlstore/pgtest"
	"github.com/waxseal/waxseal/internal/sqlstore/sqltest"
	"github.com/waxseal/waxseal/postgres"
	"github.com/waxseal/waxseal/storetest"
)

// open opens the database at url, migrated, until t ends.
func open(t *testing.T, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), url)
	return sqltest.Migrated(t, db, err)
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) waxseal.Store { return open(t, pgtest.URL(t)) })
}

// TestInstances runs two DBs on one database, as two issuer instances.
func TestInstances(t *testing.T) {
	storetest.RunInstances(t, func(t *testing.T) (waxseal.Store, waxseal.Store) {
		url := pgtest.URL(t)
		return open(t, url), open(t, url)
	})
}

// TestMigrateAtOnce starts several instances on an empty database at once.
func TestMigrateAtOnce(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	var dbs []*postgres.DB
	for range 4 {
		db, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs = append(dbs, db)
	}
	var wg sync.WaitGroup
	for _, db := range dbs {
		wg.Go(func() {
			if err := db.Migrate(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := dbs[0].Migrate(t.Context()); err != nil {
		t.Error(err)
	}
	if _, err := dbs[1].UserByName(t.Context(), "alice"); !errors.Is(err, waxseal.ErrNotFound) {
		t.Errorf("UserByName = %v; want ErrNotFound", err)
	}
}

func TestOpenDoesNotMigrate(t *testing.T) {
	t.Parallel()
	db, err := postgres.Open(t.Context(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.UserByName(t.Context(), "alice"); err == nil || errors.Is(err, waxseal.ErrNotFound) {
		t.Errorf("before Migrate, UserByName = %v; want the table to be missing", err)
	}
}

func TestCheckSchema(t *testing.T) {
	t.Parallel()
	db, err := postgres.Open(t.Context(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sqltest.CheckSchema(t, db)
}

func TestOpenFails(t *testing.T) {
	t.Parallel()
	pgtest.URL(t) // skips without a database, like the others
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if db, err := postgres.Open(ctx, "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2"); err == nil {
		db.Close()
		t.Error("Open succeeded without a server")
	}
}

// TestWatchReconnects breaks the watch's connection from the server side:
// the watch connects again and wakes for what was appended since.
func TestWatchReconnects(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	app := "waxseal_reconnect_" + q.Get("search_path")
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	db := open(t, u.String())

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	wakes := make(chan struct{}, 1)
	go db.WatchRevocations(ctx, func() {
		select {
		case wakes <- struct{}{}:
		default:
		}
	})
	admin, err := pgx.Connect(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	// Wait for the watch to listen, then end its connection.
	for terminated := false; !terminated; {
		err := admin.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) > 0 FROM pg_stat_activity
			WHERE application_name = $1 AND query LIKE 'LISTEN%'`, app).Scan(&terminated)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The first wake may be the one after reconnecting; the second needs
	// a notification on the new connection.
	for _, value := range []string{"x", "y"} {
		now := time.Now()
		if _, err := db.AppendRevocation(t.Context(), waxseal.Revocation{Kind: waxseal.RevokeToken, Value: value, Created: now, Expires: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-wakes:
		case <-time.After(10 * time.Second):
			t.Fatal("the watch did not wake after its connection broke")
		}
	}
}

func TestCloseEndsWatch(t *testing.T) {
	t.Parallel()
	db, err := postgres.Open(t.Context(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- db.WatchRevocations(context.Background(), func() {}) }()
	time.Sleep(100 * time.Millisecond)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("WatchRevocations returned %v after Close", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WatchRevocations still runs after Close")
	}
}

// TestPoolSize: without pool_max_conns the pool holds DefaultMaxConns
// connections, not the driver's 4; with it, what the URL says. Waits for a
// connection are counted.
func TestPoolSize(t *testing.T) {
	base := pgtest.URL(t)
	db := open(t, base)
	if got := db.PoolStats().MaxConns; got != postgres.DefaultMaxConns() || got < 16 {
		t.Fatalf("default pool size %d, want %d (at least 16)", got, postgres.DefaultMaxConns())
	}
	small := open(t, base+"&pool_max_conns=1")
	if got := small.PoolStats().MaxConns; got != 1 {
		t.Fatalf("pool_max_conns=1: pool size %d", got)
	}
	// With one connection, concurrent queries wait for it.
	done := make(chan error, 64)
	for range 64 {
		go func() { done <- small.Ping(t.Context()) }()
	}
	for range 64 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if s := small.PoolStats(); s.Acquires < 64 || s.Waits < 1 {
		t.Fatalf("after 64 concurrent pings on one connection: %+v, want waits counted", s)
	}
}
