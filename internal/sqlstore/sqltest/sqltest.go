// Package sqltest opens stores of the SQL engines for tests.
package sqltest

import (
	"context"
	"testing"

	"github.com/waxseal/waxseal"
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
