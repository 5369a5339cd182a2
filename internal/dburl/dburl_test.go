package dburl_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/waxseal/waxseal/internal/dburl"
	"github.com/waxseal/waxseal/internal/sqlstore/pgtest"
	"github.com/waxseal/waxseal/internal/sqlstore/sqltest"
	"github.com/waxseal/waxseal/postgres"
	"github.com/waxseal/waxseal/sqlite"
)

func open(t *testing.T, url string) dburl.DB {
	t.Helper()
	db, err := dburl.Open(t.Context(), url)
	db = sqltest.Migrated(t, db, err)
	if err := db.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestSQLite(t *testing.T) {
	dir := t.TempDir()
	for _, url := range []string{
		"sqlite:" + filepath.Join(dir, "a.db"),
		"sqlite://" + filepath.Join(dir, "b.db"), // sqlite:///abs/path
		"SQLite:" + filepath.Join(dir, "c.db"),
	} {
		if _, ok := open(t, url).(*sqlite.DB); !ok {
			t.Errorf("%s did not open a SQLite database", url)
		}
	}
	t.Chdir(dir)
	if _, ok := open(t, "sqlite:relative.db").(*sqlite.DB); !ok {
		t.Error("sqlite:relative.db did not open a SQLite database")
	}
}

func TestPostgres(t *testing.T) {
	url := pgtest.URL(t)
	rest, _ := strings.CutPrefix(url, "postgres://")
	for _, u := range []string{url, "postgresql://" + rest} {
		if _, ok := open(t, u).(*postgres.DB); !ok {
			t.Errorf("%s did not open a PostgreSQL database", u)
		}
	}
}

func TestRejects(t *testing.T) {
	for _, url := range []string{
		"",
		"sqlite:",
		"sqlite://",
		"waxseal.db",
		"/var/lib/waxseal.db",
		"file:waxseal.db",
		"mysql://root:hunter2@db/waxseal",
	} {
		db, err := dburl.Open(t.Context(), url)
		if err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", url)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q): the error shows the password: %v", url, err)
		}
	}
}
