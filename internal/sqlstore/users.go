package sqlstore

import (
	"context"

	"github.com/waxseal/waxseal"
)

const userColumns = `id, name, password_hash, roles, disabled, created, updated`

func (s *Store) scanUser(r row) (*waxseal.User, error) {
	u := new(waxseal.User)
	err := r.Scan(&u.ID, &u.Name, &u.PasswordHash, s.d.ScanRoles(&u.Roles), &u.Disabled, timeDest{&u.Created}, timeDest{&u.Updated})
	if err != nil {
		return nil, err
	}
	if len(u.Roles) == 0 {
		u.Roles = nil
	}
	return u, nil
}

func (s *Store) roles(r []string) any {
	if r == nil {
		r = []string{}
	}
	return s.d.Roles(r)
}

// CreateUser stores u; waxseal.ErrConflict if its ID or name is taken.
func (s *Store) CreateUser(ctx context.Context, u *waxseal.User) error {
	_, err := s.exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Name, u.PasswordHash, s.roles(u.Roles), u.Disabled, s.tm(u.Created), s.tm(u.Updated))
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
// name order.
func (s *Store) ListUsers(ctx context.Context, after string, limit int) ([]*waxseal.User, error) {
	if err := s.checkLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.read.QueryContext(ctx, s.q(`SELECT `+userColumns+` FROM users WHERE name > ? ORDER BY name LIMIT ?`), after, limit)
	users, err := collect(rows, err, s.scanUser)
	if err != nil {
		return nil, s.fail("listing users", err)
	}
	return users, nil
}

// UpdateUser writes u's password hash, roles and disabled flag, and its
// Updated time unless that is zero; waxseal.ErrNotFound if there is no
// user with u's ID.
func (s *Store) UpdateUser(ctx context.Context, u *waxseal.User) error {
	n, err := s.exec(ctx, `UPDATE users SET password_hash = ?, roles = ?, disabled = ?, updated = coalesce(?, updated) WHERE id = ?`,
		u.PasswordHash, s.roles(u.Roles), u.Disabled, s.tm(u.Updated), u.ID)
	if err != nil {
		return s.fail("updating user "+u.ID, err)
	}
	if n == 0 {
		return s.errorf("updating user %s: %w", u.ID, waxseal.ErrNotFound)
	}
	return nil
}
