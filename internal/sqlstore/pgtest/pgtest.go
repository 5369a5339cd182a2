// Package pgtest gives each test a PostgreSQL schema of its own, in the
// database that WAXSEAL_TEST_POSTGRES names, so that tests run in parallel
// and again without seeing each other's rows.
package pgtest

import (
	"context"
	"crypto/rand"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/waxseal/waxseal/internal/testenv"
)

// Env names the variable that holds the test database's URL.
const Env = testenv.PostgresEnv

// URL creates an empty schema, dropped when the test ends, and returns the
// test database's URL with search_path set to it. The database is found by
// testenv.Postgres: Env, or the usual local address; without either the
// test is skipped, or failed when CI=true.
func URL(t testing.TB) string {
	t.Helper()
	base := testenv.Postgres(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	schema := "waxseal_test_" + rand.Text()[:16]
	exec(t, base, `CREATE SCHEMA `+schema)
	t.Cleanup(func() { exec(t, base, `DROP SCHEMA `+schema+` CASCADE`) })
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func exec(t testing.TB, url, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatal(err)
	}
}
