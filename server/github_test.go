package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/github/githubtest"
)

func withGitHub(o *envOptions) { o.github = true }

// githubCallback drives a GitHub login up to the redirect back to the app:
// the login URL, then the fake's authorize page. It returns the redirect's
// query (code and state).
func (e *env) githubCallback(browser *http.Client) url.Values {
	e.t.Helper()
	back, err := e.gh.Authorize(e.startLogin(browser, "github").String())
	if err != nil {
		e.t.Fatal(err)
	}
	return back.Query()
}

func (e *env) loginGitHub(browser *http.Client) *response {
	e.t.Helper()
	q := e.githubCallback(browser)
	return e.authorize(browser, "github", map[string]string{"code": q.Get("code"), "state": q.Get("state")})
}

// rawHook answers with status, content type and body as given.
func rawHook(status int, contentType, body string) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
		return true
	}
}

// TestSec07GitHubLogin: the token endpoint gets exactly one request with
// everything it needs, and the login leaves one user and one identity keyed
// on GitHub's numeric id.
func TestSec07GitHubLogin(t *testing.T) {
	e := newEnv(t, withGitHub)
	u := githubtest.DefaultUser()
	u.ID = 583231
	e.gh.SetUser(u)
	authURL := e.startLogin(e.browser, "github")
	back, err := e.gh.Authorize(authURL.String())
	if err != nil {
		t.Fatal(err)
	}
	r := e.authorize(e.browser, "github", map[string]string{"code": back.Query().Get("code"), "state": back.Query().Get("state")})
	if r.status != http.StatusOK {
		t.Fatalf("authorize = %d %s", r.status, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", r.header.Get("Cache-Control"))
	}
	body := r.json(t)
	if body["token_type"] != "bearer" || body["expires_in"].(float64) > 900 || body["access_token"] == "" {
		t.Errorf("response = %v", body)
	}

	reqs := e.gh.Requests("/login/oauth/access_token")
	if len(reqs) != 1 {
		t.Fatalf("token requests = %d, want 1", len(reqs))
	}
	f := reqs[0].Form
	if f.Get("client_id") != ghClientID || f.Get("client_secret") != ghClientSecret || f.Get("code") != back.Query().Get("code") {
		t.Errorf("token request form = %v", f)
	}
	if got, want := f.Get("redirect_uri"), authURL.Query().Get("redirect_uri"); got != want || got != e.ts.URL+"/auth/github" {
		t.Errorf("redirect_uri = %q, want %q as at authorize", got, want)
	}
	if got, want := s256(f.Get("code_verifier")), authURL.Query().Get("code_challenge"); got != want {
		t.Errorf("S256(code_verifier) = %q, want the challenge %q", got, want)
	}
	if got := reqs[0].Header.Get("Accept"); got != "application/json" {
		t.Errorf("Accept = %q", got)
	}
	if e.count("users") != 1 || e.count("identities") != 1 || e.count("login_states") != 0 {
		t.Errorf("users %d identities %d login_states %d", e.count("users"), e.count("identities"), e.count("login_states"))
	}
	if got := e.query(`SELECT provider || ' ' || subject FROM identities`); got != "github 583231" {
		t.Errorf("identity = %q, want github 583231", got)
	}
	if got := e.query(`SELECT user_id FROM identities`); got != body["user"].(map[string]any)["id"] {
		t.Errorf("identity user_id = %q, want %v", got, body["user"].(map[string]any)["id"])
	}
}

// TestSec16MixUp: a login started at one provider cannot be finished at
// another; no provider is called.
func TestSec16MixUp(t *testing.T) {
	e := newEnv(t, withGitHub)
	devURL := e.startLogin(e.browser, "dev")
	state := devURL.Query().Get("state")
	for name, body := range map[string]map[string]string{
		"dev state at github":        {"code": "0123456789abcdef0123", "state": state},
		"with a provider member too": {"code": "0123456789abcdef0123", "state": state, "provider": "github"},
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, e.authorize(e.browser, "github", body), http.StatusBadRequest, "invalid_state")
		})
	}
	t.Run("github state at dev", func(t *testing.T) {
		b := e.newBrowser()
		q := e.githubCallback(b)
		wantError(t, e.authorize(b, "dev", map[string]string{"code": q.Get("code"), "state": q.Get("state")}), http.StatusBadRequest, "invalid_state")
	})
	if n := e.gh.Count("/login/oauth/access_token"); n != 0 {
		t.Errorf("GitHub token requests = %d, want 0", n)
	}
	if e.exchanges["dev"].Load() != 0 || e.exchanges["github"].Load() != 0 {
		t.Errorf("exchanges dev %d github %d, want 0", e.exchanges["dev"].Load(), e.exchanges["github"].Load())
	}
}

// TestSec21BadVerificationCode: GitHub answers a bad code with HTTP 200 and
// an error field; that is invalid_grant, and nothing is stored.
func TestSec21BadVerificationCode(t *testing.T) {
	e := newEnv(t, withGitHub)
	q := e.githubCallback(e.browser)
	r := e.authorize(e.browser, "github", map[string]string{"code": "ffffffffffffffffffff", "state": q.Get("state")})
	wantError(t, r, http.StatusBadRequest, "invalid_grant")
	if e.count("users") != 0 || e.count("identities") != 0 {
		t.Errorf("users %d identities %d, want 0", e.count("users"), e.count("identities"))
	}
	if n := e.gh.Count("/login/oauth/access_token"); n != 1 {
		t.Errorf("token requests = %d, want 1", n)
	}
}

// TestSec22ClientCredentialErrors: a provider failure that is not the
// user's (here our misconfiguration; any upstream_error of package oauth)
// is a 502 with a generic description; the secret appears nowhere, and the
// log names the provider's error code. Which provider answers are upstream
// errors is tested in packages oauth and github.
func TestSec22ClientCredentialErrors(t *testing.T) {
	const code = "incorrect_client_credentials"
	e := newEnv(t, withGitHub)
	e.gh.OnToken = rawHook(200, "application/json; charset=utf-8",
		`{"error":"`+code+`","error_description":"details with `+ghClientSecret+`","error_uri":"/apps/x"}`)
	r := e.loginGitHub(e.browser)
	wantError(t, r, http.StatusBadGateway, "server_error")
	if strings.Contains(string(r.body), ghClientSecret) || strings.Contains(string(r.body), "details") {
		t.Errorf("body leaks the provider's answer: %s", r.body)
	}
	logs := e.logs.String()
	if strings.Contains(logs, ghClientSecret) {
		t.Errorf("logs contain the client secret")
	}
	if !strings.Contains(logs, code) {
		t.Errorf("no log line names %s:\n%s", code, logs)
	}
	if e.count("users") != 0 {
		t.Errorf("users = %d", e.count("users"))
	}
}

// TestSec23UnverifiedUserEmail: GitHub refuses the token for an account
// without a verified primary email; we say so with a 403.
func TestSec23UnverifiedUserEmail(t *testing.T) {
	e := newEnv(t, withGitHub)
	e.gh.OnToken = rawHook(200, "application/json", `{"error":"unverified_user_email","error_description":"The user must have a verified primary email."}`)
	r := e.loginGitHub(e.browser)
	wantError(t, r, http.StatusForbidden, "access_denied")
	if got := r.json(t)["error_description"]; got != "verify your primary email at the provider" {
		t.Errorf("description = %q", got)
	}
	if e.count("users") != 0 {
		t.Errorf("users = %d", e.count("users"))
	}
}

// TestSec24TokenEndpointMisbehaves: a provider that does not answer in
// time is a 504 within the timeout, after one token request, with nothing
// stored. (Form-encoded, HTML, 500, huge and malformed token answers are
// upstream errors, tested in package oauth; their HTTP answer is
// TestSec22's 502.)
func TestSec24TokenEndpointMisbehaves(t *testing.T) {
	e := newEnv(t, withGitHub, func(o *envOptions) { o.githubTimeout = 500 * time.Millisecond })
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	e.gh.OnToken = func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-r.Context().Done():
		case <-release:
		}
		return true
	}
	start := time.Now()
	r := e.loginGitHub(e.browser)
	wantError(t, r, http.StatusGatewayTimeout, "temporarily_unavailable")
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("took %v", elapsed)
	}
	if n := e.gh.Count("/login/oauth/access_token"); n != 1 {
		t.Errorf("token requests = %d, want exactly 1 (no retry of the code)", n)
	}
	if e.count("users") != 0 {
		t.Errorf("users = %d", e.count("users"))
	}
}

// TestSec26UserEndpointFailures: a provider that is rate limiting us
// (temporarily_unavailable of package oauth, here GitHub's /user answering
// 429) is a 503 with its Retry-After; /user is called once and nothing is
// stored. Which answers are rate limits is tested in packages oauth and
// github.
func TestSec26UserEndpointFailures(t *testing.T) {
	e := newEnv(t, withGitHub)
	e.gh.OnUser = func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Retry-After", "60")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"message":"API rate limit exceeded"}`))
		return true
	}
	r := e.loginGitHub(e.browser)
	wantError(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")
	if ra := r.header.Get("Retry-After"); ra != "60" {
		t.Errorf("Retry-After = %q, want %q", ra, "60")
	}
	if n := e.gh.Count("/api/v3/user"); n != 1 {
		t.Errorf("/user requests = %d, want 1", n)
	}
	if e.count("users") != 0 {
		t.Errorf("users = %d", e.count("users"))
	}
}

// TestSec27NullProfileAndLargeID: GitHub's nulls and an id above 2^53 make
// a user whose fields are null (never "null") and whose subject is exact.
func TestSec27NullProfileAndLargeID(t *testing.T) {
	e := newEnv(t, withGitHub)
	e.gh.SetUser(githubtest.User{ID: 9007199254740993, Login: "ghost"})
	r := e.loginGitHub(e.browser)
	if r.status != http.StatusOK {
		t.Fatalf("authorize = %d %s", r.status, r.body)
	}
	if got := e.query(`SELECT subject FROM identities`); got != "9007199254740993" {
		t.Errorf("subject = %q, want 9007199254740993", got)
	}
	me := e.get("/me", "Authorization", "Bearer "+r.json(t)["access_token"].(string))
	if strings.Contains(string(me.body), `"null"`) {
		t.Errorf("/me has a \"null\" string: %s", me.body)
	}
	m := me.json(t)
	for _, f := range []string{"name", "company", "location", "email", "picture"} {
		if v, ok := m[f]; !ok || v != nil {
			t.Errorf("/me %s = %v (present %v), want null", f, v, ok)
		}
	}
	if m["login"] != "ghost" || m["email_verified"] != false {
		t.Errorf("/me = %v", m)
	}
}

// TestSec28Emails: only a primary, verified address counts as verified.
func TestSec28Emails(t *testing.T) {
	public := githubtest.Ptr("public@example.com")
	cases := []struct {
		name         string
		user         githubtest.User
		wantEmail    any
		wantVerified bool
	}{
		{"emails 403", githubtest.User{ID: 1, Login: "a", Email: public, EmailsStatus: 403}, "public@example.com", false},
		{"no emails", githubtest.User{ID: 2, Login: "b", Emails: []githubtest.Email{}}, nil, false},
		{"unverified primary only", githubtest.User{ID: 3, Login: "c", Email: public,
			Emails: []githubtest.Email{{Email: "c@example.com", Primary: true}}}, "public@example.com", false},
		{"verified secondary, unverified primary", githubtest.User{ID: 4, Login: "d",
			Emails: []githubtest.Email{{Email: "d2@example.com", Verified: true}, {Email: "d@example.com", Primary: true}}}, nil, false},
		{"primary and verified", githubtest.User{ID: 5, Login: "e", Email: public,
			Emails: []githubtest.Email{{Email: "e@example.com", Primary: true, Verified: true}}}, "e@example.com", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, withGitHub)
			e.gh.SetUser(tc.user)
			r := e.loginGitHub(e.browser)
			if r.status != http.StatusOK {
				t.Fatalf("authorize = %d %s", r.status, r.body)
			}
			u := r.json(t)["user"].(map[string]any)
			if u["email"] != tc.wantEmail || u["email_verified"] != tc.wantVerified {
				t.Errorf("email, verified = %v, %v; want %v, %v", u["email"], u["email_verified"], tc.wantEmail, tc.wantVerified)
			}
		})
	}
}

// TestSec29HostileProfile: hostile strings from the provider are stored
// cleaned and capped, never cause a 500, and /me is valid JSON.
func TestSec29HostileProfile(t *testing.T) {
	hundredKB := strings.Repeat("N", 100<<10)
	cases := map[string]string{
		"NUL":           `"nul\u0000byte"`,
		"100 KB name":   `"` + hundredKB + `"`,
		"RTL override":  `"abc\u202Eexe.txt"`,
		"SQL":           `"'); DROP TABLE users;--"`,
		"HTML":          `"<img src=x onerror=alert(1)>"`,
		"invalid UTF-8": "\"bad \xff\xfe bytes\"",
		"control chars": `"a\u0007b\u001bc\u0085d"`,
	}
	for name, value := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, withGitHub)
			e.gh.OnUser = rawHook(200, "application/json; charset=utf-8",
				`{"login":`+value+`,"id":42,"name":`+value+`,"company":`+value+`,"location":`+value+`,"email":null,"avatar_url":`+value+`}`)
			e.gh.OnEmails = rawHook(200, "application/json; charset=utf-8",
				`[{"email":`+value+`,"primary":true,"verified":true,"visibility":"private"}]`)
			r := e.loginGitHub(e.browser)
			if r.status != http.StatusOK {
				t.Fatalf("authorize = %d %s", r.status, r.body)
			}
			me := e.get("/me", "Authorization", "Bearer "+r.json(t)["access_token"].(string))
			if me.status != http.StatusOK || !json.Valid(me.body) || !utf8.Valid(me.body) {
				t.Fatalf("/me = %d %q", me.status, me.body)
			}
			u := me.json(t)
			name, _ := u["name"].(string)
			if strings.ContainsAny(name, "\x00\x07\x1b\u0085") || len(name) > 256 {
				t.Errorf("name %q is not cleaned and capped", name)
			}
			if login, _ := u["login"].(string); len(login) > 100 {
				t.Errorf("login is %d bytes", len(login))
			}
			if u["picture"] != nil {
				t.Errorf("picture %v is not a URL and should be dropped", u["picture"])
			}
			if email, _ := u["email"].(string); strings.ContainsAny(email, "\x00\x07") || len(email) > 320 {
				t.Errorf("email %q is not cleaned and capped", email)
			}
			if strings.Contains(string(me.body), "<img") {
				t.Errorf("/me has raw HTML: %s", me.body)
			}
		})
	}
}

// TestSec30RenamedAccount: the same GitHub id with a new login is the same
// user, updated.
func TestSec30RenamedAccount(t *testing.T) {
	e := newEnv(t, withGitHub)
	u := githubtest.DefaultUser()
	e.gh.SetUser(u)
	first := e.loginGitHub(e.newBrowser()).json(t)["user"].(map[string]any)
	u.Login = "renamed-octocat"
	e.gh.SetUser(u)
	second := e.loginGitHub(e.newBrowser()).json(t)["user"].(map[string]any)
	if second["id"] != first["id"] || second["login"] != "renamed-octocat" {
		t.Errorf("after the rename: user %v login %v; want user %v login renamed-octocat", second["id"], second["login"], first["id"])
	}
	if e.count("users") != 1 || e.count("identities") != 1 {
		t.Errorf("users %d identities %d, want 1, 1", e.count("users"), e.count("identities"))
	}
}

// TestSec31SameEmailOtherAccount: another GitHub account claiming the same
// verified email is never merged into the first: by default its first
// sign-in is refused with 409 account_exists, and nothing is written.
func TestSec31SameEmailOtherAccount(t *testing.T) {
	e := newEnv(t, withGitHub)
	u := githubtest.DefaultUser()
	e.gh.SetUser(u)
	first := e.loginGitHub(e.newBrowser()).json(t)["user"].(map[string]any)
	if first["email_verified"] != true {
		t.Fatalf("precondition: email %v not verified", first["email"])
	}
	u.ID, u.Login = u.ID+1, "other-account"
	e.gh.SetUser(u)
	r := e.loginGitHub(e.newBrowser())
	if r.status != http.StatusConflict || r.json(t)["error"] != "account_exists" {
		t.Fatalf("second account = %d %s, want 409 account_exists", r.status, r.body)
	}
	if users, idents := e.count("users"), e.count("identities"); users != 1 || idents != 1 {
		t.Fatalf("users %d, identities %d; want 1, 1", users, idents)
	}
}

// TestSec80NoSecretsInLogsOrBodies runs a successful login and several
// failures, then checks that neither the logs nor any response body carry
// a code, state, verifier, client secret, provider token, access token or
// login cookie, and that every attempt left an audit line.
func TestSec80NoSecretsInLogsOrBodies(t *testing.T) {
	e := newEnv(t, withGitHub)
	var bodies []string
	ok := e.loginGitHub(e.browser)
	if ok.status != http.StatusOK {
		t.Fatalf("authorize = %d %s", ok.status, ok.body)
	}
	accessToken := ok.json(t)["access_token"].(string)
	bodies = append(bodies, string(e.get("/me", "Authorization", "Bearer "+accessToken).body))

	// Failures: a bad code, a replay, a token endpoint error, a bad token.
	q := e.githubCallback(e.browser)
	bodies = append(bodies, string(e.authorize(e.browser, "github", map[string]string{"code": "deadbeefdeadbeefdead", "state": q.Get("state")}).body))
	bodies = append(bodies, string(e.authorize(e.browser, "github", map[string]string{"code": q.Get("code"), "state": q.Get("state")}).body))
	e.gh.OnToken = rawHook(200, "application/json", `{"error":"incorrect_client_credentials"}`)
	bodies = append(bodies, string(e.loginGitHub(e.newBrowser()).body))
	bodies = append(bodies, string(e.get("/me", "Authorization", "Bearer "+accessToken+"x").body))

	var secrets []string
	secrets = append(secrets, ghClientSecret, accessToken)
	secrets = append(secrets, e.gh.Tokens()...)
	for _, r := range e.gh.Requests("/login/oauth/authorize") {
		secrets = append(secrets, r.Form.Get("state"), r.Form.Get("code_challenge"))
	}
	for _, r := range e.gh.Requests("/login/oauth/access_token") {
		secrets = append(secrets, r.Form.Get("code"), r.Form.Get("code_verifier"))
	}
	for _, c := range e.browser.Jar.Cookies(mustURL(t, e.ts.URL)) {
		secrets = append(secrets, c.Value)
	}
	logs := e.logs.String()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(logs, s) {
			t.Errorf("logs contain a secret value (%.6s…)", s)
		}
		for _, b := range bodies[1:] {
			if strings.Contains(b, s) {
				t.Errorf("an error body contains a secret value (%.6s…): %s", s, b)
			}
		}
	}
	for _, b := range bodies[1:] {
		var m map[string]any
		if err := json.Unmarshal([]byte(b), &m); err != nil || len(m) != 2 || m["error"] == nil || m["error_description"] == nil {
			t.Errorf("error body %s is not {error, error_description}", b)
		}
		for _, leak := range []string{"sqlite", "SELECT", "goroutine", ".go:", "oauth2:"} {
			if strings.Contains(b, leak) {
				t.Errorf("error body leaks %q: %s", leak, b)
			}
		}
	}
	for _, want := range []string{
		"event=login ip=127.0.0.1 provider=github subject=583231 user_id=",
		"result=success",
		"result=failure reason=invalid_grant",
		"result=failure reason=invalid_state",
		"result=failure reason=upstream_error",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("no audit line with %q in:\n%s", want, logs)
		}
	}
}
