package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/waxseal/waxseal"
)

const codeColumns = `digest, client_id, redirect_uri, code_challenge, scope, nonce, user_id, parent_id,
	auth_time, created, expires, used, session_id`

// CreateAuthCode stores c; waxseal.ErrConflict if its digest exists.
func (s *Store) CreateAuthCode(ctx context.Context, c *waxseal.AuthCode) error {
	_, err := s.exec(ctx, `INSERT INTO auth_codes (`+codeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.Digest, c.ClientID, c.RedirectURI, c.CodeChallenge, c.Scope, c.Nonce, c.UserID, c.Parent,
		s.tm(c.AuthTime), s.tm(c.Created), s.tm(c.Expires), s.tm(c.Used), c.Session)
	if err != nil {
		return s.fail("creating authorization code", err)
	}
	return nil
}

// RedeemAuthCode reads the code for update, so concurrent redemptions on
// any instance run one after the other. The first that passes p.Check
// marks it used and starts p.Session; any later one finds it used, ends
// the session the first started and appends p.Reuse for it.
func (s *Store) RedeemAuthCode(ctx context.Context, p waxseal.RedeemParams) (*waxseal.RedeemResult, error) {
	var res *waxseal.RedeemResult
	var checkErr error
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		c := new(waxseal.AuthCode)
		err := tx.QueryRowContext(ctx, s.q(`SELECT `+codeColumns+` FROM auth_codes WHERE digest = ?`+s.d.ForUpdate), p.Digest).Scan(
			&c.Digest, &c.ClientID, &c.RedirectURI, &c.CodeChallenge, &c.Scope, &c.Nonce, &c.UserID, &c.Parent,
			timeDest{&c.AuthTime}, timeDest{&c.Created}, timeDest{&c.Expires}, timeDest{&c.Used}, &c.Session)
		if errors.Is(err, sql.ErrNoRows) {
			return waxseal.ErrNotFound
		}
		if err != nil {
			return err
		}
		res = &waxseal.RedeemResult{Code: c}
		if !c.Used.IsZero() {
			res.Reused = true
			if c.Session == "" {
				return nil
			}
			n, err := s.endWhere(ctx, tx, waxseal.EndParams{Now: p.Now, Reason: "code_reuse"}, `id = ?`, c.Session)
			if err != nil || n == 0 {
				return err
			}
			r := p.Reuse
			r.Kind, r.Value = waxseal.RevokeSession, c.Session
			if r.Created.IsZero() {
				r.Created = p.Now
			}
			if err := s.appendTx(ctx, tx, &r); err != nil {
				return err
			}
			res.Revocation = &r
			return nil
		}
		if p.Check != nil {
			if checkErr = p.Check(c); checkErr != nil {
				return checkErr
			}
		}
		x := p.Session
		if err := s.insertSession(ctx, tx, x, p.RefreshDigest); err != nil {
			return err
		}
		c.Used, c.Session = p.Now, x.ID
		_, err = tx.ExecContext(ctx, s.q(`UPDATE auth_codes SET used = ?, session_id = ? WHERE digest = ?`), s.tm(p.Now), x.ID, p.Digest)
		return err
	})
	if checkErr != nil && errors.Is(err, checkErr) {
		return nil, checkErr
	}
	if err != nil {
		return nil, s.fail("redeeming authorization code", err)
	}
	if res.Revocation != nil {
		s.appended()
	}
	return res, nil
}

// PruneAuthCodes deletes codes that expired before before.
func (s *Store) PruneAuthCodes(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.exec(ctx, `DELETE FROM auth_codes WHERE expires < ?`, s.tm(before))
	if err != nil {
		return 0, s.fail("pruning authorization codes", err)
	}
	return n, nil
}
