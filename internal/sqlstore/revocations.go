package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/waxseal/waxseal"
	"github.com/waxseal/waxseal/token"
)

// AppendRevocation commits r and returns it with its cursor. An entry
// needs a Kind, a Value, a Created and an Expires time.
func (s *Store) AppendRevocation(ctx context.Context, r waxseal.Revocation) (*waxseal.Revocation, error) {
	if err := s.appendAfter(ctx, nil, &r); err != nil {
		return nil, s.fail("appending revocation", err)
	}
	return &r, nil
}

// appendAfter runs change, if not nil, and then appends r, in one
// transaction, and wakes the watchers once that has committed.
func (s *Store) appendAfter(ctx context.Context, change func(*sql.Tx) error, r *waxseal.Revocation) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if change != nil {
			if err := change(tx); err != nil {
				return err
			}
		}
		return s.appendTx(ctx, tx, r)
	})
	if err != nil {
		return err
	}
	s.appended()
	return nil
}

// appendTx appends r in tx and sets its cursor. Taking the cursor locks
// the counter's row until tx ends, so appending transactions commit in
// cursor order; nothing else may be locked after it.
func (s *Store) appendTx(ctx context.Context, tx *sql.Tx, r *waxseal.Revocation) error {
	switch {
	case r.Kind == "" || r.Value == "":
		return errors.New("revocation needs a kind and a value")
	case r.Created.IsZero() || r.Expires.IsZero():
		return errors.New("revocation needs a creation and an expiry time")
	}
	var ttlMicros int64
	if err := tx.QueryRowContext(ctx, `UPDATE revocation_cursor SET last = last + 1 RETURNING last, max_token_ttl_us`).Scan(&r.Cursor, &ttlMicros); err != nil {
		return err
	}
	// The server's policy, not the writer's idea of it, sizes the entry: a
	// command run with a shorter --access-ttl than the server's must not
	// write an entry that lapses while tokens it matches still work.
	ttl := time.Duration(ttlMicros) * time.Microsecond
	if r.Kind == waxseal.RevokeKey {
		// The writer sized it by the JWKS max-age and its own idea of the
		// token lifetime; the server's lifetime comes on top.
		r.Expires = r.Expires.Add(ttl)
	} else if floor := r.Created.Add(ttl + token.MaxLeeway); ttl > 0 && r.Expires.Before(floor) {
		r.Expires = floor
	}
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO revocations (cursor, kind, value, not_before, created, expires) VALUES (?, ?, ?, ?, ?, ?)`),
		r.Cursor, string(r.Kind), r.Value, s.tm(r.NotBefore), s.tm(r.Created), s.tm(r.Expires))
	if err != nil {
		return err
	}
	if s.d.Notify != "" {
		_, err = tx.ExecContext(ctx, s.d.Notify)
	}
	return err
}

// Revocations returns up to limit entries with cursors above after, in
// cursor order, leaving out those that expired before now.
func (s *Store) Revocations(ctx context.Context, after int64, limit int, now time.Time) ([]waxseal.Revocation, error) {
	if err := s.checkLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.read.QueryContext(ctx, s.q(`SELECT cursor, kind, value, not_before, created, expires FROM revocations
		WHERE cursor > ? AND expires >= ? ORDER BY cursor LIMIT ?`), after, s.tm(now), limit)
	list, err := collect(rows, err, func(r row) (v waxseal.Revocation, err error) {
		err = r.Scan(&v.Cursor, &v.Kind, &v.Value, timeDest{&v.NotBefore}, timeDest{&v.Created}, timeDest{&v.Expires})
		return v, err
	})
	if err != nil {
		return nil, s.fail("reading revocations", err)
	}
	return list, nil
}

// PruneRevocations deletes the entries that expired before now. Cursors
// are never reused: the counter keeps counting past deleted entries.
func (s *Store) PruneRevocations(ctx context.Context, now time.Time) (int64, error) {
	n, err := s.exec(ctx, `DELETE FROM revocations WHERE expires < ?`, s.tm(now))
	if err != nil {
		return 0, s.fail("pruning revocations", err)
	}
	return n, nil
}

// NoteTokenLifetime records that access tokens may live d. The store keeps
// the longest lifetime it was ever told, and sizes every revocation entry
// by it, so that entries outlive the tokens they match whoever writes them.
func (s *Store) NoteTokenLifetime(ctx context.Context, d time.Duration) error {
	_, err := s.exec(ctx, `UPDATE revocation_cursor SET max_token_ttl_us = ? WHERE max_token_ttl_us < ?`,
		d.Microseconds(), d.Microseconds())
	if err != nil {
		return s.fail("recording the token lifetime", err)
	}
	return nil
}
