package sqlstore

import (
	"context"
	"database/sql"

	"github.com/waxseal/waxseal"
)

const clientColumns = `id, name, secret_digest, previous_secret_digest, previous_secret_expires,
	grant_types, scopes, roles, created, updated`

func (s *Store) scanClient(r row) (*waxseal.Client, error) {
	c := new(waxseal.Client)
	err := r.Scan(&c.ID, &c.Name, &c.SecretDigest, &c.PreviousSecretDigest, timeDest{&c.PreviousSecretExpires},
		s.listDest(&c.GrantTypes), s.listDest(&c.Scopes), s.listDest(&c.Roles), timeDest{&c.Created}, timeDest{&c.Updated})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// CreateClient stores c; waxseal.ErrConflict if its ID is taken. Without a
// previous secret, PreviousSecretDigest and PreviousSecretExpires are
// stored as NULL.
func (s *Store) CreateClient(ctx context.Context, c *waxseal.Client) error {
	_, err := s.exec(ctx, `INSERT INTO clients (`+clientColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.SecretDigest, blob(c.PreviousSecretDigest), s.tm(c.PreviousSecretExpires),
		s.list(c.GrantTypes), s.list(c.Scopes), s.list(c.Roles), s.tm(c.Created), s.tm(c.Updated))
	if err != nil {
		return s.fail("creating client "+c.ID, err)
	}
	return nil
}

// Client returns the client with the ID, or waxseal.ErrNotFound.
func (s *Store) Client(ctx context.Context, id string) (*waxseal.Client, error) {
	c, err := s.scanClient(s.read.QueryRowContext(ctx, s.q(`SELECT `+clientColumns+` FROM clients WHERE id = ?`), id))
	if err != nil {
		return nil, s.notFound("client "+id, err)
	}
	return c, nil
}

// ListClients returns up to limit clients with IDs after the given one, in
// ID order.
func (s *Store) ListClients(ctx context.Context, after string, limit int) ([]*waxseal.Client, error) {
	if err := s.checkLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.read.QueryContext(ctx, s.q(`SELECT `+clientColumns+` FROM clients WHERE id > ? ORDER BY id LIMIT ?`), after, limit)
	clients, err := collect(rows, err, s.scanClient)
	if err != nil {
		return nil, s.fail("listing clients", err)
	}
	return clients, nil
}

// UpdateClient writes every field of c but ID and Created, and Updated
// unless it is zero; waxseal.ErrNotFound if there is no client with c's ID.
func (s *Store) UpdateClient(ctx context.Context, c *waxseal.Client) error {
	return s.update(ctx, "updating client "+c.ID,
		`UPDATE clients SET name = ?, secret_digest = ?, previous_secret_digest = ?, previous_secret_expires = ?,
			grant_types = ?, scopes = ?, roles = ?, updated = coalesce(?, updated) WHERE id = ?`,
		c.Name, c.SecretDigest, blob(c.PreviousSecretDigest), s.tm(c.PreviousSecretExpires),
		s.list(c.GrantTypes), s.list(c.Scopes), s.list(c.Roles), s.tm(c.Updated), c.ID)
}

// DeleteClient deletes the client and appends rev in the same transaction,
// so that no token of a deleted client outlives it unrevoked. A rev without
// a Value gets the client's ID. waxseal.ErrNotFound, and nothing appended,
// if there is no such client.
func (s *Store) DeleteClient(ctx context.Context, id string, rev waxseal.Revocation) (*waxseal.Revocation, error) {
	if rev.Value == "" {
		rev.Value = id
	}
	err := s.appendAfter(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM clients WHERE id = ?`), id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err == nil && n == 0 {
			err = waxseal.ErrNotFound
		}
		return err
	}, &rev)
	if err != nil {
		return nil, s.fail("deleting client "+id, err)
	}
	return &rev, nil
}
