package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Sessions: a login starts one, with an opaque refresh token in an HttpOnly
// cookie; POST /auth/refresh rotates the token and answers a new access
// token; POST /auth/logout ends it.
//
// Each refresh token is derived from the one before it with an HMAC keyed
// by the session's secret. Tabs that refresh with the same token at the
// same moment therefore all get the same successor: the first rotates, and
// the others, finding the token retired within the grace window, recompute
// the successor instead of minting a second one. A retired token presented
// after the grace window is a stolen or replayed one, and ends the session.

const (
	// csrfHeader must carry csrfValue on the cookie-authenticated
	// endpoints. A cross-site form cannot set it, and a cross-site script
	// cannot send it without a CORS preflight that Gatehouse refuses.
	csrfHeader = "X-Requested-With"
	csrfValue  = "gatehouse"

	// maxSuccessorChain is how many rotations a token retired within the
	// grace window may be behind the live one.
	maxSuccessorChain = 8

	// maxUserAgentLen caps the User-Agent kept with a session.
	maxUserAgentLen = 256
)

// eRefreshFailed is a refresh token that cannot be used: 401 invalid_grant.
// (The invalid_grant of a bad authorization code stays a 400.)
const eRefreshFailed = "refresh_failed"

var errSessionEnded = errors.New("the session has ended")

// successor is the refresh token that follows raw in its session.
func successor(secret []byte, raw string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(raw))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// checkCSRF refuses a cookie-authenticated request without the static
// custom header. (cors has already refused one from an Origin that is not
// allowed.)
func checkCSRF(r *http.Request) error {
	if r.Header.Get(csrfHeader) != csrfValue {
		return gatehouse.Errorf(gatehouse.EAccessDenied, "this request needs the header %s: %s", csrfHeader, csrfValue)
	}
	return nil
}

// newSession stores a new session for u whose first refresh token is raw.
func (s *Server) newSession(r *http.Request, u *gatehouse.User, raw string, now time.Time) (*gatehouse.Session, error) {
	secret := make([]byte, 32)
	rand.Read(secret)
	sess := &gatehouse.Session{
		ID:            gatehouse.NewID(now),
		UserID:        u.ID,
		Secret:        secret,
		CurrentHash:   hash(raw),
		CreatedAt:     now,
		LastUsedAt:    now,
		ExpiresAt:     now.Add(s.maxAge),
		IdleExpiresAt: minTime(now.Add(s.idle), now.Add(s.maxAge)),
		UserAgent:     gatehouse.CleanText(r.UserAgent(), maxUserAgentLen),
		IP:            s.clientIP(r),
	}
	if err := s.store.CreateSession(r.Context(), sess); err != nil {
		return nil, err
	}
	return sess, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// setRefreshCookie sets the refresh cookie. Its Max-Age is what is left of
// the session, and no more than the idle timeout: the cookie never outlives
// the session it belongs to.
func (s *Server) setRefreshCookie(w http.ResponseWriter, raw string, sess *gatehouse.Session, now time.Time) {
	left := min(sess.ExpiresAt.Sub(now), s.idle)
	c := s.cookie(s.refreshCookie, raw, left.Truncate(time.Second))
	c.SameSite = http.SameSiteStrictMode
	http.SetCookie(w, c)
}

func (s *Server) clearRefreshCookie(w http.ResponseWriter) {
	c := s.cookie(s.refreshCookie, "", 0)
	c.SameSite = http.SameSiteStrictMode
	http.SetCookie(w, c)
}

// refreshToken returns the refresh cookie's value if it has the shape of a
// refresh token: an access token, or anything else, put in the cookie is
// refused before the store is asked.
func (s *Server) refreshToken(r *http.Request) (string, bool) {
	c, err := r.Cookie(s.refreshCookie)
	if err != nil || !isRandomToken(c.Value) {
		return "", false
	}
	return c.Value, true
}

// refreshFailed answers 401 invalid_grant and clears the cookie, which
// holds nothing usable.
func (s *Server) refreshFailed(w http.ResponseWriter, r *http.Request, msg string) {
	s.clearRefreshCookie(w)
	s.renderError(w, r, gatehouse.Errorf(eRefreshFailed, "%s", msg))
}

// handleRefresh rotates the refresh token and answers a new access token.
func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	if err := checkCSRF(r); err != nil {
		s.renderError(w, r, err)
		return
	}
	now := s.now()
	s.collectGarbage(r.Context(), now)
	raw, ok := s.refreshToken(r)
	if !ok {
		s.refreshFailed(w, r, "no valid refresh token")
		return
	}
	th := hash(raw)
	if s.revokeIfPending(r.Context(), th) {
		s.refreshFailed(w, r, "the session has ended")
		return
	}
	var next string
	var reused bool
	sess, _, err := s.store.UpdateSessionByToken(r.Context(), th, now, func(sess *gatehouse.Session, _ *gatehouse.User, retiredAt *time.Time) (*gatehouse.Session, error) {
		next, reused = "", false
		if !sess.Active(now) {
			return nil, errSessionEnded
		}
		switch {
		case retiredAt == nil:
			next = successor(sess.Secret, raw)
			sess.CurrentHash = hash(next)
		case now.Sub(*retiredAt) <= s.grace:
			// Another tab rotated this token a moment ago: hand out
			// the same live token it got.
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
			reused = true
			sess.RevokedAt = &now
			sess.RevokeReason = "refresh token reuse"
			return sess, nil
		}
		sess.LastUsedAt = now
		sess.IdleExpiresAt = minTime(now.Add(s.idle), sess.ExpiresAt)
		return sess, nil
	})
	switch {
	case errors.Is(err, gatehouse.ErrNotFound):
		s.refreshFailed(w, r, "unknown refresh token")
		return
	case errors.Is(err, errSessionEnded):
		s.refreshFailed(w, r, "the session has ended")
		return
	case err != nil:
		s.renderError(w, r, err)
		return
	case reused:
		s.audit(r, "refresh_reuse", sess.UserID, sess.ID, errors.New("a retired refresh token was presented; the session is revoked"))
		s.refreshFailed(w, r, "the refresh token was already used; the session has ended")
		return
	}
	u, err := s.store.User(r.Context(), sess.UserID)
	if errors.Is(err, gatehouse.ErrNotFound) || (err == nil && u.DisabledAt != nil) {
		s.refreshFailed(w, r, "the user no longer exists or is disabled")
		return
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.answerTokens(w, r, u, sess, next, now)
}

// answerTokens mints an access token in sess, sets the refresh cookie to
// raw, and writes the login response.
func (s *Server) answerTokens(w http.ResponseWriter, r *http.Request, u *gatehouse.User, sess *gatehouse.Session, raw string, now time.Time) {
	// The access token ends with its session at the latest, for verifiers
	// that only check the signature.
	at, claims, err := s.issuer.MintBefore(u.ID, sess.ID, sess.ExpiresAt)
	if err != nil {
		s.refreshFailed(w, r, "the session has ended")
		return
	}
	s.setRefreshCookie(w, raw, sess, now)
	writeJSON(w, http.StatusOK, loginResponse{
		AccessToken: at,
		TokenType:   "bearer",
		ExpiresIn:   int64(claims.Expiry.Sub(claims.IssuedAt).Seconds()),
		User:        u,
	})
}

// handleLogout ends the session of the refresh cookie, or with
// ?scope=global every session of its user. It always clears the cookie and
// answers 204, even without a session to end; if the database fails, it
// answers 503 and keeps trying to revoke in the background (fail closed).
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
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
	s.clearRefreshCookie(w)
	raw, ok := s.refreshToken(r)
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	sess, err := s.revoke(r.Context(), hash(raw), global, "logout")
	switch {
	case errors.Is(err, gatehouse.ErrNotFound):
		w.WriteHeader(http.StatusNoContent)
	case err != nil:
		s.revokeLater(hash(raw), global)
		s.audit(r, "logout", "", "", err)
		s.renderError(w, r, err)
	default:
		event := "logout"
		if global {
			event = "logout_global"
		}
		s.audit(r, event, sess.UserID, sess.ID, nil)
		w.WriteHeader(http.StatusNoContent)
	}
}

// revoke ends the session of the refresh token hash th, giving reason,
// and with global every session of its user.
func (s *Server) revoke(ctx context.Context, th string, global bool, reason string) (*gatehouse.Session, error) {
	now := s.now()
	sess, _, err := s.store.UpdateSessionByToken(ctx, th, now, func(sess *gatehouse.Session, _ *gatehouse.User, _ *time.Time) (*gatehouse.Session, error) {
		if sess.RevokedAt == nil {
			sess.RevokedAt = &now
			sess.RevokeReason = reason
		}
		return sess, nil
	})
	if err != nil || !global {
		return sess, err
	}
	_, err = s.store.RevokeSessions(ctx, sess.UserID, now, "logout everywhere")
	return sess, err
}

// revokeLater remembers a logout the database could not record: this node
// refuses the token from now on, and retries the revocation until it
// succeeds or revokeRetryFor has passed.
func (s *Server) revokeLater(th string, global bool) {
	if _, loaded := s.pending.LoadOrStore(th, global); loaded {
		return
	}
	go func() {
		deadline := time.Now().Add(revokeRetryFor)
		for time.Now().Before(deadline) {
			time.Sleep(s.retryEvery)
			s.revokeIfPending(context.Background(), th)
			if _, still := s.pending.Load(th); !still {
				return
			}
		}
		s.log.Error("audit", "event", "logout", "result", "failure", "reason", "the database stayed unavailable; the session was not revoked")
		s.pending.Delete(th)
	}()
}

// revokeIfPending reports whether th has a logout waiting to be recorded,
// and tries once more to record it.
func (s *Server) revokeIfPending(ctx context.Context, th string) bool {
	v, ok := s.pending.Load(th)
	if !ok {
		return false
	}
	sess, err := s.revoke(ctx, th, v.(bool), "logout")
	switch {
	case err == nil:
		s.log.Info("audit", "event", "logout", "result", "success", "user_id", sess.UserID, "session_id", sess.ID, "reason", "recorded after a database outage")
		s.pending.Delete(th)
	case errors.Is(err, gatehouse.ErrNotFound):
		s.pending.Delete(th)
	}
	return true
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
	err = s.store.RevokeSession(r.Context(), u.ID, id, s.now(), "ended by the user")
	if errors.Is(err, gatehouse.ErrNotFound) {
		s.renderError(w, r, gatehouse.Errorf(gatehouse.ENotFound, "no such session"))
		return
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.audit(r, "session_ended", u.ID, id, nil)
	w.WriteHeader(http.StatusNoContent)
}
