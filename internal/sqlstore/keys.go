package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/waxseal/waxseal/keyring"
)

// LoadKeys returns every signing key record, in kid order.
func (s *Store) LoadKeys(ctx context.Context) ([]keyring.Record, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, algorithm, created, activates, deactivates, retires, compromised, sealed
		FROM signing_keys ORDER BY id`)
	recs, err := collect(rows, err, func(r row) (k keyring.Record, err error) {
		err = r.Scan(&k.ID, &k.Algorithm, timeDest{&k.Created}, timeDest{&k.Activates}, timeDest{&k.Deactivates},
			timeDest{&k.Retires}, timeDest{&k.Compromised}, &k.Sealed)
		return k, err
	})
	if err != nil {
		return nil, s.fail("loading signing keys", err)
	}
	return recs, nil
}

// SaveKey inserts r, or replaces the record with its ID. It returns once
// the transaction has committed.
func (s *Store) SaveKey(ctx context.Context, r keyring.Record) error {
	if r.ID == "" || r.Algorithm == "" || len(r.Sealed) == 0 {
		return s.fail("saving signing key", errors.New("record needs a kid, an algorithm and a sealed key"))
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO signing_keys (id, algorithm, created, activates, deactivates, retires, compromised, sealed)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET algorithm = excluded.algorithm, created = excluded.created,
			activates = excluded.activates, deactivates = excluded.deactivates, retires = excluded.retires,
			compromised = excluded.compromised, sealed = excluded.sealed`),
			r.ID, string(r.Algorithm), s.tm(r.Created), s.tm(r.Activates), s.tm(r.Deactivates), s.tm(r.Retires), s.tm(r.Compromised), r.Sealed)
		if err == nil && s.d.Notify != "" {
			// Issuers sharing the database reload their keys on the same
			// notification that wakes them for revocations, so a
			// compromise or a rotation reaches them at once.
			_, err = tx.ExecContext(ctx, s.d.Notify)
		}
		return err
	})
	if err != nil {
		return s.fail("saving signing key "+r.ID, err)
	}
	s.appended()
	return nil
}
