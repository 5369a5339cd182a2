// Package dburl opens the storage engine a URL names, so that commands take
// one flag for the database whichever engine it is.
package dburl

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/postgres"
	"github.com/waxseal/waxseal/sqlite"
)

// DB is a store that can create and update its own tables.
type DB interface {
	waxseal.Store
	// Migrate brings the tables up to date; it is safe to run again.
	Migrate(ctx context.Context) error
}

var (
	_ DB = (*sqlite.DB)(nil)
	_ DB = (*postgres.DB)(nil)
)

// Open opens the database that url names, without migrating it:
//
//	sqlite:PATH, sqlite://PATH          a SQLite file; sqlite:///var/lib/waxseal.db is absolute
//	postgres://..., postgresql://...    a PostgreSQL database
func Open(ctx context.Context, url string) (DB, error) {
	scheme, rest, _ := strings.Cut(url, ":")
	switch strings.ToLower(scheme) {
	case "sqlite":
		path := strings.TrimPrefix(rest, "//")
		if path == "" {
			return nil, errors.New("dburl: sqlite URL has no file path")
		}
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, err // not a DB holding a nil *sqlite.DB
		}
		return db, nil
	case "postgres", "postgresql":
		db, err := postgres.Open(ctx, url)
		if err != nil {
			return nil, err
		}
		return db, nil
	}
	return nil, fmt.Errorf("dburl: %q is not a sqlite:PATH, postgres:// or postgresql:// URL", redact(url))
}

// redact drops what could be a password from a URL that goes into an
// error message.
func redact(url string) string {
	if at := strings.LastIndex(url, "@"); at >= 0 {
		return "…" + url[at:]
	}
	return url
}
