package sqlite

import (
	"context"
	"database/sql"

	"github.com/gatehouse/gatehouse"
)

func signingKeys(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) ([]*gatehouse.SigningKey, error) {
	rows, err := q.QueryContext(ctx, `SELECT kid, algorithm, private_key, created_at FROM signing_keys ORDER BY created_at, kid`)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var keys []*gatehouse.SigningKey
	for rows.Next() {
		var k gatehouse.SigningKey
		var created int64
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, &created); err != nil {
			return nil, wrap(err)
		}
		k.CreatedAt = fromDB(created)
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
	err := s.tx(ctx, func(tx *sql.Tx) error {
		keys, err := signingKeys(ctx, tx)
		if err != nil {
			return err
		}
		if out, err = update(keys); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM signing_keys`); err != nil {
			return wrap(err)
		}
		for _, k := range out {
			if err := gatehouse.CheckText(k.ID, k.Algorithm); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (kid, algorithm, private_key, created_at) VALUES (?, ?, ?, ?)`,
				k.ID, k.Algorithm, k.PrivateKey, toDB(k.CreatedAt)); err != nil {
				return wrap(err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
