package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/jwstest"
	"github.com/gatehouse/gatehouse/internal/rawhttp"
	"github.com/gatehouse/gatehouse/token"
)

// Exact WWW-Authenticate challenges (RFC 6750 §3): no error parameter when
// the request carried no credentials, invalid_token when it carried bad
// ones.
const (
	challengeNone         = "Bearer"
	challengeInvalidToken = `Bearer error="invalid_token"`
)

// me calls GET /me with tok as the bearer token.
func (e *env) me(tok string) *response {
	e.t.Helper()
	return e.get("/me", "Authorization", "Bearer "+tok)
}

// loginUser logs a user in through the dev provider and returns the access
// token and the user's id.
func (e *env) loginUser(email string) (tok, userID string) {
	e.t.Helper()
	body := e.loginDev(e.newBrowser(), email)
	tok, userID = body["access_token"].(string), body["user"].(map[string]any)["id"].(string)
	e.sids[userID] = tokenClaims(e.t, tok)["sid"].(string)
	return tok, userID
}

// tokenClaims decodes the claims of a token we issued, unverified.
func tokenClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	return tokenPart(t, tok, 1)
}

// tokenHeader decodes the protected header of a token we issued.
func tokenHeader(t *testing.T, tok string) map[string]any {
	t.Helper()
	return tokenPart(t, tok, 0)
}

// tokenPart decodes part i (0 the header, 1 the claims) of a token.
func tokenPart(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWS", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// wantChallenge checks that r carries exactly one WWW-Authenticate header
// with the given value.
func wantChallenge(t *testing.T, r *response, want string) {
	t.Helper()
	if got := r.header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != want {
		t.Fatalf("WWW-Authenticate = %q, want exactly %q", got, want)
	}
}

// wantInvalidToken checks the answer to a request with a bad access token.
func wantInvalidToken(t *testing.T, r *response) {
	t.Helper()
	wantError(t, r, http.StatusUnauthorized, gatehouse.EInvalidToken)
	wantChallenge(t, r, challengeInvalidToken)
}

// wantMe checks a 200 from /me for the user id.
func wantMe(t *testing.T, r *response, userID string) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("/me = %d %s, want 200", r.status, r.body)
	}
	if got := r.json(t)["id"]; got != userID {
		t.Fatalf("/me id = %v, want %q", got, userID)
	}
}

// forged returns e.claims(userID), valid now, with mods applied.
func (e *env) forged(userID string, mods ...func(c map[string]any)) map[string]any {
	c := e.claims(userID)
	for _, m := range mods {
		m(c)
	}
	return c
}

// withHeader returns e.header() with mod applied.
func withHeader(e *env, mod func(h map[string]any)) map[string]any {
	h := e.header()
	mod(h)
	return h
}

// TestSec47NoAuthorization: no credentials at all is a plain challenge with
// no error parameter and the standard body.
func TestSec47NoAuthorization(t *testing.T) {
	e := newEnv(t)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		t.Run(method, func(t *testing.T) {
			r := e.request(e.browser, method, "/me", nil)
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", r.status)
			}
			wantChallenge(t, r, challengeNone)
			if method == http.MethodGet {
				wantError(t, r, http.StatusUnauthorized, gatehouse.EUnauthorized)
			}
		})
	}
}

// TestSec48GarbageBearer: anything that is not a bearer JWS in compact
// form is invalid_token, never a 500.
func TestSec48GarbageBearer(t *testing.T) {
	e := newEnv(t)
	valid, userID := e.loginUser("a@example.com")
	wantMe(t, e.me(valid), userID)
	p := strings.Split(valid, ".")
	sigBytes, err := base64.RawURLEncoding.DecodeString(p[2])
	if err != nil {
		t.Fatal(err)
	}
	jsonSerialized, _ := json.Marshal(map[string]any{
		"payload":    p[1],
		"signatures": []map[string]string{{"protected": p[0], "signature": p[2]}},
	})
	cases := map[string]string{
		"Bearer (empty)":      "Bearer",
		"Bearer and spaces":   "Bearer    ",
		"Basic":               "Basic dXNlcjpwYXNz",
		"not a JWT":           "Bearer thisisnotajwt",
		"two segments":        "Bearer " + p[0] + "." + p[1],
		"trailing dot":        "Bearer " + valid + ".",
		"five-segment JWE":    "Bearer eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGe.48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A.XFBoMYUZodetZdvTiFvSkQ",
		"JWS JSON":            "Bearer " + string(jsonSerialized),
		"padded signature":    "Bearer " + p[0] + "." + p[1] + "." + base64.URLEncoding.EncodeToString(sigBytes),
		"padded header":       "Bearer " + p[0] + "=." + p[1] + "." + p[2],
		"padded payload":      "Bearer " + p[0] + "." + p[1] + "=." + p[2],
		"plus in payload":     "Bearer " + p[0] + "." + p[1][:10] + "+" + p[1][10:] + "." + p[2],
		"slash in signature":  "Bearer " + p[0] + "." + p[1] + "." + p[2][:10] + "/" + p[2][10:],
		"std base64 alphabet": "Bearer " + p[0] + "." + p[1] + "." + base64.RawStdEncoding.EncodeToString(append([]byte{0xfb, 0xff}, sigBytes[2:]...)),
		"quote in header":     "Bearer " + `ey"J` + p[0] + "." + p[1] + "." + p[2],
		"brace in payload":    "Bearer " + p[0] + ".{" + p[1] + "." + p[2],
		"token twice":         "Bearer " + valid + " " + valid,
		"tab after Bearer":    "Bearer\t" + valid,
		"Bearer Bearer":       "Bearer Bearer " + valid,
		"empty value":         "",
		"three dots":          "Bearer ...",
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			wantInvalidToken(t, e.get("/me", "Authorization", h))
		})
	}
}

// The attack tables of SECURITY.md's items 49 to 55 live in
// token/token_test.go, against token.Verifier, which the server uses. The
// tests below prove, with one token per kind, that a refusal of each kind
// reaches the client as a 401 invalid_token with its challenge and JSON
// body, and that the server's verifier is wired with its issuer, audience,
// clock, leeway and lifetime.

// TestSec49AlgorithmConfusion: alg none under our kid is refused over HTTP.
func TestSec49AlgorithmConfusion(t *testing.T) {
	e := newEnv(t)
	_, userID := e.loginUser("a@example.com")
	c := e.forged(userID)
	wantMe(t, e.me(e.sign(e.header(), c)), userID)
	h := withHeader(e, func(h map[string]any) { h["alg"] = "none" })
	wantInvalidToken(t, e.me(jwstest.Sign("none", nil, h, c)))
}

// TestSec50Tampering: a flipped bit in the claims is refused over HTTP.
func TestSec50Tampering(t *testing.T) {
	e := newEnv(t)
	valid, userID := e.loginUser("a@example.com")
	wantMe(t, e.me(valid), userID)
	payload := mustB64(t, strings.Split(valid, ".")[1])
	wantInvalidToken(t, e.me(jwstest.FlipBit(valid, 1, 8*strings.Index(string(payload), userID)+1)))
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSec51TimeClaims: the server's verifier runs on the injected clock
// with Leeway, and refuses tokens living longer than the configured access
// token TTL.
func TestSec51TimeClaims(t *testing.T) {
	if Leeway > token.MaxLeeway {
		t.Fatalf("Leeway %s exceeds %s", Leeway, token.MaxLeeway)
	}
	t.Run("real token around expiry", func(t *testing.T) {
		e := newEnv(t)
		tok, userID := e.loginUser("a@example.com")
		// A 15 minute token with 30 s of leeway.
		e.clock.Advance(15*time.Minute + 29*time.Second)
		wantMe(t, e.me(tok), userID)
		e.clock.Advance(time.Second)
		wantInvalidToken(t, e.me(tok))
	})
	t.Run("lifetime over the TTL", func(t *testing.T) {
		e := newEnv(t)
		_, userID := e.loginUser("a@example.com")
		iat := e.clock.Now().Unix()
		c := e.forged(userID, func(c map[string]any) { c["exp"] = iat + int64(DefaultAccessTokenTTL/time.Second) + 1 })
		wantInvalidToken(t, e.me(e.sign(e.header(), c)))
	})
}

// TestSec52ClaimsConfusion: a token of another issuer, signed with our key,
// is refused over HTTP.
func TestSec52ClaimsConfusion(t *testing.T) {
	e := newEnv(t)
	_, userID := e.loginUser("a@example.com")
	c := e.forged(userID, func(c map[string]any) { c["iss"] = "https://evil.example" })
	wantInvalidToken(t, e.me(e.sign(e.header(), c)))
}

// TestSec53CriticalHeaders: a validly signed token with crit is refused
// over HTTP.
func TestSec53CriticalHeaders(t *testing.T) {
	e := newEnv(t)
	_, userID := e.loginUser("a@example.com")
	h := withHeader(e, func(h map[string]any) { h["crit"] = []string{"exp"} })
	wantInvalidToken(t, e.me(e.sign(h, e.forged(userID))))
}

// TestSec54KidInjection: a hostile key id, with a key URL in the header, is
// refused with no outbound fetch and nothing logged as an error.
func TestSec54KidInjection(t *testing.T) {
	e := newEnv(t)
	_, userID := e.loginUser("a@example.com")
	var fetches atomic.Int32
	keyServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"keys":[]}`)
	}))
	defer keyServer.Close()
	attacker, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h := withHeader(e, func(h map[string]any) {
		h["kid"], h["jku"] = "../../../../dev/null' OR '1'='1", keyServer.URL+"/jwks.json"
	})
	wantInvalidToken(t, e.me(jwstest.Sign(token.ES256, attacker, h, e.forged(userID))))
	if n := fetches.Load(); n != 0 {
		t.Errorf("the server fetched from a URL in a token header %d times", n)
	}
	logs := e.logs.String()
	for _, bad := range []string{"level=ERROR", "dev/null", "sqlite", "OR '1'"} {
		if strings.Contains(logs, bad) {
			t.Errorf("logs contain %q:\n%s", bad, logs)
		}
	}
}

// TestSec55DenialOfServiceTokens: a huge token is refused quickly, and the
// server keeps serving.
func TestSec55DenialOfServiceTokens(t *testing.T) {
	e := newEnv(t)
	valid, userID := e.loginUser("a@example.com")
	start := time.Now()
	r := e.me(strings.Repeat(".", 1_000_000))
	// Generous: the size checks answer in well under a millisecond; this
	// only catches parsing of the whole input.
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s", d)
	}
	if r.status != http.StatusRequestHeaderFieldsTooLarge {
		wantInvalidToken(t, r)
	}
	wantMe(t, e.me(valid), userID)
}

// TestSec57TokenPlacement: the token is accepted from the Authorization
// header only, and odd spellings of the path never skip authentication.
func TestSec57TokenPlacement(t *testing.T) {
	e := newEnv(t)
	tok, userID := e.loginUser("a@example.com")
	wantMe(t, e.me(tok), userID)
	noCredentials := func(t *testing.T, r *response) {
		t.Helper()
		wantError(t, r, http.StatusUnauthorized, gatehouse.EUnauthorized)
		wantChallenge(t, r, challengeNone)
	}
	form := []string{"Content-Type", "application/x-www-form-urlencoded"}

	t.Run("query only", func(t *testing.T) {
		noCredentials(t, e.get("/me?access_token="+tok))
	})
	t.Run("form body POST", func(t *testing.T) {
		wantError(t, e.request(e.browser, http.MethodPost, "/me", "access_token="+tok, form...),
			http.StatusMethodNotAllowed, gatehouse.EMethodNotAllowed)
	})
	t.Run("form body GET", func(t *testing.T) {
		noCredentials(t, e.request(e.browser, http.MethodGet, "/me", "access_token="+tok, form...))
	})
	t.Run("cookie only", func(t *testing.T) {
		noCredentials(t, e.get("/me", "Cookie",
			"access_token="+tok+"; __Host-access_token="+tok+"; token="+tok+"; Authorization=Bearer%20"+tok))
	})
	t.Run("header and query", func(t *testing.T) {
		for _, q := range []string{"?access_token=" + tok, "?access_token=", "?x=1&access_token=other", "?access_token=" + tok + ";", "?a=1;access_token=x"} {
			r := e.get("/me"+q, "Authorization", "Bearer "+tok)
			wantError(t, r, http.StatusBadRequest, gatehouse.EInvalidRequest)
		}
	})
	t.Run("header and form body", func(t *testing.T) {
		// The body is never read: the header alone decides.
		wantMe(t, e.request(e.browser, http.MethodGet, "/me", "access_token=garbage", append(form, "Authorization", "Bearer "+tok)...), userID)
	})

	paths := []string{"/me?x=/public", "/ME", "/Me", "/me/", "//me", "/me/.", "/./me", "/public/../me",
		"/%6de", "/%6De", "/me%2f", "/me;/public", "/me%00", "/me?", "/me?access_token"}
	for _, p := range paths {
		t.Run("path "+p, func(t *testing.T) {
			wantNoUser(t, e.get(p), userID)
		})
	}
	for _, p := range []string{"//me", "/me/.", "/./me", "/public/../me", "//auth/refresh", "/auth//providers"} {
		t.Run("unclean path "+p+" is a JSON 404, not a redirect", func(t *testing.T) {
			wantError(t, e.get(p, "Authorization", "Bearer "+tok), http.StatusNotFound, gatehouse.ENotFound)
		})
	}
	t.Run("path /me#/public", func(t *testing.T) {
		// A client never sends a fragment; write one on the wire.
		resp, body := e.raw("GET /me#/public HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		wantNoUser(t, &response{status: resp.StatusCode, header: resp.Header, body: body}, userID)
	})
}

// wantNoUser checks that a request without a token did not get the user:
// any status but 200 is fine, and a redirect stays on this server.
func wantNoUser(t *testing.T, r *response, userID string) {
	t.Helper()
	if r.status == http.StatusOK || strings.Contains(string(r.body), userID) {
		t.Fatalf("status = %d, body %s: the user without a token", r.status, r.body)
	}
	if r.status >= 500 {
		t.Fatalf("status = %d %s", r.status, r.body)
	}
	if loc := r.header.Get("Location"); loc != "" {
		u, err := url.Parse(loc)
		if err != nil || u.Host != "" || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, `/\`) {
			t.Fatalf("redirect to %q leaves the server", loc)
		}
	}
}

// raw sends req as is over a new TCP connection to the (plain http) test
// server and returns the response.
func (e *env) raw(req string) (*http.Response, []byte) {
	e.t.Helper()
	return rawhttp.Do(e.t, e.ts.Listener.Addr().String(), req)
}

// TestSec58MalformedAuthorization: non-ASCII, percent-encoded, duplicated
// and CR/LF-smuggling Authorization headers are 400 or 401, never 500, and
// the server keeps serving.
func TestSec58MalformedAuthorization(t *testing.T) {
	e := newEnv(t)
	tok, userID := e.loginUser("a@example.com")
	fourxx := func(t *testing.T, r *response) {
		t.Helper()
		switch r.status {
		case http.StatusBadRequest:
			wantError(t, r, http.StatusBadRequest, gatehouse.EInvalidRequest)
		case http.StatusUnauthorized:
			wantInvalidToken(t, r)
		default:
			t.Fatalf("status = %d %s, want 400 or 401", r.status, r.body)
		}
	}
	for name, h := range map[string]string{
		"percent-encoded":             "Bearer %E0%A4%A",
		"raw non-UTF-8 bytes":         "Bearer \xff\xfe\xfd.\xc3\x28.\xa0\xa1",
		"raw UTF-8":                   "Bearer тест.тест.тест",
		"non-UTF-8 scheme":            "B\xe9arer " + tok,
		"valid token, non-UTF-8 tail": "Bearer " + tok + "\xff",
	} {
		t.Run(name, func(t *testing.T) { fourxx(t, e.get("/me", "Authorization", h)) })
	}
	t.Run("two Authorization headers", func(t *testing.T) {
		fourxx(t, e.get("/me", "Authorization", "Bearer "+tok, "Authorization", "Bearer "+tok))
		fourxx(t, e.get("/me", "Authorization", "Bearer "+tok, "Authorization", "Bearer garbage"))
		fourxx(t, e.get("/me", "Authorization", "Bearer garbage", "Authorization", "Bearer "+tok))
	})
	// Raw requests. net/http refuses a CR, NUL or bare LF that breaks the
	// value with a 400 before any handler runs. A bare LF followed by a
	// well-formed line, or an obs-fold, it reads as a line end or a space
	// (RFC 9112 §2.2, §5.2): those reach us as a different, still invalid,
	// token.
	for _, tc := range []struct {
		name, value string
		want        []int
	}{
		{"bare LF", "Bearer " + tok[:20] + "\n" + tok[20:], []int{400}},
		{"bare CR", "Bearer " + tok[:20] + "\r" + tok[20:], []int{400}},
		{"CR LF in the value", "Bearer " + tok[:20] + "\r\n" + tok[20:], []int{400}},
		{"NUL", "Bearer " + tok[:20] + "\x00" + tok[20:], []int{400}},
		{"bare LF then a header line", "Bearer x\nX-Injected: 1", []int{400, 401}},
		{"obs-fold", "Bearer x\r\n y", []int{400, 401}},
	} {
		t.Run("raw "+tc.name, func(t *testing.T) {
			resp, body := e.raw("GET /me HTTP/1.1\r\nHost: x\r\nAuthorization: " + tc.value + "\r\nConnection: close\r\n\r\n")
			if !slices.Contains(tc.want, resp.StatusCode) {
				t.Fatalf("status = %d %s, want one of %v", resp.StatusCode, body, tc.want)
			}
			if resp.StatusCode == http.StatusUnauthorized {
				wantInvalidToken(t, &response{status: resp.StatusCode, header: resp.Header, body: body})
			}
		})
	}
	wantMe(t, e.me(tok), userID)
}

// TestSec56UserDeleted: a valid token outlives its user's row, but not the
// user: /me and Require refuse it with 401 (the user's sessions went with
// the row).
func TestSec56UserDeleted(t *testing.T) {
	e := newEnv(t)
	tok, userID := e.loginUser("a@example.com")
	wantMe(t, e.me(tok), userID)

	if n := e.exec("DELETE FROM users WHERE id = ?", userID); n != 1 {
		t.Fatalf("deleted %d users, want 1", n)
	}

	wantInvalidToken(t, e.me(tok))

	var calls atomic.Int32
	h := e.srv.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	r := serveRecorded(h, tok)
	wantInvalidToken(t, r)
	if n := calls.Load(); n != 0 {
		t.Errorf("the private handler ran %d times", n)
	}
}

// serveRecorded serves GET /private with tok (if any) as bearer token
// through h, in process.
func serveRecorded(h http.Handler, tok string, headers ...string) *response {
	req := httptest.NewRequest(http.MethodGet, "/private", nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return &response{status: rec.Code, header: rec.Result().Header, body: rec.Body.Bytes()}
}

// TestRequireMiddleware: a private route behind Require sees the token's
// user; without a valid token the route never runs and the client gets the
// standard 401.
func TestRequireMiddleware(t *testing.T) {
	e := newEnv(t)
	tok, userID := e.loginUser("ada@example.com")
	var calls atomic.Int32
	private := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		u, ok := gatehouse.UserFromContext(r.Context())
		if !ok {
			http.Error(w, "no user in the context", http.StatusTeapot)
			return
		}
		writeJSON(w, http.StatusOK, u)
	})
	app := httptest.NewServer(e.srv.Require(private))
	defer app.Close()
	get := func(path string, headers ...string) *response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, app.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Add(headers[i], headers[i+1])
		}
		resp, err := app.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return &response{status: resp.StatusCode, header: resp.Header, body: b}
	}

	r := get("/private", "Authorization", "Bearer "+tok)
	if r.status != http.StatusOK {
		t.Fatalf("with a valid token: %d %s", r.status, r.body)
	}
	if u := r.json(t); u["id"] != userID || u["email"] != "ada@example.com" {
		t.Errorf("the handler saw user %v, want %s", u, userID)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler calls = %d, want 1", n)
	}

	t.Run("no token", func(t *testing.T) {
		r := get("/private")
		wantError(t, r, http.StatusUnauthorized, gatehouse.EUnauthorized)
		wantChallenge(t, r, challengeNone)
	})
	t.Run("garbage token", func(t *testing.T) {
		wantInvalidToken(t, get("/private", "Authorization", "Bearer thisisnotajwt"))
	})
	t.Run("token in the query", func(t *testing.T) {
		wantError(t, get("/private?access_token="+tok), http.StatusUnauthorized, gatehouse.EUnauthorized)
	})
	t.Run("header and query", func(t *testing.T) {
		wantError(t, get("/private?access_token="+tok, "Authorization", "Bearer "+tok), http.StatusBadRequest, gatehouse.EInvalidRequest)
	})
	t.Run("unknown user", func(t *testing.T) {
		wantInvalidToken(t, get("/private", "Authorization", "Bearer "+e.sign(e.header(), e.claims("no-such-user"))))
	})
	t.Run("expired", func(t *testing.T) {
		e.clock.Advance(DefaultAccessTokenTTL + Leeway)
		defer e.clock.Advance(-DefaultAccessTokenTTL - Leeway)
		wantInvalidToken(t, get("/private", "Authorization", "Bearer "+tok))
	})
	if n := calls.Load(); n != 1 {
		t.Errorf("handler calls = %d, want 1: it ran without a valid token", n)
	}
}

// TestSec74ResponseHeaders: auth and /me responses, successes and errors,
// carry the no-store, no-referrer, nosniff, JSON and no-framing headers,
// and HSTS exactly when served over https.
func TestSec74ResponseHeaders(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[tls], func(t *testing.T) {
			e := newEnv(t, func(o *envOptions) { o.tls = tls })
			tok, _ := e.loginUser("a@example.com")
			cases := []struct {
				name   string
				r      *response
				status int
			}{
				{"GET /auth/providers", e.get("/auth/providers"), http.StatusOK},
				{"GET /auth/dev/login", e.get("/auth/dev/login"), http.StatusOK},
				{"POST /auth/dev/authorize error", e.authorize(e.newBrowser(), "dev", map[string]string{"code": "c", "state": "s"}), http.StatusBadRequest},
				{"GET /me 200", e.me(tok), http.StatusOK},
				{"GET /me 401 no token", e.get("/me"), http.StatusUnauthorized},
				{"GET /me 401 bad token", e.me("x"), http.StatusUnauthorized},
				{"POST /me 405", e.request(e.browser, http.MethodPost, "/me", nil), http.StatusMethodNotAllowed},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					r := tc.r
					if r.status != tc.status {
						t.Fatalf("status = %d %s, want %d", r.status, r.body, tc.status)
					}
					for name, want := range map[string]string{
						"Cache-Control":          "no-store",
						"Referrer-Policy":        "no-referrer",
						"X-Content-Type-Options": "nosniff",
						"Content-Type":           "application/json; charset=utf-8",
					} {
						if got := r.header.Values(name); len(got) != 1 || got[0] != want {
							t.Errorf("%s = %q, want %q", name, got, want)
						}
					}
					if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
						t.Errorf("Content-Security-Policy = %q, want frame-ancestors 'none'", csp)
					}
					hsts := r.header.Get("Strict-Transport-Security")
					if tls {
						age, ok := strings.CutPrefix(hsts, "max-age=")
						if n, err := strconv.Atoi(strings.Split(age, ";")[0]); !ok || err != nil || n < 180*24*3600 {
							t.Errorf("Strict-Transport-Security = %q, want max-age of at least 180 days", hsts)
						}
					} else if hsts != "" {
						t.Errorf("Strict-Transport-Security = %q over plain http", hsts)
					}
				})
			}
		})
	}
}

// TestSec59JWKSOverHTTP: the key set is public, cacheable, and holds public
// keys only; discovery points at it.
func TestSec59JWKSOverHTTP(t *testing.T) {
	e := newEnv(t)
	for _, headers := range [][]string{nil, {"Authorization", "Bearer thisisnotajwt"}} {
		r := e.get("/.well-known/jwks.json", headers...)
		if r.status != http.StatusOK {
			t.Fatalf("status = %d %s", r.status, r.body)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" && ct != "application/jwk-set+json" {
			t.Errorf("Content-Type = %q", ct)
		}
		cc := r.header.Get("Cache-Control")
		age, ok := strings.CutPrefix(cc, "public, max-age=")
		if n, err := strconv.Atoi(age); !ok || err != nil || n <= 0 {
			t.Errorf("Cache-Control = %q, want public, max-age=N", cc)
		}
		var set struct {
			Keys []map[string]any `json:"keys"`
		}
		if err := json.Unmarshal(r.body, &set); err != nil {
			t.Fatalf("JWKS %s: %v", r.body, err)
		}
		if len(set.Keys) == 0 {
			t.Fatal("the JWKS is empty")
		}
		kids := map[string]bool{}
		for _, k := range set.Keys {
			kid, _ := k["kid"].(string)
			if kid == "" || kids[kid] {
				t.Errorf("key %v: kid missing or repeated", k)
			}
			kids[kid] = true
			for _, m := range []string{"kty", "alg"} {
				if s, _ := k[m].(string); s == "" {
					t.Errorf("key %s has no %s", kid, m)
				}
			}
			if k["use"] != "sig" {
				t.Errorf("key %s: use = %v, want sig", kid, k["use"])
			}
			if k["kty"] == "oct" {
				t.Errorf("key %s is symmetric", kid)
			}
			for _, m := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
				if _, ok := k[m]; ok {
					t.Errorf("key %s publishes private member %q", kid, m)
				}
			}
			if kid == e.kid && k["alg"] != token.ES256 {
				t.Errorf("key %s: alg = %v, want %s", kid, k["alg"], token.ES256)
			}
		}
		if !kids[e.kid] {
			t.Errorf("the JWKS lacks the signing key %s", e.kid)
		}
	}

	r := e.get("/.well-known/openid-configuration")
	if r.status != http.StatusOK {
		t.Fatalf("discovery = %d %s", r.status, r.body)
	}
	m := r.json(t)
	if m["issuer"] != e.ts.URL || m["jwks_uri"] != e.ts.URL+"/.well-known/jwks.json" {
		t.Errorf("discovery = %v, want issuer %s and its jwks_uri", m, e.ts.URL)
	}
}

// TestHealthAndReady: liveness does not depend on the database; readiness
// does, and says when to come back.
func TestHealthAndReady(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := e.get(p); r.status != http.StatusOK || r.json(t)["status"] != "ok" {
			t.Fatalf("%s = %d %s", p, r.status, r.body)
		}
	}
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	r := e.get("/readyz")
	wantError(t, r, http.StatusServiceUnavailable, gatehouse.EUnavailable)
	if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n <= 0 {
		t.Errorf("Retry-After = %q, want a positive number of seconds", r.header.Get("Retry-After"))
	}
	if strings.Contains(strings.ToLower(string(r.body)), "sql") {
		t.Errorf("the body names the database: %s", r.body)
	}
	if r := e.get("/healthz"); r.status != http.StatusOK {
		t.Errorf("/healthz with the database down = %d %s", r.status, r.body)
	}
}
