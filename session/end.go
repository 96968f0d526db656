package session

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse"
)

// ErrPendingFull is returned, wrapped, by End when the database cannot
// record the logout and this node already holds as many waiting logouts
// as it may: the logout is not recorded anywhere, and the client should
// keep its token and try again.
var ErrPendingFull = errors.New("session: too many logouts are waiting for the database")

// Ended describes what End did.
type Ended struct {
	// Session is the session the token belonged to, as it was before
	// End; nil when the token named no session End could find.
	Session *gatehouse.Session
	// Global reports whether every session of the user was ended.
	Global bool
	// Queued reports that the database could not record the logout now:
	// it waits on this node, which refuses the session meanwhile, and is
	// replayed until the database takes it.
	Queued bool
}

// End ends the session of the refresh token raw (with previous as in
// Refresh) and, if global, every session of its user. A token that can no
// longer be used does nothing: unknown, of a session that has already
// ended, or retired more than the grace window ago — the last is reuse,
// which revokes that session only and returns an error wrapping a
// *ReuseError.
//
// If the database fails, the logout is queued (Ended.Queued, with the
// store's error); if the queue is full, the error wraps ErrPendingFull and
// nothing is queued. The *Ended is never nil.
func (m *Manager) End(ctx context.Context, raw, previous string, global bool) (*Ended, error) {
	if !WellFormed(raw) {
		return &Ended{}, nil
	}
	if !WellFormed(previous) {
		previous = ""
	}
	at := m.now()
	ended, err := m.end(ctx, hash(raw), global, at, "logout")
	if errors.Is(err, gatehouse.ErrNotFound) && previous != "" {
		// previous counts only if raw is its successor, which needs the
		// session's secret: end through previous's session and check.
		ended, err = m.endFallback(ctx, previous, raw, global, at)
	}
	switch {
	case errors.Is(err, gatehouse.ErrNotFound), errors.Is(err, errEnded):
		return &Ended{}, nil
	case errors.Is(err, gatehouse.ErrUnavailable):
		// Queue the token and, after a refresh whose outcome the client
		// never learned, the one before it: whichever is live ends.
		for _, tok := range []string{raw, previous} {
			if tok == "" {
				continue
			}
			sid, _ := sessionID(tok)
			if qerr := m.pending.add(pendingLogout{Hash: hash(tok), SessionID: sid, Global: global, At: at}); qerr != nil {
				return &Ended{}, errors.Join(qerr, err)
			}
		}
		q := &Ended{Queued: true}
		if ended != nil {
			q.Session = ended.Session
		}
		return q, err
	}
	if ended == nil {
		ended = &Ended{}
	}
	return ended, err
}

// Supersede ends the session of the refresh token raw because a new login
// replaces it in the same browser. It is best effort: a token that cannot
// be used, or a database failure, changes nothing.
func (m *Manager) Supersede(ctx context.Context, raw string) error {
	if !WellFormed(raw) {
		return nil
	}
	_, err := m.end(ctx, hash(raw), false, m.now(), "replaced by a new login")
	if errors.Is(err, gatehouse.ErrNotFound) || errors.Is(err, errEnded) {
		return nil
	}
	var reuse *ReuseError
	if errors.As(err, &reuse) {
		return nil
	}
	return err
}

// end applies the logout rules as of at, the time the logout was asked
// for: a replay after an outage judges the token as it was then.
func (m *Manager) end(ctx context.Context, th string, global bool, at time.Time, reason string) (*Ended, error) {
	return m.endIf(ctx, th, global, at, reason, nil)
}

func (m *Manager) endFallback(ctx context.Context, previous, mustLeadTo string, global bool, at time.Time) (*Ended, error) {
	return m.endIf(ctx, hash(previous), global, at, "logout", func(s *gatehouse.Session) bool {
		return successor(s.Secret, previous) == mustLeadTo
	})
}

func (m *Manager) endIf(ctx context.Context, th string, global bool, at time.Time, reason string, ok func(*gatehouse.Session) bool) (*Ended, error) {
	var before gatehouse.Session
	var reuse *ReuseError
	var revoked bool
	// The session's own transaction records reuse, or a logout of this
	// session alone; a global logout is recorded with the revocation of
	// the rest.
	uctx := gatehouse.WithAuditFunc(ctx, func() []gatehouse.AuditEvent {
		switch {
		case reuse != nil:
			return []gatehouse.AuditEvent{{Type: gatehouse.AuditRefreshReuse, Time: at, Detail: map[string]string{"during": "logout"}}}
		case revoked && !global && reason == "logout":
			return []gatehouse.AuditEvent{{Type: gatehouse.AuditLogout, Time: at}}
		}
		return nil
	})
	sess, _, err := m.store.UpdateSessionByToken(uctx, th, at, func(s *gatehouse.Session, _ *gatehouse.User, retiredAt *time.Time) (*gatehouse.Session, error) {
		reuse, revoked = nil, false
		if ok != nil && !ok(s) {
			return nil, gatehouse.ErrNotFound
		}
		before = *s
		// Revoked by this same logout (a replay) is not "already ended".
		dead := (s.RevokedAt != nil && s.RevokedAt.Before(at)) || !at.Before(s.ExpiresAt) || !at.Before(s.IdleExpiresAt)
		if dead {
			return nil, errEnded
		}
		why := reason
		if retiredAt != nil && at.Sub(*retiredAt) > m.grace {
			reuse = &ReuseError{SessionID: s.ID, UserID: s.UserID}
			why = "refresh token reuse"
		}
		if s.RevokedAt == nil {
			s.RevokedAt = &at
			s.RevokeReason = why
			revoked = true
		}
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	if reuse != nil {
		return &Ended{Session: &before}, &gatehouse.Error{Code: gatehouse.ERefreshReused,
			Message: "the refresh token was already used; the session has ended", Err: reuse}
	}
	if !global {
		return &Ended{Session: &before}, nil
	}
	gctx := gatehouse.WithAudit(ctx, gatehouse.AuditEvent{Type: gatehouse.AuditLogoutGlobal, Time: at, SessionID: sess.ID})
	if _, err := m.store.RevokeSessions(gctx, sess.UserID, at, "logout everywhere"); err != nil {
		return &Ended{Session: &before}, err
	}
	return &Ended{Session: &before, Global: true}, nil
}
