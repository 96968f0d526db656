package sqlite

import (
	"context"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

const auditColumns = `id, time, type, user_id, session_id, actor, ip, user_agent, detail`

// writeAudit writes, in tx, the audit events ctx carries for a change to
// the user userID and the session sessionID.
func writeAudit(ctx context.Context, tx *wtx, userID, sessionID string) error {
	for _, ev := range gatehouse.AuditEvents(ctx, userID, sessionID) {
		if err := insertAudit(ctx, tx, &ev); err != nil {
			return err
		}
	}
	return nil
}

func insertAudit(ctx context.Context, tx *wtx, ev *gatehouse.AuditEvent) error {
	if ev.Time.IsZero() || ev.Type == "" {
		return gatehouse.ErrInvalid
	}
	ev.ID = gatehouse.NewID(ev.Time)
	_, err := tx.Exec(ctx, `INSERT INTO audit_events (`+auditColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ev.ID, toDB(ev.Time), ev.Type, ev.UserID, ev.SessionID, ev.Actor, ev.IP, ev.UserAgent, ev.DetailJSON())
	return wrap(err)
}

// AppendAudit writes one audit event on its own.
func (s *Store) AppendAudit(ctx context.Context, ev gatehouse.AuditEvent) error {
	ev.Clean()
	return s.tx(ctx, func(ctx context.Context, tx *wtx) error { return insertAudit(ctx, tx, &ev) })
}

// AuditEvents returns a page of the events f selects, newest first.
func (s *Store) AuditEvents(ctx context.Context, f gatehouse.AuditFilter) (*gatehouse.AuditPage, error) {
	if err := gatehouse.CheckText(f.UserID, f.Type); err != nil {
		return nil, err
	}
	var where []string
	var args []any
	if f.UserID != "" {
		where, args = append(where, `user_id = ?`), append(args, f.UserID)
	}
	if f.Type != "" {
		where, args = append(where, `type = ?`), append(args, f.Type)
	}
	if !f.From.IsZero() {
		where, args = append(where, `time >= ?`), append(args, toDB(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, `time < ?`), append(args, toDB(f.To))
	}
	if f.Cursor != "" {
		t, id, err := gatehouse.ParseAuditCursor(f.Cursor)
		if err != nil {
			return nil, err
		}
		where, args = append(where, `(time < ? OR (time = ? AND id < ?))`), append(args, toDB(t), toDB(t), id)
	}
	q := `SELECT ` + auditColumns + ` FROM audit_events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	limit := f.PageLimit()
	rows, err := s.read.QueryContext(ctx, q+` ORDER BY time DESC, id DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	page := &gatehouse.AuditPage{}
	for rows.Next() {
		var ev gatehouse.AuditEvent
		var at int64
		var detail string
		if err := rows.Scan(&ev.ID, &at, &ev.Type, &ev.UserID, &ev.SessionID, &ev.Actor, &ev.IP, &ev.UserAgent, &detail); err != nil {
			return nil, wrap(err)
		}
		ev.Time = fromDB(at)
		if ev.Detail, err = gatehouse.ParseAuditDetail(detail); err != nil {
			return nil, wrap(err)
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
	res, err := s.write.ExecContext(ctx, `DELETE FROM audit_events WHERE id IN
		(SELECT id FROM audit_events WHERE time < ? ORDER BY time LIMIT ?)`, toDB(t), limit)
	if err != nil {
		return 0, wrap(err)
	}
	n, err := res.RowsAffected()
	return n, wrap(err)
}
