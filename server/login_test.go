package server

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

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

// TestSec08MissingStateOrCode: 400 invalid_request, no provider call,
// nothing persisted, and the login is still usable.
func TestSec08MissingStateOrCode(t *testing.T) {
	e := newEnv(t)
	q := e.devApprove(e.startLogin(e.browser, "dev"), "allow", "A", "a@example.com")
	for name, body := range map[string]map[string]string{
		"no state":         {"code": q.Get("code")},
		"empty state":      {"code": q.Get("code"), "state": ""},
		"whitespace state": {"code": q.Get("code"), "state": "  \t "},
		"no code":          {"state": q.Get("state")},
		"empty code":       {"state": q.Get("state"), "code": ""},
		"whitespace code":  {"state": q.Get("state"), "code": "   "},
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, e.authorize(e.browser, "dev", body), http.StatusBadRequest, "invalid_request")
		})
	}
	if n := e.exchanges["dev"].Load(); n != 0 {
		t.Errorf("provider exchanges = %d, want 0", n)
	}
	if e.count("users") != 0 || e.count("login_states") != 1 {
		t.Errorf("users %d, login_states %d; want 0, 1", e.count("users"), e.count("login_states"))
	}
	if r := e.authorize(e.browser, "dev", map[string]string{"code": q.Get("code"), "state": q.Get("state")}); r.status != http.StatusOK {
		t.Errorf("the well-formed request afterwards = %d %s", r.status, r.body)
	}
}

// TestSec09NoLoginCookie: the right state and code from a browser without
// the login cookie (another browser replaying them) is refused before the
// provider is called, and the login stays usable by its own browser.
func TestSec09NoLoginCookie(t *testing.T) {
	e := newEnv(t)
	q := e.devApprove(e.startLogin(e.browser, "dev"), "allow", "A", "a@example.com")
	body := map[string]string{"code": q.Get("code"), "state": q.Get("state")}
	wantError(t, e.authorize(e.newBrowser(), "dev", body), http.StatusBadRequest, "invalid_state")
	if n := e.exchanges["dev"].Load(); n != 0 {
		t.Errorf("provider exchanges = %d, want 0", n)
	}
	if e.count("users") != 0 || e.count("login_states") != 1 {
		t.Errorf("users %d, login_states %d; want 0, 1", e.count("users"), e.count("login_states"))
	}
	if r := e.authorize(e.browser, "dev", body); r.status != http.StatusOK {
		t.Errorf("the rightful browser afterwards = %d %s", r.status, r.body)
	}
}

// TestSec10SwappedCookies: browser B posting browser A's state fails, and
// consumes neither login.
func TestSec10SwappedCookies(t *testing.T) {
	e := newEnv(t)
	a, b := e.newBrowser(), e.newBrowser()
	qa := e.devApprove(e.startLogin(a, "dev"), "allow", "A", "a@example.com")
	qb := e.devApprove(e.startLogin(b, "dev"), "allow", "B", "b@example.com")
	wantError(t, e.authorize(b, "dev", map[string]string{"code": qa.Get("code"), "state": qa.Get("state")}), http.StatusBadRequest, "invalid_state")
	wantError(t, e.authorize(a, "dev", map[string]string{"code": qb.Get("code"), "state": qb.Get("state")}), http.StatusBadRequest, "invalid_state")
	if n := e.exchanges["dev"].Load(); n != 0 {
		t.Errorf("provider exchanges = %d, want 0", n)
	}
	if n := e.count("login_states"); n != 2 {
		t.Fatalf("login_states = %d, want 2 (neither consumed)", n)
	}
	for _, tc := range []struct {
		c *http.Client
		q url.Values
	}{{a, qa}, {b, qb}} {
		if r := e.authorize(tc.c, "dev", map[string]string{"code": tc.q.Get("code"), "state": tc.q.Get("state")}); r.status != http.StatusOK {
			t.Errorf("rightful authorize afterwards = %d %s", r.status, r.body)
		}
	}
}

// TestSec11UnknownState: random, hostile and huge states never reach the
// provider and never cause a 500.
func TestSec11UnknownState(t *testing.T) {
	e := newEnv(t)
	e.startLogin(e.browser, "dev")
	for name, state := range map[string]string{
		"random well-formed": strings.Repeat("A", 43),
		"sql":                "' OR '1'='1' --",
		"10 KB":              strings.Repeat("s", 10<<10),
		"unicode":            "état",
	} {
		t.Run(name, func(t *testing.T) {
			r := e.authorize(e.browser, "dev", map[string]string{"code": "c0de", "state": state})
			if r.status != http.StatusBadRequest {
				t.Fatalf("status = %d %s", r.status, r.body)
			}
			if code := r.json(t)["error"]; code != "invalid_state" && code != "invalid_request" {
				t.Fatalf("error = %v", code)
			}
		})
	}
	if n := e.exchanges["dev"].Load(); n != 0 {
		t.Errorf("provider exchanges = %d, want 0", n)
	}
}

// TestSec12Replay: a successful code and state work once.
func TestSec12Replay(t *testing.T) {
	e := newEnv(t)
	q := e.devApprove(e.startLogin(e.browser, "dev"), "allow", "A", "a@example.com")
	body := map[string]string{"code": q.Get("code"), "state": q.Get("state")}
	// Keep the login cookie: the replay carries it too.
	cookies := e.browser.Jar.Cookies(mustURL(t, e.ts.URL))
	if r := e.authorize(e.browser, "dev", body); r.status != http.StatusOK {
		t.Fatalf("first authorize = %d %s", r.status, r.body)
	}
	e.browser.Jar.SetCookies(mustURL(t, e.ts.URL), cookies)
	wantError(t, e.authorize(e.browser, "dev", body), http.StatusBadRequest, "invalid_state")
	if n := e.exchanges["dev"].Load(); n != 1 {
		t.Errorf("provider exchanges = %d, want 1", n)
	}
	if e.count("users") != 1 || e.count("identities") != 1 {
		t.Errorf("users %d identities %d, want 1, 1", e.count("users"), e.count("identities"))
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestSec13ConcurrentAuthorize: identical authorize requests at the same
// moment (React StrictMode's double effect): exactly one wins, and the
// provider is asked once.
func TestSec13ConcurrentAuthorize(t *testing.T) {
	e := newEnv(t)
	q := e.devApprove(e.startLogin(e.browser, "dev"), "allow", "A", "a@example.com")
	body := map[string]string{"code": q.Get("code"), "state": q.Get("state")}
	const n = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]*response, n)
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = e.authorize(e.browser, "dev", body)
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, r := range results {
		switch r.status {
		case http.StatusOK:
			ok++
		case http.StatusBadRequest:
			if code := r.json(t)["error"]; code != "invalid_state" {
				t.Errorf("loser error = %v, want invalid_state", code)
			}
		default:
			t.Errorf("status = %d %s", r.status, r.body)
		}
	}
	if ok != 1 {
		t.Errorf("%d requests succeeded, want exactly 1", ok)
	}
	if got := e.exchanges["dev"].Load(); got != 1 {
		t.Errorf("provider exchanges = %d, want 1", got)
	}
	if e.count("users") != 1 {
		t.Errorf("users = %d, want 1", e.count("users"))
	}
}

// TestSec14ExpiredLogin: a login finished after its ten minutes is refused
// before the provider is called, and its row is gone.
func TestSec14ExpiredLogin(t *testing.T) {
	for _, tc := range []struct {
		after time.Duration
		ok    bool
	}{{LoginTTL - time.Second, true}, {LoginTTL, false}, {11 * time.Minute, false}} {
		t.Run(tc.after.String(), func(t *testing.T) {
			e := newEnv(t)
			authURL := e.startLogin(e.browser, "dev")
			e.clock.Advance(tc.after)
			q := e.devApprove(authURL, "allow", "A", "a@example.com")
			r := e.authorize(e.browser, "dev", map[string]string{"code": q.Get("code"), "state": q.Get("state")})
			if tc.ok {
				if r.status != http.StatusOK {
					t.Fatalf("status = %d %s", r.status, r.body)
				}
				return
			}
			wantError(t, r, http.StatusBadRequest, "invalid_state")
			if n := e.exchanges["dev"].Load(); n != 0 {
				t.Errorf("provider exchanges = %d, want 0", n)
			}
			if n := e.count("login_states"); n != 0 {
				t.Errorf("login_states = %d, want 0", n)
			}
		})
	}
}

// TestSec15CodeInjection: an attacker posts the victim's code with the
// attacker's own state and cookie. The provider checks PKCE against the
// attacker's verifier and refuses; no user is created.
func TestSec15CodeInjection(t *testing.T) {
	e := newEnv(t)
	victim, attacker := e.newBrowser(), e.newBrowser()
	victimCode := e.devApprove(e.startLogin(victim, "dev"), "allow", "Victim", "victim@example.com").Get("code")
	attackerState := e.devApprove(e.startLogin(attacker, "dev"), "allow", "Mallory", "mallory@example.com").Get("state")

	r := e.authorize(attacker, "dev", map[string]string{"code": victimCode, "state": attackerState})
	wantError(t, r, http.StatusBadRequest, "invalid_grant")
	if e.count("users") != 0 {
		t.Errorf("users = %d, want 0", e.count("users"))
	}
	// The attacker's login is spent.
	if n := e.count("login_states"); n != 1 {
		t.Errorf("login_states = %d, want 1 (only the victim's)", n)
	}
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

// TestSec19MalformedBodies: every malformed authorize body gets the
// standard error with a 4xx, and the provider is never called.
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
