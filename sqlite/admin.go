package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse/gatehouse"
)

// ListUsers returns a page of users in id order. The search lower-cases
// ASCII only, on both sides, as SQLite's lower() does.
func (s *Store) ListUsers(ctx context.Context, q gatehouse.UserQuery) ([]*gatehouse.User, error) {
	if gatehouse.CheckText(q.After, q.Search) != nil {
		return nil, nil // no stored user can match it
	}
	if q.Limit <= 0 {
		return nil, nil
	}
	rows, err := s.read.QueryContext(ctx, userSelect+` WHERE id > ?1 AND (?2 = ''
		OR substr(lower(email), 1, length(?2)) = lower(?2) OR substr(lower(login), 1, length(?2)) = lower(?2))
		ORDER BY id LIMIT ?3`, q.After, q.Search, q.Limit)
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
	return s.tx(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.Exec(ctx, `DELETE FROM users WHERE id = ?`, id)
		if err != nil {
			return wrap(err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return gatehouse.ErrNotFound
		}
		return writeAudit(ctx, tx, id, "")
	})
}

const adminKeyColumns = `name, hash, created_at, last_used_at, revoked_at`

func scanAdminKey(row scanner) (*gatehouse.AdminKey, error) {
	var k gatehouse.AdminKey
	var created int64
	var used, revoked sql.NullInt64
	if err := row.Scan(&k.Name, &k.Hash, &created, &used, &revoked); err != nil {
		return nil, wrap(err)
	}
	k.CreatedAt, k.LastUsedAt, k.RevokedAt = fromDB(created), fromNullDB(used), fromNullDB(revoked)
	return &k, nil
}

// CreateAdminKey stores a new admin key.
func (s *Store) CreateAdminKey(ctx context.Context, k *gatehouse.AdminKey) error {
	if err := gatehouse.CheckText(k.Name, k.Hash); err != nil {
		return err
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO admin_keys (`+adminKeyColumns+`) VALUES (?, ?, ?, ?, ?)`,
		k.Name, k.Hash, toDB(k.CreatedAt), toNullDB(k.LastUsedAt), toNullDB(k.RevokedAt))
	return wrap(err)
}

// AdminKeys returns every admin key, oldest first.
func (s *Store) AdminKeys(ctx context.Context) ([]*gatehouse.AdminKey, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+adminKeyColumns+` FROM admin_keys ORDER BY created_at, name`)
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
	return scanAdminKey(s.write.QueryRowContext(ctx, `UPDATE admin_keys SET last_used_at = ?
		WHERE hash = ? AND revoked_at IS NULL RETURNING `+adminKeyColumns, toDB(at), hash))
}

// RevokeAdminKey revokes the live key of that name.
func (s *Store) RevokeAdminKey(ctx context.Context, name string, at time.Time) error {
	if gatehouse.CheckText(name) != nil {
		return gatehouse.ErrNotFound
	}
	res, err := s.write.ExecContext(ctx, `UPDATE admin_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL`, toDB(at), name)
	if err != nil {
		return wrap(err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return gatehouse.ErrNotFound
	}
	return nil
}
