// Package dburl opens the storage engine a URL names, so that commands take
// one flag for the database whichever engine it is.
package dburl

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"
	"regexp"
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
	// CheckSchema returns nil if the tables are up to date, and
	// otherwise an error wrapping sqlstore.ErrNoSchema or
	// sqlstore.ErrOlderSchema; it changes nothing.
	CheckSchema(ctx context.Context) error
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
	if path, ok := SQLitePath(url); ok {
		if path == "" {
			return nil, errors.New("dburl: sqlite URL has no file path")
		}
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, err // not a DB holding a nil *sqlite.DB
		}
		return db, nil
	}
	scheme, _, _ := strings.Cut(url, ":")
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		db, err := postgres.Open(ctx, url)
		if err != nil {
			return nil, err
		}
		return db, nil
	}
	return nil, fmt.Errorf("dburl: %q is not a sqlite:PATH, postgres:// or postgresql:// URL", Redact(url))
}

// Redact returns url with every secret it may hold masked, for log lines and
// error messages: the user-info password and each query parameter whose name
// speaks of a secret (password, sslpassword, …; matched after decoding, in
// any case), and the same keywords in PostgreSQL's keyword=value form. What
// names the database (scheme, user, hosts, path, other parameters) stays, so
// an operator can still tell which database a line is about. A URL that does
// not parse keeps only its hosts and path.
func Redact(raw string) string {
	if strings.HasPrefix(strings.ToLower(raw), "sqlite:") {
		return raw
	}
	if !strings.Contains(raw, "://") {
		return secretKeyword.ReplaceAllString(raw, "${1}"+mask)
	}
	u, err := neturl.Parse(raw)
	if err != nil {
		scheme, rest, _ := strings.Cut(raw, "://")
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			rest = rest[at+1:]
		}
		if i := strings.IndexAny(rest, "?#"); i >= 0 {
			rest = rest[:i] + "?" + mask
		}
		return scheme + "://" + rest
	}
	if _, has := u.User.Password(); has {
		u.User = neturl.UserPassword(u.User.Username(), mask)
	}
	if u.RawQuery != "" {
		q, err := neturl.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = mask
		} else {
			for k := range q {
				if secretName(k) {
					q[k] = []string{mask}
				}
			}
			u.RawQuery = q.Encode()
		}
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

const mask = "xxxxx"

// secretWords mark a parameter as secret: password and sslpassword in
// PostgreSQL and Redis URLs, and anything named like a key or a token.
var secretWords = []string{"pass", "secret", "token", "key"}

func secretName(k string) bool {
	k = strings.ToLower(k)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// secretKeyword finds a secret in PostgreSQL's keyword=value form, with the
// value bare or single-quoted.
var secretKeyword = regexp.MustCompile(`(?i)(\b\w*(?:pass|secret|token|key)\w*\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)`)

// SQLitePath returns the file path of a sqlite: URL, and false for any
// other URL.
func SQLitePath(url string) (string, bool) {
	scheme, rest, _ := strings.Cut(url, ":")
	if !strings.EqualFold(scheme, "sqlite") {
		return "", false
	}
	return strings.TrimPrefix(rest, "//"), true
}
