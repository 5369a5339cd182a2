package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/waxseal/waxseal"
)

const clientColumns = `id, name, secret_digest, previous_secret_digest, previous_secret_expires,
	grant_types, scopes, roles, redirect_uris, post_logout_redirect_uris, public, id_token_alg, created, updated`

func (s *Store) scanClient(r row) (*waxseal.Client, error) {
	c := new(waxseal.Client)
	err := r.Scan(&c.ID, &c.Name, &c.SecretDigest, &c.PreviousSecretDigest, timeDest{&c.PreviousSecretExpires},
		s.listDest(&c.GrantTypes), s.listDest(&c.Scopes), s.listDest(&c.Roles),
		s.listDest(&c.RedirectURIs), s.listDest(&c.PostLogoutRedirectURIs), &c.Public, &c.IDTokenAlg,
		timeDest{&c.Created}, timeDest{&c.Updated})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// CreateClient stores c; waxseal.ErrConflict if its ID is taken. Without a
// previous secret, PreviousSecretDigest and PreviousSecretExpires are
// stored as NULL.
func (s *Store) CreateClient(ctx context.Context, c *waxseal.Client) error {
	_, err := s.exec(ctx, `INSERT INTO clients (`+clientColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, secretDigest(c.SecretDigest), blob(c.PreviousSecretDigest), s.tm(c.PreviousSecretExpires),
		s.list(c.GrantTypes), s.list(c.Scopes), s.list(c.Roles),
		s.list(c.RedirectURIs), s.list(c.PostLogoutRedirectURIs), c.Public, c.IDTokenAlg,
		s.tm(c.Created), s.tm(c.Updated))
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
			grant_types = ?, scopes = ?, roles = ?, redirect_uris = ?, post_logout_redirect_uris = ?, public = ?, id_token_alg = ?,
			updated = coalesce(?, updated) WHERE id = ?`,
		c.Name, secretDigest(c.SecretDigest), blob(c.PreviousSecretDigest), s.tm(c.PreviousSecretExpires),
		s.list(c.GrantTypes), s.list(c.Scopes), s.list(c.Roles),
		s.list(c.RedirectURIs), s.list(c.PostLogoutRedirectURIs), c.Public, c.IDTokenAlg, s.tm(c.Updated), c.ID)
}

// secretDigest is the argument for the secret digest column, which a
// public client, having no secret, leaves empty (never NULL).
func secretDigest(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// DeleteClient deletes the client and appends rev in the same transaction,
// so that no token of a deleted client outlives it unrevoked. The sessions
// users opened through the client end too, each with a session revocation:
// their tokens name the client in client_id, not in sub, and a deleted
// client's name must not let anyone refresh them as a public client. A rev
// without a Value gets the client's ID. waxseal.ErrNotFound, and nothing
// appended, if there is no such client.
func (s *Store) DeleteClient(ctx context.Context, id string, rev waxseal.Revocation) (*waxseal.Revocation, error) {
	if rev.Value == "" {
		rev.Value = id
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM clients WHERE id = ?`), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return waxseal.ErrNotFound
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT id FROM sessions WHERE client_id = ? AND ended IS NULL`+s.d.ForUpdate), id)
		if err != nil {
			return err
		}
		var sids []string
		for rows.Next() {
			var sid string
			if err := rows.Scan(&sid); err != nil {
				rows.Close()
				return err
			}
			sids = append(sids, sid)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE sessions SET ended = ?, end_reason = 'client_deleted' WHERE client_id = ? AND ended IS NULL`),
			s.tm(rev.Created), id); err != nil {
			return err
		}
		if err := s.appendTx(ctx, tx, &rev); err != nil {
			return err
		}
		for _, sid := range sids {
			r := rev
			r.Kind, r.Value, r.NotBefore = waxseal.RevokeSession, sid, time.Time{}
			if err := s.appendTx(ctx, tx, &r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.fail("deleting client "+id, err)
	}
	s.appended()
	return &rev, nil
}
