package sqlstore

import (
	"context"
	"strings"

	"github.com/waxseal/waxseal"
)

const userColumns = `id, name, password_hash, roles, disabled, epoch, created, updated`

func (s *Store) scanUser(r row) (*waxseal.User, error) {
	u := new(waxseal.User)
	err := r.Scan(&u.ID, &u.Name, &u.PasswordHash, s.listDest(&u.Roles), &u.Disabled, &u.Epoch, timeDest{&u.Created}, timeDest{&u.Updated})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// CreateUser stores u; waxseal.ErrConflict if its ID or name is taken.
func (s *Store) CreateUser(ctx context.Context, u *waxseal.User) error {
	_, err := s.exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Name, u.PasswordHash, s.list(u.Roles), u.Disabled, u.Epoch, s.tm(u.Created), s.tm(u.Updated))
	if err != nil {
		return s.fail("creating user "+u.Name, err)
	}
	return nil
}

// UserByName returns the user with the name, or waxseal.ErrNotFound.
func (s *Store) UserByName(ctx context.Context, name string) (*waxseal.User, error) {
	u, err := s.scanUser(s.read.QueryRowContext(ctx, s.q(`SELECT `+userColumns+` FROM users WHERE name = ?`), name))
	if err != nil {
		return nil, s.notFound("user "+name, err)
	}
	return u, nil
}

// UserByID returns the user with the ID, or waxseal.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (*waxseal.User, error) {
	u, err := s.scanUser(s.read.QueryRowContext(ctx, s.q(`SELECT `+userColumns+` FROM users WHERE id = ?`), id))
	if err != nil {
		return nil, s.notFound("user "+id, err)
	}
	return u, nil
}

// ListUsers returns up to limit users with names after the given one, in
// name order; with search not empty, only those whose name contains it.
// The search is lower-cased first, as canonical names are: SQLite's LIKE
// ignores the case of ASCII letters and PostgreSQL's does not, and with
// neither side holding a capital they agree.
func (s *Store) ListUsers(ctx context.Context, after string, limit int, search string) ([]*waxseal.User, error) {
	if err := s.checkLimit(limit); err != nil {
		return nil, err
	}
	query, args := `SELECT `+userColumns+` FROM users WHERE name > ?`, []any{after}
	if search != "" {
		query, args = query+` AND name LIKE ? ESCAPE '\'`, append(args, containing(strings.ToLower(search)))
	}
	rows, err := s.read.QueryContext(ctx, s.q(query+` ORDER BY name LIMIT ?`), append(args, limit)...)
	users, err := collect(rows, err, s.scanUser)
	if err != nil {
		return nil, s.fail("listing users", err)
	}
	return users, nil
}

// likeEscaper escapes the metacharacters of a LIKE pattern whose ESCAPE
// character is a backslash.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// containing returns the LIKE pattern, with ESCAPE '\', of the strings
// that contain sub.
func containing(sub string) string {
	return "%" + likeEscaper.Replace(sub) + "%"
}

// UpdateUser writes u's password hash, roles and disabled flag, and its
// Updated time unless that is zero; waxseal.ErrNotFound if there is no
// user with u's ID.
func (s *Store) UpdateUser(ctx context.Context, u *waxseal.User) error {
	return s.update(ctx, "updating user "+u.ID,
		`UPDATE users SET password_hash = ?, roles = ?, disabled = ?, updated = coalesce(?, updated) WHERE id = ?`,
		u.PasswordHash, s.list(u.Roles), u.Disabled, s.tm(u.Updated), u.ID)
}
