package server

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// recorder is a Recorder that lists what it was told.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
}

func (r *recorder) Login(provider, outcome string) { r.add("login %s %s", provider, outcome) }
func (r *recorder) Refresh(outcome string)         { r.add("refresh %s", outcome) }
func (r *recorder) RefreshReuse()                  { r.add("reuse") }
func (r *recorder) Logout(global bool)             { r.add("logout global=%v", global) }
func (r *recorder) SessionRevoked()                { r.add("revoked") }

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

// TestMetricsRecorded checks what each kind of request counts, once per
// outcome the handlers tell apart; the rules behind the outcomes are
// tested in packages login and session.
func TestMetricsRecorded(t *testing.T) {
	rec := &recorder{}
	e := newEnv(t, func(o *envOptions) { o.config = func(c *Config) { c.Metrics = rec } })
	want := func(step string, events ...string) {
		t.Helper()
		if got := rec.take(); !slices.Equal(got, events) {
			t.Errorf("%s recorded %q, want %q", step, got, events)
		}
	}

	_, _, at, rt1 := e.signIn("a@example.com")
	want("sign-in", "login dev success")
	_, rt2 := e.wantRefreshed(e.refreshWith(rt1))
	want("refresh", "refresh success")
	if r := e.request(e.ts.Client(), http.MethodPost, "/auth/refresh", nil, csrf, "gatehouse"); r.status != http.StatusOK {
		t.Fatalf("signed-out refresh = %d %s", r.status, r.body)
	}
	want("signed-out refresh", "refresh signed_out")
	e.clock.Advance(DefaultRefreshGrace + time.Second)
	e.wantRefreshRefused(e.refreshWith(rt1))
	want("reuse", "refresh refresh_token_reused", "reuse")
	e.wantRefreshRefused(e.refreshWith(rt2))
	want("refresh of the ended session", "refresh refresh_refused")

	r := e.authorize(e.newBrowser(), "dev", map[string]string{"code": "c", "state": "s"})
	want("login with no login started", "login dev "+errorCodeOf(t, r))

	_, _, at, rt := e.signIn("b@example.com")
	_, _, _, _ = e.signIn("b@example.com")
	rec.take()
	list := e.request(e.ts.Client(), http.MethodGet, "/auth/sessions", nil, "Authorization", "Bearer "+at).json(t)["sessions"].([]any)
	var other string
	for _, x := range list {
		if m := x.(map[string]any); m["current"] != true {
			other = m["id"].(string)
		}
	}
	if r := e.request(e.ts.Client(), http.MethodDelete, "/auth/sessions/"+other, nil, "Authorization", "Bearer "+at); r.status != http.StatusNoContent {
		t.Fatalf("DELETE session = %d %s", r.status, r.body)
	}
	want("DELETE session", "revoked")
	if r := e.logoutWith(rt, "?scope=global"); r.status != http.StatusNoContent {
		t.Fatalf("logout = %d %s", r.status, r.body)
	}
	want("global logout", "logout global=true")
	if r := e.logoutWith(rt, ""); r.status != http.StatusNoContent {
		t.Fatalf("second logout = %d %s", r.status, r.body)
	}
	want("logout of a revoked session, audited as a logout too", "logout global=false")
}

// errorCodeOf returns the server's log-side code for the error answer r:
// the public "error" of its body, which for these cases is the same.
func errorCodeOf(t *testing.T, r *response) string {
	t.Helper()
	code, _ := r.json(t)["error"].(string)
	return code
}
