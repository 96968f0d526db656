package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/session"
)

// Sessions: a login starts one, with an opaque refresh token in an HttpOnly
// cookie; POST /auth/refresh rotates the token and answers a new access
// token; POST /auth/logout ends it. The rules live in package session;
// these handlers map cookies and answers to its calls.

const (
	// csrfHeader must carry csrfValue on the cookie-authenticated
	// endpoints. A cross-site form cannot set it, and a cross-site script
	// cannot send it without a CORS preflight that Gatehouse refuses.
	csrfHeader = "X-Requested-With"
	csrfValue  = "gatehouse"
)

// checkCSRF refuses a cookie-authenticated request without the static
// custom header. (cors has already refused one from an Origin that is not
// allowed.)
func checkCSRF(r *http.Request) error {
	if r.Header.Get(csrfHeader) != csrfValue {
		return gatehouse.Errorf(gatehouse.EAccessDenied, "this request needs the header %s: %s", csrfHeader, csrfValue)
	}
	return nil
}

// setRefreshCookies sets the refresh cookie to raw and the fallback cookie
// to previous (clearing it if previous is empty). Their Max-Age is what is
// left of the session, and no more than the idle timeout: the cookies never
// outlive the session they belong to.
func (s *Server) setRefreshCookies(w http.ResponseWriter, raw, previous string, left time.Duration) {
	left = min(left, s.sessions.IdleTimeout()).Truncate(time.Second)
	http.SetCookie(w, s.strictCookie(s.refreshCookie, raw, left))
	if previous == "" {
		left = 0
	}
	http.SetCookie(w, s.strictCookie(s.previousCookie, previous, left))
}

func (s *Server) clearRefreshCookies(w http.ResponseWriter) {
	http.SetCookie(w, s.strictCookie(s.refreshCookie, "", 0))
	http.SetCookie(w, s.strictCookie(s.previousCookie, "", 0))
}

// refreshTokens returns the refresh cookie's value and the fallback
// cookie's (see session.UnsureError), each "" unless it has the shape of a
// refresh token.
func (s *Server) refreshTokens(r *http.Request) (raw, previous string) {
	if c, err := r.Cookie(s.refreshCookie); err == nil && session.WellFormed(c.Value) {
		raw = c.Value
	}
	if c, err := r.Cookie(s.previousCookie); err == nil && session.WellFormed(c.Value) {
		previous = c.Value
	}
	return raw, previous
}

// hasRefreshCookie reports whether r carries a refresh cookie or a fallback
// cookie at all, whatever their values.
func (s *Server) hasRefreshCookie(r *http.Request) bool {
	for _, name := range []string{s.refreshCookie, s.previousCookie} {
		if _, err := r.Cookie(name); err == nil {
			return true
		}
	}
	return false
}

// signedOutResponse is the answer to a refresh without any refresh cookie.
type signedOutResponse struct {
	AccessToken *string `json:"access_token"`
}

// handleRefresh rotates the refresh token and answers a new access token.
// A request with no refresh cookie at all is answered 200 with a null
// access token: signed out, which is no error.
func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	if err := s.allow(s.limits.refresh, r); err != nil {
		s.metrics.Refresh(outcome(err))
		s.renderError(w, r, err)
		return
	}
	if err := checkCSRF(r); err != nil {
		s.metrics.Refresh(outcome(err))
		s.renderError(w, r, err)
		return
	}
	if !s.hasRefreshCookie(r) {
		s.metrics.Refresh("signed_out")
		// A page that loads signed out asks too: it cannot see the
		// HttpOnly cookie (nor any cookie of Gatehouse's when it is on
		// another origin). Nothing to refuse or clear, so no error that
		// a browser would log as a failed request.
		writeJSON(w, http.StatusOK, signedOutResponse{})
		return
	}
	raw, previous := s.refreshTokens(r)
	res, err := s.sessions.Refresh(s.auditContext(r), raw, previous)
	s.metrics.Refresh(outcome(err))
	if unsure, ok := errors.AsType[*session.UnsureError](err); ok {
		// The new token may or may not be stored: keep both, and the
		// retry succeeds either way.
		s.setRefreshCookies(w, unsure.Token, unsure.Previous, s.sessions.IdleTimeout())
		s.renderError(w, r, err)
		return
	}
	if reuse, ok := errors.AsType[*session.ReuseError](err); ok {
		s.audit(r, "refresh_reuse", reuse.UserID, reuse.SessionID, err)
		s.metrics.RefreshReuse()
	}
	if err != nil {
		if code := gatehouse.ErrorCode(err); code == gatehouse.ERefreshRefused || code == gatehouse.ERefreshReused {
			s.clearRefreshCookies(w)
		}
		s.renderError(w, r, err)
		return
	}
	s.answerTokens(w, r, res.User, res.Session, res.Token)
}

type loginResponse struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   int64           `json:"expires_in"`
	User        *gatehouse.User `json:"user"`
}

// answerTokens mints an access token in sess, sets the refresh cookie to
// raw, and writes the login response. Nothing in it can fail once the
// session's change is committed: the session has at least a second left
// (package session), and minting needs no database.
func (s *Server) answerTokens(w http.ResponseWriter, r *http.Request, u *gatehouse.User, sess *gatehouse.Session, raw string) {
	// The access token ends with its session at the latest, for verifiers
	// that only check the signature.
	at, claims, err := s.issuer.MintBefore(u.ID, sess.ID, sess.ExpiresAt)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.setRefreshCookies(w, raw, "", sess.ExpiresAt.Sub(s.now()))
	writeJSON(w, http.StatusOK, loginResponse{
		AccessToken: at,
		TokenType:   "bearer",
		ExpiresIn:   int64(claims.Expiry.Sub(claims.IssuedAt).Seconds()),
		User:        u,
	})
}

// handleLogout ends the session of the refresh cookie, or with
// ?scope=global every session of its user. It clears the cookie and answers
// 204, even without a session to end; a token that can no longer be used
// ends nothing. If the database fails, it answers 503, and the logout
// waits on this node (which refuses the session meanwhile) until the
// database takes it: fail closed.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if err := s.allow(s.limits.logout, r); err != nil {
		s.renderError(w, r, err)
		return
	}
	if err := checkCSRF(r); err != nil {
		s.renderError(w, r, err)
		return
	}
	var global bool
	switch r.URL.Query().Get("scope") {
	case "":
	case "global":
		global = true
	default:
		s.renderError(w, r, gatehouse.Errorf(gatehouse.EInvalidRequest, "scope must be global or absent"))
		return
	}
	raw, previous := s.refreshTokens(r)
	ended, err := s.sessions.End(s.auditContext(r), raw, previous, global)
	if errors.Is(err, session.ErrPendingFull) {
		// Recorded nowhere: the browser keeps its token to try again.
		s.audit(r, "logout", "", "", err)
		s.renderError(w, r, &gatehouse.Error{Code: gatehouse.EUnavailable,
			Message: "the logout could not be recorded; try again", Err: err})
		return
	}
	s.clearRefreshCookies(w)
	var userID, sessionID string
	if ended.Session != nil {
		userID, sessionID = ended.Session.UserID, ended.Session.ID
	}
	if reuse, ok := errors.AsType[*session.ReuseError](err); ok {
		s.audit(r, "refresh_reuse", reuse.UserID, reuse.SessionID, err)
		s.metrics.RefreshReuse()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	event := "logout"
	if global {
		event = "logout_global"
	}
	if err != nil {
		// Queued: recorded on this node, to be replayed.
		s.audit(r, event, userID, sessionID, err, "queued", ended.Queued)
		s.renderError(w, r, err)
		return
	}
	if ended.Session != nil {
		s.audit(r, event, userID, sessionID, nil)
		s.metrics.Logout(global)
	}
	w.WriteHeader(http.StatusNoContent)
}

type sessionInfo struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	UserAgent  string    `json:"user_agent"`
	IP         string    `json:"ip"`
	Current    bool      `json:"current"`
}

// handleSessions lists the active sessions of the access token's user.
func (s *Server) handleSessions(w http.ResponseWriter, r *http.Request) {
	sess, u, err := s.session(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	list, err := s.store.Sessions(r.Context(), u.ID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	now := s.now()
	out := []sessionInfo{}
	for _, x := range list {
		if !x.Active(now) {
			continue
		}
		out = append(out, sessionInfo{ID: x.ID, CreatedAt: x.CreatedAt, LastUsedAt: x.LastUsedAt, ExpiresAt: x.ExpiresAt,
			UserAgent: x.UserAgent, IP: x.IP, Current: x.ID == sess.ID})
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
}

// handleDeleteSession ends one session of the access token's user.
func (s *Server) handleDeleteSession(w http.ResponseWriter, r *http.Request) {
	_, u, err := s.session(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	id := r.PathValue("id")
	now := s.now()
	ctx := gatehouse.WithAudit(s.auditContext(r), gatehouse.AuditEvent{Type: gatehouse.AuditSessionEnded, Time: now})
	err = s.store.RevokeSession(ctx, u.ID, id, now, "ended by the user")
	if errors.Is(err, gatehouse.ErrNotFound) {
		s.renderError(w, r, gatehouse.Errorf(gatehouse.ENotFound, "no such session"))
		return
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.audit(r, "session_ended", u.ID, id, nil)
	s.metrics.SessionRevoked()
	w.WriteHeader(http.StatusNoContent)
}
