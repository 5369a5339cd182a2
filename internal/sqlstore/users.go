package sqlstore

import (
	"context"
	"database/sql"
	"errors"
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
// user with u's ID. It writes only while the user's epoch is still u.Epoch,
// and otherwise returns waxseal.ErrStale: a user read before a password
// change, a reset, a disable or a revocation is never written back over
// it, so neither a rehash of the old password nor a change of roles can
// undo one.
func (s *Store) UpdateUser(ctx context.Context, u *waxseal.User) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE users SET password_hash = ?, roles = ?, disabled = ?, updated = coalesce(?, updated)
			WHERE id = ? AND epoch = ?`), u.PasswordHash, s.list(u.Roles), u.Disabled, s.tm(u.Updated), u.ID, u.Epoch)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		if err := s.exists(ctx, tx, `SELECT 1 FROM users WHERE id = ?`, u.ID); err != nil {
			return err
		}
		return waxseal.ErrStale
	})
	if errors.Is(err, waxseal.ErrStale) || errors.Is(err, waxseal.ErrNotFound) {
		return s.errorf("updating user %s: %w", u.ID, err)
	}
	if err != nil {
		return s.fail("updating user "+u.ID, err)
	}
	return nil
}
