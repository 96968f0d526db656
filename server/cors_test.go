package server

import (
	"net/http"
	"testing"
)

const appOrigin = "http://localhost:5173"

func withApp(o *envOptions) { o.appURL = appOrigin }

// TestCORSAllowsTheAppOrigin: the SPA's origin gets its exact origin echoed
// with credentials; nothing else does.
func TestCORSAllowsTheAppOrigin(t *testing.T) {
	e := newEnv(t, withApp)
	r := e.request(e.browser, http.MethodOptions, "/auth/dev/authorize", nil,
		"Origin", appOrigin, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")
	if r.status != http.StatusNoContent {
		t.Fatalf("preflight status = %d %s", r.status, r.body)
	}
	if got := r.header.Get("Access-Control-Allow-Origin"); got != appOrigin {
		t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, appOrigin)
	}
	if got := r.header.Get("Access-Control-Allow-Credentials"); got != "true" {
		t.Errorf("Access-Control-Allow-Credentials = %q, want true", got)
	}
	if got := r.header.Values("Vary"); len(got) == 0 || got[0] != "Origin" {
		t.Errorf("Vary = %q, want Origin", got)
	}
	get := e.get("/auth/providers", "Origin", appOrigin)
	if get.header.Get("Access-Control-Allow-Origin") != appOrigin {
		t.Errorf("GET from the app origin lacks CORS headers: %v", get.header)
	}
}

func TestCORSRefusesOtherOrigins(t *testing.T) {
	e := newEnv(t, withApp)
	for _, origin := range []string{"https://evil.example", "null", appOrigin + ".evil.example", "http://localhost:5174", "*"} {
		t.Run(origin, func(t *testing.T) {
			pre := e.request(e.browser, http.MethodOptions, "/auth/dev/authorize", nil,
				"Origin", origin, "Access-Control-Request-Method", "POST")
			if acao := pre.header.Get("Access-Control-Allow-Origin"); acao != "" {
				t.Errorf("preflight Access-Control-Allow-Origin = %q", acao)
			}
			if pre.status < 400 {
				t.Errorf("preflight status = %d, want a refusal", pre.status)
			}
			get := e.get("/auth/providers", "Origin", origin)
			if acao := get.header.Get("Access-Control-Allow-Origin"); acao != "" {
				t.Errorf("GET Access-Control-Allow-Origin = %q", acao)
			}
			if get.header.Get("Access-Control-Allow-Credentials") != "" {
				t.Error("credentials allowed for a foreign origin")
			}
		})
	}
}

// TestCrossSiteAuthorizeRefused: a POST from a page on another origin is
// refused before the body is read or the provider is called.
func TestCrossSiteAuthorizeRefused(t *testing.T) {
	e := newEnv(t, withApp)
	authURL := e.startLogin(e.browser, "dev")
	q := authURL.Query()
	r := e.authorize(e.browser, "dev", map[string]string{"code": "x", "state": q.Get("state")}, "Origin", "https://evil.example")
	wantError(t, r, http.StatusForbidden, "access_denied")
	if n := e.exchanges["dev"].Load(); n != 0 {
		t.Errorf("provider exchanges = %d, want 0", n)
	}
	if n := e.count("login_states"); n != 1 {
		t.Errorf("login_states = %d, want 1 (untouched)", n)
	}
}

// TestLoginFromTheAppOrigin: the whole flow with the SPA on another origin
// of the same site, as the browser would send it.
func TestLoginFromTheAppOrigin(t *testing.T) {
	e := newEnv(t, withApp)
	authURL := e.startLogin(e.browser, "dev")
	if got, want := authURL.Query().Get("redirect_uri"), appOrigin+"/auth/dev"; got != want {
		t.Fatalf("redirect_uri = %q, want %q", got, want)
	}
	q := e.devApprove(authURL, "allow", "A", "a@example.com")
	r := e.authorize(e.browser, "dev", map[string]string{"code": q.Get("code"), "state": q.Get("state")}, "Origin", appOrigin)
	if r.status != http.StatusOK {
		t.Fatalf("authorize = %d %s", r.status, r.body)
	}
	if got := r.header.Get("Access-Control-Allow-Origin"); got != appOrigin {
		t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, appOrigin)
	}
	// The default audience is the app.
	raw := r.json(t)["access_token"].(string)
	if me := e.get("/me", "Authorization", "Bearer "+raw, "Origin", appOrigin); me.status != http.StatusOK {
		t.Fatalf("/me = %d %s", me.status, me.body)
	}
}
