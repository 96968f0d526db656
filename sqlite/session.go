package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse"
)

const sessionColumns = `id, user_id, secret, current_hash, created_at, last_used_at, idle_expires_at, expires_at,
	revoked_at, revoke_reason, user_agent, ip`

func scanSession(row scanner) (*gatehouse.Session, error) {
	var s gatehouse.Session
	var created, used, idle, expires int64
	var revoked sql.NullInt64
	err := row.Scan(&s.ID, &s.UserID, &s.Secret, &s.CurrentHash, &created, &used, &idle, &expires,
		&revoked, &s.RevokeReason, &s.UserAgent, &s.IP)
	if err != nil {
		return nil, wrap(err)
	}
	s.CreatedAt, s.LastUsedAt, s.IdleExpiresAt, s.ExpiresAt = fromDB(created), fromDB(used), fromDB(idle), fromDB(expires)
	s.RevokedAt = fromNullDB(revoked)
	return &s, nil
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, sess *gatehouse.Session) error {
	if err := gatehouse.CheckSession(sess); err != nil {
		return err
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sess.ID, sess.UserID, sess.Secret, sess.CurrentHash, toDB(sess.CreatedAt), toDB(sess.LastUsedAt),
		toDB(sess.IdleExpiresAt), toDB(sess.ExpiresAt), toNullDB(sess.RevokedAt), sess.RevokeReason, sess.UserAgent, sess.IP)
	return wrap(err)
}

// SessionUser returns the session and its user, in one read.
func (s *Store) SessionUser(ctx context.Context, id string) (*gatehouse.Session, *gatehouse.User, error) {
	if gatehouse.CheckText(id) != nil {
		return nil, nil, gatehouse.ErrNotFound
	}
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, nil, wrap(err)
	}
	defer tx.Rollback()
	sess, err := scanSession(tx.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id))
	if err != nil {
		return nil, nil, err
	}
	u, err := scanUser(tx.QueryRowContext(ctx, userSelect+` WHERE id = ?`, sess.UserID))
	if err != nil {
		return nil, nil, err
	}
	return sess, u, nil
}

// UpdateSessionByToken runs update on the session of a live or retired
// refresh token, in one write transaction; the store's single writer
// serializes it with every other write.
func (s *Store) UpdateSessionByToken(ctx context.Context, tokenHash string, now time.Time,
	update func(*gatehouse.Session, *time.Time) (*gatehouse.Session, error)) (*gatehouse.Session, error) {
	if gatehouse.CheckText(tokenHash) != nil {
		return nil, gatehouse.ErrNotFound
	}
	var out *gatehouse.Session
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var retiredAt *time.Time
		old, err := scanSession(tx.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE current_hash = ?`, tokenHash))
		if errors.Is(err, gatehouse.ErrNotFound) {
			var id string
			var at int64
			if err := tx.QueryRowContext(ctx, `SELECT session_id, retired_at FROM retired_refresh_tokens WHERE hash = ?`, tokenHash).Scan(&id, &at); err != nil {
				return wrap(err)
			}
			retired := fromDB(at)
			retiredAt = &retired
			old, err = scanSession(tx.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id))
		}
		if err != nil {
			return err
		}
		prev := old.CurrentHash
		next, err := update(old, retiredAt)
		if err != nil {
			return err
		}
		if err := gatehouse.CheckSession(next); err != nil {
			return err
		}
		if next.CurrentHash != prev {
			if _, err := tx.ExecContext(ctx, `INSERT INTO retired_refresh_tokens (hash, session_id, retired_at) VALUES (?, ?, ?)`,
				prev, next.ID, toDB(now)); err != nil {
				return wrap(err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET current_hash = ?, last_used_at = ?, idle_expires_at = ?,
			revoked_at = ?, revoke_reason = ? WHERE id = ?`,
			next.CurrentHash, toDB(next.LastUsedAt), toDB(next.IdleExpiresAt), toNullDB(next.RevokedAt), next.RevokeReason, next.ID); err != nil {
			return wrap(err)
		}
		out = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Sessions returns the user's sessions that are not revoked, newest first.
func (s *Store) Sessions(ctx context.Context, userID string) ([]*gatehouse.Session, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = ? AND revoked_at IS NULL ORDER BY created_at DESC, id DESC`, userID)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []*gatehouse.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sess)
	}
	return out, wrap(rows.Err())
}

// RevokeSession revokes one of the user's sessions.
func (s *Store) RevokeSession(ctx context.Context, userID, id string, at time.Time, reason string) error {
	if gatehouse.CheckText(userID, id) != nil {
		return gatehouse.ErrNotFound
	}
	if err := gatehouse.CheckText(reason); err != nil {
		return err
	}
	// A revoked session keeps its first revocation time and reason.
	res, err := s.write.ExecContext(ctx, `UPDATE sessions SET revoked_at = coalesce(revoked_at, ?),
		revoke_reason = CASE WHEN revoked_at IS NULL THEN ? ELSE revoke_reason END
		WHERE id = ? AND user_id = ?`, toDB(at), reason, id, userID)
	if err != nil {
		return wrap(err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return gatehouse.ErrNotFound
	}
	return nil
}

// RevokeSessions revokes every live session of the user.
func (s *Store) RevokeSessions(ctx context.Context, userID string, at time.Time, reason string) (int64, error) {
	if err := gatehouse.CheckText(userID, reason); err != nil {
		return 0, err
	}
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = revokeSessions(ctx, tx, userID, at, reason)
		return err
	})
	return n, err
}

func revokeSessions(ctx context.Context, tx *sql.Tx, userID string, at time.Time, reason string) (int64, error) {
	res, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE user_id = ? AND revoked_at IS NULL`,
		toDB(at), reason, userID)
	if err != nil {
		return 0, wrap(err)
	}
	n, err := res.RowsAffected()
	return n, wrap(err)
}

// DeleteEndedSessions deletes sessions that ended before t.
func (s *Store) DeleteEndedSessions(ctx context.Context, t time.Time) (int64, error) {
	at := toDB(t)
	res, err := s.write.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ? OR idle_expires_at < ? OR revoked_at < ?`, at, at, at)
	if err != nil {
		return 0, wrap(err)
	}
	n, err := res.RowsAffected()
	return n, wrap(err)
}
