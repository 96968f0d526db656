package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/jackc/pgx/v5"
)

const auditColumns = `id, time, type, user_id, session_id, actor, ip, user_agent, detail`

// writeAudit writes, in tx, the audit events ctx carries for a change to
// the user userID and the session sessionID.
func writeAudit(ctx context.Context, tx pgx.Tx, userID, sessionID string) error {
	for _, ev := range gatehouse.AuditEvents(ctx, userID, sessionID) {
		if err := insertAudit(ctx, tx, &ev); err != nil {
			return err
		}
	}
	return nil
}

func insertAudit(ctx context.Context, q execer, ev *gatehouse.AuditEvent) error {
	query, args, err := auditInsert(ev)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, query, args...)
	return wrap(err)
}

// auditInsert returns the statement that stores ev, giving it its ID.
func auditInsert(ev *gatehouse.AuditEvent) (string, []any, error) {
	if ev.Time.IsZero() || ev.Type == "" {
		return "", nil, gatehouse.ErrInvalid
	}
	ev.ID = gatehouse.NewID(ev.Time)
	return `INSERT INTO audit_events (` + auditColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		[]any{ev.ID, toDB(ev.Time), ev.Type, ev.UserID, ev.SessionID, ev.Actor, ev.IP, ev.UserAgent, ev.DetailJSON()}, nil
}

// AppendAudit writes one audit event on its own.
func (s *Store) AppendAudit(ctx context.Context, ev gatehouse.AuditEvent) error {
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	ev.Clean()
	return insertAudit(ctx, s.pool, &ev)
}

// AuditEvents returns a page of the events f selects, newest first.
func (s *Store) AuditEvents(ctx context.Context, f gatehouse.AuditFilter) (*gatehouse.AuditPage, error) {
	if err := gatehouse.CheckText(f.UserID, f.Type); err != nil {
		return nil, err
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.UserID != "" {
		where = append(where, `user_id = `+arg(f.UserID))
	}
	if f.Type != "" {
		where = append(where, `type = `+arg(f.Type))
	}
	if !f.From.IsZero() {
		where = append(where, `time >= `+arg(toDB(f.From)))
	}
	if !f.To.IsZero() {
		where = append(where, `time < `+arg(toDB(f.To)))
	}
	if f.Cursor != "" {
		t, id, err := gatehouse.ParseAuditCursor(f.Cursor)
		if err != nil {
			return nil, err
		}
		where = append(where, `(time, id) < (`+arg(toDB(t))+`, `+arg(id)+`)`)
	}
	q := `SELECT ` + auditColumns + `::text FROM audit_events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	limit := f.PageLimit()
	q += ` ORDER BY time DESC, id DESC LIMIT ` + arg(limit+1)
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	page := &gatehouse.AuditPage{}
	for rows.Next() {
		var ev gatehouse.AuditEvent
		var detail string
		if err := rows.Scan(&ev.ID, &ev.Time, &ev.Type, &ev.UserID, &ev.SessionID, &ev.Actor, &ev.IP, &ev.UserAgent, &detail); err != nil {
			return nil, wrap(err)
		}
		ev.Time = fromDB(ev.Time)
		if ev.Detail, err = gatehouse.ParseAuditDetail(detail); err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		page.Events = append(page.Events, &ev)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err)
	}
	if len(page.Events) > limit {
		page.Events = page.Events[:limit]
		page.Next = gatehouse.AuditCursor(page.Events[limit-1])
	}
	return page, nil
}

// DeleteAuditEventsBefore deletes at most limit events older than t.
func (s *Store) DeleteAuditEventsBefore(ctx context.Context, t time.Time, limit int) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM audit_events WHERE id IN
		(SELECT id FROM audit_events WHERE time < $1 ORDER BY time LIMIT $2)`, toDB(t), limit)
	if err != nil {
		return 0, wrap(err)
	}
	return tag.RowsAffected(), nil
}
