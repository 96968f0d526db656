package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/clientip"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/session"
)

func (s *Server) handleProviders(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"providers": s.listing})
}

// provider returns the registered provider named in the path. Names are
// matched exactly: "GITHUB" or "github\x00" are unknown.
func (s *Server) provider(r *http.Request) (*Provider, error) {
	p, ok := s.providers[r.PathValue("provider")]
	if !ok {
		return nil, gatehouse.Errorf(gatehouse.EUnsupportedProvider, "unknown provider")
	}
	return p, nil
}

// randomToken returns 256 bits from crypto/rand, base64url-encoded: 43
// characters.
func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// isRandomToken reports whether s has the shape randomToken produces.
func isRandomToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// hash is how state and browser bindings are kept in the store.
func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// handleLogin starts a login: it stores a login state, binds it to this
// browser with an HttpOnly cookie, and answers the provider URL. The query
// string is ignored: every parameter of the provider URL is ours. A new
// login replaces the browser's earlier one (its cookie is overwritten), and
// one client address may have at most Limits.PendingLoginsPerClient logins
// in progress.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	p, err := s.loginProvider(r, s.limits.login)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	now := s.now()
	state, binding := randomToken(), randomToken()
	ls := &gatehouse.LoginState{
		StateHash:    hash(state),
		BindingHash:  hash(binding),
		Provider:     p.Name,
		RedirectURI:  p.RedirectURL,
		CodeVerifier: randomToken(),
		Nonce:        randomToken(),
		Client:       s.clientKey(r),
		CreatedAt:    now,
		ExpiresAt:    now.Add(LoginTTL),
	}
	var replaces string
	if c, err := r.Cookie(s.loginCookie); err == nil && isRandomToken(c.Value) {
		replaces = hash(c.Value)
	}
	err = s.store.CreateLoginState(r.Context(), ls, replaces, s.pendingLogins)
	if errors.Is(err, gatehouse.ErrTooMany) {
		err = &gatehouse.Error{Code: gatehouse.ERateLimited, RetryAfter: time.Minute,
			Message: "too many logins in progress from this address; finish one or try again later"}
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	http.SetCookie(w, s.cookie(s.loginCookie, binding, LoginTTL))
	writeJSON(w, http.StatusOK, map[string]string{"url": p.AuthCodeURL(gatehouse.AuthParams{
		State:        state,
		RedirectURI:  ls.RedirectURI,
		CodeVerifier: ls.CodeVerifier,
		Nonce:        ls.Nonce,
	})})
}

// loginProvider returns the provider of a login request (start or finish)
// if r's client may use it now: within the rate limit l, and on this
// machine for a loopback-only provider.
func (s *Server) loginProvider(r *http.Request, l *ratelimit.Limiter) (*Provider, error) {
	p, err := s.provider(r)
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

// cookie returns an HttpOnly, SameSite=Lax cookie on Path=/ with no Domain;
// on https it is Secure (and named with the __Host- prefix by the caller).
// A maxAge of zero deletes the cookie.
func (s *Server) cookie(name, value string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   int(maxAge.Seconds()),
		Secure:   s.https,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge <= 0 {
		c.MaxAge = -1
	}
	return c
}

type loginResponse struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   int64           `json:"expires_in"`
	User        *gatehouse.User `json:"user"`
}

// handleAuthorize finishes a login. The state and the browser's cookie must
// match a stored login for this provider that has not expired; it is
// consumed before the provider is called, so a code or state works once.
// Every check that can fail without the provider runs before the provider
// is called.
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
	ls, err := s.consumeLogin(w, r, p, req.State)
	if err != nil {
		s.auditLogin(r, p.Name, "", "", err)
		s.renderError(w, r, err)
		return
	}
	if req.Error != "" {
		err := gatehouse.Errorf(gatehouse.EInvalidRequest, "the provider did not complete the login")
		if req.Error == gatehouse.EAccessDenied {
			err = gatehouse.Errorf(eProviderDenied, "the login was cancelled or refused at the provider")
		}
		s.auditLogin(r, p.Name, "", "", err)
		s.renderError(w, r, err)
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), ExchangeTimeout)
	defer cancel()
	ident, err := p.Exchange(ctx, req.Code, gatehouse.AuthParams{
		State:        req.State,
		RedirectURI:  ls.RedirectURI,
		CodeVerifier: ls.CodeVerifier,
		Nonce:        ls.Nonce,
	})
	if err != nil {
		s.auditLogin(r, p.Name, "", "", err)
		s.renderError(w, r, err)
		return
	}
	ident.Provider = p.Name
	ident.Profile.Normalize()
	user, err := s.store.UpsertIdentity(r.Context(), ident, s.now())
	switch {
	case errors.Is(err, gatehouse.ErrInvalid):
		// Normalize cleans the profile, so only a subject no database
		// can hold (a NUL byte, invalid UTF-8) gets here.
		err = &gatehouse.Error{Code: gatehouse.EUpstream, Message: "the provider returned an account id that cannot be stored", Err: err}
	case errors.Is(err, gatehouse.ErrDisabled):
		err = gatehouse.Errorf(gatehouse.EAccessDenied, "this account is disabled")
	case err == nil && user.DisabledAt != nil:
		// Disabled between the store's check and its answer.
		err = gatehouse.Errorf(gatehouse.EAccessDenied, "this account is disabled")
	}
	if err != nil {
		s.auditLogin(r, p.Name, ident.Subject, "", err)
		s.renderError(w, r, err)
		return
	}
	sess, raw, err := s.sessions.Start(r.Context(), user, session.Client{UserAgent: r.UserAgent(), IP: s.clientIP(r)})
	if err != nil {
		s.auditLogin(r, p.Name, ident.Subject, user.ID, err)
		s.renderError(w, r, err)
		return
	}
	s.auditLogin(r, p.Name, ident.Subject, user.ID, nil)
	if old, _ := s.refreshTokens(r); old != "" {
		// The new session replaces this browser's previous one, whose
		// cookie is overwritten: end it rather than leave it listed.
		if err := s.sessions.Supersede(r.Context(), old); err != nil {
			s.log.WarnContext(r.Context(), "ending the browser's previous session", "err", err)
		}
	}
	s.answerTokens(w, r, user, sess, raw)
}

// consumeLogin checks the state against the browser's login cookie and
// consumes the matching login state. A login that exists but was started
// for another provider, or has expired, is consumed and refused.
func (s *Server) consumeLogin(w http.ResponseWriter, r *http.Request, p *Provider, state string) (*gatehouse.LoginState, error) {
	if !isRandomToken(state) {
		return nil, gatehouse.Errorf(gatehouse.EInvalidState, "unknown state")
	}
	c, err := r.Cookie(s.loginCookie)
	if err != nil || !isRandomToken(c.Value) {
		return nil, gatehouse.Errorf(gatehouse.EInvalidState, "this browser did not start the login")
	}
	ls, err := s.store.ConsumeLoginState(r.Context(), hash(state), hash(c.Value))
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, gatehouse.Errorf(gatehouse.EInvalidState, "unknown, used or expired state, or another browser's login")
	}
	if err != nil {
		return nil, err
	}
	http.SetCookie(w, s.cookie(s.loginCookie, "", 0))
	if ls.Provider != p.Name {
		return nil, gatehouse.Errorf(gatehouse.EInvalidState, "the login was started for another provider")
	}
	if !s.now().Before(ls.ExpiresAt) {
		return nil, gatehouse.Errorf(gatehouse.EInvalidState, "the login has expired; start again")
	}
	return ls, nil
}

// auditLogin records the outcome of a login attempt. It names the provider,
// the provider subject and our user id when known, and the client address;
// never a code, state or token.
func (s *Server) auditLogin(r *http.Request, provider, subject, userID string, err error) {
	attrs := []any{"provider", provider}
	if subject != "" {
		attrs = append(attrs, "subject", subject)
	}
	s.audit(r, "login", userID, "", err, attrs...)
}

// audit logs one structured audit event: what happened, to which user and
// session, from which client address, and whether it succeeded. Never a
// code, state or token.
func (s *Server) audit(r *http.Request, event, userID, sessionID string, err error, extra ...any) {
	attrs := append([]any{"event", event, "ip", s.clientIP(r)}, extra...)
	if userID != "" {
		attrs = append(attrs, "user_id", userID)
	}
	if sessionID != "" {
		attrs = append(attrs, "session_id", sessionID)
	}
	if err == nil {
		s.log.InfoContext(r.Context(), "audit", append(attrs, "result", "success")...)
		return
	}
	attrs = append(attrs, "result", "failure", "reason", gatehouse.ErrorCode(err))
	if e, ok := errors.AsType[*gatehouse.Error](err); ok && e.Err != nil {
		attrs = append(attrs, "cause", e.Err.Error())
	} else if !ok {
		attrs = append(attrs, "cause", err.Error())
	}
	s.log.WarnContext(r.Context(), "audit", attrs...)
}
