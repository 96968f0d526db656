package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

const sessionColumns = `id, user_id, secret, current_hash, created_at, last_used_at, idle_expires_at, expires_at,
	revoked_at, revoke_reason, user_agent, ip`

// sessionRow receives a row of sessionColumns.
type sessionRow struct {
	s                            gatehouse.Session
	created, used, idle, expires int64
	revoked                      sql.NullInt64
}

func (r *sessionRow) dest() []any {
	return []any{&r.s.ID, &r.s.UserID, &r.s.Secret, &r.s.CurrentHash, &r.created, &r.used, &r.idle, &r.expires,
		&r.revoked, &r.s.RevokeReason, &r.s.UserAgent, &r.s.IP}
}

func (r *sessionRow) session() *gatehouse.Session {
	s := r.s
	s.CreatedAt, s.LastUsedAt, s.IdleExpiresAt, s.ExpiresAt = fromDB(r.created), fromDB(r.used), fromDB(r.idle), fromDB(r.expires)
	s.RevokedAt = fromNullDB(r.revoked)
	return &s
}

func scanSession(row scanner) (*gatehouse.Session, error) {
	var r sessionRow
	if err := row.Scan(r.dest()...); err != nil {
		return nil, wrap(err)
	}
	return r.session(), nil
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, sess *gatehouse.Session) error {
	if err := gatehouse.CheckSession(sess); err != nil {
		return err
	}
	return s.tx(ctx, func(ctx context.Context, tx *wtx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			sess.ID, sess.UserID, sess.Secret, sess.CurrentHash, toDB(sess.CreatedAt), toDB(sess.LastUsedAt),
			toDB(sess.IdleExpiresAt), toDB(sess.ExpiresAt), toNullDB(sess.RevokedAt), sess.RevokeReason, sess.UserAgent, sess.IP); err != nil {
			return wrap(err)
		}
		return writeAudit(ctx, tx, sess.UserID, sess.ID)
	})
}

// SessionUser returns the session and its user, in one query.
func (s *Store) SessionUser(ctx context.Context, id string) (*gatehouse.Session, *gatehouse.User, error) {
	if gatehouse.CheckText(id) != nil {
		return nil, nil, gatehouse.ErrNotFound
	}
	return scanSessionUser(s.read.QueryRowContext(ctx, sessionUserByID, id))
}

// qualify prefixes each of the comma-separated columns with a table alias.
func qualify(alias, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// sessionUserSelect selects a session and its user, for scanSessionUser.
var sessionUserSelect = `SELECT ` + qualify("s", sessionColumns) + `, ` + qualify("u", userReadColumns) + `
	FROM sessions s JOIN users u ON u.id = s.user_id`

// sessionUserByID is the query of SessionUser.
var sessionUserByID = sessionUserSelect + ` WHERE s.id = ?`

// The queries of SessionStatus: a session and its user, and the sessions
// whose ids are in a JSON array and their users.
var (
	sessionStatusSelect = `SELECT s.id, s.user_id, s.idle_expires_at, s.expires_at, s.revoked_at, ` + qualify("u", userReadColumns) + `
	FROM sessions s JOIN users u ON u.id = s.user_id`
	sessionStatusByID  = sessionStatusSelect + ` WHERE s.id = ?`
	sessionStatusByIDs = sessionStatusSelect + ` WHERE s.id IN (SELECT value FROM json_each(?))`
)

func scanSessionUser(row scanner) (*gatehouse.Session, *gatehouse.User, error) {
	var sr sessionRow
	var ur userRow
	if err := row.Scan(append(sr.dest(), ur.dest()...)...); err != nil {
		return nil, nil, wrap(err)
	}
	return sr.session(), ur.user(), nil
}

// rotationQueries are the statements of UpdateSessionByToken, by index.
var rotationQueries = []string{
	qSessionByHash: sessionUserSelect + ` WHERE s.current_hash = ?`,
	qRetired:       `SELECT session_id, retired_at FROM retired_refresh_tokens WHERE hash = ?`,
	qSessionByID:   sessionUserByID,
	qRetire:        `INSERT INTO retired_refresh_tokens (hash, session_id, retired_at) VALUES (?, ?, ?)`,
	qUpdateSession: `UPDATE sessions SET current_hash = ?, last_used_at = ?, idle_expires_at = ?,
		revoked_at = ?, revoke_reason = ?, rotations = rotations + ? WHERE id = ? RETURNING rotations`,
	// A rotation that leaves the revocation as it is does not name its
	// columns: SQLite rewrites the entry of every index on a column an
	// UPDATE sets, changed or not (sessions_revoked_at here).
	qUpdateLive: `UPDATE sessions SET current_hash = ?, last_used_at = ?, idle_expires_at = ?,
		rotations = rotations + ? WHERE id = ? RETURNING rotations`,
	// Keep the newest KeptRetiredRefreshTokens, by insertion order
	// (rowid), which a fake clock cannot tie.
	qPrune: `DELETE FROM retired_refresh_tokens WHERE session_id = ?1 AND rowid <=
		(SELECT rowid FROM retired_refresh_tokens WHERE session_id = ?1 ORDER BY rowid DESC LIMIT 1 OFFSET ?2)`,
}

const (
	qSessionByHash = iota
	qRetired
	qSessionByID
	qRetire
	qUpdateSession
	qUpdateLive
	qPrune
)

// UpdateSessionByToken runs update on the session of a live or retired
// refresh token, in one write transaction; the store's single writer
// serializes it with every other write.
func (s *Store) UpdateSessionByToken(ctx context.Context, tokenHash string, now time.Time,
	update func(*gatehouse.Session, *gatehouse.User, *time.Time) (*gatehouse.Session, error)) (*gatehouse.Session, *gatehouse.User, error) {
	if gatehouse.CheckText(tokenHash) != nil {
		return nil, nil, gatehouse.ErrNotFound
	}
	var out *gatehouse.Session
	var user *gatehouse.User
	err := s.tx(ctx, func(ctx context.Context, tx *wtx) error {
		query := func(i int, args ...any) *sql.Row { return tx.QueryRow(ctx, rotationQueries[i], args...) }
		exec := func(i int, args ...any) error {
			_, err := tx.Exec(ctx, rotationQueries[i], args...)
			return wrap(err)
		}
		var retiredAt *time.Time
		old, u, err := scanSessionUser(query(qSessionByHash, tokenHash))
		if errors.Is(err, gatehouse.ErrNotFound) {
			var id string
			var at int64
			if err := query(qRetired, tokenHash).Scan(&id, &at); err != nil {
				return wrap(err)
			}
			retired := fromDB(at)
			retiredAt = &retired
			old, u, err = scanSessionUser(query(qSessionByID, id))
		}
		if err != nil {
			return err
		}
		prev, prevRevoked, prevReason := old.CurrentHash, old.RevokedAt, old.RevokeReason
		next, err := update(old, u, retiredAt)
		if err != nil {
			return err
		}
		if err := gatehouse.CheckSession(next); err != nil {
			return err
		}
		rotated := next.CurrentHash != prev
		var step, rotations int64
		if rotated {
			step = 1
			if err := exec(qRetire, prev, next.ID, toDB(now)); err != nil {
				return err
			}
		}
		var row *sql.Row
		if next.RevokedAt == prevRevoked && next.RevokeReason == prevReason {
			row = query(qUpdateLive, next.CurrentHash, toDB(next.LastUsedAt), toDB(next.IdleExpiresAt), step, next.ID)
		} else {
			row = query(qUpdateSession, next.CurrentHash, toDB(next.LastUsedAt), toDB(next.IdleExpiresAt), toNullDB(next.RevokedAt), next.RevokeReason,
				step, next.ID)
		}
		if err := row.Scan(&rotations); err != nil {
			return wrap(err)
		}
		if rotated && rotations%gatehouse.RetiredPruneEvery == 0 {
			if err := exec(qPrune, next.ID, gatehouse.KeptRetiredRefreshTokens); err != nil {
				return err
			}
		}
		out, user = next, u
		return writeAudit(ctx, tx, next.UserID, next.ID)
	})
	if err != nil {
		return nil, nil, err
	}
	return out, user, nil
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
	return s.tx(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = coalesce(revoked_at, ?),
			revoke_reason = CASE WHEN revoked_at IS NULL THEN ? ELSE revoke_reason END
			WHERE id = ? AND user_id = ?`, toDB(at), reason, id, userID)
		if err != nil {
			return wrap(err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return gatehouse.ErrNotFound
		}
		return writeAudit(ctx, tx, userID, id)
	})
}

// RevokeSessions revokes every live session of the user.
func (s *Store) RevokeSessions(ctx context.Context, userID string, at time.Time, reason string) (int64, error) {
	if err := gatehouse.CheckText(userID, reason); err != nil {
		return 0, err
	}
	var n int64
	err := s.tx(ctx, func(ctx context.Context, tx *wtx) error {
		var err error
		if n, err = revokeSessions(ctx, tx, userID, at, reason); err != nil {
			return err
		}
		return writeAudit(ctx, tx, userID, "")
	})
	return n, err
}

func revokeSessions(ctx context.Context, tx *wtx, userID string, at time.Time, reason string) (int64, error) {
	res, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE user_id = ? AND revoked_at IS NULL`,
		toDB(at), reason, userID)
	if err != nil {
		return 0, wrap(err)
	}
	n, err := res.RowsAffected()
	return n, wrap(err)
}

// DeleteEndedSessions deletes at most limit sessions that ended before t;
// their retired token hashes go with them (ON DELETE CASCADE).
func (s *Store) DeleteEndedSessions(ctx context.Context, t time.Time, limit int) (int64, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM sessions WHERE id IN (
		SELECT id FROM sessions WHERE idle_expires_at < ?1
		UNION SELECT id FROM sessions WHERE expires_at < ?1
		UNION SELECT id FROM sessions WHERE revoked_at < ?1
		LIMIT ?2)`, toDB(t), limit)
	if err != nil {
		return 0, wrap(err)
	}
	n, err := res.RowsAffected()
	return n, wrap(err)
}
