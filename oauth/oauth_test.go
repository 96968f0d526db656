package oauth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"golang.org/x/oauth2"
)

// These tests run the engine against a fake authorization server that
// behaves as the RFCs say (authserver_test.go), so that every provider
// built on the engine inherits what they prove. Each provider's package
// tests its own quirks.

func testParams() gatehouse.AuthParams {
	return gatehouse.AuthParams{State: "st4te-Zx9", RedirectURI: fakeRedirect, CodeVerifier: fakeVerifier}
}

func newProvider(t *testing.T, s *authServer, timeout time.Duration, edit ...func(*Config)) *Provider {
	t.Helper()
	c := Config{
		ClientID:     fakeClientID,
		ClientSecret: fakeClientSecret,
		Endpoint:     s.endpoint(),
		Scopes:       []string{"openid", "profile"},
		HTTPClient:   NewHTTPClient(timeout),
		Identity:     identity(s.URL + "/userinfo"),
	}
	for _, e := range edit {
		e(&c)
	}
	p, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// login has the user approve a login for account "user-1" and returns the
// code.
func login(t *testing.T, s *authServer, p *Provider) string {
	t.Helper()
	return s.authorize(p.AuthCodeURL(testParams()), "user-1")
}

// errorCode returns the gatehouse error code of err and checks that the
// error carries neither the client secret nor the provider's description.
func errorCode(t *testing.T, err error) string {
	t.Helper()
	if err != nil {
		for _, leak := range []string{fakeClientSecret, "the code is invalid", "client authentication failed", "DESCRIPTION"} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("error %q contains %q", err, leak)
			}
		}
	}
	return gatehouse.ErrorCode(err)
}

// answer returns a handler that answers with status, content type and
// body, and headers as name, value pairs.
func answer(status int, contentType, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

const jsonType = "application/json; charset=utf-8"

func TestNewRefusesIncompleteConfig(t *testing.T) {
	good := func() Config {
		return Config{ClientID: "id", ClientSecret: "secret",
			Identity: func(context.Context, *http.Client, *oauth2.Token, gatehouse.AuthParams) (*gatehouse.Identity, error) {
				return nil, nil
			},
			Endpoint: oauth2.Endpoint{AuthURL: "https://p/a", TokenURL: "https://p/t", AuthStyle: oauth2.AuthStyleInParams}}
	}
	tests := []struct {
		name  string
		edit  func(c *Config)
		field string // the field the error must name
	}{
		{"no client id", func(c *Config) { c.ClientID = "" }, "ClientID"},
		{"no client secret", func(c *Config) { c.ClientSecret = "" }, "ClientSecret"},
		{"no auth URL", func(c *Config) { c.Endpoint.AuthURL = "" }, "Endpoint"},
		{"no token URL", func(c *Config) { c.Endpoint.TokenURL = "" }, "Endpoint"},
		{"auto-detected style", func(c *Config) { c.Endpoint.AuthStyle = oauth2.AuthStyleAutoDetect }, "AuthStyle"},
		{"no identity function", func(c *Config) { c.Identity = nil }, "Identity"},
		{"reserved extra parameter", func(c *Config) { c.AuthURLParams = url.Values{"Redirect_URI": {"https://evil.example"}} }, "AuthURLParams"},
		{"challenge-like extra parameter", func(c *Config) { c.AuthURLParams = url.Values{"code_challenge_x": {"c"}} }, "AuthURLParams"},
		{"extra parameter with two values", func(c *Config) { c.AuthURLParams = url.Values{"hd": {"a", "b"}} }, "AuthURLParams"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.edit(&c)
			p, err := New(c)
			if err == nil || p != nil {
				t.Fatalf("got %v, %v; want an error", p, err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("got error %q, want it to name %s", err, tc.field)
			}
		})
	}
	if _, err := New(good()); err != nil {
		t.Errorf("got %v for a complete config, want nil", err)
	}
}

// TestAuthCodeURL: the authorization URL carries the client, the exact
// redirect_uri, the state, the scopes and the S256 challenge of the
// verifier, and neither the verifier nor the secret.
func TestAuthCodeURL(t *testing.T) {
	if s256(fakeVerifier) != fakeChallenge {
		t.Fatalf("the test challenge is not S256 of the verifier")
	}
	tests := []struct {
		name     string
		redirect string
	}{
		{"plain callback", fakeRedirect},
		{"callback with an escaped query", "http://127.0.0.1:8080/cb?tenant=a%2Fb&next=%2Fhome%3Fx%3D1%20y"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newAuthServer(t, oauth2.AuthStyleInParams)
			p := newProvider(t, s, 5*time.Second)
			ap := testParams()
			ap.RedirectURI = tc.redirect
			raw := p.AuthCodeURL(ap)
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if got := u.Scheme + "://" + u.Host + u.Path; got != s.URL+"/authorize" {
				t.Errorf("got %s, want %s/authorize", got, s.URL)
			}
			want := url.Values{
				"response_type":         {"code"},
				"client_id":             {fakeClientID},
				"redirect_uri":          {tc.redirect},
				"state":                 {ap.State},
				"scope":                 {"openid profile"},
				"code_challenge":        {fakeChallenge},
				"code_challenge_method": {"S256"},
			}
			if got := u.Query(); !reflect.DeepEqual(got, want) {
				t.Errorf("got query %v, want %v", got, want)
			}
			for _, secret := range []string{fakeClientSecret, fakeVerifier, url.QueryEscape(fakeVerifier)} {
				if strings.Contains(raw, secret) {
					t.Errorf("URL %s contains %q", raw, secret)
				}
			}
		})
	}
}

// TestAuthCodeURLNonceAndExtraParams: with SendNonce the URL carries the
// login's nonce, and AuthURLParams are added beside the engine's own.
func TestAuthCodeURLNonceAndExtraParams(t *testing.T) {
	s := newAuthServer(t, oauth2.AuthStyleInParams)
	p := newProvider(t, s, 5*time.Second, func(c *Config) {
		c.SendNonce = true
		c.AuthURLParams = url.Values{"hd": {"example.com"}, "prompt": {"select_account"}}
	})
	ap := testParams()
	ap.Nonce = "n0nce-Qx7"
	u, err := url.Parse(p.AuthCodeURL(ap))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for name, want := range map[string]string{"nonce": ap.Nonce, "hd": "example.com", "prompt": "select_account", "state": ap.State} {
		if got := q[name]; len(got) != 1 || got[0] != want {
			t.Errorf("got %s=%q, want %q", name, got, want)
		}
	}
	without := newProvider(t, s, 5*time.Second)
	if u, _ := url.Parse(without.AuthCodeURL(ap)); u.Query().Has("nonce") {
		t.Errorf("got a nonce without SendNonce: %s", u)
	}
}

// TestExchangePassesAuthParams: the Identity function gets the login's
// parameters, so that an OpenID Connect provider can check its nonce.
func TestExchangePassesAuthParams(t *testing.T) {
	s := newAuthServer(t, oauth2.AuthStyleInParams)
	var got gatehouse.AuthParams
	p := newProvider(t, s, 5*time.Second, func(c *Config) {
		inner := c.Identity
		c.Identity = func(ctx context.Context, client *http.Client, tok *oauth2.Token, ap gatehouse.AuthParams) (*gatehouse.Identity, error) {
			got = ap
			return inner(ctx, client, tok, ap)
		}
	})
	ap := testParams()
	ap.Nonce = "n0nce-Qx7"
	code := s.authorize(p.AuthCodeURL(ap), "user-1")
	if _, err := p.Exchange(context.Background(), code, ap); err != nil {
		t.Fatal(err)
	}
	if got != ap {
		t.Errorf("got params %+v, want %+v", got, ap)
	}
}

// TestExchange: one token request, authenticated the one way the endpoint
// names, with the code, the same redirect_uri and the verifier whose S256
// is the challenge of the authorization URL; then the Identity function
// with the access token.
func TestExchange(t *testing.T) {
	tests := []struct {
		name  string
		style oauth2.AuthStyle
	}{
		{"credentials in the body", oauth2.AuthStyleInParams},
		{"credentials in the header", oauth2.AuthStyleInHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newAuthServer(t, tc.style)
			p := newProvider(t, s, 5*time.Second)
			authURL, _ := url.Parse(p.AuthCodeURL(testParams()))
			code := s.authorize(authURL.String(), "user-1")

			ident, err := p.Exchange(context.Background(), code, testParams())
			if err != nil {
				t.Fatal(err)
			}
			if want := (&gatehouse.Identity{Subject: "user-1"}); !reflect.DeepEqual(ident, want) {
				t.Errorf("got identity %+v, want %+v", ident, want)
			}
			reqs := s.Requests("/token")
			if len(reqs) != 1 {
				t.Fatalf("got %d token requests, want 1", len(reqs))
			}
			tr := reqs[0]
			want := url.Values{
				"code":          {code},
				"redirect_uri":  {fakeRedirect},
				"code_verifier": {fakeVerifier},
				"grant_type":    {"authorization_code"},
			}
			wantAuth := ""
			if tc.style == oauth2.AuthStyleInParams {
				want["client_id"] = []string{fakeClientID}
				want["client_secret"] = []string{fakeClientSecret}
			} else {
				r := &http.Request{Header: http.Header{}}
				r.SetBasicAuth(url.QueryEscape(fakeClientID), url.QueryEscape(fakeClientSecret))
				wantAuth = r.Header.Get("Authorization")
			}
			if !reflect.DeepEqual(tr.Form, want) {
				t.Errorf("got token request form %v, want %v", tr.Form, want)
			}
			for _, h := range []struct{ name, want string }{
				{"Authorization", wantAuth},
				{"Accept", "application/json"},
				{"Content-Type", "application/x-www-form-urlencoded"},
			} {
				if got := tr.Header.Get(h.name); got != h.want {
					t.Errorf("got token request %s %q, want %q", h.name, got, h.want)
				}
			}
			if tr.Method != http.MethodPost {
				t.Errorf("got token request method %s, want POST", tr.Method)
			}
			if got, want := s256(tr.Form.Get("code_verifier")), authURL.Query().Get("code_challenge"); got != want {
				t.Errorf("got S256(code_verifier) %q, want the challenge %q", got, want)
			}
			ui := s.Requests("/userinfo")
			if len(ui) != 1 || ui[0].Header.Get("Authorization") != "Bearer at-1" {
				t.Errorf("got userinfo requests %v, want one with the access token", ui)
			}
		})
	}
}

// TestExchangeTokenErrors: every failure of the token request maps to its
// gatehouse error code, after exactly one request (the code is never
// retried, with another client authentication or otherwise), without
// calling the Identity function; the error names the provider's error
// code but carries neither its description nor our secret.
func TestExchangeTokenErrors(t *testing.T) {
	tests := []struct {
		name string
		// prepare returns the code and params to exchange; nil means a
		// normal login.
		prepare     func(t *testing.T, s *authServer, p *Provider) (string, gatehouse.AuthParams)
		hook        http.HandlerFunc
		secret      string           // our client secret, if not the right one
		serverStyle oauth2.AuthStyle // how the server wants the client to authenticate, if not as we do
		want        string
		retryAfter  time.Duration // for EUnavailable
		names       string        // the provider error code the error must name
	}{
		{name: "unknown code", want: gatehouse.EInvalidGrant, names: "invalid_grant",
			prepare: func(t *testing.T, s *authServer, p *Provider) (string, gatehouse.AuthParams) {
				return "0123456789abcdef0123", testParams()
			}},
		{name: "reused code", want: gatehouse.EInvalidGrant,
			prepare: func(t *testing.T, s *authServer, p *Provider) (string, gatehouse.AuthParams) {
				code := login(t, s, p)
				if _, err := p.Exchange(context.Background(), code, testParams()); err != nil {
					t.Fatalf("first exchange: %v", err)
				}
				return code, testParams()
			}},
		{name: "wrong PKCE verifier", want: gatehouse.EInvalidGrant,
			prepare: func(t *testing.T, s *authServer, p *Provider) (string, gatehouse.AuthParams) {
				code := login(t, s, p)
				ap := testParams()
				ap.CodeVerifier = oauth2.GenerateVerifier()
				return code, ap
			}},
		{name: "redirect_uri differs", want: gatehouse.EInvalidGrant,
			prepare: func(t *testing.T, s *authServer, p *Provider) (string, gatehouse.AuthParams) {
				code := login(t, s, p)
				ap := testParams()
				ap.RedirectURI = fakeRedirect + "/other"
				return code, ap
			}},
		{name: "wrong client secret", secret: "wrong-secret-0000000000000000", want: gatehouse.EUpstream, names: "invalid_client"},
		{name: "server wants the credentials in the header", serverStyle: oauth2.AuthStyleInHeader,
			want: gatehouse.EUpstream, names: "invalid_client"},
		{name: "error with HTTP 200",
			hook: answer(200, jsonType, `{"error":"invalid_grant","error_description":"DESCRIPTION"}`), want: gatehouse.EInvalidGrant},
		{name: "access_denied",
			hook: answer(400, jsonType, `{"error":"access_denied","error_description":"DESCRIPTION"}`), want: gatehouse.EAccessDenied},
		{name: "temporarily_unavailable",
			hook: answer(503, jsonType, `{"error":"temporarily_unavailable"}`), want: gatehouse.EUnavailable},
		{name: "429 JSON with Retry-After",
			hook: answer(429, jsonType, `{"message":"Too many requests"}`, "Retry-After", "30"),
			want: gatehouse.EUnavailable, retryAfter: 30 * time.Second},
		{name: "503 HTML with Retry-After",
			hook: answer(503, "text/html", `<html>Down for maintenance</html>`, "Retry-After", "120"),
			want: gatehouse.EUnavailable, retryAfter: 2 * time.Minute},
		{name: "429 without a body", hook: answer(429, "", ""), want: gatehouse.EUnavailable},
		{name: "unknown error code", hook: answer(400, jsonType, `{"error":"unsupported_grant_type"}`),
			want: gatehouse.EUpstream, names: "unsupported_grant_type"},
		{name: "form-encoded answer", want: gatehouse.EUpstream,
			hook: answer(200, "application/x-www-form-urlencoded", "access_token=at-1&token_type=bearer")},
		{name: "HTML page", hook: answer(200, "text/html; charset=utf-8", "<html><body>Sign in</body></html>"), want: gatehouse.EUpstream},
		{name: "HTTP 500 page", hook: answer(500, "text/html", "<html>oops</html>"), want: gatehouse.EUpstream},
		{name: "HTTP 500 JSON", hook: answer(500, jsonType, `{}`), want: gatehouse.EUpstream},
		{name: "redirect", hook: answer(302, jsonType, `{}`, "Location", "https://evil.example/token"), want: gatehouse.EUpstream},
		{name: "missing access_token", hook: answer(200, jsonType, `{"token_type":"bearer"}`), want: gatehouse.EUpstream},
		{name: "token_type mac", hook: answer(200, jsonType, `{"access_token":"at-1","token_type":"mac"}`), want: gatehouse.EUpstream},
		{name: "no token_type", hook: answer(200, jsonType, `{"access_token":"at-1"}`), want: gatehouse.EUpstream},
		{name: "expires_in not a number", want: gatehouse.EUpstream,
			hook: answer(200, jsonType, `{"access_token":"at-1","token_type":"bearer","expires_in":"abc"}`)},
		{name: "not JSON despite the content type", hook: answer(200, jsonType, `access_token=at-1`), want: gatehouse.EUpstream},
		{name: "not an object", hook: answer(200, jsonType, `["at-1"]`), want: gatehouse.EUpstream},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			style := oauth2.AuthStyleInParams
			if tc.serverStyle != 0 {
				style = tc.serverStyle
			}
			s := newAuthServer(t, style)
			p := newProvider(t, s, 5*time.Second, func(c *Config) {
				c.Endpoint.AuthStyle = oauth2.AuthStyleInParams
				if tc.secret != "" {
					c.ClientSecret = tc.secret
				}
			})
			code, ap := "", testParams()
			if tc.prepare != nil {
				code, ap = tc.prepare(t, s, p)
			} else {
				code = login(t, s, p)
			}
			s.onToken = tc.hook
			before, infoBefore := len(s.Requests("/token")), len(s.Requests("/userinfo"))

			ident, err := p.Exchange(context.Background(), code, ap)
			if got := errorCode(t, err); got != tc.want {
				t.Errorf("got identity %+v, error %v (code %q); want %q", ident, err, got, tc.want)
			}
			if ident != nil {
				t.Errorf("got identity %+v with the error, want nil", ident)
			}
			if tc.secret != "" && err != nil && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error %q contains the client secret", err)
			}
			if tc.names != "" && (err == nil || !strings.Contains(err.Error(), tc.names)) {
				t.Errorf("got error %v, want it to name %q", err, tc.names)
			}
			if tc.retryAfter != 0 {
				if ge, _ := errors.AsType[*gatehouse.Error](err); ge == nil || ge.RetryAfter != tc.retryAfter {
					t.Errorf("got error %v, want RetryAfter %v", err, tc.retryAfter)
				}
			}
			if n := len(s.Requests("/token")) - before; n != 1 {
				t.Errorf("got %d token requests, want exactly 1", n)
			}
			if n := len(s.Requests("/userinfo")) - infoBefore; n != 0 {
				t.Errorf("got %d userinfo requests after a failed token request, want 0", n)
			}
		})
	}
}

// TestExchangeIdentityErrors: failures of the Identity function's calls,
// made with GetJSON and classified with APIError, map to their codes after
// one request; an identity without a subject is refused.
func TestExchangeIdentityErrors(t *testing.T) {
	tests := []struct {
		name       string
		hook       http.HandlerFunc
		want       string
		retryAfter time.Duration
	}{
		{"401", answer(401, jsonType, `{"error":"invalid_token"}`), gatehouse.EUpstream, 0},
		{"429 with Retry-After", answer(429, jsonType, `{}`, "Retry-After", "60"), gatehouse.EUnavailable, time.Minute},
		{"503 HTML", answer(503, "text/html", `<html>Unicorn!</html>`), gatehouse.EUnavailable, 0},
		{"500", answer(500, jsonType, `{}`), gatehouse.EUpstream, 0},
		{"HTML page", answer(200, "text/html; charset=utf-8", `<html>Sign in</html>`), gatehouse.EUpstream, 0},
		{"not an object", answer(200, jsonType, `[]`), gatehouse.EUpstream, 0},
		{"truncated JSON", answer(200, jsonType, `{"sub":"user-1"`), gatehouse.EUpstream, 0},
		{"redirect", answer(301, jsonType, `{}`, "Location", "https://evil.example/userinfo"), gatehouse.EUpstream, 0},
		{"no subject", answer(200, jsonType, `{"sub":""}`), gatehouse.EUpstream, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newAuthServer(t, oauth2.AuthStyleInParams)
			p := newProvider(t, s, 5*time.Second)
			code := login(t, s, p)
			s.onUserinfo = tc.hook
			ident, err := p.Exchange(context.Background(), code, testParams())
			if got := errorCode(t, err); got != tc.want || ident != nil {
				t.Fatalf("got identity %+v, error %v (code %q); want %q", ident, err, got, tc.want)
			}
			if tc.retryAfter != 0 {
				if ge, _ := errors.AsType[*gatehouse.Error](err); ge.RetryAfter != tc.retryAfter {
					t.Errorf("got RetryAfter %v, want %v", ge.RetryAfter, tc.retryAfter)
				}
			}
			if n := len(s.Requests("/userinfo")); n != 1 {
				t.Errorf("got %d userinfo requests, want 1", n)
			}
		})
	}
}

// TestExchangeTimeout: a provider that does not answer in time, or stops
// halfway through its answer, is EUpstreamTimeout after one request, each
// call bounded by the client's timeout or the caller's deadline. The fake
// blocks until the client gives up.
func TestExchangeTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	hang := func(release <-chan struct{}) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}
	stall := func(release <-chan struct{}) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", jsonType)
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, `{"access_token":"at-`)
			w.(http.Flusher).Flush()
			hang(release)(w, r)
		}
	}
	tests := []struct {
		name     string
		path     string // the endpoint that hangs
		hook     func(release <-chan struct{}) http.HandlerFunc
		deadline bool // the caller's deadline, not the client's timeout, runs out
	}{
		{"token endpoint never answers", "/token", hang, false},
		{"token answer stalls mid-body", "/token", stall, false},
		{"userinfo never answers", "/userinfo", hang, false},
		{"userinfo answer stalls mid-body", "/userinfo", stall, false},
		{"the caller's deadline", "/token", hang, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newAuthServer(t, oauth2.AuthStyleInParams)
			release := make(chan struct{})
			t.Cleanup(func() { close(release) }) // before the server closes
			clientTimeout := timeout
			ctx := context.Background()
			if tc.deadline {
				clientTimeout = time.Minute
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			p := newProvider(t, s, clientTimeout)
			code := login(t, s, p)
			if tc.path == "/token" {
				s.onToken = tc.hook(release)
			} else {
				s.onUserinfo = tc.hook(release)
			}
			start := time.Now()
			ident, err := p.Exchange(ctx, code, testParams())
			elapsed := time.Since(start)
			if got := errorCode(t, err); got != gatehouse.EUpstreamTimeout {
				t.Errorf("got identity %+v, error %v (code %q); want %q", ident, err, got, gatehouse.EUpstreamTimeout)
			}
			if max := 2*timeout + time.Second; elapsed > max {
				t.Errorf("Exchange took %v, want at most %v", elapsed, max)
			}
			if n := len(s.Requests(tc.path)); n != 1 {
				t.Errorf("got %d requests to %s, want 1 (no retry)", n, tc.path)
			}
		})
	}
}

// TestExchangeResponseSizeLimit serves 50 MB answers and checks that the
// engine gives up early: it reads through a limit, so the fake manages to
// write far less than it tried.
func TestExchangeResponseSizeLimit(t *testing.T) {
	const size = 50 << 20
	tests := []struct {
		name   string
		path   string
		prefix string
	}{
		{"token endpoint", "/token", `{"access_token":"at-1","token_type":"bearer","padding":"`},
		{"userinfo", "/userinfo", `{"sub":"user-1","padding":"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newAuthServer(t, oauth2.AuthStyleInParams)
			var read atomic.Int64
			p := newProvider(t, s, 5*time.Second, func(c *Config) {
				base := c.HTTPClient.Transport
				c.HTTPClient.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
					resp, err := base.RoundTrip(r)
					if err == nil {
						resp.Body = countingBody{resp.Body, &read}
					}
					return resp, err
				})
			})
			code := login(t, s, p)
			var written atomic.Int64
			done := make(chan struct{})
			huge := func(w http.ResponseWriter, r *http.Request) {
				defer close(done)
				w.Header().Set("Content-Type", jsonType)
				w.WriteHeader(http.StatusOK)
				n, err := io.WriteString(w, tc.prefix)
				written.Add(int64(n))
				chunk := strings.Repeat("a", 64<<10)
				for err == nil && written.Load() < size {
					n, err = io.WriteString(w, chunk)
					written.Add(int64(n))
				}
				if err == nil {
					io.WriteString(w, `"}`)
				}
			}
			if tc.path == "/token" {
				s.onToken = huge
			} else {
				s.onUserinfo = huge
			}

			ident, err := p.Exchange(context.Background(), code, testParams())
			if got := errorCode(t, err); got != gatehouse.EUpstream {
				t.Errorf("got identity %+v, error %v (code %q); want %q", ident, err, got, gatehouse.EUpstream)
			}
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the fake is still writing 5s after Exchange returned: the body was not abandoned")
			}
			// What the engine read is exact; what the fake managed to
			// write also counts what the kernel buffered (a few MB).
			if n := read.Load(); n > 1<<20+64<<10 {
				t.Errorf("the engine read %d bytes of the answers, want at most about 1 MiB from the last", n)
			}
			if n := written.Load(); n >= size/4 {
				t.Errorf("the fake wrote %d bytes, want far less than %d", n, size)
			}
		})
	}
}

// countingBody counts the bytes read from a response body into n.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRetryAfter(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"Retry-After seconds", http.Header{"Retry-After": {"60"}}, time.Minute},
		{"rate limit reset ahead", http.Header{"X-Ratelimit-Reset": {"1000120"}}, 2 * time.Minute},
		{"rate limit reset past", http.Header{"X-Ratelimit-Reset": {"999000"}}, 0},
		{"capped at an hour", http.Header{"Retry-After": {"999999"}}, time.Hour},
		{"HTTP date ignored", http.Header{"Retry-After": {"Wed, 21 Oct 2015 07:28:00 GMT"}}, 0},
		{"no header", nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := retryAfter(tc.header, now); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIsJSON(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json":                  true,
		"application/json; charset=utf-8":   true,
		"application/vnd.github+json":       true,
		"application/x-www-form-urlencoded": false,
		"text/html":                         false,
		"":                                  false,
	} {
		if got := isJSON(ct); got != want {
			t.Errorf("isJSON(%q): got %v, want %v", ct, got, want)
		}
	}
}

func TestPrintable(t *testing.T) {
	if got := Printable("bad\x00\ncode\u202e" + string(make([]byte, 100))); got != "badcode" {
		t.Errorf("got %q, want %q", got, "badcode")
	}
}
