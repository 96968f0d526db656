package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// TestAuditLog: the HTTP layer's events reach the audit table with the
// client's address and User-Agent (a login with its session, a failed
// login with its code, a session the user ended), and after a full
// login, refresh and logout no column of the table holds a token, code,
// state or browser binding.
func TestAuditLog(t *testing.T) {
	e := newEnv(t)
	b := e.newBrowser()
	q := e.devApprove(e.startLogin(b, "dev"), "allow", "Audit User", "audit@example.com")
	u, _ := url.Parse(e.ts.URL)
	secrets := []string{q.Get("code"), q.Get("state")}
	for _, c := range b.Jar.Cookies(u) {
		secrets = append(secrets, c.Value)
	}
	r := e.authorize(b, "dev", map[string]string{"code": q.Get("code"), "state": q.Get("state")})
	if r.status != http.StatusOK {
		t.Fatalf("authorize = %d %s", r.status, r.body)
	}
	at1 := r.json(t)["access_token"].(string)
	rt1 := setCookie(t, r, e.refreshCookieName()).Value
	sid1 := tokenClaims(t, at1)["sid"].(string)
	// The same code and state again: refused, and recorded.
	e.clock.Advance(time.Second)
	if r := e.authorize(b, "dev", map[string]string{"code": q.Get("code"), "state": q.Get("state")}); r.status == http.StatusOK {
		t.Fatal("a used state signed in again")
	}
	e.clock.Advance(time.Second)
	at2, rt2 := e.wantRefreshed(e.refreshWith(rt1))
	e.clock.Advance(time.Second)
	_, _, at3, rt3 := e.signIn("audit@example.com")
	sid3 := tokenClaims(t, at3)["sid"].(string)
	e.clock.Advance(time.Second)
	if del := e.request(e.ts.Client(), http.MethodDelete, "/auth/sessions/"+sid3, nil, "Authorization", "Bearer "+at2); del.status != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s", del.status, del.body)
	}
	e.clock.Advance(time.Second)
	if r := e.logoutWith(rt2, ""); r.status != http.StatusNoContent {
		t.Fatalf("logout = %d %s", r.status, r.body)
	}
	secrets = append(secrets, at1, rt1, at2, rt2, at3, rt3)

	p, err := e.store.AuditEvents(context.Background(), gatehouse.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(p.Events) - 1; i >= 0; i-- {
		ev := p.Events[i]
		got = append(got, fmt.Sprintf("%s %s %s", ev.Type, ev.Detail["code"], ev.Detail["new_user"]))
		if ev.IP != "127.0.0.1" || ev.UserAgent != "Go-http-client/1.1" || ev.UserID == "" && ev.Type != gatehouse.AuditLoginFailed {
			t.Errorf("event %+v: want the client and the user", ev)
		}
		wantSession := map[string]string{"login true": sid1, "login false": sid3, "session_ended": sid3, "logout": sid1}[strings.TrimSpace(ev.Type+" "+ev.Detail["new_user"])]
		if ev.SessionID != wantSession {
			t.Errorf("%s in session %q, want %q", ev.Type, ev.SessionID, wantSession)
		}
	}
	want := []string{"login  true", "login_failed invalid_state ", "login  false", "session_ended  ", "logout  "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("events %q, want %q", got, want)
	}
	// Every column of every row, as text.
	rows, err := e.db.Query(`SELECT * FROM audit_events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			s := fmt.Sprint(v)
			if b, ok := v.([]byte); ok {
				s = string(b)
			}
			for _, secret := range secrets {
				if len(secret) >= 8 && strings.Contains(s, secret) {
					t.Errorf("column %s holds a secret: %q", cols[i], s)
				}
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestFailedLoginAuditBounded: anyone can fail a login, so a node stores at
// most FailedLoginAuditRate of them; the rest are only logged.
func TestFailedLoginAuditBounded(t *testing.T) {
	e := newEnv(t, func(o *envOptions) {
		o.config = func(c *Config) { c.Limits.Authorize = ratelimit.Unlimited }
	})
	n := FailedLoginAuditRate.N + 10
	for range n {
		if r := e.authorize(e.browser, "dev", map[string]string{"code": "x", "state": "y"}); r.status != http.StatusBadRequest {
			t.Fatalf("authorize = %d %s", r.status, r.body)
		}
	}
	p, err := e.store.AuditEvents(context.Background(), gatehouse.AuditFilter{Type: gatehouse.AuditLoginFailed, Limit: gatehouse.MaxAuditLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != FailedLoginAuditRate.N {
		t.Fatalf("%d failed logins stored out of %d, want %d", len(p.Events), n, FailedLoginAuditRate.N)
	}
	if got := strings.Count(e.logs.String(), "reason=invalid_state"); got < n {
		t.Errorf("%d failed logins logged, want all %d", got, n)
	}
}
