package server

import (
	"net/http"
	"strconv"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/clientip"
	"github.com/gatehouse/gatehouse/login"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/session"
)

// Logins: GET /auth/{provider}/login starts one and binds it to the
// browser with an HttpOnly cookie; POST /auth/{provider}/authorize finishes
// it and starts a session. The rules live in package login; these handlers
// map cookies, client addresses and answers to its calls.

func (s *Server) handleProviders(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"providers": s.listing})
}

// handleLogin starts a login and answers the provider URL. The query
// string is ignored, but for link=1: every parameter of the provider URL
// is ours. With link=1 the login links the provider account to the user of
// the request's access token, checked as Require checks it, instead of
// signing in. The login cookie is overwritten, so the login replaces the
// browser's earlier one.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	p, err := s.loginProvider(r, s.limits.login)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	var started *login.Started
	switch link := r.URL.Query()["link"]; {
	case link == nil:
		started, err = s.logins.Start(r.Context(), p.Name, s.clientKey(r), s.loginBinding(r))
	case len(link) == 1 && link[0] == "1":
		var u *gatehouse.User
		if _, u, err = s.session(r); err == nil {
			started, err = s.logins.StartLink(r.Context(), u.ID, p.Name, s.clientKey(r), s.loginBinding(r))
		}
	default:
		err = gatehouse.Errorf(gatehouse.EInvalidRequest, "link must be 1 or absent")
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	http.SetCookie(w, s.cookie(s.loginCookie, started.Binding, started.Lifetime))
	writeJSON(w, http.StatusOK, map[string]string{"url": started.URL})
}

// handleAuthorize finishes a login and starts a session for its user. A
// login the request used up gets its cookie cleared, whatever the outcome.
// A link (GET /auth/{provider}/login?link=1) starts no session: the
// browser has one, for the same user, and a second would only replace it.
// It answers the user and the linked identity.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	p, err := s.loginProvider(r, s.limits.authorize)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	req, err := parseAuthorizeRequest(w, r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	ctx := s.auditContext(r)
	res, err := s.logins.Finish(ctx, p.Name, login.Callback{
		State:   req.State,
		Binding: s.loginBinding(r),
		Code:    req.Code,
		Error:   req.Error,
	})
	if res.Consumed {
		http.SetCookie(w, s.cookie(s.loginCookie, "", 0))
	}
	var subject string
	if res.Identity != nil {
		subject = res.Identity.Subject
	}
	if err != nil {
		s.auditLogin(r, p.Name, subject, "", err)
		s.renderError(w, r, err)
		return
	}
	user := res.User
	if res.Linked {
		s.audit(r, "link", user.ID, "", nil, "provider", p.Name, "subject", subject)
		ident, err := s.linkedIdentity(r, user.ID, p.Name, subject)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, linkResponse{User: user, Identity: ident})
		return
	}
	// The login is recorded with the session it starts.
	ev := gatehouse.AuditEvent{Type: gatehouse.AuditLogin, Time: s.now(),
		Detail: map[string]string{"provider": p.Name, "subject": subject, "new_user": strconv.FormatBool(res.NewUser)}}
	sess, raw, err := s.sessions.Start(gatehouse.WithAudit(ctx, ev), user, session.Client{UserAgent: r.UserAgent(), IP: s.clientIP(r)})
	if err != nil {
		s.auditLogin(r, p.Name, subject, user.ID, err)
		s.renderError(w, r, err)
		return
	}
	s.auditLogin(r, p.Name, subject, user.ID, nil)
	if old, _ := s.refreshTokens(r); old != "" {
		// The new session replaces this browser's previous one, whose
		// cookie is overwritten: end it rather than leave it listed.
		if err := s.sessions.Supersede(ctx, old); err != nil {
			s.log.WarnContext(r.Context(), "ending the browser's previous session", "err", err)
		}
	}
	s.answerTokens(w, r, user, sess, raw)
}

// loginBinding returns the login cookie's value, or "".
func (s *Server) loginBinding(r *http.Request) string {
	c, err := r.Cookie(s.loginCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// loginProvider returns the provider of a login request (start or finish)
// if r's client may use it now: within the rate limit l, and on this
// machine for a loopback-only provider.
func (s *Server) loginProvider(r *http.Request, l *ratelimit.Limiter) (*Provider, error) {
	p, err := s.logins.Provider(r.PathValue("provider"))
	if err != nil {
		return nil, err
	}
	if err := s.allow(l, r); err != nil {
		return nil, err
	}
	if err := s.checkLoopbackOnly(p, r); err != nil {
		return nil, err
	}
	return p, nil
}

// checkLoopbackOnly refuses a login through a provider that lets anyone
// sign in as anyone (gatehouse.LoopbackOnly) unless the client, under the
// trusted-proxy rule, is on this machine.
func (s *Server) checkLoopbackOnly(p *Provider, r *http.Request) error {
	lo, ok := p.Provider.(gatehouse.LoopbackOnly)
	if !ok || !lo.LoopbackOnly() {
		return nil
	}
	if clientip.IsLoopback(s.clients.Resolve(r.RemoteAddr, r.Header.Values("X-Forwarded-For"))) {
		return nil
	}
	return gatehouse.Errorf(gatehouse.EAccessDenied, "the %s provider only accepts logins from the machine Gatehouse runs on", p.Name)
}

// auditLogin records the outcome of a login attempt. It names the provider,
// the provider subject and our user id when known, and the client address;
// never a code, state or token. A success is in the audit table already,
// with its session; a failure, which changed nothing, is appended to it
// here. Only clients within the authorize rate limit get this far, which
// bounds how many failures a stranger can have written.
func (s *Server) auditLogin(r *http.Request, provider, subject, userID string, err error) {
	attrs := []any{"provider", provider}
	if subject != "" {
		attrs = append(attrs, "subject", subject)
	}
	s.audit(r, "login", userID, "", err, attrs...)
	s.metrics.Login(provider, outcome(err))
	if err == nil {
		return
	}
	d := map[string]string{"provider": provider, "code": gatehouse.ErrorCode(err)}
	if subject != "" {
		d["subject"] = subject
	}
	if ok, _ := s.limits.failedLoginAudit.Allow("", s.now()); !ok {
		return // logged above; the table's share is spent for now
	}
	ev := gatehouse.AuditEvent{Type: gatehouse.AuditLoginFailed, Time: s.now(), UserID: userID,
		IP: s.clientIP(r), UserAgent: r.UserAgent(), Detail: d}
	if aerr := s.store.AppendAudit(r.Context(), ev); aerr != nil {
		s.log.WarnContext(r.Context(), "writing a failed login to the audit log", "err", aerr)
	}
}

type linkResponse struct {
	User     *gatehouse.User `json:"user"`
	Identity identityInfo    `json:"identity"`
}
