package postgres

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/jackc/pgx/v5"
)

// ListUsers returns a page of users in id order. The search lower-cases
// under the C collation, which changes ASCII letters only, as SQLite's
// lower() does.
func (s *Store) ListUsers(ctx context.Context, q gatehouse.UserQuery) ([]*gatehouse.User, error) {
	if gatehouse.CheckText(q.After, q.Search) != nil || q.Limit <= 0 {
		return nil, nil // no stored user can match it
	}
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	rows, err := s.pool.Query(ctx, userSelect+` WHERE id > $1 AND ($2 = ''
		OR starts_with(lower(email COLLATE "C"), lower($2 COLLATE "C"))
		OR starts_with(lower(login COLLATE "C"), lower($2 COLLATE "C")))
		ORDER BY id LIMIT $3`, q.After, q.Search, q.Limit)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []*gatehouse.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, wrap(rows.Err())
}

// DeleteUser deletes the user; their identities, sessions, retired refresh
// token hashes and link logins go with them (ON DELETE CASCADE), in the
// one statement.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	if gatehouse.CheckText(id) != nil {
		return gatehouse.ErrNotFound
	}
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
		if err != nil {
			return wrap(err)
		}
		if tag.RowsAffected() == 0 {
			return gatehouse.ErrNotFound
		}
		return writeAudit(ctx, tx, id, "")
	})
}

const adminKeyColumns = `name, hash, created_at, last_used_at, revoked_at`

func scanAdminKey(row pgx.Row) (*gatehouse.AdminKey, error) {
	var k gatehouse.AdminKey
	if err := row.Scan(&k.Name, &k.Hash, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt); err != nil {
		return nil, wrap(err)
	}
	k.CreatedAt, k.LastUsedAt, k.RevokedAt = fromDB(k.CreatedAt), nullTime(k.LastUsedAt), nullTime(k.RevokedAt)
	return &k, nil
}

// CreateAdminKey stores a new admin key.
func (s *Store) CreateAdminKey(ctx context.Context, k *gatehouse.AdminKey) error {
	if err := gatehouse.CheckText(k.Name, k.Hash); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	_, err := s.pool.Exec(ctx, `INSERT INTO admin_keys (`+adminKeyColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		k.Name, k.Hash, toDB(k.CreatedAt), nullTime(k.LastUsedAt), nullTime(k.RevokedAt))
	return wrap(err)
}

// AdminKeys returns every admin key, oldest first.
func (s *Store) AdminKeys(ctx context.Context) ([]*gatehouse.AdminKey, error) {
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT `+adminKeyColumns+` FROM admin_keys ORDER BY created_at, name`)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []*gatehouse.AdminKey
	for rows.Next() {
		k, err := scanAdminKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, wrap(rows.Err())
}

// UseAdminKey records the use of the live key with the hash and returns it.
func (s *Store) UseAdminKey(ctx context.Context, hash string, at time.Time) (*gatehouse.AdminKey, error) {
	if gatehouse.CheckText(hash) != nil {
		return nil, gatehouse.ErrNotFound
	}
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	return scanAdminKey(s.pool.QueryRow(ctx, `UPDATE admin_keys SET last_used_at = $1
		WHERE hash = $2 AND revoked_at IS NULL RETURNING `+adminKeyColumns, toDB(at), hash))
}

// RevokeAdminKey revokes the live key of that name.
func (s *Store) RevokeAdminKey(ctx context.Context, name string, at time.Time) error {
	if gatehouse.CheckText(name) != nil {
		return gatehouse.ErrNotFound
	}
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE admin_keys SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL`, toDB(at), name)
	if err != nil {
		return wrap(err)
	}
	if tag.RowsAffected() == 0 {
		return gatehouse.ErrNotFound
	}
	return nil
}
