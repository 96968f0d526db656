package server

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/github/githubtest"
)

// These tests check the HTTP side of linking once per kind of case: the
// rules (links, the email rule, unlinking) are tested in package login,
// their atomicity in storetest.

// startLink asks for a link login at provider in browser b, with the
// access token at (none if ""), and returns the response.
func (e *env) startLink(b *http.Client, provider, at string) *response {
	e.t.Helper()
	var h []string
	if at != "" {
		h = []string{"Authorization", "Bearer " + at}
	}
	return e.request(b, http.MethodGet, "/auth/"+provider+"/login?link=1", nil, h...)
}

// linkGitHub links the fake GitHub's current user to the user of at, in
// browser b, and returns the authorize response.
func (e *env) linkGitHub(b *http.Client, at string) *response {
	e.t.Helper()
	r := e.startLink(b, "github", at)
	if r.status != http.StatusOK {
		e.t.Fatalf("link login = %d %s", r.status, r.body)
	}
	back, err := e.gh.Authorize(r.json(e.t)["url"].(string))
	if err != nil {
		e.t.Fatal(err)
	}
	q := back.Query()
	return e.authorize(b, "github", map[string]string{"code": q.Get("code"), "state": q.Get("state")})
}

func (e *env) identities(at string) []any {
	e.t.Helper()
	r := e.get("/me/identities", "Authorization", "Bearer "+at)
	if r.status != http.StatusOK {
		e.t.Fatalf("GET /me/identities = %d %s", r.status, r.body)
	}
	return r.json(e.t)["identities"].([]any)
}

// TestLink: a signed-in user links GitHub; the answer is the user and the
// identity, with no new session or refresh cookie; the identities list
// both accounts; and GitHub then signs in as the same user.
func TestLink(t *testing.T) {
	e := newEnv(t, withGitHub)
	b, login, at, _ := e.signIn("dev-user@example.com")
	userID := login.json(t)["user"].(map[string]any)["id"].(string)
	sessions := e.count("sessions")

	r := e.linkGitHub(b, at)
	if r.status != http.StatusOK {
		t.Fatalf("link authorize = %d %s", r.status, r.body)
	}
	body := r.json(t)
	if _, ok := body["access_token"]; ok {
		t.Errorf("the link answered tokens: %s", r.body)
	}
	if got := body["user"].(map[string]any)["id"]; got != userID {
		t.Errorf("user = %v, want %s", got, userID)
	}
	ident := body["identity"].(map[string]any)
	if ident["provider"] != "github" || ident["subject"] != "583231" || ident["login"] != "octocat" || ident["display_name"] == "" {
		t.Errorf("identity = %v", ident)
	}
	if c := setCookie(t, r, e.refreshCookieName()); c != nil {
		t.Errorf("the link set the refresh cookie: %v", c)
	}
	if got := e.count("sessions"); got != sessions {
		t.Errorf("sessions = %d, want %d: a link starts none", got, sessions)
	}
	if e.me(at).status != http.StatusOK {
		t.Error("the browser's session ended with the link")
	}

	list := e.identities(at)
	var got []string
	for _, x := range list {
		i := x.(map[string]any)
		got = append(got, i["provider"].(string))
		for _, k := range []string{"display_name", "subject", "linked_at", "last_used_at"} {
			if s, _ := i[k].(string); s == "" {
				t.Errorf("identity lacks %s: %v", k, i)
			}
		}
		if _, ok := i["email"]; !ok {
			t.Errorf("identity lacks email: %v", i)
		}
	}
	if !slices.Equal(got, []string{"dev", "github"}) {
		t.Fatalf("identities %v, want dev then github", got)
	}
	r = e.loginGitHub(e.newBrowser())
	if r.status != http.StatusOK || r.json(t)["user"].(map[string]any)["id"] != userID {
		t.Fatalf("GitHub sign-in after the link = %d %s, want user %s", r.status, r.body, userID)
	}
}

// TestLinkNeedsToken: link=1 without a valid access token is 401, as
// Require answers, and starts nothing; a link value other than 1 is 400.
func TestLinkNeedsToken(t *testing.T) {
	e := newEnv(t, withGitHub)
	_, _, at, _ := e.signIn("a@example.com")
	ended := e.signInAndLogout("b@example.com")
	states := e.count("login_states")
	for name, tc := range map[string]struct {
		at, code string
	}{
		"no token":         {"", gatehouse.EUnauthorized},
		"garbage token":    {"garbage", gatehouse.EInvalidToken},
		"logged-out token": {ended, gatehouse.EInvalidToken},
	} {
		r := e.startLink(e.newBrowser(), "github", tc.at)
		if r.status != http.StatusUnauthorized || r.json(t)["error"] != tc.code {
			t.Errorf("%s: %d %s, want 401 %s", name, r.status, r.body, tc.code)
		}
		if len(r.header.Values("Set-Cookie")) != 0 {
			t.Errorf("%s: a refused link set a cookie", name)
		}
	}
	wantError(t, e.request(e.newBrowser(), http.MethodGet, "/auth/github/login?link=true", nil, "Authorization", "Bearer "+at),
		http.StatusBadRequest, gatehouse.EInvalidRequest)
	if got := e.count("login_states"); got != states {
		t.Fatalf("login_states = %d, want %d", got, states)
	}
}

// signInAndLogout signs a user in, logs them out, and returns the access
// token of the ended session.
func (e *env) signInAndLogout(email string) string {
	e.t.Helper()
	_, _, at, rt := e.signIn(email)
	if r := e.logoutWith(rt, ""); r.status != http.StatusNoContent {
		e.t.Fatalf("logout = %d %s", r.status, r.body)
	}
	return at
}

// TestLinkIdentityInUse: linking an account that is another user's is 409
// identity_in_use, and changes nothing.
func TestLinkIdentityInUse(t *testing.T) {
	e := newEnv(t, withGitHub)
	if r := e.loginGitHub(e.newBrowser()); r.status != http.StatusOK {
		t.Fatalf("GitHub sign-in = %d %s", r.status, r.body)
	}
	b, _, at, _ := e.signIn("b@example.com")
	wantError(t, e.linkGitHub(b, at), http.StatusConflict, gatehouse.EIdentityInUse)
	if n := len(e.identities(at)); n != 1 {
		t.Fatalf("%d identities, want 1", n)
	}
	if users, idents := e.count("users"), e.count("identities"); users != 2 || idents != 2 {
		t.Fatalf("users %d, identities %d; want 2, 2", users, idents)
	}
}

// TestAccountExists: a first sign-in with the verified email of another
// user is 409 account_exists naming that user's providers, in the one
// error body; with OnEmailMatch new_account it is a separate user.
func TestAccountExists(t *testing.T) {
	email := *githubtest.DefaultUser().Email
	for _, tc := range []struct {
		name       string
		rule       string
		wantStatus int
	}{
		{"default", "", http.StatusConflict},
		{"new_account", "new_account", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, withGitHub, func(o *envOptions) { o.config = func(c *Config) { c.OnEmailMatch = tc.rule } })
			first := e.loginGitHub(e.newBrowser())
			if first.status != http.StatusOK {
				t.Fatalf("GitHub sign-in = %d %s", first.status, first.body)
			}
			b := e.newBrowser()
			q := e.devApprove(e.startLogin(b, "dev"), "allow", "Same Person", email)
			r := e.authorize(b, "dev", map[string]string{"code": q.Get("code"), "state": q.Get("state")})
			if r.status != tc.wantStatus {
				t.Fatalf("dev sign-in with GitHub's email = %d %s, want %d", r.status, r.body, tc.wantStatus)
			}
			if tc.wantStatus == http.StatusOK {
				if r.json(t)["user"].(map[string]any)["id"] == first.json(t)["user"].(map[string]any)["id"] {
					t.Fatal("new_account merged the accounts")
				}
				return
			}
			body := r.json(t)
			if body["error"] != gatehouse.EAccountExists || len(body) != 3 {
				t.Fatalf("body %s, want exactly error, error_description and providers", r.body)
			}
			if d, _ := body["error_description"].(string); d == "" {
				t.Errorf("no error_description: %s", r.body)
			}
			if p, _ := body["providers"].([]any); len(p) != 1 || p[0] != "github" {
				t.Errorf("providers = %v, want [github]", body["providers"])
			}
			if users, idents, states := e.count("users"), e.count("identities"), e.count("login_states"); users != 1 || idents != 1 || states != 0 {
				t.Fatalf("users %d, identities %d, login states %d; want 1, 1, 0", users, idents, states)
			}
		})
	}
}

// TestUnlink: the user unlinks an account by provider, never the last one
// (409 last_identity); an unknown one is 404.
func TestUnlink(t *testing.T) {
	e := newEnv(t, withGitHub)
	b, _, at, _ := e.signIn("a@example.com")
	if r := e.linkGitHub(b, at); r.status != http.StatusOK {
		t.Fatalf("link = %d %s", r.status, r.body)
	}
	del := func(path string) *response {
		return e.request(e.ts.Client(), http.MethodDelete, path, nil, "Authorization", "Bearer "+at)
	}
	wantError(t, del("/me/identities/gitlab"), http.StatusNotFound, gatehouse.ENotFound)
	wantError(t, del("/me/identities/github/"+url.PathEscape("12")), http.StatusNotFound, gatehouse.ENotFound)
	if r := del("/me/identities/github/583231"); r.status != http.StatusNoContent {
		t.Fatalf("unlink = %d %s", r.status, r.body)
	}
	wantError(t, del("/me/identities/dev"), http.StatusConflict, gatehouse.ELastIdentity)
	if n := len(e.identities(at)); n != 1 {
		t.Fatalf("%d identities, want 1", n)
	}
	wantError(t, e.get("/me/identities"), http.StatusUnauthorized, gatehouse.EUnauthorized)
}

// TestUnlinkCSRF: DELETE /me/identities is protected as DELETE
// /auth/sessions/{id} is: a request from another origin is refused before
// the handler, and cookies alone authenticate nothing.
func TestUnlinkCSRF(t *testing.T) {
	e := newEnv(t, withGitHub)
	b, _, at, rt := e.signIn("a@example.com")
	if r := e.linkGitHub(b, at); r.status != http.StatusOK {
		t.Fatalf("link = %d %s", r.status, r.body)
	}
	wantError(t, e.request(e.ts.Client(), http.MethodDelete, "/me/identities/github", nil,
		"Authorization", "Bearer "+at, "Origin", "https://evil.example"), http.StatusForbidden, gatehouse.EAccessDenied)
	wantError(t, e.request(e.ts.Client(), http.MethodDelete, "/me/identities/github", nil,
		"Cookie", e.refreshCookieName()+"="+rt, csrf, "gatehouse"), http.StatusUnauthorized, gatehouse.EUnauthorized)
	if n := len(e.identities(at)); n != 2 {
		t.Fatalf("%d identities, want 2: a refused unlink removed one", n)
	}
}
