package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// These tests check, once per kind of case, the HTTP answers of the rules
// that keep an attacker, a flood or a flaky database from hurting users:
// the development login only from this machine, rate limits and caps,
// refreshes and logouts during database outages. The rules themselves are
// tested in packages session, ratelimit, cleanup and devlogin.

// inProcess serves one request straight into the server, from a client at
// remoteAddr: tests send network traffic only to loopback, so a request
// "from the network" never leaves the process.
func (e *env) inProcess(method, target, remoteAddr string, body string, headers ...string) *response {
	e.t.Helper()
	var req *http.Request
	if body == "" {
		req = httptest.NewRequest(method, target, nil)
	} else {
		req = httptest.NewRequest(method, target, strings.NewReader(body))
	}
	req.RemoteAddr = remoteAddr
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	if err := checkAPI(req, []byte(body), rec.Code, rec.Result().Header, rec.Body.Bytes()); err != nil {
		e.t.Errorf("%s %s: the answer does not match openapi.json: %v", method, target, err)
	}
	return &response{status: rec.Code, header: rec.Result().Header, body: rec.Body.Bytes()}
}

// TestDevLoginOnlyFromThisMachine: a login through the development
// provider, started or finished, is refused for a client that is not on
// this machine, directly or through a trusted proxy; other providers are
// not affected.
func TestDevLoginOnlyFromThisMachine(t *testing.T) {
	e := newEnv(t, withGitHub, func(o *envOptions) {
		o.config = func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} }
	})
	body := `{"code":"c","state":"` + randomToken() + `"}`
	for _, tc := range []struct {
		name    string
		remote  string
		headers []string
	}{
		{"a network peer", "192.0.2.1:4000", nil},
		{"a network peer claiming loopback", "192.0.2.1:4000", []string{"X-Forwarded-For", "127.0.0.1"}},
		{"through a trusted proxy", "10.1.2.3:4000", []string{"X-Forwarded-For", "192.0.2.1"}},
		{"IPv6 peer", "[2001:db8::1]:4000", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.inProcess(http.MethodGet, "/auth/dev/login", tc.remote, "", tc.headers...)
			wantError(t, r, http.StatusForbidden, gatehouse.EAccessDenied)
			if c := r.header.Get("Set-Cookie"); c != "" {
				t.Errorf("a refused login set a cookie: %s", c)
			}
			r = e.inProcess(http.MethodPost, "/auth/dev/authorize", tc.remote, body,
				append([]string{"Content-Type", "application/json", "Cookie", "gatehouse_login=" + randomToken()}, tc.headers...)...)
			wantError(t, r, http.StatusForbidden, gatehouse.EAccessDenied)
		})
	}
	if n := e.count("login_states"); n != 0 {
		t.Fatalf("login_states = %d after refused logins, want 0", n)
	}
	if n := e.exchanges["dev"].Load(); n != 0 {
		t.Fatalf("%d code exchanges with the dev provider, want 0", n)
	}
	// From this machine, and through a trusted proxy forwarding a loopback
	// client, the login starts; GitHub works from anywhere.
	if r := e.inProcess(http.MethodGet, "/auth/dev/login", "127.0.0.1:4000", ""); r.status != http.StatusOK {
		t.Fatalf("loopback client: %d %s", r.status, r.body)
	}
	if r := e.inProcess(http.MethodGet, "/auth/dev/login", "10.1.2.3:4000", "", "X-Forwarded-For", "::1"); r.status != http.StatusOK {
		t.Fatalf("trusted proxy, loopback client: %d %s", r.status, r.body)
	}
	if r := e.inProcess(http.MethodGet, "/auth/github/login", "192.0.2.1:4000", ""); r.status != http.StatusOK {
		t.Fatalf("GitHub from a network client: %d %s", r.status, r.body)
	}
}

// unlimited turns every limit off but the ones set.
func unlimited(set func(l *Limits)) func(*envOptions) {
	return func(o *envOptions) {
		prev := o.config
		o.config = func(c *Config) {
			if prev != nil {
				prev(c)
			}
			off := ratelimit.Unlimited
			c.Limits = Limits{Login: off, Authorize: off, Refresh: off, Logout: off, RefreshPerSession: off, PendingLoginsPerClient: -1}
			set(&c.Limits)
		}
	}
}

// wantLimited checks a 429 with Retry-After and the JSON error.
func wantLimited(t *testing.T, r *response) {
	t.Helper()
	wantError(t, r, http.StatusTooManyRequests, gatehouse.ERateLimited)
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("Retry-After = %q, want whole seconds", r.header.Get("Retry-After"))
	}
}

// TestRateLimitsPerAddress: each limited endpoint answers 429 with
// Retry-After past its limit, for that client address only, and again
// after the wait; a spoofed X-Forwarded-For from an untrusted peer does not
// change the bucket.
func TestRateLimitsPerAddress(t *testing.T) {
	three := ratelimit.Rate{N: 3, Per: time.Minute}
	tests := []struct {
		name   string
		limit  func(l *Limits)
		method string
		path   string
		body   string
		hdr    []string
	}{
		{"login", func(l *Limits) { l.Login = three }, http.MethodGet, "/auth/dev/login", "", nil},
		{"authorize", func(l *Limits) { l.Authorize = three }, http.MethodPost, "/auth/dev/authorize",
			`{"code":"c","state":"` + randomToken() + `"}`, []string{"Content-Type", "application/json"}},
		{"refresh", func(l *Limits) { l.Refresh = three }, http.MethodPost, "/auth/refresh", "", []string{csrf, "gatehouse"}},
		{"logout", func(l *Limits) { l.Logout = three }, http.MethodPost, "/auth/logout", "", []string{csrf, "gatehouse"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, unlimited(tc.limit))
			send := func(remote string, extra ...string) *response {
				return e.inProcess(tc.method, tc.path, remote, tc.body, append(append([]string{}, tc.hdr...), extra...)...)
			}
			for i := range 3 {
				if r := send("127.0.0.1:1", "X-Forwarded-For", fmt.Sprint("198.51.100.", i)); r.status == http.StatusTooManyRequests {
					t.Fatalf("request %d within the limit: 429", i+1)
				}
			}
			wantLimited(t, send("127.0.0.1:1", "X-Forwarded-For", "198.51.100.99"))
			if r := send("127.0.0.2:1"); r.status == http.StatusTooManyRequests {
				t.Fatal("another address was limited")
			}
			e.clock.Advance(20 * time.Second)
			if r := send("127.0.0.1:1"); r.status == http.StatusTooManyRequests {
				t.Fatal("still limited after the wait")
			}
		})
	}
	t.Run("authorize past the limit calls no provider", func(t *testing.T) {
		e := newEnv(t, unlimited(func(l *Limits) { l.Authorize = ratelimit.Rate{N: 1, Per: time.Minute} }))
		b := e.newBrowser()
		q := e.devApprove(e.startLogin(b, "dev"), "allow", "A", "a@example.com")
		first := e.authorize(b, "dev", map[string]string{"code": "wrong", "state": randomToken()})
		if first.status == http.StatusTooManyRequests {
			t.Fatal("first authorize limited")
		}
		wantLimited(t, e.authorize(b, "dev", map[string]string{"code": q.Get("code"), "state": q.Get("state")}))
		if n := e.exchanges["dev"].Load(); n != 0 {
			t.Fatalf("%d exchanges, want 0", n)
		}
	})
}

// TestRateLimitBehindTrustedProxy: behind a trusted proxy each forwarded
// client has its own bucket.
func TestRateLimitBehindTrustedProxy(t *testing.T) {
	e := newEnv(t, func(o *envOptions) {
		o.config = func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} }
	}, unlimited(func(l *Limits) { l.Refresh = ratelimit.Rate{N: 1, Per: time.Minute} }))
	refresh := func(client string) *response {
		return e.inProcess(http.MethodPost, "/auth/refresh", "10.0.0.1:1", "", csrf, "gatehouse", "X-Forwarded-For", client)
	}
	refresh("198.51.100.1")
	wantLimited(t, refresh("198.51.100.1"))
	if r := refresh("198.51.100.2"); r.status == http.StatusTooManyRequests {
		t.Fatal("a second client behind the proxy shared the first one's bucket")
	}
	// An IPv6 client is limited by its /64.
	refresh("2001:db8:1:2::1")
	wantLimited(t, refresh("2001:db8:1:2::ffff"))
}

// TestRefreshRateLimitPerSession: one session rotated too often gets 429,
// and its cookie is left as it is. (The rule, and the refresh after the
// wait, are session.TestRefreshPerSessionLimit.)
func TestRefreshRateLimitPerSession(t *testing.T) {
	e := newEnv(t, unlimited(func(l *Limits) { l.RefreshPerSession = ratelimit.Rate{N: 2, Per: time.Minute} }))
	_, _, _, rt := e.signIn("a@example.com")
	for range 2 {
		_, rt = e.wantRefreshed(e.refreshWith(rt))
	}
	r := e.refreshWith(rt)
	wantLimited(t, r)
	if c := setCookie(t, r, e.refreshCookieName()); c != nil {
		t.Fatalf("a limited refresh touched the cookie: %v", c)
	}
}

// TestPendingLoginCaps: past the cap on logins in progress from one
// address the answer is 429 with Retry-After, and nothing is stored; a
// browser starting a new login replaces its own earlier one (its login
// cookie is the previous binding). The rules (other addresses, expiry) are
// tested in package login (TestStartPendingCap,
// TestStartReplacesBrowsersLogin).
func TestPendingLoginCaps(t *testing.T) {
	e := newEnv(t, unlimited(func(l *Limits) { l.PendingLoginsPerClient = 3 }))
	for range 3 {
		if r := e.inProcess(http.MethodGet, "/auth/dev/login", "127.0.0.1:1", ""); r.status != http.StatusOK {
			t.Fatalf("login = %d %s", r.status, r.body)
		}
	}
	r := e.inProcess(http.MethodGet, "/auth/dev/login", "127.0.0.1:1", "")
	wantLimited(t, r)
	if c := r.header.Get("Set-Cookie"); c != "" {
		t.Fatalf("a refused login set a cookie: %s", c)
	}
	if n := e.count("login_states"); n != 3 {
		t.Fatalf("login_states = %d, want 3", n)
	}

	// One browser, many clicks: one login in progress.
	e2 := newEnv(t)
	b := e2.newBrowser()
	for range 5 {
		e2.startLogin(b, "dev")
	}
	if n := e2.count("login_states"); n != 1 {
		t.Fatalf("login_states = %d after five logins in one browser, want 1", n)
	}
	e2.loginDev(b, "a@example.com")
}

// lostAnswers is a store whose next session update commits and then
// reports the database unavailable, as when the connection drops before
// the commit's answer arrives; while readsDown is set, reads outside a
// transaction fail.
type lostAnswers struct {
	gatehouse.Store
	mu        sync.Mutex
	lose      bool
	readsDown bool
}

func (l *lostAnswers) UpdateSessionByToken(ctx context.Context, th string, now time.Time,
	update func(*gatehouse.Session, *gatehouse.User, *time.Time) (*gatehouse.Session, error)) (*gatehouse.Session, *gatehouse.User, error) {
	l.mu.Lock()
	lose := l.lose
	l.lose = false
	l.mu.Unlock()
	s, u, err := l.Store.UpdateSessionByToken(ctx, th, now, update)
	if err == nil && lose {
		return nil, nil, fmt.Errorf("%w: the connection dropped before the commit answered", gatehouse.ErrUnavailable)
	}
	return s, u, err
}

func (l *lostAnswers) User(ctx context.Context, id string) (*gatehouse.User, error) {
	l.mu.Lock()
	down := l.readsDown
	l.mu.Unlock()
	if down {
		return nil, fmt.Errorf("%w: injected", gatehouse.ErrUnavailable)
	}
	return l.Store.User(ctx, id)
}

// TestRefreshDuringOutage: a refresh whose rotation committed but whose
// answer failed gives the browser both tokens; its retry long after the
// grace window succeeds and does not end the session. A refresh needs no
// read outside its own transaction.
func TestRefreshDuringOutage(t *testing.T) {
	l := &lostAnswers{}
	e := newEnv(t, func(o *envOptions) {
		o.wrapStore = func(s gatehouse.Store) gatehouse.Store { l.Store = s; return l }
	})
	b, _, at, _ := e.signIn("a@example.com")
	sid := tokenClaims(t, at)["sid"].(string)
	refresh := func() *response {
		return e.request(b, http.MethodPost, "/auth/refresh", nil, csrf, "gatehouse")
	}

	l.mu.Lock()
	l.lose, l.readsDown = true, true
	l.mu.Unlock()
	r := refresh()
	wantError(t, r, http.StatusServiceUnavailable, gatehouse.EUnavailable)
	if r.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	if c := setCookie(t, r, e.refreshCookieName()); c == nil || c.MaxAge <= 0 {
		t.Fatal("the 503 did not hand the browser the new token")
	}
	if c := setCookie(t, r, e.refreshCookieName()+"_previous"); c == nil || c.MaxAge <= 0 || !c.HttpOnly {
		t.Fatal("the 503 did not keep the old token as a fallback")
	}

	// The browser retries after the outage, long past the grace window;
	// reads outside the refresh's transaction still fail.
	e.clock.Advance(3 * time.Minute)
	r = refresh()
	if r.status != http.StatusOK {
		t.Fatalf("the retry = %d %s, want 200", r.status, r.body)
	}
	if c := setCookie(t, r, e.refreshCookieName()+"_previous"); c == nil || c.MaxAge >= 0 {
		t.Fatal("a successful refresh did not clear the fallback cookie")
	}
	if got := e.query(`SELECT count(*) FROM sessions WHERE id = ? AND revoked_at IS NULL`, sid); got != "1" {
		t.Fatal("the retry ended the session as reuse")
	}
	e.wantRefreshed(refresh())
}

// TestLogoutDuringOutageSurvivesRestart: a logout the database cannot
// record answers 503 and clears the cookie; the node refuses the session's
// access token and refresh token at once, keeps refusing them after a
// restart, and records the logout when the database is back.
func TestLogoutDuringOutageSurvivesRestart(t *testing.T) {
	f := &failingSessions{}
	pending := filepath.Join(t.TempDir(), "pending-logouts")
	e := newEnv(t, func(o *envOptions) {
		o.wrapStore = func(s gatehouse.Store) gatehouse.Store { f.Store = s; return f }
		o.config = func(c *Config) { c.PendingLogoutsFile = pending }
	})
	_, _, at, rt := e.signIn("a@example.com")
	f.setDown(true)
	r := e.logoutWith(rt, "")
	wantError(t, r, http.StatusServiceUnavailable, gatehouse.EUnavailable)
	if c := setCookie(t, r, e.refreshCookieName()); c == nil || c.MaxAge >= 0 {
		t.Fatal("the 503 did not clear the cookie")
	}
	// Reads still work (a lock, a full disk): the node refuses anyway.
	wantInvalidToken(t, e.me(at))
	if logs := e.logs.String(); !strings.Contains(logs, "reason=temporarily_unavailable") || !strings.Contains(logs, "queued=true") {
		t.Fatalf("the audit line does not say the logout was queued during an outage:\n%s", logs)
	}

	// The node restarts; the database is still down for writes.
	e.srv.Close()
	restarted, err := New(context.Background(), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.Close()
	e.srv = restarted
	wantInvalidToken(t, e.inProcess(http.MethodGet, "/me", "127.0.0.1:1", "", "Authorization", "Bearer "+at))
	r = e.inProcess(http.MethodPost, "/auth/refresh", "127.0.0.1:1", "", csrf, "gatehouse", "Cookie", e.refreshCookieName()+"="+rt)
	wantError(t, r, http.StatusUnauthorized, gatehouse.EInvalidGrant)

	f.setDown(false)
	if left := restarted.sessions.Replay(context.Background()); left != 0 {
		t.Fatalf("%d logouts wait after the database came back", left)
	}
	if got := e.query(`SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL`); got != "1" {
		t.Fatalf("revoked sessions = %s, want 1", got)
	}
}

// TestDeadTokenGlobalLogout: a logout, even a global one, with a retired
// refresh token answers 204 like any logout, and the audit line names
// reuse, not a server error. (That it ends its own session and nothing
// else is session.TestEndDeadTokenDoesNothing.)
func TestDeadTokenGlobalLogout(t *testing.T) {
	e := newEnv(t)
	_, _, _, rt1 := e.signIn("a@example.com")
	e.wantRefreshed(e.refreshWith(rt1))
	e.clock.Advance(DefaultRefreshGrace + time.Second)
	if r := e.logoutWith(rt1, "?scope=global"); r.status != http.StatusNoContent {
		t.Fatalf("logout = %d %s", r.status, r.body)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "event=refresh_reuse") || !strings.Contains(logs, "reason=refresh_token_reused") {
		t.Fatalf("no reuse audit line:\n%s", logs)
	}
	if strings.Contains(logs, "reason=server_error") {
		t.Fatalf("a reuse was logged as a server error:\n%s", logs)
	}
}

// TestRefreshDuringTableLock (PostgreSQL): with the users table locked past
// the store's lock timeout, a refresh answers 503 without having rotated
// anything, and the browser's retry after the lock, long past the grace
// window, succeeds. (Before the refresh read the user in its own
// transaction, the rotation committed and only the answer failed, and the
// retry ended the session as reuse.)
func TestRefreshDuringTableLock(t *testing.T) {
	if backend != "postgres" {
		t.Skip("a table lock held by another connection is a PostgreSQL fault; SQLite's is in TestRefreshDuringOutage")
	}
	e := newEnv(t, func(o *envOptions) { o.pgLockTimeout = "300ms" })
	b, _, at, _ := e.signIn("a@example.com")
	sid := tokenClaims(t, at)["sid"].(string)
	refresh := func() *response { return e.request(b, http.MethodPost, "/auth/refresh", nil, csrf, "gatehouse") }

	tx, err := e.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`LOCK TABLE users IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	wantError(t, refresh(), http.StatusServiceUnavailable, gatehouse.EUnavailable)
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute)
	e.wantRefreshed(refresh())
	if got := e.query(`SELECT count(*) FROM sessions WHERE id = ? AND revoked_at IS NULL`, sid); got != "1" {
		t.Fatal("the retry after the lock ended the session")
	}
}

// TestLogoutDuringRealOutage (PostgreSQL): with the connection to the
// database cut, a logout answers 503 and the node refuses the session at
// once. The node restarts once the database is back (it cannot start
// without it): it still refuses the session from its pending file, before
// the replay, which then records the logout.
func TestLogoutDuringRealOutage(t *testing.T) {
	if backend != "postgres" {
		t.Skip("the TCP relay stands in front of PostgreSQL; SQLite's outage is in TestLogoutDuringOutageSurvivesRestart")
	}
	pending := filepath.Join(t.TempDir(), "pending-logouts")
	e := newEnv(t, func(o *envOptions) {
		o.proxy = true
		o.config = func(c *Config) { c.PendingLogoutsFile = pending }
	})
	_, _, at, rt := e.signIn("a@example.com")
	e.proxy.Down()
	wantError(t, e.logoutWith(rt, ""), http.StatusServiceUnavailable, gatehouse.EUnavailable)
	wantInvalidToken(t, e.me(at))
	e.srv.Close()

	e.proxy.Up()
	restarted, err := New(context.Background(), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.Close()
	e.srv = restarted
	if got := e.query(`SELECT count(*) FROM sessions WHERE revoked_at IS NULL`); got != "1" {
		t.Fatalf("live sessions before the replay = %s, want 1 (the logout has not landed yet)", got)
	}
	wantInvalidToken(t, e.inProcess(http.MethodGet, "/me", "127.0.0.1:1", "", "Authorization", "Bearer "+at))
	if left := restarted.sessions.Replay(context.Background()); left != 0 {
		t.Fatalf("%d logouts wait after the database came back", left)
	}
	if got := e.query(`SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL`); got != "1" {
		t.Fatalf("revoked sessions = %s, want 1", got)
	}
}
