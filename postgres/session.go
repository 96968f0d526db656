package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const sessionColumns = `id, user_id, secret, current_hash, created_at, last_used_at, idle_expires_at, expires_at,
	revoked_at, revoke_reason, user_agent, ip`

// sessionRow receives a row of sessionColumns.
type sessionRow struct{ s gatehouse.Session }

func (r *sessionRow) dest() []any {
	s := &r.s
	return []any{&s.ID, &s.UserID, &s.Secret, &s.CurrentHash, &s.CreatedAt, &s.LastUsedAt, &s.IdleExpiresAt, &s.ExpiresAt,
		&s.RevokedAt, &s.RevokeReason, &s.UserAgent, &s.IP}
}

func (r *sessionRow) session() *gatehouse.Session {
	s := r.s
	s.CreatedAt, s.LastUsedAt = fromDB(s.CreatedAt), fromDB(s.LastUsedAt)
	s.IdleExpiresAt, s.ExpiresAt = fromDB(s.IdleExpiresAt), fromDB(s.ExpiresAt)
	s.RevokedAt = nullTime(s.RevokedAt)
	return &s
}

func scanSession(row pgx.Row) (*gatehouse.Session, error) {
	var r sessionRow
	if err := row.Scan(r.dest()...); err != nil {
		return nil, wrap(err)
	}
	return r.session(), nil
}

func nullTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := toDB(*t)
	return &v
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, sess *gatehouse.Session) error {
	if err := gatehouse.CheckSession(sess); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	const insert = `INSERT INTO sessions (` + sessionColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`
	args := []any{sess.ID, sess.UserID, sess.Secret, sess.CurrentHash, toDB(sess.CreatedAt), toDB(sess.LastUsedAt),
		toDB(sess.IdleExpiresAt), toDB(sess.ExpiresAt), nullTime(sess.RevokedAt), sess.RevokeReason, sess.UserAgent, sess.IP}
	if !gatehouse.HasAudit(ctx) {
		_, err := s.pool.Exec(ctx, insert, args...) // one round trip, without a transaction
		return wrap(err)
	}
	// With its audit events: one round trip too, as a pipeline.
	return s.pipelineTx(ctx, func(p *pipeline) error {
		b := &pgx.Batch{}
		b.Queue(insert, args...)
		n, err := queueAudit(ctx, b, sess.UserID, sess.ID)
		if err != nil {
			return err
		}
		return p.send(b, true, func(br pgx.BatchResults) error { return execAll(br, 1+n) })
	})
}

// SessionUser returns the session and its user, in one query.
func (s *Store) SessionUser(ctx context.Context, id string) (*gatehouse.Session, *gatehouse.User, error) {
	if gatehouse.CheckText(id) != nil {
		return nil, nil, gatehouse.ErrNotFound
	}
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	return scanSessionUser(s.pool.QueryRow(ctx, sessionUserSelect+` WHERE s.id = $1`, id))
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

func scanSessionUser(row pgx.Row) (*gatehouse.Session, *gatehouse.User, error) {
	var sr sessionRow
	var ur userRow
	if err := row.Scan(append(sr.dest(), ur.dest()...)...); err != nil {
		return nil, nil, wrap(err)
	}
	return sr.session(), ur.user(), nil
}

// UpdateSessionByToken runs update on the session of a live or retired
// refresh token, holding the session's row lock, so concurrent refreshes of
// one session run one after the other: a second refresh with the same token
// waits for the first, then finds the token retired. The user is read in
// the same statement; disabling the user revokes the session, which waits
// for this row lock. A deadlock or serialization failure runs it again, up
// to conflictRetries times.
//
// Refreshes of live tokens run in batches (rotation.go); a retired or
// unknown token, or one whose batch failed, runs in a transaction of its
// own (rotate).
func (s *Store) UpdateSessionByToken(ctx context.Context, tokenHash string, now time.Time,
	update func(*gatehouse.Session, *gatehouse.User, *time.Time) (*gatehouse.Session, error)) (*gatehouse.Session, *gatehouse.User, error) {
	if gatehouse.CheckText(tokenHash) != nil {
		return nil, nil, gatehouse.ErrNotFound
	}
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	res := s.rotations.ask(ctx, tokenHash, now, update)
	if res.alone {
		res = rotationResult{}
		res.err = s.pipelineTx(ctx, func(p *pipeline) error {
			var err error
			res.sess, res.user, res.prune, err = rotate(p, tokenHash, now, update)
			return err
		})
	}
	if res.err != nil {
		return nil, nil, res.err
	}
	if res.prune {
		// Keep the newest KeptRetiredRefreshTokens, in the order they
		// were retired: housekeeping after the commit, in a statement of
		// its own. Its failure is not the refresh's (which is stored): it
		// leaves a few more retired tokens, for the next prune or the
		// session's end to delete.
		_, _ = s.pool.Exec(ctx, `DELETE FROM retired_refresh_tokens WHERE session_id = $1 AND seq <=
			(SELECT seq FROM retired_refresh_tokens WHERE session_id = $1 ORDER BY seq DESC LIMIT 1 OFFSET $2)`,
			res.sess.ID, gatehouse.KeptRetiredRefreshTokens)
	}
	return res.sess, res.user, nil
}

// rotationLock locks the session row a refresh reads.
const rotationLock = ` FOR UPDATE OF s`

// rotate runs a refresh's transaction in two round trips: BEGIN with the
// locking read of the session, then the writes with COMMIT (a third, to
// read a retired token, only when the token is not the live one). It
// reports whether the session's retired tokens are due for their prune.
func rotate(p *pipeline, tokenHash string, now time.Time,
	update func(*gatehouse.Session, *gatehouse.User, *time.Time) (*gatehouse.Session, error)) (*gatehouse.Session, *gatehouse.User, bool, error) {
	var old *gatehouse.Session
	var u *gatehouse.User
	read := func(query string, arg any) error {
		b := &pgx.Batch{}
		b.Queue(sessionUserSelect+query+rotationLock, arg)
		return p.send(b, false, func(br pgx.BatchResults) error {
			var err error
			old, u, err = scanSessionUser(br.QueryRow())
			return err
		})
	}
	var retiredAt *time.Time
	err := read(` WHERE s.current_hash = $1`, tokenHash)
	if errors.Is(err, gatehouse.ErrNotFound) {
		var id string
		var at time.Time
		b := &pgx.Batch{}
		b.Queue(`SELECT session_id, retired_at FROM retired_refresh_tokens WHERE hash = $1`, tokenHash)
		if err := p.send(b, false, func(br pgx.BatchResults) error { return wrap(br.QueryRow().Scan(&id, &at)) }); err != nil {
			return nil, nil, false, err
		}
		at = fromDB(at)
		retiredAt = &at
		err = read(` WHERE s.id = $1`, id)
	}
	if err != nil {
		return nil, nil, false, err
	}
	prev := old.CurrentHash
	next, err := update(old, u, retiredAt)
	if err != nil {
		return nil, nil, false, err
	}

	var w rotationWrite
	writes := &pgx.Batch{}
	if err := w.queue(p.ctx, writes, prev, next, now); err != nil {
		return nil, nil, false, err
	}
	if err := p.send(writes, true, w.read); err != nil {
		return nil, nil, false, err
	}
	return next, u, w.prune(), nil
}

// rotationWrite is the writes of one refresh: the retired hash, the
// session's update, and the audit events of its context.
type rotationWrite struct {
	rotated   bool
	audits    int
	rotations int64
}

// queue queues the writes that store next, whose hash was prev, into b.
func (w *rotationWrite) queue(ctx context.Context, b *pgx.Batch, prev string, next *gatehouse.Session, now time.Time) error {
	if err := gatehouse.CheckSession(next); err != nil {
		return err
	}
	w.rotated = next.CurrentHash != prev
	var step int64
	if w.rotated {
		step = 1
		b.Queue(`INSERT INTO retired_refresh_tokens (hash, session_id, retired_at) VALUES ($1, $2, $3)`, prev, next.ID, toDB(now))
	}
	b.Queue(`UPDATE sessions SET current_hash = $1, last_used_at = $2, idle_expires_at = $3,
		revoked_at = $4, revoke_reason = $5, rotations = rotations + $6 WHERE id = $7 RETURNING rotations`,
		next.CurrentHash, toDB(next.LastUsedAt), toDB(next.IdleExpiresAt), nullTime(next.RevokedAt), next.RevokeReason,
		step, next.ID)
	var err error
	w.audits, err = queueAudit(ctx, b, next.UserID, next.ID)
	return err
}

// read reads the results of the writes queue queued, in order.
func (w *rotationWrite) read(br pgx.BatchResults) error {
	if w.rotated {
		if err := execAll(br, 1); err != nil {
			return err
		}
	}
	if err := br.QueryRow().Scan(&w.rotations); err != nil {
		return wrap(err)
	}
	return execAll(br, w.audits)
}

// prune reports whether the session's retired tokens are due for their
// prune, once the writes are committed.
func (w *rotationWrite) prune() bool {
	return w.rotated && w.rotations%gatehouse.RetiredPruneEvery == 0
}

// Sessions returns the user's sessions that are not revoked, newest first.
func (s *Store) Sessions(ctx context.Context, userID string) ([]*gatehouse.Session, error) {
	if gatehouse.CheckText(userID) != nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC`, userID)
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
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	// A revoked session keeps its first revocation time and reason.
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = coalesce(revoked_at, $1),
			revoke_reason = CASE WHEN revoked_at IS NULL THEN $2 ELSE revoke_reason END
			WHERE id = $3 AND user_id = $4`, toDB(at), reason, id, userID)
		if err != nil {
			return wrap(err)
		}
		if tag.RowsAffected() == 0 {
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
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	var n int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if n, err = revokeSessions(ctx, tx, userID, at, reason); err != nil {
			return err
		}
		return writeAudit(ctx, tx, userID, "")
	})
	return n, err
}

type execer interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}

func revokeSessions(ctx context.Context, q execer, userID string, at time.Time, reason string) (int64, error) {
	tag, err := q.Exec(ctx, `UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE user_id = $3 AND revoked_at IS NULL`,
		toDB(at), reason, userID)
	if err != nil {
		return 0, wrap(err)
	}
	return tag.RowsAffected(), nil
}

// DeleteEndedSessions deletes at most limit sessions that ended before t;
// their retired token hashes go with them (ON DELETE CASCADE).
func (s *Store) DeleteEndedSessions(ctx context.Context, t time.Time, limit int) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE id IN (
		SELECT id FROM sessions WHERE idle_expires_at < $1
		UNION SELECT id FROM sessions WHERE expires_at < $1
		UNION SELECT id FROM sessions WHERE revoked_at < $1
		LIMIT $2)`, toDB(t), limit)
	if err != nil {
		return 0, wrap(err)
	}
	return tag.RowsAffected(), nil
}
