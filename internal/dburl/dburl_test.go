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

// TestRedact checks that every place a database or Redis URL can carry a
// secret is removed before the URL is logged: the user-info password and
// query parameters such as password= and sslpassword=, however they are
// spelled, while what an operator needs to recognise the database stays.
func TestRedact(t *testing.T) {
	tests := []struct {
		url  string
		keep []string // parts that must still be shown
	}{
		{"postgres://waxseal:hunter2@db.example:5432/waxseal?sslmode=verify-full", []string{"db.example:5432/waxseal", "sslmode=verify-full", "waxseal"}},
		{"postgres://waxseal@db.example/waxseal?password=hunter2", []string{"db.example/waxseal"}},
		{"postgres://db.example/waxseal?sslmode=require&password=hunter2&application_name=issuer", []string{"sslmode=require", "application_name=issuer"}},
		{"postgres://db.example/waxseal?sslpassword=hunter2&sslkey=/etc/key.pem", []string{"db.example/waxseal"}},
		{"postgres://db.example/waxseal?PASSWORD=hunter2", []string{"db.example/waxseal"}},
		{"postgres://db.example/waxseal?pass%77ord=hunter2", []string{"db.example/waxseal"}},
		{"postgres://db.example/waxseal?password=hun%74er2", []string{"db.example/waxseal"}},
		{"postgresql://u:hunter2@h1:5432,h2:5432/waxseal?target_session_attrs=read-write", []string{"h2:5432/waxseal"}},
		{"postgres://u:hun@ter2@db.example/waxseal", []string{"db.example/waxseal"}},
		{"postgres://u:hunter2@[::1/waxseal?password=hunter2", nil},
		{"host=db.example user=waxseal password=hunter2 dbname=waxseal", []string{"host=db.example", "dbname=waxseal"}},
		{"host=db.example password='hunter2 x' dbname=waxseal", []string{"host=db.example", "dbname=waxseal"}},
		{"redis://:hunter2@127.0.0.1:6379/0", []string{"127.0.0.1:6379/0"}},
		{"redis://127.0.0.1:6379/0?password=hunter2", []string{"127.0.0.1:6379/0"}},
		{"sqlite:/var/lib/waxseal.db", []string{"sqlite:/var/lib/waxseal.db"}},
	}
	for _, tt := range tests {
		got := dburl.Redact(tt.url)
		for _, secret := range []string{"hunter2", "hun%74er2", "ter2", "hunter2 x"} {
			if strings.Contains(got, secret) {
				t.Errorf("Redact(%q) = %q: shows the secret", tt.url, got)
				break
			}
		}
		for _, k := range tt.keep {
			if !strings.Contains(got, k) {
				t.Errorf("Redact(%q) = %q: lost %q", tt.url, got, k)
			}
		}
	}
}

// TestOpenErrorNeverShowsSecrets opens databases that cannot be reached or
// parsed and checks that the error, which goes to the log, holds no password.
func TestOpenErrorNeverShowsSecrets(t *testing.T) {
	for _, url := range []string{
		"postgres://u@127.0.0.1:1/waxseal?connect_timeout=1&password=hunter2",
		"postgres://u:hunter2@127.0.0.1:1/waxseal?connect_timeout=1&sslpassword=hunter2",
		"postgres://u@127.0.0.1:1/waxseal?sslmode=bogus&password=hunter2",
		"postgres://u:hunter2@[::1/waxseal",
	} {
		db, err := dburl.Open(t.Context(), url)
		if err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", url)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "ter2") {
			t.Errorf("Open(%q): the error shows the password: %v", url, err)
		}
	}
}
