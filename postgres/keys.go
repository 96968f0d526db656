package postgres

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/jackc/pgx/v5"
)

func signingKeys(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) ([]*gatehouse.SigningKey, error) {
	rows, err := q.Query(ctx, `SELECT kid, algorithm, private_key, created_at, activates_at, retires_at, revoked_at FROM signing_keys ORDER BY created_at, kid`)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var keys []*gatehouse.SigningKey
	for rows.Next() {
		var k gatehouse.SigningKey
		var retires, revoked *time.Time
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, &k.CreatedAt, &k.ActivatesAt, &retires, &revoked); err != nil {
			return nil, wrap(err)
		}
		k.CreatedAt, k.ActivatesAt = fromDB(k.CreatedAt), fromDB(k.ActivatesAt)
		if retires != nil {
			k.RetiresAt = fromDB(*retires)
		}
		if revoked != nil {
			k.RevokedAt = fromDB(*revoked)
		}
		keys = append(keys, &k)
	}
	return keys, wrap(rows.Err())
}

// SigningKeys returns the stored signing keys, oldest first.
func (s *Store) SigningKeys(ctx context.Context) ([]*gatehouse.SigningKey, error) {
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	return signingKeys(ctx, s.pool)
}

// UpdateSigningKeys replaces the stored keys with what update returns, in
// one transaction that first locks the table against other writers, so that
// nodes starting at once see each other's keys instead of each adding one.
func (s *Store) UpdateSigningKeys(ctx context.Context, update func([]*gatehouse.SigningKey) ([]*gatehouse.SigningKey, error)) ([]*gatehouse.SigningKey, error) {
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	var out []*gatehouse.SigningKey
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return wrap(err)
		}
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
			if _, err := tx.Exec(ctx, `INSERT INTO signing_keys (kid, algorithm, private_key, created_at, activates_at, retires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
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

// nullIfZero stores an optional time as NULL when it is the zero time.
func nullIfZero(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return toDB(t)
}
