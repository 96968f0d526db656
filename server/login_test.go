package server

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/token"
)

// TestLoginEndToEndDev runs the whole flow against the built-in dev
// provider over real HTTP: login URL, the provider's page, authorize, /me.
func TestLoginEndToEndDev(t *testing.T) {
	e := newEnv(t)
	authURL := e.startLogin(e.browser, "dev")
	q := e.devApprove(authURL, "allow", "Ada Lovelace", "ada@example.com")
	r := e.authorize(e.browser, "dev", map[string]string{"code": q.Get("code"), "state": q.Get("state")})
	if r.status != http.StatusOK {
		t.Fatalf("authorize = %d %s", r.status, r.body)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if c := setCookie(t, r, "gatehouse_login"); c == nil || c.MaxAge >= 0 {
		t.Errorf("login cookie %v, want it cleared", c)
	}
	body := r.json(t)
	if body["token_type"] != "bearer" || body["expires_in"] != float64(900) {
		t.Errorf("token_type, expires_in = %v, %v; want bearer, 900", body["token_type"], body["expires_in"])
	}
	user := body["user"].(map[string]any)
	if user["name"] != "Ada Lovelace" || user["email"] != "ada@example.com" || user["email_verified"] != true || user["login"] != "ada" {
		t.Errorf("user = %v", user)
	}
	if _, ok := user["id"].(string); !ok {
		t.Errorf("user id %v is not a string", user["id"])
	}
	for _, f := range []string{"company", "location", "picture"} {
		if v, ok := user[f]; !ok || v != nil {
			t.Errorf("user[%q] = %v (present %v), want null", f, v, ok)
		}
	}

	me := e.get("/me", "Authorization", "Bearer "+body["access_token"].(string))
	if me.status != http.StatusOK {
		t.Fatalf("/me = %d %s", me.status, me.body)
	}
	if got := me.json(t); got["id"] != user["id"] || got["email"] != "ada@example.com" {
		t.Errorf("/me = %v, want user %v", got, user["id"])
	}
	if e.count("users") != 1 || e.count("identities") != 1 || e.count("login_states") != 0 {
		t.Errorf("rows: users %d, identities %d, login_states %d; want 1, 1, 0",
			e.count("users"), e.count("identities"), e.count("login_states"))
	}

	// The same person again is the same user.
	again := e.loginDev(e.newBrowser(), "ada@example.com")
	if again["user"].(map[string]any)["id"] != user["id"] {
		t.Errorf("second login made user %v, want %v", again["user"].(map[string]any)["id"], user["id"])
	}
	if e.count("users") != 1 {
		t.Errorf("users = %d after a second login, want 1", e.count("users"))
	}
}

// TestSec01LoginURL checks the login URL and the browser-binding cookie.
func TestSec01LoginURL(t *testing.T) {
	for _, tls := range []bool{false, true} {
		name := map[bool]string{false: "loopback http", true: "https"}[tls]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(o *envOptions) { o.tls = tls })
			r := e.get("/auth/dev/login")
			if r.status != http.StatusOK {
				t.Fatalf("status = %d %s", r.status, r.body)
			}
			if got := r.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			u, err := url.Parse(r.json(t)["url"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := u.Scheme+"://"+u.Host+u.Path, e.ts.URL+"/dev-login/authorize"; got != want {
				t.Errorf("authorize endpoint = %q, want %q", got, want)
			}
			q := u.Query()
			if q.Get("response_type") != "code" || q.Get("client_id") != "gatehouse-dev" {
				t.Errorf("response_type, client_id = %q, %q", q.Get("response_type"), q.Get("client_id"))
			}
			if got, want := q.Get("redirect_uri"), e.ts.URL+"/auth/dev"; got != want {
				t.Errorf("redirect_uri = %q, want %q", got, want)
			}
			state := q.Get("state")
			raw, err := base64.RawURLEncoding.Strict().DecodeString(state)
			if err != nil || len(raw) < 16 {
				t.Errorf("state %q is not base64url of at least 128 bits", state)
			}
			if regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-`).MatchString(state) {
				t.Errorf("state %q looks like a UUID", state)
			}
			if ch := q.Get("code_challenge"); len(ch) != 43 || q.Get("code_challenge_method") != "S256" {
				t.Errorf("code_challenge %q method %q, want 43 chars and S256", ch, q.Get("code_challenge_method"))
			}
			if q.Has("code_verifier") || q.Has("client_secret") || q.Has("nonce") && q.Get("nonce") == "" {
				t.Errorf("URL carries secrets: %v", q)
			}

			cookies := r.header.Values("Set-Cookie")
			if len(cookies) != 1 {
				t.Fatalf("Set-Cookie = %q, want one cookie", cookies)
			}
			c := cookies[0]
			wantName := map[bool]string{false: "gatehouse_login=", true: "__Host-gatehouse_login="}[tls]
			if !strings.HasPrefix(c, wantName) {
				t.Errorf("cookie %q does not start with %q", c, wantName)
			}
			for _, attr := range []string{"Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=600"} {
				if !strings.Contains(c, attr) {
					t.Errorf("cookie %q lacks %s", c, attr)
				}
			}
			if strings.Contains(c, "Domain=") {
				t.Errorf("cookie %q has a Domain", c)
			}
			if got := strings.Contains(c, "Secure"); got != tls {
				t.Errorf("cookie %q Secure = %v, want %v", c, got, tls)
			}

			r2 := e.request(e.newBrowser(), http.MethodGet, "/auth/dev/login", nil)
			u2, _ := url.Parse(r2.json(t)["url"].(string))
			if u2.Query().Get("state") == state || u2.Query().Get("code_challenge") == q.Get("code_challenge") ||
				r2.header.Get("Set-Cookie") == c {
				t.Error("two logins share a state, challenge or cookie")
			}
		})
	}
}

// TestSec03ReservedParamsIgnored: parameters the caller adds to the login
// request never reach the provider URL.
func TestSec03ReservedParamsIgnored(t *testing.T) {
	e := newEnv(t)
	r := e.get("/auth/dev/login?redirect_uri=https://evil.example/cb&client_id=x&client_secret=y&state=s" +
		"&response_type=token&code_challenge=c&code_verifier=v&scope=admin")
	if r.status != http.StatusOK {
		t.Fatalf("status = %d %s", r.status, r.body)
	}
	u, _ := url.Parse(r.json(t)["url"].(string))
	q := u.Query()
	for name, bad := range map[string]string{"redirect_uri": "https://evil.example/cb", "client_id": "x", "state": "s",
		"response_type": "token", "code_challenge": "c", "scope": "admin"} {
		if got := q[name]; len(got) != 1 || got[0] == bad {
			t.Errorf("%s = %q, want one server value", name, got)
		}
	}
	for _, name := range []string{"client_secret", "code_verifier"} {
		if q.Has(name) {
			t.Errorf("URL has %s", name)
		}
	}
	if n := e.count("login_states"); n != 1 {
		t.Errorf("login_states = %d, want 1", n)
	}
}

// TestSec04UnknownProvider: odd provider names are 404 with no cookie and
// no login state.
func TestSec04UnknownProvider(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"unknown", "DEV", "Dev", "..%2fdev", "dev%00", "dev%20", "%2e%2e"} {
		t.Run(p, func(t *testing.T) {
			r := e.get("/auth/" + p + "/login")
			wantError(t, r, http.StatusNotFound, "unsupported_provider")
			if c := r.header.Get("Set-Cookie"); c != "" {
				t.Errorf("Set-Cookie = %q", c)
			}
		})
	}
	if n := e.count("login_states"); n != 0 {
		t.Errorf("login_states = %d, want 0", n)
	}
}

// TestAuthorizeBadState: a login the request cannot finish is 400
// invalid_state, before the provider is called. If the request did not use
// the login up (another browser, without the login cookie), its cookie is
// left alone and the rightful browser can still finish; if it did (the
// login expired), the login cookie is cleared. The rules are tested in
// package login (TestFinishRefusesState, TestFinishExpiry and others).
func TestAuthorizeBadState(t *testing.T) {
	t.Run("not used up", func(t *testing.T) {
		e := newEnv(t)
		q := e.devApprove(e.startLogin(e.browser, "dev"), "allow", "A", "a@example.com")
		body := map[string]string{"code": q.Get("code"), "state": q.Get("state")}
		r := e.authorize(e.newBrowser(), "dev", body)
		wantError(t, r, http.StatusBadRequest, "invalid_state")
		if c := r.header.Values("Set-Cookie"); len(c) != 0 {
			t.Errorf("Set-Cookie = %q, want none", c)
		}
		if n := e.exchanges["dev"].Load(); n != 0 {
			t.Errorf("provider exchanges = %d, want 0", n)
		}
		if e.count("users") != 0 || e.count("login_states") != 1 {
			t.Errorf("users %d, login_states %d; want 0, 1", e.count("users"), e.count("login_states"))
		}
		if r := e.authorize(e.browser, "dev", body); r.status != http.StatusOK {
			t.Errorf("the rightful browser afterwards = %d %s", r.status, r.body)
		}
	})
	t.Run("used up", func(t *testing.T) {
		e := newEnv(t)
		authURL := e.startLogin(e.browser, "dev")
		e.clock.Advance(LoginTTL)
		q := e.devApprove(authURL, "allow", "A", "a@example.com")
		r := e.authorize(e.browser, "dev", map[string]string{"code": q.Get("code"), "state": q.Get("state")})
		wantError(t, r, http.StatusBadRequest, "invalid_state")
		if c := setCookie(t, r, "gatehouse_login"); c == nil || c.MaxAge >= 0 || c.Value != "" {
			t.Errorf("login cookie %v, want it cleared", c)
		}
		if n := e.exchanges["dev"].Load(); n != 0 {
			t.Errorf("provider exchanges = %d, want 0", n)
		}
		if n := e.count("login_states"); n != 0 {
			t.Errorf("login_states = %d, want 0", n)
		}
	})
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestSec18ProviderDenial: the user cancels at the provider; the app relays
// the error. The description is not reflected, and the login is spent.
func TestSec18ProviderDenial(t *testing.T) {
	e := newEnv(t)
	q := e.devApprove(e.startLogin(e.browser, "dev"), "deny", "", "")
	if q.Get("error") != "access_denied" {
		t.Fatalf("dev provider redirect = %v, want error=access_denied", q)
	}
	r := e.authorize(e.browser, "dev", map[string]string{"error": q.Get("error"),
		"error_description": "<script>alert(1)</script>", "state": q.Get("state")})
	wantError(t, r, http.StatusBadRequest, "access_denied")
	if strings.Contains(string(r.body), "alert") || strings.Contains(string(r.body), "<") {
		t.Errorf("body reflects the description: %s", r.body)
	}
	if e.count("login_states") != 0 || e.count("users") != 0 {
		t.Errorf("login_states %d users %d, want 0, 0", e.count("login_states"), e.count("users"))
	}
	if n := e.exchanges["dev"].Load(); n != 0 {
		t.Errorf("provider exchanges = %d, want 0", n)
	}
}

// TestSec19MalformedBodies: every malformed authorize body (a missing,
// empty or blank state or code among them) gets the standard error with a
// 4xx; the provider is never called, nothing is stored, and the login can
// still be finished.
func TestSec19MalformedBodies(t *testing.T) {
	e := newEnv(t)
	q := e.devApprove(e.startLogin(e.browser, "dev"), "allow", "A", "a@example.com")
	state, code := q.Get("state"), q.Get("code")
	jsonCT := []string{"Content-Type", "application/json"}
	cases := []struct {
		name    string
		body    string
		headers []string
		status  int
		code    string
	}{
		{"no state", `{"code":"` + code + `"}`, jsonCT, 400, "invalid_request"},
		{"empty state", `{"code":"` + code + `","state":""}`, jsonCT, 400, "invalid_request"},
		{"whitespace state", `{"code":"` + code + `","state":"  \t "}`, jsonCT, 400, "invalid_request"},
		{"no code", `{"state":"` + state + `"}`, jsonCT, 400, "invalid_request"},
		{"empty code", `{"state":"` + state + `","code":""}`, jsonCT, 400, "invalid_request"},
		{"whitespace code", `{"state":"` + state + `","code":"   "}`, jsonCT, 400, "invalid_request"},
		{"not JSON", "code=x&state=y", jsonCT, 400, "invalid_request"},
		{"text/plain", `{"code":"` + code + `","state":"` + state + `"}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
		{"form", "code=" + code + "&state=" + state, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"},
		{"no content type", `{"code":"x","state":"y"}`, nil, 415, "unsupported_media_type"},
		{"duplicate state", `{"code":"` + code + `","state":"` + state + `","state":"` + state + `"}`, jsonCT, 400, "invalid_request"},
		{"code number", `{"code":12345,"state":"` + state + `"}`, jsonCT, 400, "invalid_request"},
		{"code array", `{"code":["a"],"state":"` + state + `"}`, jsonCT, 400, "invalid_request"},
		{"state null", `{"code":"x","state":null}`, jsonCT, 400, "invalid_request"},
		{"array body", `["code","state"]`, jsonCT, 400, "invalid_request"},
		{"trailing data", `{"code":"x","state":"` + state + `"} {}`, jsonCT, 400, "invalid_request"},
		{"1 MB body", `{"code":"` + strings.Repeat("a", 1<<20) + `","state":"` + state + `"}`, jsonCT, 413, "request_too_large"},
		{"10 KB code", `{"code":"` + strings.Repeat("a", 10<<10) + `","state":"` + state + `"}`, jsonCT, 400, "invalid_request"},
		{"code with CR LF", `{"code":"a\r\nb","state":"` + state + `"}`, jsonCT, 400, "invalid_request"},
		{"code with NUL", `{"code":"a\u0000b","state":"` + state + `"}`, jsonCT, 400, "invalid_request"},
		{"code with non-ASCII", `{"code":"cödé","state":"` + state + `"}`, jsonCT, 400, "invalid_request"},
		{"empty body", ``, jsonCT, 400, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.authorize(e.browser, "dev", tc.body, tc.headers...), tc.status, tc.code)
		})
	}
	if n := e.exchanges["dev"].Load(); n != 0 {
		t.Errorf("provider exchanges = %d, want 0", n)
	}
	if e.count("users") != 0 || e.count("login_states") != 1 {
		t.Errorf("users %d, login_states %d; want 0, 1", e.count("users"), e.count("login_states"))
	}
	if r := e.authorize(e.browser, "dev", map[string]string{"code": code, "state": state}); r.status != http.StatusOK {
		t.Errorf("the well-formed request afterwards = %d %s", r.status, r.body)
	}
}

// TestSec20AuthorizeRefusesGET: codes are never accepted in a URL.
func TestSec20AuthorizeRefusesGET(t *testing.T) {
	e := newEnv(t)
	q := e.devApprove(e.startLogin(e.browser, "dev"), "allow", "A", "a@example.com")
	r := e.get("/auth/dev/authorize?code=" + q.Get("code") + "&state=" + q.Get("state"))
	wantError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	if got := r.header.Get("Allow"); got != "POST" {
		t.Errorf("Allow = %q, want POST", got)
	}
	if n := e.exchanges["dev"].Load(); n != 0 {
		t.Errorf("provider exchanges = %d, want 0", n)
	}
}

// TestSec61MintedTokenOverHTTP decodes a token from a real login.
func TestSec61MintedTokenOverHTTP(t *testing.T) {
	e := newEnv(t)
	raw := e.loginDev(e.browser, "a@example.com")["access_token"].(string)
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	want := `{"alg":"ES256","kid":"` + e.kid + `","typ":"` + token.Type + `"}`
	if string(h) != want {
		t.Errorf("header = %s, want %s", h, want)
	}
}
