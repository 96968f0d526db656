package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse/gatehouse"
)

func signingKeys(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) ([]*gatehouse.SigningKey, error) {
	rows, err := q.QueryContext(ctx, `SELECT kid, algorithm, private_key, created_at, activates_at, retires_at, revoked_at FROM signing_keys ORDER BY created_at, kid`)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var keys []*gatehouse.SigningKey
	for rows.Next() {
		var k gatehouse.SigningKey
		var created, activates int64
		var retires, revoked sql.NullInt64
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, &created, &activates, &retires, &revoked); err != nil {
			return nil, wrap(err)
		}
		k.CreatedAt, k.ActivatesAt = fromDB(created), fromDB(activates)
		k.RetiresAt, k.RevokedAt = zeroIfNull(retires), zeroIfNull(revoked)
		keys = append(keys, &k)
	}
	return keys, wrap(rows.Err())
}

// SigningKeys returns the stored signing keys, oldest first.
func (s *Store) SigningKeys(ctx context.Context) ([]*gatehouse.SigningKey, error) {
	return signingKeys(ctx, s.read)
}

// UpdateSigningKeys replaces the stored keys with what update returns, in
// one write transaction.
func (s *Store) UpdateSigningKeys(ctx context.Context, update func([]*gatehouse.SigningKey) ([]*gatehouse.SigningKey, error)) ([]*gatehouse.SigningKey, error) {
	var out []*gatehouse.SigningKey
	err := s.tx(ctx, func(ctx context.Context, tx *wtx) error {
		keys, err := signingKeys(ctx, tx)
		if err != nil {
			return err
		}
		if out, err = update(keys); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM signing_keys`); err != nil {
			return wrap(err)
		}
		for _, k := range out {
			if err := gatehouse.CheckText(k.ID, k.Algorithm); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO signing_keys (kid, algorithm, private_key, created_at, activates_at, retires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				k.ID, k.Algorithm, k.PrivateKey, toDB(k.CreatedAt), toDB(k.ActivatesAt), nullIfZero(k.RetiresAt), nullIfZero(k.RevokedAt)); err != nil {
				return wrap(err)
			}
		}
		return writeAudit(ctx, tx, "", "")
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// zeroIfNull and nullIfZero store an optional time as NULL when it is the
// zero time.
func zeroIfNull(us sql.NullInt64) time.Time {
	if !us.Valid {
		return time.Time{}
	}
	return fromDB(us.Int64)
}

func nullIfZero(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return toDB(t)
}
