package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/waxseal/waxseal"
)

// AppendAudit stores e; the Store assigns its ID.
func (s *Store) AppendAudit(ctx context.Context, e waxseal.AuditEvent) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error { return s.insertAudit(ctx, tx, e) })
	if err != nil {
		return s.fail("appending audit event", err)
	}
	return nil
}

// insertAudit stores e in tx.
func (s *Store) insertAudit(ctx context.Context, tx *sql.Tx, e waxseal.AuditEvent) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO audit (time, type, user_id, session_id, client_id, ip, detail) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		s.tm(e.Time), e.Type, e.UserID, e.SessionID, e.ClientID, e.IP, e.Detail)
	return err
}

// Audit returns up to limit events with IDs below before (0: from the
// newest), newest first, of the user and the type when those are set.
func (s *Store) Audit(ctx context.Context, before int64, limit int, userID, typ string) ([]waxseal.AuditEvent, error) {
	if err := s.checkLimit(limit); err != nil {
		return nil, err
	}
	var (
		cond []string
		args []any
	)
	if before > 0 {
		cond, args = append(cond, `id < ?`), append(args, before)
	}
	if userID != "" {
		cond, args = append(cond, `user_id = ?`), append(args, userID)
	}
	if typ != "" {
		cond, args = append(cond, `type = ?`), append(args, typ)
	}
	query := `SELECT id, time, type, user_id, session_id, client_id, ip, detail FROM audit`
	if len(cond) > 0 {
		query += ` WHERE ` + strings.Join(cond, ` AND `)
	}
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.read.QueryContext(ctx, s.q(query), args...)
	list, err := collect(rows, err, func(r row) (e waxseal.AuditEvent, err error) {
		err = r.Scan(&e.ID, timeDest{&e.Time}, &e.Type, &e.UserID, &e.SessionID, &e.ClientID, &e.IP, &e.Detail)
		return e, err
	})
	if err != nil {
		return nil, s.fail("reading audit log", err)
	}
	return list, nil
}
