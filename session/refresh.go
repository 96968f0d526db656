package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Refreshed is what a successful refresh answers from: the session and its
// user as committed, and the refresh token the client holds from now on.
type Refreshed struct {
	Session *gatehouse.Session
	User    *gatehouse.User
	Token   string
}

// ReuseError is the cause of a refresh or logout with a refresh token that
// was retired more than the grace window ago: a stolen or replayed token.
// The session it belongs to has been revoked.
type ReuseError struct {
	SessionID, UserID string
}

func (e *ReuseError) Error() string {
	return fmt.Sprintf("refresh token reuse in session %s: the session is revoked", e.SessionID)
}

// UnsureError reports a refresh that failed after its answer was decided:
// the store failed while or after writing it, so whether the rotation was
// stored is unknown. The client should keep Token as its refresh token and
// Previous as a fallback, and retry: a later Refresh(Token, Previous)
// succeeds whichever way the write went (a stored rotation made Token
// live; a lost one left Previous live, and its successor is Token), and
// never counts as reuse, however late it comes.
type UnsureError struct {
	Token, Previous string
	Err             error
}

func (e *UnsureError) Error() string {
	return "session: the refresh may not have been stored: " + e.Err.Error()
}
func (e *UnsureError) Unwrap() error { return e.Err }

func refused(msg string) error {
	return &gatehouse.Error{Code: gatehouse.ERefreshRefused, Message: msg}
}

// errEnded stops an update of a session that has ended; nothing is written.
var errEnded = errors.New("session: the session has ended")

// Refresh rotates the refresh token raw and returns the session, its user
// and the next token. previous is the token the client held before a
// refresh whose outcome it never learned (see UnsureError), or "".
//
// The rules, applied in one store transaction:
//   - the live token is rotated: its successor becomes live;
//   - a token retired within the grace window gets the live successor it
//     leads to (tabs that refreshed with it at once), rotating nothing;
//   - a token retired longer ago is reuse: the session is revoked and the
//     error wraps a *ReuseError;
//   - a session that has ended, or has less than a second left, or whose
//     user is disabled, refuses, writing nothing;
//   - more rotations of one session than the refresh rate allows on this
//     node are refused with gatehouse.ERateLimited, writing nothing.
//
// Errors are *gatehouse.Error values (ERefreshRefused, ERefreshReused,
// ERateLimited), store errors (ErrUnavailable), or an *UnsureError.
func (m *Manager) Refresh(ctx context.Context, raw, previous string) (*Refreshed, error) {
	if !WellFormed(raw) {
		return nil, refused("no valid refresh token")
	}
	if previous != "" && !WellFormed(previous) {
		previous = ""
	}
	if m.pendingFor(raw) || (previous != "" && m.pendingFor(previous)) {
		return nil, refused("the session has ended")
	}
	res, err := m.refresh(ctx, raw, "")
	if errors.Is(err, gatehouse.ErrNotFound) && previous != "" {
		// The answer to an earlier refresh may never have been stored:
		// raw is then unknown, and previous, whose successor it is,
		// still live.
		res, err = m.refresh(ctx, previous, raw)
	}
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, refused("unknown refresh token")
	}
	return res, err
}

// pendingFor reports whether a logout of raw's session waits on this node.
func (m *Manager) pendingFor(raw string) bool {
	sid, _ := sessionID(raw)
	return m.pending.blocked(sid) || m.pending.has(hash(raw))
}

// refresh applies the rules to the token raw. If mustLeadTo is set, raw is
// a fallback and is used only if mustLeadTo is its successor.
func (m *Manager) refresh(ctx context.Context, raw, mustLeadTo string) (*Refreshed, error) {
	now := m.now()
	var next string
	var reuse *ReuseError
	var counted bool
	ctx = gatehouse.WithAuditFunc(ctx, func() []gatehouse.AuditEvent {
		if reuse == nil {
			return nil
		}
		return []gatehouse.AuditEvent{{Type: gatehouse.AuditRefreshReuse, Time: now, Detail: map[string]string{"during": "refresh"}}}
	})
	sess, u, err := m.store.UpdateSessionByToken(ctx, hash(raw), now, func(sess *gatehouse.Session, u *gatehouse.User, retiredAt *time.Time) (*gatehouse.Session, error) {
		next, reuse = "", nil
		if mustLeadTo != "" && successor(sess.Secret, raw) != mustLeadTo {
			return nil, gatehouse.ErrNotFound
		}
		if !sess.Active(now) || sess.ExpiresAt.Sub(now) < minLeft || u.DisabledAt != nil {
			return nil, errEnded
		}
		switch {
		case retiredAt == nil:
			next = successor(sess.Secret, raw)
		case now.Sub(*retiredAt) <= m.grace:
			// Another tab rotated this token a moment ago: hand out
			// the live token it leads to.
			tok := raw
			for range maxSuccessorChain {
				tok = successor(sess.Secret, tok)
				if hash(tok) == sess.CurrentHash {
					next = tok
					break
				}
			}
		}
		if next == "" {
			reuse = &ReuseError{SessionID: sess.ID, UserID: sess.UserID}
			if sess.RevokedAt == nil {
				sess.RevokedAt = &now
				sess.RevokeReason = "refresh token reuse"
			}
			return sess, nil
		}
		// Rotations count against the session's rate; answers within the
		// grace window write no token and do not.
		// A store may call update again (gatehouse.Store says when); one
		// refresh counts once.
		if retiredAt == nil && !counted {
			if ok, wait := m.refreshLimit.Allow(sess.ID, now); !ok {
				next = ""
				return nil, &gatehouse.Error{Code: gatehouse.ERateLimited, Message: "this session is refreshed too often; try again later", RetryAfter: wait}
			}
			counted = true
		}
		sess.CurrentHash = hash(next)
		sess.LastUsedAt = now
		sess.IdleExpiresAt = minTime(now.Add(m.idle), sess.ExpiresAt)
		return sess, nil
	})
	switch {
	case errors.Is(err, errEnded):
		return nil, refused("the session has ended")
	case err != nil && next != "" && !errors.Is(err, gatehouse.ErrNotFound):
		return nil, &UnsureError{Token: next, Previous: raw, Err: err}
	case err != nil:
		return nil, err
	case reuse != nil:
		return nil, &gatehouse.Error{Code: gatehouse.ERefreshReused, Message: "the refresh token was already used; the session has ended", Err: reuse}
	}
	return &Refreshed{Session: sess, User: u, Token: next}, nil
}
