// Package sqltest opens stores of the SQL engines for tests.
package sqltest

import (
	"context"
	"errors"
	"testing"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/internal/sqlstore"
)

// Migrated fails t if err is not nil, and otherwise migrates db and
// closes it when t ends.
func Migrated[DB interface {
	waxseal.Store
	Migrate(context.Context) error
}](t testing.TB, db DB, err error) DB {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}

// CheckSchema checks db, opened on an empty database: CheckSchema finds no
// schema and creates none, and once Migrate has run it finds it current.
func CheckSchema(t *testing.T, db interface {
	Migrate(context.Context) error
	CheckSchema(context.Context) error
}) {
	t.Helper()
	for range 2 { // the first check created nothing
		if err := db.CheckSchema(t.Context()); !errors.Is(err, sqlstore.ErrNoSchema) {
			t.Fatalf("CheckSchema of an empty database = %v; want ErrNoSchema", err)
		}
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := db.CheckSchema(t.Context()); err != nil {
		t.Fatalf("CheckSchema after Migrate = %v; want nil", err)
	}
}
