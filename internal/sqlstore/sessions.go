package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/waxseal/waxseal"
)

const sessionColumns = `id, user_id, client_id, scope, created, last_used, expires, ended, end_reason, user_agent, ip, parent_id`

func scanSession(r row) (*waxseal.Session, error) {
	x := new(waxseal.Session)
	err := r.Scan(&x.ID, &x.UserID, &x.ClientID, &x.Scope, timeDest{&x.Created}, timeDest{&x.LastUsed},
		timeDest{&x.Expires}, timeDest{&x.Ended}, &x.EndReason, &x.UserAgent, &x.IP, &x.Parent)
	if err != nil {
		return nil, err
	}
	return x, nil
}

// CreateSession stores x and its first refresh token; waxseal.ErrConflict
// if the session or the token exists, waxseal.ErrNotFound if the user does
// not.
func (s *Store) CreateSession(ctx context.Context, x *waxseal.Session, refreshDigest []byte) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error { return s.insertSession(ctx, tx, x, refreshDigest) })
	if errors.Is(err, waxseal.ErrStale) || errors.Is(err, waxseal.ErrNotFound) {
		return s.errorf("creating session %s: %w", x.ID, err)
	}
	if err != nil {
		return s.fail("creating session "+x.ID, err)
	}
	return nil
}

// insertSession stores x and its first refresh token in tx, after checking
// that the login's credentials still hold (waxseal.ErrStale if not). The
// user's row is locked first, as every change of credentials locks it
// before it ends sessions: either the change commits first and this sees
// its epoch, or this commits first and the change ends this session.
func (s *Store) insertSession(ctx context.Context, tx *sql.Tx, x *waxseal.Session, refreshDigest []byte) error {
	var (
		disabled bool
		epoch    int64
	)
	err := tx.QueryRowContext(ctx, s.q(`SELECT disabled, epoch FROM users WHERE id = ?`+s.d.ForUpdate), x.UserID).Scan(&disabled, &epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return waxseal.ErrNotFound
	}
	if err != nil {
		return err
	}
	if disabled {
		return waxseal.ErrStale
	}
	if x.Parent == "" && epoch != x.UserEpoch {
		return waxseal.ErrStale
	}
	if x.Parent != "" {
		var ended time.Time
		err := tx.QueryRowContext(ctx, s.q(`SELECT ended FROM sessions WHERE id = ? AND user_id = ?`), x.Parent, x.UserID).Scan(timeDest{&ended})
		if errors.Is(err, sql.ErrNoRows) || err == nil && !ended.IsZero() {
			return waxseal.ErrStale
		}
		if err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		x.ID, x.UserID, x.ClientID, x.Scope, s.tm(x.Created), s.tm(x.LastUsed),
		s.tm(x.Expires), s.tm(x.Ended), x.EndReason, x.UserAgent, x.IP, x.Parent)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO refresh_tokens (digest, session_id, created) VALUES (?, ?, ?)`),
		refreshDigest, x.ID, s.tm(x.Created))
	return err
}

// Session returns the session with the ID, or waxseal.ErrNotFound.
func (s *Store) Session(ctx context.Context, id string) (*waxseal.Session, error) {
	x, err := scanSession(s.read.QueryRowContext(ctx, s.q(`SELECT `+sessionColumns+` FROM sessions WHERE id = ?`), id))
	if err != nil {
		return nil, s.notFound("session "+id, err)
	}
	return x, nil
}

// SessionByRefresh returns the session of a refresh token, current or
// rotated, or waxseal.ErrNotFound.
func (s *Store) SessionByRefresh(ctx context.Context, digest []byte) (*waxseal.Session, error) {
	x, err := scanSession(s.read.QueryRowContext(ctx, s.q(`SELECT `+sessionColumns+` FROM sessions
		WHERE id = (SELECT session_id FROM refresh_tokens WHERE digest = ?)`), digest))
	if err != nil {
		return nil, s.notFound("session of refresh token", err)
	}
	return x, nil
}

// ListSessions returns the user's sessions that have not ended, newest
// first.
func (s *Store) ListSessions(ctx context.Context, userID string) ([]*waxseal.Session, error) {
	rows, err := s.read.QueryContext(ctx, s.q(`SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = ? AND ended IS NULL ORDER BY created DESC, id`), userID)
	list, err := collect(rows, err, scanSession)
	if err != nil {
		return nil, s.fail("listing sessions of "+userID, err)
	}
	return list, nil
}

// RotateRefresh exchanges a refresh token. The token's row and then its
// session's row are read for update, so concurrent calls for one token, or
// for tokens of one session, run one after the other, and each sees what
// the one before it committed. Only the presented token's own row decides:
// that its successor has been rotated too changes nothing.
//
// A session found expired is ended at p.Now with reason "expired". On
// reuse, p.Reuse gets the session ID as its Value and p.Now as its Created
// time if it has none.
func (s *Store) RotateRefresh(ctx context.Context, p waxseal.RotateParams) (*waxseal.RotateResult, error) {
	var res *waxseal.RotateResult
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var (
			sessionID string
			rotated   time.Time
			sealed    []byte
		)
		err := tx.QueryRowContext(ctx, s.q(`SELECT session_id, rotated, successor_sealed FROM refresh_tokens WHERE digest = ?`+s.d.ForUpdate),
			p.Digest).Scan(&sessionID, timeDest{&rotated}, &sealed)
		if errors.Is(err, sql.ErrNoRows) {
			return waxseal.ErrNotFound
		}
		if err != nil {
			return err
		}
		x, err := scanSession(tx.QueryRowContext(ctx, s.q(`SELECT `+sessionColumns+` FROM sessions WHERE id = ?`+s.d.ForUpdate), sessionID))
		if err != nil {
			return err
		}
		res = &waxseal.RotateResult{Session: x}

		switch {
		case !x.Active(p.Now, p.Idle):
			res.Outcome = waxseal.Inactive
			if x.Ended.IsZero() {
				return s.endSession(ctx, tx, x, p.Now, "expired")
			}
			return nil

		case rotated.IsZero():
			res.Outcome = waxseal.Rotated
			_, err := tx.ExecContext(ctx, s.q(`UPDATE refresh_tokens SET rotated = ?, successor_digest = ?, successor_sealed = ? WHERE digest = ?`),
				s.tm(p.Now), p.SuccessorDigest, p.SuccessorSealed, p.Digest)
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, s.q(`INSERT INTO refresh_tokens (digest, session_id, created) VALUES (?, ?, ?)`),
				p.SuccessorDigest, x.ID, s.tm(p.Now))
			if err != nil {
				return err
			}
			if err := s.auditSession(ctx, tx, p.Audit, x, p.Now); err != nil {
				return err
			}
			return s.touchSession(ctx, tx, x, p.Now)

		case !p.Now.After(rotated.Add(p.Grace)):
			res.Outcome = waxseal.Replayed
			res.SuccessorSealed = sealed
			return s.touchSession(ctx, tx, x, p.Now)

		default:
			res.Outcome = waxseal.Reused
			if err := s.endSession(ctx, tx, x, p.Now, "reuse"); err != nil {
				return err
			}
			r := p.Reuse
			r.Value = x.ID
			if r.Created.IsZero() {
				r.Created = p.Now
			}
			if err := s.appendTx(ctx, tx, &r); err != nil {
				return err
			}
			res.Revocation = &r
			return s.auditSession(ctx, tx, p.ReuseAudit, x, p.Now)
		}
	})
	if err != nil {
		return nil, s.fail("rotating refresh token", err)
	}
	if res.Revocation != nil {
		s.appended()
	}
	return res, nil
}

// auditSession appends e, if it has a Type, for session x in tx.
func (s *Store) auditSession(ctx context.Context, tx *sql.Tx, e waxseal.AuditEvent, x *waxseal.Session, now time.Time) error {
	if e.Type == "" {
		return nil
	}
	e.UserID, e.SessionID, e.ClientID = x.UserID, x.ID, x.ClientID
	if e.Time.IsZero() {
		e.Time = now
	}
	return s.insertAudit(ctx, tx, e)
}

// touchSession moves x's last use forward to now.
func (s *Store) touchSession(ctx context.Context, tx *sql.Tx, x *waxseal.Session, now time.Time) error {
	if !now.After(x.LastUsed) {
		return nil
	}
	x.LastUsed = now
	_, err := tx.ExecContext(ctx, s.q(`UPDATE sessions SET last_used = ? WHERE id = ?`), s.tm(now), x.ID)
	return err
}

func (s *Store) endSession(ctx context.Context, tx *sql.Tx, x *waxseal.Session, now time.Time, reason string) error {
	x.Ended, x.EndReason = now, reason
	_, err := tx.ExecContext(ctx, s.q(`UPDATE sessions SET ended = ?, end_reason = ? WHERE id = ?`), s.tm(now), reason, x.ID)
	return err
}

// EndSessions ends one session, or all of a user's, and appends
// p.Revocation in the same transaction: for a session only if it was
// still open, for a user always. A Revocation without a Value gets the
// session or user ID; one without a Created time gets p.Now.
// waxseal.ErrNotFound if the session or user does not exist.
func (s *Store) EndSessions(ctx context.Context, p waxseal.EndParams) (*waxseal.Revocation, error) {
	if (p.SessionID == "") == (p.UserID == "") {
		return nil, s.errorf("ending sessions: exactly one of SessionID and UserID must be set")
	}
	if p.DisableUser && p.UserID == "" {
		return nil, s.errorf("ending sessions: DisableUser needs UserID")
	}
	r := p.Revocation
	if r.Value == "" {
		r.Value = p.SessionID + p.UserID // one of them is empty
	}
	if r.Created.IsZero() {
		r.Created = p.Now
	}
	err := s.appendAfter(ctx, func(tx *sql.Tx) error {
		if p.SessionID != "" {
			ended, err := s.endWhere(ctx, tx, p, `id = ?`, p.SessionID)
			if err != nil {
				return err
			}
			children, err := s.endChildren(ctx, tx, p, r)
			if err != nil || ended > 0 {
				return err
			}
			if children > 0 {
				// The session itself had ended; its revocation is
				// appended again, which changes nothing for verifiers.
				return nil
			}
			// Already ended, or never was.
			if err := s.exists(ctx, tx, `SELECT 1 FROM sessions WHERE id = ?`, p.SessionID); err != nil {
				return err
			}
			return errNothingEnded
		}
		// The user's row is locked first, so that two calls for one user
		// take turns instead of locking its sessions in different orders.
		if err := s.exists(ctx, tx, `SELECT 1 FROM users WHERE id = ?`+s.d.ForUpdate, p.UserID); err != nil {
			return err
		}
		// The epoch moves, so that a login that checked the password
		// before this starts no session after it.
		_, err := tx.ExecContext(ctx, s.q(`UPDATE users SET epoch = epoch + 1 WHERE id = ?`), p.UserID)
		if err != nil {
			return err
		}
		if p.DisableUser {
			_, err := tx.ExecContext(ctx, s.q(`UPDATE users SET disabled = ?, updated = ? WHERE id = ?`), true, s.tm(p.Now), p.UserID)
			if err != nil {
				return err
			}
		}
		_, err = s.endWhere(ctx, tx, p, `user_id = ?`, p.UserID)
		return err
	}, &r)
	switch {
	case errors.Is(err, errNothingEnded):
		return nil, nil
	case err != nil:
		return nil, s.fail("ending sessions of "+p.SessionID+p.UserID, err)
	}
	return &r, nil
}

// endChildren ends the open sessions started from p.SessionID and appends
// a copy of r for each. It locks nothing after the appends.
func (s *Store) endChildren(ctx context.Context, tx *sql.Tx, p waxseal.EndParams, r waxseal.Revocation) (int, error) {
	rows, err := tx.QueryContext(ctx, s.q(`SELECT id FROM sessions WHERE parent_id = ? AND id <> ? AND ended IS NULL`+s.d.ForUpdate), p.SessionID, p.Keep)
	ids, err := collect(rows, err, func(r row) (id string, err error) { return id, r.Scan(&id) })
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE sessions SET ended = ?, end_reason = ? WHERE parent_id = ? AND id <> ? AND ended IS NULL`),
		s.tm(p.Now), p.Reason, p.SessionID, p.Keep); err != nil {
		return 0, err
	}
	for _, id := range ids {
		c := r
		c.Kind, c.Value = waxseal.RevokeSession, id
		if err := s.appendTx(ctx, tx, &c); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// errNothingEnded rolls back an EndSessions that found its session already
// ended, so that it appends nothing.
var errNothingEnded = errors.New("session already ended")

// endWhere ends the open sessions that cond, with its one argument,
// selects.
func (s *Store) endWhere(ctx context.Context, tx *sql.Tx, p waxseal.EndParams, cond string, arg string) (int64, error) {
	res, err := tx.ExecContext(ctx, s.q(`UPDATE sessions SET ended = ?, end_reason = ? WHERE ended IS NULL AND `+cond), s.tm(p.Now), p.Reason, arg)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// exists runs a query for one row and returns waxseal.ErrNotFound if it
// finds none.
func (s *Store) exists(ctx context.Context, tx *sql.Tx, query string, arg string) error {
	var one int
	err := tx.QueryRowContext(ctx, s.q(query), arg).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return waxseal.ErrNotFound
	}
	return err
}

// SetPassword replaces the hash, moves the epoch, and ends the user's open
// sessions but p.Keep, with a revocation each, in one transaction. The
// user's row is locked first, as in EndSessions and insertSession.
func (s *Store) SetPassword(ctx context.Context, p waxseal.PasswordParams) ([]*waxseal.Revocation, error) {
	var revs []*waxseal.Revocation
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		revs = nil
		if err := s.exists(ctx, tx, `SELECT 1 FROM users WHERE id = ?`+s.d.ForUpdate, p.UserID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`UPDATE users SET password_hash = ?, epoch = epoch + 1, updated = ? WHERE id = ?`),
			p.PasswordHash, s.tm(p.Now), p.UserID)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT id FROM sessions WHERE user_id = ? AND id <> ? AND ended IS NULL ORDER BY id`+s.d.ForUpdate), p.UserID, p.Keep)
		ids, err := collect(rows, err, func(r row) (id string, err error) { return id, r.Scan(&id) })
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE sessions SET ended = ?, end_reason = ? WHERE user_id = ? AND id <> ? AND ended IS NULL`),
			s.tm(p.Now), p.Reason, p.UserID, p.Keep); err != nil {
			return err
		}
		for _, id := range ids {
			r := p.Revocation
			r.Kind, r.Value = waxseal.RevokeSession, id
			if r.Created.IsZero() {
				r.Created = p.Now
			}
			if err := s.appendTx(ctx, tx, &r); err != nil {
				return err
			}
			revs = append(revs, &r)
		}
		return nil
	})
	if err != nil {
		return nil, s.notFound("setting the password of "+p.UserID, err)
	}
	if len(revs) > 0 {
		s.appended()
	}
	return revs, nil
}
