package server

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// These tests cover the HTTP side of sessions: SECURITY.md sections H
// (refresh tokens), I (logout and revocation) and J (cookies, CORS), and
// case 56, once per kind of case. The rules themselves (rotation, grace,
// reuse, lifetimes, races, logouts) are tested in package session, the
// deletion of ended sessions in package cleanup. Like every test of the
// package they run on SQLite and on PostgreSQL.

const csrf = "X-Requested-With"

// refreshCookieName is the refresh cookie's name on this env's URL.
func (e *env) refreshCookieName() string {
	if strings.HasPrefix(e.ts.URL, "https://") {
		return "__Host-gatehouse_refresh"
	}
	return "gatehouse_refresh"
}

// setCookie returns the Set-Cookie of r for the named cookie, or nil.
func setCookie(t *testing.T, r *response, name string) *http.Cookie {
	t.Helper()
	var found *http.Cookie
	for _, line := range r.header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		if c.Name == name {
			if found != nil {
				t.Fatalf("two Set-Cookie headers for %s", name)
			}
			found = c
		}
	}
	return found
}

// signIn logs a user in through the dev provider in a new browser, and
// returns the browser, the authorize response, the access token and the
// refresh token it got.
func (e *env) signIn(email string) (b *http.Client, r *response, at, rt string) {
	e.t.Helper()
	b = e.newBrowser()
	q := e.devApprove(e.startLogin(b, "dev"), "allow", "Session User", email)
	r = e.authorize(b, "dev", map[string]string{"code": q.Get("code"), "state": q.Get("state")})
	if r.status != http.StatusOK {
		e.t.Fatalf("authorize = %d %s", r.status, r.body)
	}
	c := setCookie(e.t, r, e.refreshCookieName())
	if c == nil {
		e.t.Fatalf("authorize set no refresh cookie: %v", r.header.Values("Set-Cookie"))
	}
	return b, r, r.json(e.t)["access_token"].(string), c.Value
}

// refreshWith posts /auth/refresh from a client with no cookie jar, with
// raw as the refresh cookie and the CSRF header, plus headers.
func (e *env) refreshWith(raw string, headers ...string) *response {
	e.t.Helper()
	h := append([]string{csrf, "gatehouse", "Cookie", e.refreshCookieName() + "=" + raw}, headers...)
	return e.request(e.ts.Client(), http.MethodPost, "/auth/refresh", nil, h...)
}

// logoutWith posts /auth/logout (with query, e.g. "?scope=global") with raw
// as the refresh cookie and the CSRF header.
func (e *env) logoutWith(raw, query string, headers ...string) *response {
	e.t.Helper()
	h := append([]string{csrf, "gatehouse", "Cookie", e.refreshCookieName() + "=" + raw}, headers...)
	return e.request(e.ts.Client(), http.MethodPost, "/auth/logout"+query, nil, h...)
}

// wantRefreshed checks a 200 from /auth/refresh and returns the new access
// and refresh tokens.
func (e *env) wantRefreshed(r *response) (at, rt string) {
	e.t.Helper()
	if r.status != http.StatusOK {
		e.t.Fatalf("refresh = %d %s, want 200", r.status, r.body)
	}
	c := setCookie(e.t, r, e.refreshCookieName())
	if c == nil || c.Value == "" {
		e.t.Fatalf("refresh set no refresh cookie")
	}
	return r.json(e.t)["access_token"].(string), c.Value
}

// wantRefreshRefused checks a 401 invalid_grant that clears the cookie.
func (e *env) wantRefreshRefused(r *response) {
	e.t.Helper()
	wantError(e.t, r, http.StatusUnauthorized, gatehouse.EInvalidGrant)
	if c := setCookie(e.t, r, e.refreshCookieName()); c == nil || c.MaxAge >= 0 {
		e.t.Fatalf("a refused refresh did not clear the cookie: %v", r.header.Values("Set-Cookie"))
	}
}

// TestSec62Refresh: a refresh answers a new access token for the same
// session and rotates the cookie; the database holds only hashes.
func TestSec62Refresh(t *testing.T) {
	e := newEnv(t)
	_, login, at1, rt1 := e.signIn("a@example.com")
	userID := login.json(t)["user"].(map[string]any)["id"].(string)
	sid := tokenClaims(t, at1)["sid"].(string)

	e.clock.Advance(time.Minute)
	r := e.refreshWith(rt1)
	at2, rt2 := e.wantRefreshed(r)
	if rt2 == rt1 || at2 == at1 {
		t.Fatal("refresh handed back the same tokens")
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", r.header.Get("Cache-Control"))
	}
	body := r.json(t)
	if body["token_type"] != "bearer" || body["expires_in"] != float64(DefaultAccessTokenTTL/time.Second) ||
		body["user"].(map[string]any)["id"] != userID {
		t.Errorf("refresh body = %s", r.body)
	}
	if got := tokenClaims(t, at2)["sid"]; got != sid {
		t.Errorf("the new access token's sid = %v, want the session %s", got, sid)
	}
	wantMe(t, e.me(at2), userID)

	for _, raw := range []string{rt1, rt2} {
		if n := e.query(`SELECT count(*) FROM sessions WHERE current_hash = ? OR id = ?`, raw, raw); n != "0" {
			t.Errorf("a refresh token is stored in the clear")
		}
		if n := e.query(`SELECT count(*) FROM retired_refresh_tokens WHERE hash = ?`, raw); n != "0" {
			t.Errorf("a refresh token is stored in the clear")
		}
	}
	if got := e.query(`SELECT current_hash FROM sessions WHERE id = ?`, sid); got != hash(rt2) {
		t.Errorf("current_hash = %q, want the hash of the new token", got)
	}
}

// TestSec63ReuseDetection: a rotated token used again after the grace
// window (its edges are session.TestRefreshGrace) ends the whole session:
// it, the newest token and the session's access tokens all stop working,
// each refused refresh clears the cookie, and an audit line says why.
func TestSec63ReuseDetection(t *testing.T) {
	e := newEnv(t)
	_, _, _, rt1 := e.signIn("a@example.com")
	at2, rt2 := e.wantRefreshed(e.refreshWith(rt1))
	e.clock.Advance(DefaultRefreshGrace + time.Second)

	e.wantRefreshRefused(e.refreshWith(rt1))
	e.wantRefreshRefused(e.refreshWith(rt2))
	wantInvalidToken(t, e.me(at2))
	// Reuse is audited with its own reason, so that alerts on server
	// errors do not fire.
	var audited bool
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(line, "event=refresh_reuse") {
			audited = true
			if !strings.Contains(line, "reason=refresh_token_reused") || strings.Contains(line, "server_error") {
				t.Errorf("audit line %q, want reason=refresh_token_reused", line)
			}
		}
	}
	if !audited {
		t.Errorf("no refresh_reuse audit line:\n%s", e.logs)
	}
	if got := e.query(`SELECT revoke_reason FROM sessions`); got != "refresh token reuse" {
		t.Errorf("revoke_reason = %q", got)
	}
}

// TestSec65Lifetimes: the HTTP side of the lifetimes (the rules, idle and
// absolute, at their edges, are session.TestRefreshLifetimes): the cookie
// lives for the idle timeout, and near the absolute end the cookie and the
// access token shrink to what is left; past it a refresh is 401 and clears
// the cookie.
func TestSec65Lifetimes(t *testing.T) {
	e := newEnv(t, func(o *envOptions) {
		o.config = func(c *Config) { c.SessionMaxAge = 3 * time.Hour; c.SessionIdleTimeout = 2 * time.Hour }
	})
	_, login, _, rt := e.signIn("a@example.com")
	if c := setCookie(t, login, e.refreshCookieName()); c.MaxAge != int((2 * time.Hour).Seconds()) {
		t.Errorf("first cookie Max-Age = %d, want the idle timeout", c.MaxAge)
	}
	e.clock.Advance(time.Hour)
	_, rt = e.wantRefreshed(e.refreshWith(rt))
	e.clock.Advance(time.Hour + 59*time.Minute) // 2:59
	r := e.refreshWith(rt)
	var at string
	at, rt = e.wantRefreshed(r)
	if c := setCookie(t, r, e.refreshCookieName()); c.MaxAge != 60 {
		t.Errorf("cookie Max-Age at 2:59 = %d, want 60 (what is left)", c.MaxAge)
	}
	if got := r.json(t)["expires_in"]; got != float64(60) {
		t.Errorf("expires_in at 2:59 = %v, want 60: the access token ends with the session", got)
	}
	if c := tokenClaims(t, at); c["exp"].(float64)-c["iat"].(float64) != 60 {
		t.Errorf("access token lifetime at 2:59 = %v s, want 60", c["exp"].(float64)-c["iat"].(float64))
	}
	e.clock.Advance(time.Minute + time.Second) // 3:00:01
	e.wantRefreshRefused(e.refreshWith(rt))
}

// TestSec66BadRefreshTokens: anything but a live refresh token is 401
// invalid_grant, says nothing about the database, and rotates nothing.
func TestSec66BadRefreshTokens(t *testing.T) {
	e := newEnv(t)
	_, _, _, rt := e.signIn("a@example.com")
	other := newEnv(t)
	_, _, _, foreign := other.signIn("b@example.com")
	flipped := []byte(rt)
	flipped[10] ^= 1
	if flipped[10] == '_'^1 || flipped[10] == '-'^1 {
		flipped[10] = 'A'
	}
	for name, raw := range map[string]string{
		"tampered":          string(flipped),
		"random":            randomToken(),
		"truncated":         rt[:20],
		"empty":             "",
		"other deployment":  foreign,
		"SQL":               "'%20OR%201=1--",
		"100 KB":            strings.Repeat("A", 100<<10),
		"with a dot":        rt[:42] + ".",
		"an access token":   e.sign(e.header(), e.claims("x")),
		"hash of the token": hash(rt),
	} {
		t.Run(name, func(t *testing.T) {
			r := e.refreshWith(raw)
			e.wantRefreshRefused(r)
			if containsAny(string(r.body), "sql", "SQL", "sessions", "SQLSTATE") {
				t.Errorf("body mentions the database: %s", r.body)
			}
		})
	}
	if n := e.count("retired_refresh_tokens"); n != 0 {
		t.Fatalf("bad tokens rotated something: %d retired", n)
	}
	e.wantRefreshed(e.refreshWith(rt))
}

// TestSec67CSRFRefresh: a cross-site style refresh is refused before
// anything happens: the token still works afterwards. GET is 405.
func TestSec67CSRFRefresh(t *testing.T) {
	e := newEnv(t)
	_, _, _, rt := e.signIn("a@example.com")
	cookie := e.refreshCookieName() + "=" + rt
	for name, headers := range map[string][]string{
		"form, no header, evil origin": {"Cookie", cookie, "Content-Type", "application/x-www-form-urlencoded", "Origin", "https://evil.example"},
		"text, no header":              {"Cookie", cookie, "Content-Type", "text/plain"},
		"wrong header value":           {"Cookie", cookie, csrf, "XMLHttpRequest"},
		"header but evil origin":       {"Cookie", cookie, csrf, "gatehouse", "Origin", "https://evil.example"},
		"header but null origin":       {"Cookie", cookie, csrf, "gatehouse", "Origin", "null"},
	} {
		t.Run(name, func(t *testing.T) {
			r := e.request(e.ts.Client(), http.MethodPost, "/auth/refresh", "x=1", headers...)
			wantError(t, r, http.StatusForbidden, gatehouse.EAccessDenied)
			if len(r.header.Values("Set-Cookie")) != 0 {
				t.Errorf("a refused request set cookies: %v", r.header.Values("Set-Cookie"))
			}
		})
	}
	for _, path := range []string{"/auth/refresh", "/auth/logout"} {
		r := e.request(e.ts.Client(), http.MethodGet, path, nil, "Cookie", cookie, csrf, "gatehouse")
		wantError(t, r, http.StatusMethodNotAllowed, gatehouse.EMethodNotAllowed)
	}
	if n := e.count("retired_refresh_tokens"); n != 0 {
		t.Fatalf("a refused request rotated the token")
	}
	e.wantRefreshed(e.refreshWith(rt))
}

// TestSec68TokenConfusion: a refresh token is not an access token and the
// other way round.
func TestSec68TokenConfusion(t *testing.T) {
	e := newEnv(t)
	_, _, at, rt := e.signIn("a@example.com")
	wantInvalidToken(t, e.me(rt))
	e.wantRefreshRefused(e.refreshWith(at))
	e.wantRefreshed(e.refreshWith(rt))
}

// TestSec69Logout: logout ends the session and clears the cookie, and is
// idempotent; the session's access tokens stop working at once.
func TestSec69Logout(t *testing.T) {
	e := newEnv(t)
	b, _, at, rt := e.signIn("a@example.com")
	r := e.request(b, http.MethodPost, "/auth/logout", nil, csrf, "gatehouse")
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("logout = %d %s, want 204", r.status, r.body)
	}
	c := setCookie(t, r, e.refreshCookieName())
	if c == nil || c.MaxAge >= 0 || c.Value != "" || c.Path != "/" || !c.HttpOnly {
		t.Fatalf("logout cookie = %+v, want the same cookie expired", c)
	}
	e.wantRefreshRefused(e.refreshWith(rt))
	wantInvalidToken(t, e.me(at))
	if !strings.Contains(e.logs.String(), "event=logout") {
		t.Error("no logout audit line")
	}
	for name, r := range map[string]*response{
		"again":     e.logoutWith(rt, ""),
		"no cookie": e.request(e.ts.Client(), http.MethodPost, "/auth/logout", nil, csrf, "gatehouse"),
		"garbage":   e.logoutWith("garbage", ""),
	} {
		if r.status != http.StatusNoContent {
			t.Errorf("logout %s = %d %s, want 204", name, r.status, r.body)
		}
	}
	wantError(t, e.logoutWith(rt, "?scope=everything"), http.StatusBadRequest, gatehouse.EInvalidRequest)
}

// failingSessions is a store whose session updates fail while down is set,
// as if the database were unreachable.
type failingSessions struct {
	gatehouse.Store
	mu   sync.Mutex
	down bool
}

func (f *failingSessions) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *failingSessions) UpdateSessionByToken(ctx context.Context, th string, now time.Time,
	update func(*gatehouse.Session, *gatehouse.User, *time.Time) (*gatehouse.Session, error)) (*gatehouse.Session, *gatehouse.User, error) {
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	if down {
		return nil, nil, fmt.Errorf("%w: injected outage", gatehouse.ErrUnavailable)
	}
	return f.Store.UpdateSessionByToken(ctx, th, now, update)
}

// TestSec69LogoutFailsClosed: a logout the database cannot record answers
// 503, still clears the cookie, and the token is refused from then on; the
// revocation is recorded once the database is back.
func TestSec69LogoutFailsClosed(t *testing.T) {
	f := &failingSessions{}
	e := newEnv(t, func(o *envOptions) {
		o.wrapStore = func(s gatehouse.Store) gatehouse.Store { f.Store = s; return f }
	})
	_, _, at, rt := e.signIn("a@example.com")
	f.setDown(true)
	r := e.logoutWith(rt, "")
	wantError(t, r, http.StatusServiceUnavailable, gatehouse.EUnavailable)
	if c := setCookie(t, r, e.refreshCookieName()); c == nil || c.MaxAge >= 0 {
		t.Fatal("a failed logout did not clear the cookie")
	}
	f.setDown(false)
	e.wantRefreshRefused(e.refreshWith(rt))
	wantInvalidToken(t, e.me(at))
	if left := e.srv.sessions.Replay(context.Background()); left != 0 {
		t.Fatalf("%d logouts still wait after the database came back", left)
	}
	if got := e.query(`SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL`); got != "1" {
		t.Fatalf("revoked sessions = %s after the replay, want 1", got)
	}
	wantInvalidToken(t, e.me(at))
}

// TestSec70CrossSiteLogout: a cross-site logout is refused and ends
// nothing.
func TestSec70CrossSiteLogout(t *testing.T) {
	e := newEnv(t)
	_, _, at, rt := e.signIn("a@example.com")
	cookie := e.refreshCookieName() + "=" + rt
	for _, headers := range [][]string{
		{"Cookie", cookie, "Origin", "https://evil.example"},
		{"Cookie", cookie},
		{"Cookie", cookie, csrf, "gatehouse", "Origin", "https://evil.example"},
	} {
		r := e.request(e.ts.Client(), http.MethodPost, "/auth/logout", nil, headers...)
		wantError(t, r, http.StatusForbidden, gatehouse.EAccessDenied)
	}
	if r := e.me(at); r.status != http.StatusOK {
		t.Fatalf("/me after refused logouts = %d", r.status)
	}
	e.wantRefreshed(e.refreshWith(rt))
}

// TestSec71LogoutEverywhere: a global logout ends every session of the
// user, and no one else's.
func TestSec71LogoutEverywhere(t *testing.T) {
	e := newEnv(t)
	_, _, at1, rt1 := e.signIn("a@example.com")
	_, _, at2, rt2 := e.signIn("a@example.com")
	_, _, at3, rt3 := e.signIn("someone-else@example.com")
	if r := e.logoutWith(rt1, "?scope=global"); r.status != http.StatusNoContent {
		t.Fatalf("global logout = %d %s", r.status, r.body)
	}
	for _, rt := range []string{rt1, rt2} {
		e.wantRefreshRefused(e.refreshWith(rt))
	}
	for _, at := range []string{at1, at2} {
		wantInvalidToken(t, e.me(at))
	}
	if r := e.me(at3); r.status != http.StatusOK {
		t.Fatalf("another user's session ended too: /me = %d", r.status)
	}
	e.wantRefreshed(e.refreshWith(rt3))
	if !strings.Contains(e.logs.String(), "event=logout_global") {
		t.Error("no logout_global audit line")
	}
}

// TestSec56DisabledUser: disabling a user ends their access tokens at once
// (their refresh is session.TestRefreshRefusesWritingNothing and
// session.TestAuthenticate), and they cannot log in again until enabled.
func TestSec56DisabledUser(t *testing.T) {
	e := newEnv(t)
	_, login, at, _ := e.signIn("a@example.com")
	userID := login.json(t)["user"].(map[string]any)["id"].(string)
	h := e.srv.Require(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("the handler ran") }))
	if err := e.store.SetUserDisabled(context.Background(), userID, true, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	wantInvalidToken(t, e.me(at))
	wantInvalidToken(t, serveRecorded(h, at))
	b := e.newBrowser()
	q := e.devApprove(e.startLogin(b, "dev"), "allow", "A", "a@example.com")
	r := e.authorize(b, "dev", map[string]string{"code": q.Get("code"), "state": q.Get("state")})
	wantError(t, r, http.StatusForbidden, gatehouse.EAccessDenied)
	if setCookie(t, r, e.refreshCookieName()) != nil {
		t.Error("a refused login set a refresh cookie")
	}
	// A refused login writes nothing: the profile is the one from before
	// the account was disabled.
	if got := e.query(`SELECT name FROM users WHERE id = ?`, userID); got != "Session User" {
		t.Errorf("a refused login rewrote the profile: name = %q, want %q", got, "Session User")
	}
	if err := e.store.SetUserDisabled(context.Background(), userID, false, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.signIn("a@example.com")
}

// TestSec72Cookies: over https the refresh cookie is __Host-, Secure,
// HttpOnly, SameSite=Strict, Path=/, without Domain, and small.
func TestSec72Cookies(t *testing.T) {
	e := newEnv(t, func(o *envOptions) { o.tls = true })
	_, r, _, rt := e.signIn("a@example.com")
	c := setCookie(t, r, "__Host-gatehouse_refresh")
	if c == nil {
		t.Fatalf("no __Host- refresh cookie in %v", r.header.Values("Set-Cookie"))
	}
	if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" ||
		len(c.Name)+len(c.Value) >= 4096 || c.MaxAge <= 0 {
		t.Fatalf("refresh cookie = %+v", c)
	}
	e.wantRefreshed(e.refreshWith(rt))
	for _, line := range r.header.Values("Set-Cookie") {
		if !strings.Contains(line, "HttpOnly") {
			t.Errorf("cookie without HttpOnly: %s", line)
		}
	}
}

// TestSec73CORSForSessions: configured origins, and only they, may call the
// session endpoints with credentials.
func TestSec73CORSForSessions(t *testing.T) {
	const extra = "http://localhost:5173"
	e := newEnv(t, func(o *envOptions) {
		o.config = func(c *Config) { c.CORSOrigins = []string{extra} }
	})
	pre := e.request(e.ts.Client(), http.MethodOptions, "/auth/refresh", nil,
		"Origin", extra, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "x-requested-with")
	if pre.status != http.StatusNoContent || pre.header.Get("Access-Control-Allow-Origin") != extra ||
		pre.header.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(pre.header.Get("Access-Control-Allow-Headers"), "X-Requested-With") ||
		!strings.Contains(pre.header.Get("Access-Control-Allow-Methods"), "DELETE") {
		t.Fatalf("preflight from %s = %d %v", extra, pre.status, pre.header)
	}
	if !strings.Contains(strings.Join(pre.header.Values("Vary"), ","), "Origin") {
		t.Error("no Vary: Origin")
	}
	for _, o := range []string{"https://evil.example", "null", e.ts.URL + ".evil.example"} {
		r := e.request(e.ts.Client(), http.MethodOptions, "/auth/refresh", nil, "Origin", o, "Access-Control-Request-Method", "POST")
		if r.header.Get("Access-Control-Allow-Origin") != "" || r.header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight from %s allowed: %v", o, r.header)
		}
	}
	_, _, _, rt := e.signIn("a@example.com")
	// A preflight never has side effects, even with the refresh cookie:
	// no rotation, no logout, no cookie set.
	for _, path := range []string{"/auth/refresh", "/auth/logout", "/auth/logout?scope=global"} {
		for _, o := range []string{extra, "https://evil.example"} {
			r := e.request(e.ts.Client(), http.MethodOptions, path, nil, "Origin", o, "Access-Control-Request-Method", "POST",
				"Cookie", e.refreshCookieName()+"="+rt, csrf, "gatehouse")
			if len(r.header.Values("Set-Cookie")) != 0 {
				t.Errorf("preflight of %s from %s set a cookie: %v", path, o, r.header.Values("Set-Cookie"))
			}
		}
	}
	r := e.refreshWith(rt, "Origin", extra)
	e.wantRefreshed(r)
	if r.header.Get("Access-Control-Allow-Origin") != extra {
		t.Errorf("ACAO = %q", r.header.Get("Access-Control-Allow-Origin"))
	}
}

// TestSessionsList: the user sees their active sessions, the current one
// marked, and can end another; another user's session is not theirs to
// end.
func TestSessionsList(t *testing.T) {
	e := newEnv(t)
	_, _, at1, _ := e.signIn("a@example.com")
	_, _, at2, rt2 := e.signIn("a@example.com")
	_, _, at3, _ := e.signIn("b@example.com")
	list := e.get("/auth/sessions", "Authorization", "Bearer "+at1)
	if list.status != http.StatusOK {
		t.Fatalf("GET /auth/sessions = %d %s", list.status, list.body)
	}
	sessions := list.json(t)["sessions"].([]any)
	if len(sessions) != 2 {
		t.Fatalf("%d sessions listed, want 2: %s", len(sessions), list.body)
	}
	sid1, sid2 := tokenClaims(t, at1)["sid"], tokenClaims(t, at2)["sid"]
	for _, x := range sessions {
		s := x.(map[string]any)
		if s["current"] != (s["id"] == sid1) || s["ip"] != "127.0.0.1" || s["user_agent"] != "Go-http-client/1.1" {
			t.Errorf("session = %v", s)
		}
		for _, k := range []string{"created_at", "last_used_at", "expires_at"} {
			if _, ok := s[k].(string); !ok {
				t.Errorf("session lacks %s: %v", k, s)
			}
		}
	}
	wantError(t, e.request(e.ts.Client(), http.MethodDelete, fmt.Sprint("/auth/sessions/", sid2), nil, "Authorization", "Bearer "+at3),
		http.StatusNotFound, gatehouse.ENotFound)
	wantError(t, e.get("/auth/sessions"), http.StatusUnauthorized, gatehouse.EUnauthorized)
	del := e.request(e.ts.Client(), http.MethodDelete, fmt.Sprint("/auth/sessions/", sid2), nil, "Authorization", "Bearer "+at1)
	if del.status != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s", del.status, del.body)
	}
	wantInvalidToken(t, e.me(at2))
	e.wantRefreshRefused(e.refreshWith(rt2))
	if n := len(e.get("/auth/sessions", "Authorization", "Bearer "+at1).json(t)["sessions"].([]any)); n != 1 {
		t.Fatalf("%d sessions after ending one, want 1", n)
	}
}

// TestSec76TrustedProxies: forwarding headers are believed only from a
// trusted proxy, and then only X-Forwarded-For, read from the right. (The
// login goes through GitHub: the development login refuses a forwarded
// client that is not on this machine.)
func TestSec76TrustedProxies(t *testing.T) {
	spoof := []string{"X-Forwarded-For", "198.51.100.9", "X-Real-IP", "198.51.100.10", "Forwarded", "for=198.51.100.11",
		"X_Forwarded_For", "198.51.100.12"}
	ipOf := func(e *env) string {
		b := e.newBrowser()
		q := e.githubCallback(b)
		r := e.authorize(b, "github", map[string]string{"code": q.Get("code"), "state": q.Get("state")}, spoof...)
		if r.status != http.StatusOK {
			t.Fatalf("authorize = %d %s", r.status, r.body)
		}
		at := r.json(t)["access_token"].(string)
		sessions := e.get("/auth/sessions", "Authorization", "Bearer "+at).json(t)["sessions"].([]any)
		return sessions[0].(map[string]any)["ip"].(string)
	}
	if got := ipOf(newEnv(t, withGitHub)); got != "127.0.0.1" {
		t.Errorf("untrusted peer: session IP = %q, want the peer 127.0.0.1", got)
	}
	trusted := newEnv(t, withGitHub, func(o *envOptions) {
		o.config = func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} }
	})
	if got := ipOf(trusted); got != "198.51.100.9" {
		t.Errorf("trusted proxy: session IP = %q, want X-Forwarded-For's 198.51.100.9", got)
	}
	if !strings.Contains(trusted.logs.String(), "ip=198.51.100.9") {
		t.Error("the audit line does not use the forwarded address")
	}
}

// TestReservedProviderNames: a provider cannot take a name the API uses.
func TestReservedProviderNames(t *testing.T) {
	store, _, _ := testStore(t, nil)
	for _, name := range []string{"refresh", "logout", "sessions", "providers"} {
		_, err := New(context.Background(), Config{PublicURL: "http://localhost:8080", Store: store,
			Providers: []Provider{{Name: name, Provider: nopProvider{}}}})
		if err == nil {
			t.Errorf("a provider named %q was accepted", name)
		}
	}
}

// TestLoginReplacesBrowserSession: signing in again in the same browser ends
// the session whose cookie the new one overwrites.
func TestLoginReplacesBrowserSession(t *testing.T) {
	e := newEnv(t)
	b, _, at1, rt1 := e.signIn("a@example.com")
	q := e.devApprove(e.startLogin(b, "dev"), "allow", "A", "a@example.com")
	r := e.authorize(b, "dev", map[string]string{"code": q.Get("code"), "state": q.Get("state")})
	if r.status != http.StatusOK {
		t.Fatalf("second login = %d %s", r.status, r.body)
	}
	at2 := r.json(t)["access_token"].(string)
	e.wantRefreshRefused(e.refreshWith(rt1))
	wantInvalidToken(t, e.me(at1))
	if n := len(e.get("/auth/sessions", "Authorization", "Bearer "+at2).json(t)["sessions"].([]any)); n != 1 {
		t.Fatalf("%d sessions listed after signing in twice in one browser, want 1", n)
	}
}

// TestRefreshWithoutCookie: a refresh with no refresh cookie at all is
// signed out, not an error: 200 with a null access token, and no cookie
// set. Everything else is as before: the header is still required, and a
// cookie that is there but not a live token is still refused and cleared.
func TestRefreshWithoutCookie(t *testing.T) {
	e := newEnv(t)
	r := e.request(e.ts.Client(), http.MethodPost, "/auth/refresh", nil, csrf, "gatehouse")
	if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != `{"access_token":null}` {
		t.Fatalf("got %d %s, want 200 {\"access_token\":null}", r.status, r.body)
	}
	if got := r.header.Values("Set-Cookie"); len(got) != 0 {
		t.Errorf("got Set-Cookie %v, want none", got)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("got Cache-Control %q, want no-store", got)
	}

	r = e.request(e.ts.Client(), http.MethodPost, "/auth/refresh", nil)
	wantError(t, r, http.StatusForbidden, gatehouse.EAccessDenied)

	e.wantRefreshRefused(e.refreshWith(""))
	r = e.request(e.ts.Client(), http.MethodPost, "/auth/refresh", nil, csrf, "gatehouse",
		"Cookie", strings.Replace(e.refreshCookieName(), "refresh", "refresh_previous", 1)+"="+randomToken())
	wantError(t, r, http.StatusUnauthorized, gatehouse.EInvalidGrant)
}
