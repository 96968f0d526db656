package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

// The admin API, /admin/…, is off until an operator makes an admin key
// (gatehouse admin key create): until then, and again once every key is
// revoked, its paths answer 404 like any unknown path. A request carries
// its key as "Authorization: Bearer gha_…"; a wrong, unknown or revoked
// key is the same 401, and failures count against the client's address.

// adminOnFor is how long a node keeps its reading of whether the admin API
// is on, so that requests to /admin/… from strangers cost at most one
// query per node in that time. A key made or revoked from the command line
// takes effect within it.
const adminOnFor = time.Second

// adminKey authenticates r as an admin call and returns the key's name. A
// right key is never refused for the failures of its address; a wrong one
// costs one indexed lookup before it counts against them.
func (s *Server) adminKey(r *http.Request) (string, error) {
	ctx := r.Context()
	on, err := s.adminOn(ctx)
	if err != nil {
		return "", err
	}
	if !on {
		return "", gatehouse.Errorf(gatehouse.ENotFound, "no such endpoint")
	}
	if raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && gatehouse.IsAdminKey(raw) {
		h := gatehouse.HashAdminKey(raw)
		k, err := s.store.UseAdminKey(ctx, h, s.now())
		switch {
		case err == nil && subtle.ConstantTimeCompare([]byte(k.Hash), []byte(h)) == 1:
			return k.Name, nil
		case err != nil && !errors.Is(err, gatehouse.ErrNotFound):
			return "", err
		}
	}
	if err := s.allow(s.limits.adminAuth, r); err != nil {
		return "", err
	}
	return "", gatehouse.Errorf(gatehouse.EUnauthorized, "a valid admin key is required")
}

// adminOn reports whether a live admin key exists, which turns the admin
// API on, as read at most adminOnFor ago.
func (s *Server) adminOn(ctx context.Context) (bool, error) {
	s.adminState.Lock()
	defer s.adminState.Unlock()
	now := s.now()
	if !s.adminState.at.IsZero() && now.Sub(s.adminState.at) < adminOnFor && !now.Before(s.adminState.at) {
		return s.adminState.on, nil
	}
	keys, err := s.store.AdminKeys(ctx)
	if err != nil {
		return false, err
	}
	on := false
	for _, k := range keys {
		on = on || k.RevokedAt == nil
	}
	s.adminState.on, s.adminState.at = on, now
	return on, nil
}

// adminAudit records an admin call that changes nothing (a read): an
// admin_action event in the audit table naming the key, and the log line.
// A call that changes something writes its event in the change's own
// transaction (adminChange).
func (s *Server) adminAudit(r *http.Request, keyName, action, target string) {
	ev := gatehouse.AuditEvent{Type: gatehouse.AuditAdminAction, Time: s.now(), Actor: "admin:" + keyName,
		IP: s.clientIP(r), UserAgent: r.UserAgent(), Detail: map[string]string{"action": action}}
	if target != "" {
		ev.Detail["target"] = target
	}
	if err := s.store.AppendAudit(r.Context(), ev); err != nil {
		s.log.WarnContext(r.Context(), "writing an admin audit event", "err", err)
	}
	s.adminLog(r, keyName, action, target)
}

// adminChange returns the context of an admin call's change: the change's
// store transaction writes the audit event, naming the key.
func (s *Server) adminChange(r *http.Request, keyName, typ, action string) context.Context {
	return gatehouse.WithAudit(s.auditContext(r), gatehouse.AuditEvent{Type: typ, Time: s.now(),
		Actor: "admin:" + keyName, Detail: map[string]string{"action": action}})
}

// adminLog mirrors an admin call to the structured log.
func (s *Server) adminLog(r *http.Request, keyName, action, target string) {
	s.log.InfoContext(r.Context(), "audit", "event", "admin_"+action, "admin_key", keyName, "target", target,
		"ip", s.clientIP(r), "result", "success")
}

// adminUser is a user as the admin API shows it: with whether, and when,
// they were disabled.
type adminUser struct {
	*gatehouse.User
	Disabled   bool       `json:"disabled"`
	DisabledAt *time.Time `json:"disabled_at"`
}

func newAdminUser(u *gatehouse.User) adminUser {
	return adminUser{User: u, Disabled: u.DisabledAt != nil, DisabledAt: u.DisabledAt}
}

// adminSession is a session as the admin API shows it.
type adminSession struct {
	ID            string    `json:"id"`
	CreatedAt     time.Time `json:"created_at"`
	LastUsedAt    time.Time `json:"last_used_at"`
	IdleExpiresAt time.Time `json:"idle_expires_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	UserAgent     string    `json:"user_agent"`
	IP            string    `json:"ip"`
}

// adminHandler wraps an admin handler: it authenticates the key and
// passes its name on.
func adminHandler(h func(s *Server, w http.ResponseWriter, r *http.Request, key string)) func(*Server, http.ResponseWriter, *http.Request) {
	return func(s *Server, w http.ResponseWriter, r *http.Request) {
		key, err := s.adminKey(r)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		h(s, w, r, key)
	}
}

// adminLookup returns the user of the path's {id}, or a not_found error.
func (s *Server) adminLookup(r *http.Request) (*gatehouse.User, error) {
	u, err := s.store.User(r.Context(), r.PathValue("id"))
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, gatehouse.Errorf(gatehouse.ENotFound, "no such user")
	}
	return u, err
}

// handleAdminUsers lists users, a page at a time, in id order.
func (s *Server) handleAdminUsers(w http.ResponseWriter, r *http.Request, key string) {
	q := r.URL.Query()
	limit := gatehouse.DefaultUserListLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > gatehouse.MaxUserListLimit {
			s.renderError(w, r, gatehouse.Errorf(gatehouse.EInvalidRequest, "limit must be a number from 1 to %d", gatehouse.MaxUserListLimit))
			return
		}
		limit = n
	}
	list, err := s.store.ListUsers(r.Context(), gatehouse.UserQuery{After: q.Get("cursor"), Search: q.Get("q"), Limit: limit + 1})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	var next *string
	if len(list) > limit {
		list = list[:limit]
		next = &list[limit-1].ID
	}
	users := make([]adminUser, len(list))
	for i, u := range list {
		users[i] = newAdminUser(u)
	}
	s.adminAudit(r, key, "list_users", "")
	writeJSON(w, http.StatusOK, map[string]any{"users": users, "next_cursor": next})
}

// handleAdminUser shows a user with their identities and active sessions.
func (s *Server) handleAdminUser(w http.ResponseWriter, r *http.Request, key string) {
	u, err := s.adminLookup(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	linked, err := s.logins.Identities(r.Context(), u.ID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	idents := make([]identityInfo, len(linked))
	for i, l := range linked {
		idents[i] = newIdentityInfo(l)
	}
	sessions, err := s.adminSessions(r, u.ID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.adminAudit(r, key, "show_user", u.ID)
	writeJSON(w, http.StatusOK, map[string]any{"user": newAdminUser(u), "identities": idents, "sessions": sessions})
}

// adminSessions returns the user's active sessions, newest first.
func (s *Server) adminSessions(r *http.Request, userID string) ([]adminSession, error) {
	list, err := s.store.Sessions(r.Context(), userID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := []adminSession{}
	for _, x := range list {
		if x.Active(now) {
			out = append(out, adminSession{ID: x.ID, CreatedAt: x.CreatedAt, LastUsedAt: x.LastUsedAt,
				IdleExpiresAt: x.IdleExpiresAt, ExpiresAt: x.ExpiresAt, UserAgent: x.UserAgent, IP: x.IP})
		}
	}
	return out, nil
}

// handleAdminDisable disables a user, ending their sessions.
func (s *Server) handleAdminDisable(w http.ResponseWriter, r *http.Request, key string) {
	s.adminSetDisabled(w, r, key, true)
}

// handleAdminEnable lets a disabled user sign in again.
func (s *Server) handleAdminEnable(w http.ResponseWriter, r *http.Request, key string) {
	s.adminSetDisabled(w, r, key, false)
}

func (s *Server) adminSetDisabled(w http.ResponseWriter, r *http.Request, key string, disabled bool) {
	id := r.PathValue("id")
	typ, action := gatehouse.AuditUserEnabled, "enable_user"
	if disabled {
		typ, action = gatehouse.AuditUserDisabled, "disable_user"
	}
	err := s.store.SetUserDisabled(s.adminChange(r, key, typ, action), id, disabled, s.now())
	if errors.Is(err, gatehouse.ErrNotFound) {
		err = gatehouse.Errorf(gatehouse.ENotFound, "no such user")
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	u, err := s.adminLookup(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.adminLog(r, key, action, id)
	writeJSON(w, http.StatusOK, map[string]any{"user": newAdminUser(u)})
}

// handleAdminDeleteUser deletes a user with their identities and sessions.
func (s *Server) handleAdminDeleteUser(w http.ResponseWriter, r *http.Request, key string) {
	id := r.PathValue("id")
	err := s.store.DeleteUser(s.adminChange(r, key, gatehouse.AuditUserDeleted, "delete_user"), id)
	if errors.Is(err, gatehouse.ErrNotFound) {
		err = gatehouse.Errorf(gatehouse.ENotFound, "no such user")
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.adminLog(r, key, "delete_user", id)
	w.WriteHeader(http.StatusNoContent)
}

// handleAdminSessions lists a user's active sessions.
func (s *Server) handleAdminSessions(w http.ResponseWriter, r *http.Request, key string) {
	u, err := s.adminLookup(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	sessions, err := s.adminSessions(r, u.ID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.adminAudit(r, key, "list_sessions", u.ID)
	writeJSON(w, http.StatusOK, map[string]any{"sessions": sessions})
}

// handleAdminEndSession ends one session of a user.
func (s *Server) handleAdminEndSession(w http.ResponseWriter, r *http.Request, key string) {
	id, sid := r.PathValue("id"), r.PathValue("sid")
	err := s.store.RevokeSession(s.adminChange(r, key, gatehouse.AuditSessionEnded, "end_session"), id, sid, s.now(), "ended by admin key "+key)
	if errors.Is(err, gatehouse.ErrNotFound) {
		err = gatehouse.Errorf(gatehouse.ENotFound, "no such session of that user")
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.adminLog(r, key, "end_session", id+"/"+sid)
	s.metrics.SessionRevoked()
	w.WriteHeader(http.StatusNoContent)
}

// handleAdminEndSessions ends every session of a user.
func (s *Server) handleAdminEndSessions(w http.ResponseWriter, r *http.Request, key string) {
	u, err := s.adminLookup(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	n, err := s.store.RevokeSessions(s.adminChange(r, key, gatehouse.AuditAdminAction, "end_sessions"), u.ID, s.now(), "ended by admin key "+key)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.adminLog(r, key, "end_sessions", u.ID)
	for range n {
		s.metrics.SessionRevoked()
	}
	writeJSON(w, http.StatusOK, map[string]any{"ended": n})
}

// auditEvent is an audit event as the admin API shows it.
type auditEvent struct {
	ID        string            `json:"id"`
	Time      time.Time         `json:"time"`
	Type      string            `json:"type"`
	UserID    string            `json:"user_id"`
	SessionID string            `json:"session_id"`
	Actor     string            `json:"actor"`
	IP        string            `json:"ip"`
	UserAgent string            `json:"user_agent"`
	Detail    map[string]string `json:"detail"`
}

// handleAdminAudit lists audit events, newest first, filtered by user,
// type and time range, a page at a time.
func (s *Server) handleAdminAudit(w http.ResponseWriter, r *http.Request, key string) {
	q := r.URL.Query()
	f := gatehouse.AuditFilter{UserID: q.Get("user"), Type: q.Get("type"), Cursor: q.Get("cursor")}
	for name, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				s.renderError(w, r, gatehouse.Errorf(gatehouse.EInvalidRequest, "%s must be an RFC 3339 time", name))
				return
			}
			*dst = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > gatehouse.MaxAuditLimit {
			s.renderError(w, r, gatehouse.Errorf(gatehouse.EInvalidRequest, "limit must be a number from 1 to %d", gatehouse.MaxAuditLimit))
			return
		}
		f.Limit = n
	}
	page, err := s.store.AuditEvents(r.Context(), f)
	if errors.Is(err, gatehouse.ErrInvalid) {
		err = gatehouse.Errorf(gatehouse.EInvalidRequest, "the cursor is not one this endpoint gave")
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	events := make([]auditEvent, len(page.Events))
	for i, ev := range page.Events {
		detail := ev.Detail
		if detail == nil {
			detail = map[string]string{}
		}
		events[i] = auditEvent{ID: ev.ID, Time: ev.Time, Type: ev.Type, UserID: ev.UserID, SessionID: ev.SessionID,
			Actor: ev.Actor, IP: ev.IP, UserAgent: ev.UserAgent, Detail: detail}
	}
	var next *string
	if page.Next != "" {
		next = &page.Next
	}
	s.adminAudit(r, key, "list_audit", f.UserID)
	writeJSON(w, http.StatusOK, map[string]any{"events": events, "next_cursor": next})
}
