package github

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/github/githubtest"
	"github.com/gatehouse/gatehouse/oauth"
)

const (
	testClientID     = "Ov23liGatehouseTest1"
	testClientSecret = "ghsecret-7f3c9a1b2d4e6f80a1b2c3d4e5f60718293a4b5c"
	testRedirect     = "https://gatehouse.example:8443/auth/github/callback"
	testVerifier     = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

func testParams() gatehouse.AuthParams {
	return gatehouse.AuthParams{State: "st4te-Zx9", RedirectURI: testRedirect, CodeVerifier: testVerifier}
}

func newFake(t *testing.T) *githubtest.Server {
	return githubtest.NewServer(t, testClientID, testClientSecret, testRedirect)
}

func newProvider(t *testing.T, fake *githubtest.Server, timeout time.Duration, edit ...func(*Config)) *oauth.Provider {
	t.Helper()
	c := Config{
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		URL:          fake.WebURL(),
		APIURL:       fake.APIURL(),
		HTTPClient:   oauth.NewHTTPClient(timeout),
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

// authorize sends the browser to the provider's authorization URL and
// returns the code GitHub redirects back with.
func authorize(t *testing.T, fake *githubtest.Server, p *oauth.Provider, ap gatehouse.AuthParams) string {
	t.Helper()
	loc, err := fake.Authorize(p.AuthCodeURL(ap))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if e := q.Get("error"); e != "" {
		t.Fatalf("authorize: got error %s (%s), want a code", e, q.Get("error_description"))
	}
	if got := q.Get("state"); got != ap.State {
		t.Fatalf("authorize: got state %q, want %q", got, ap.State)
	}
	return q.Get("code")
}

// errorCode returns the gatehouse error code of err and checks that the
// error never carries the client secret.
func errorCode(t *testing.T, err error) string {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), testClientSecret) {
		t.Errorf("error %q contains the client secret", err)
	}
	return gatehouse.ErrorCode(err)
}

// respond returns a hook that answers with status, content type and body.
func respond(status int, contentType, body string, header ...string) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
		return true
	}
}

func TestAuthCodeURL(t *testing.T) {
	tests := []struct {
		name     string
		redirect string
	}{
		{name: "plain callback", redirect: testRedirect},
		{name: "callback with an escaped query", redirect: "http://127.0.0.1:8080/cb?tenant=a%2Fb&next=%2Fhome%3Fx%3D1%20y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := githubtest.NewServer(t, testClientID, testClientSecret, tt.redirect)
			p := newProvider(t, fake, 5*time.Second)
			ap := testParams()
			ap.RedirectURI = tt.redirect
			raw := p.AuthCodeURL(ap)

			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			web, _ := url.Parse(fake.WebURL())
			if u.Scheme != web.Scheme || u.Host != web.Host || u.Path != "/login/oauth/authorize" {
				t.Errorf("got %s://%s%s, want %s://%s/login/oauth/authorize", u.Scheme, u.Host, u.Path, web.Scheme, web.Host)
			}
			// PKCE and what the URL must not carry are the engine's
			// (oauth.TestAuthCodeURL); GitHub's part is its scopes.
			q := u.Query()
			for _, c := range []struct{ param, want string }{
				{"client_id", testClientID},
				{"redirect_uri", tt.redirect},
				{"state", ap.State},
				{"scope", "read:user user:email"},
			} {
				if got := q.Get(c.param); got != c.want {
					t.Errorf("got %s %q, want %q", c.param, got, c.want)
				}
			}

			// GitHub accepts it and sends the browser back to the exact
			// redirect_uri.
			code := authorize(t, fake, p, ap)
			if code == "" {
				t.Fatal("got no code")
			}
			reqs := fake.Requests("/login/oauth/authorize")
			if len(reqs) != 1 || reqs[0].Form.Get("redirect_uri") != tt.redirect {
				t.Errorf("got authorize requests %v, want one with redirect_uri %q", reqs, tt.redirect)
			}
		})
	}
}

func TestExchange(t *testing.T) {
	fake := newFake(t)
	fake.SetUser(githubtest.User{
		ID:        1234567,
		Login:     "mona",
		Name:      githubtest.Ptr("Mona Lisa Octocat"),
		Email:     githubtest.Ptr("mona@public.example"),
		Company:   githubtest.Ptr("GitHub"),
		Location:  githubtest.Ptr("San Francisco"),
		Blog:      githubtest.Ptr("https://mona.example"),
		AvatarURL: githubtest.Ptr("https://avatars.githubusercontent.com/u/1234567?v=4"),
		Emails: []githubtest.Email{
			{Email: "mona@old.example", Verified: true},
			{Email: "mona@private.example", Primary: true, Verified: true, Visibility: githubtest.Ptr("private")},
		},
	})
	p := newProvider(t, fake, 5*time.Second)
	ap := testParams()
	code := authorize(t, fake, p, ap)

	ident, err := p.Exchange(context.Background(), code, ap)
	if err != nil {
		t.Fatal(err)
	}
	want := &gatehouse.Identity{
		Subject: "1234567",
		Profile: gatehouse.Profile{
			Login:         githubtest.Ptr("mona"),
			Name:          githubtest.Ptr("Mona Lisa Octocat"),
			Company:       githubtest.Ptr("GitHub"),
			Location:      githubtest.Ptr("San Francisco"),
			Email:         githubtest.Ptr("mona@private.example"),
			Picture:       githubtest.Ptr("https://avatars.githubusercontent.com/u/1234567?v=4"),
			EmailVerified: true,
		},
	}
	if !reflect.DeepEqual(ident, want) {
		t.Errorf("got identity %s, want %s", show(ident), show(want))
	}

	// The token request.
	treqs := fake.Requests("/login/oauth/access_token")
	if len(treqs) != 1 {
		t.Fatalf("got %d token requests, want 1", len(treqs))
	}
	tr := treqs[0]
	if tr.Method != http.MethodPost {
		t.Errorf("got token request method %s, want POST", tr.Method)
	}
	wantForm := url.Values{
		"client_id":     {testClientID},
		"client_secret": {testClientSecret},
		"code":          {code},
		"redirect_uri":  {testRedirect},
		"code_verifier": {testVerifier},
		"grant_type":    {"authorization_code"},
	}
	if !reflect.DeepEqual(tr.Form, wantForm) {
		t.Errorf("got token request form %v, want %v", tr.Form, wantForm)
	}
	// GitHub takes the client credentials in the body. That the verifier
	// matches the challenge, and the token request's headers, are the
	// engine's (oauth.TestExchange).
	if got := tr.Header.Get("Authorization"); got != "" {
		t.Errorf("got token request Authorization %q, want the credentials in the body only", got)
	}

	// The API requests.
	tokens := fake.Tokens()
	if len(tokens) != 1 {
		t.Fatalf("got %d tokens issued, want 1", len(tokens))
	}
	for _, path := range []string{"/api/v3/user", "/api/v3/user/emails"} {
		reqs := fake.Requests(path)
		if len(reqs) != 1 {
			t.Errorf("got %d requests to %s, want 1", len(reqs), path)
			continue
		}
		h := reqs[0].Header
		for _, c := range []struct{ header, want string }{
			{"Authorization", "Bearer " + tokens[0]},
			{"Accept", "application/vnd.github+json"},
			{"X-GitHub-Api-Version", "2022-11-28"},
		} {
			if got := h.Get(c.header); got != c.want {
				t.Errorf("%s: got %s %q, want %q", path, c.header, got, c.want)
			}
		}
		if h.Get("User-Agent") == "" {
			t.Errorf("%s: got no User-Agent", path)
		}
		if reqs[0].Method != http.MethodGet {
			t.Errorf("%s: got method %s, want GET", path, reqs[0].Method)
		}
	}
}

// show formats an identity with its pointers followed.
func show(ident *gatehouse.Identity) string {
	if ident == nil {
		return "<nil>"
	}
	s := func(p *string) string {
		if p == nil {
			return "nil"
		}
		return strconv.Quote(*p)
	}
	return fmt.Sprintf("{Subject:%q Login:%s Name:%s Company:%s Location:%s Email:%s Picture:%s EmailVerified:%v}",
		ident.Subject, s(ident.Login), s(ident.Name), s(ident.Company), s(ident.Location), s(ident.Email), s(ident.Picture), ident.EmailVerified)
}

func TestExchangeAccountID(t *testing.T) {
	tests := []struct {
		name string
		// Either id, served by the fake, or raw, the JSON of the id field
		// ("" leaves it out).
		id          int64
		raw         string
		wantSubject string // "" means rejected as EUpstream
	}{
		{name: "small", id: 1, wantSubject: "1"},
		{name: "2^53+1 stays exact", id: 9007199254740993, wantSubject: "9007199254740993"},
		{name: "largest int64", id: 9223372036854775807, wantSubject: "9223372036854775807"},
		{name: "2^53+1 raw", raw: "9007199254740993", wantSubject: "9007199254740993"},
		{name: "float", raw: "1.5"},
		{name: "integral float", raw: "1.0"},
		{name: "exponent", raw: "1e3"},
		{name: "negative", raw: "-5"},
		{name: "zero", raw: "0"},
		{name: "numeric string", raw: `"123"`},
		{name: "string with junk", raw: `"12abc"`},
		{name: "empty string", raw: `""`},
		{name: "null", raw: "null"},
		{name: "absent", raw: ""},
		{name: "object", raw: `{"id":1}`},
		{name: "beyond int64", raw: "9223372036854775808"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFake(t)
			if tt.id != 0 {
				u := githubtest.DefaultUser()
				u.ID = tt.id
				fake.SetUser(u)
			} else {
				field := ""
				if tt.raw != "" {
					field = `"id":` + tt.raw + `,`
				}
				fake.OnUser = respond(200, "application/json; charset=utf-8",
					`{"login":"mona",`+field+`"name":null,"email":null,"avatar_url":"https://avatars.example/u"}`)
			}
			p := newProvider(t, fake, 5*time.Second)
			ident, err := p.Exchange(context.Background(), authorize(t, fake, p, testParams()), testParams())
			if tt.wantSubject == "" {
				if code := errorCode(t, err); code != gatehouse.EUpstream {
					t.Fatalf("got identity %s, error %v (code %q); want %q", show(ident), err, code, gatehouse.EUpstream)
				}
				if n := fake.Count("/api/v3/user/emails"); n != 0 {
					t.Errorf("got %d email requests after a bad profile, want 0", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ident.Subject != tt.wantSubject {
				t.Errorf("got subject %q, want %q", ident.Subject, tt.wantSubject)
			}
		})
	}
}

func TestExchangeNullProfile(t *testing.T) {
	want := &gatehouse.Identity{Subject: "42", Profile: gatehouse.Profile{Login: githubtest.Ptr("nully")}}
	tests := []struct {
		name string
		hook func(http.ResponseWriter, *http.Request) bool
	}{
		{name: "all nullable fields null"},
		{name: "fields absent", hook: respond(200, "application/json; charset=utf-8", `{"login":"nully","id":42}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFake(t)
			fake.SetUser(githubtest.User{ID: 42, Login: "nully"})
			fake.OnUser = tt.hook
			p := newProvider(t, fake, 5*time.Second)
			ident, err := p.Exchange(context.Background(), authorize(t, fake, p, testParams()), testParams())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ident, want) {
				t.Errorf("got identity %s, want %s", show(ident), show(want))
			}
		})
	}
}

func TestExchangeEmails(t *testing.T) {
	public := githubtest.Ptr("mona@public.example")
	tests := []struct {
		name         string
		scopes       []string // nil: DefaultScopes
		publicEmail  *string
		emails       []githubtest.Email
		emailsStatus int
		wantEmail    *string
		wantVerified bool
		wantRequests int // to /user/emails
	}{
		{name: "emails refused with 403", publicEmail: public, emailsStatus: http.StatusForbidden,
			wantEmail: public, wantRequests: 1},
		{name: "emails refused with 404", publicEmail: public, emailsStatus: http.StatusNotFound,
			wantEmail: public, wantRequests: 1},
		{name: "no addresses", publicEmail: public, emails: []githubtest.Email{},
			wantEmail: public, wantRequests: 1},
		{name: "no addresses and no public email", emails: []githubtest.Email{}, wantRequests: 1},
		{name: "only an unverified primary", publicEmail: public,
			emails:    []githubtest.Email{{Email: "mona@primary.example", Primary: true}},
			wantEmail: public, wantRequests: 1},
		{name: "verified but not primary, and an unverified primary",
			emails: []githubtest.Email{
				{Email: "mona@verified.example", Verified: true},
				{Email: "mona@primary.example", Primary: true},
			}, wantRequests: 1},
		{name: "verified but not primary, public email set", publicEmail: public,
			emails:    []githubtest.Email{{Email: "mona@verified.example", Verified: true}},
			wantEmail: public, wantRequests: 1},
		{name: "primary and verified, public email differs", publicEmail: public,
			emails: []githubtest.Email{
				{Email: "mona@verified.example", Verified: true},
				{Email: "mona@primary.example", Primary: true, Verified: true},
			},
			wantEmail: githubtest.Ptr("mona@primary.example"), wantVerified: true, wantRequests: 1},
		{name: "primary and verified, no public email",
			emails:    []githubtest.Email{{Email: "mona@primary.example", Primary: true, Verified: true}},
			wantEmail: githubtest.Ptr("mona@primary.example"), wantVerified: true, wantRequests: 1},
		{name: "token without user:email", scopes: []string{"read:user"}, publicEmail: public,
			emails:    []githubtest.Email{{Email: "mona@primary.example", Primary: true, Verified: true}},
			wantEmail: public, wantRequests: 0},
		{name: "token with no scope", scopes: []string{}, publicEmail: public,
			emails:    []githubtest.Email{{Email: "mona@primary.example", Primary: true, Verified: true}},
			wantEmail: public, wantRequests: 0},
		{name: "token with the user scope", scopes: []string{"user"}, publicEmail: public,
			emails:    []githubtest.Email{{Email: "mona@primary.example", Primary: true, Verified: true}},
			wantEmail: githubtest.Ptr("mona@primary.example"), wantVerified: true, wantRequests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFake(t)
			fake.SetUser(githubtest.User{ID: 7, Login: "mona", Email: tt.publicEmail, Emails: tt.emails, EmailsStatus: tt.emailsStatus})
			p := newProvider(t, fake, 5*time.Second, func(c *Config) { c.Scopes = tt.scopes })
			ident, err := p.Exchange(context.Background(), authorize(t, fake, p, testParams()), testParams())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ident.Email, tt.wantEmail) || ident.EmailVerified != tt.wantVerified {
				t.Errorf("got email %s verified %v, want %s verified %v", show(ident), ident.EmailVerified,
					show(&gatehouse.Identity{Profile: gatehouse.Profile{Email: tt.wantEmail}}), tt.wantVerified)
			}
			if n := fake.Count("/api/v3/user/emails"); n != tt.wantRequests {
				t.Errorf("got %d requests to /user/emails, want %d", n, tt.wantRequests)
			}
			if n := fake.Count("/api/v3/user"); n != 1 {
				t.Errorf("got %d requests to /user, want 1", n)
			}
		})
	}
}

// TestExchangeEmailsRateLimited checks that a rate limit on /user/emails
// fails the login as EUnavailable rather than logging the user in without
// their verified address. GitHub signals its primary rate limit with 403 or
// 429 and x-ratelimit-remaining: 0, and its secondary limits with 403 or
// 429 and retry-after (docs.github.com, "Rate limits for the REST API").
func TestExchangeEmailsRateLimited(t *testing.T) {
	reset := func() string { return strconv.FormatInt(time.Now().Add(2*time.Minute).Unix(), 10) }
	const body = `{"message":"API rate limit exceeded for user ID 7.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api","status":"%d"}`
	tests := []struct {
		name   string
		status int
		header []string
	}{
		{name: "primary limit, 403", status: 403,
			header: []string{"X-Ratelimit-Limit", "5000", "X-Ratelimit-Remaining", "0", "X-Ratelimit-Used", "5000", "X-Ratelimit-Reset", reset(), "X-Ratelimit-Resource", "core"}},
		{name: "primary limit, 429", status: 429,
			header: []string{"X-Ratelimit-Limit", "5000", "X-Ratelimit-Remaining", "0", "X-Ratelimit-Used", "5000", "X-Ratelimit-Reset", reset(), "X-Ratelimit-Resource", "core"}},
		{name: "secondary limit, 403", status: 403, header: []string{"Retry-After", "60"}},
		{name: "secondary limit, 429", status: 429, header: []string{"Retry-After", "60"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFake(t)
			fake.OnEmails = respond(tt.status, "application/json; charset=utf-8", fmt.Sprintf(body, tt.status), tt.header...)
			p := newProvider(t, fake, 5*time.Second)
			ident, err := p.Exchange(context.Background(), authorize(t, fake, p, testParams()), testParams())
			if code := errorCode(t, err); code != gatehouse.EUnavailable {
				t.Fatalf("got identity %s, error %v (code %q); want %q", show(ident), err, code, gatehouse.EUnavailable)
			}
			var ge *gatehouse.Error
			if errors.As(err, &ge) && (ge.RetryAfter <= 0 || ge.RetryAfter > 2*time.Minute) {
				t.Errorf("got RetryAfter %v, want (0, 2m]", ge.RetryAfter)
			}
			if n := fake.Count("/api/v3/user/emails"); n != 1 {
				t.Errorf("got %d requests to /user/emails, want 1", n)
			}
		})
	}
}

// TestExchangeTokenErrors covers GitHub's own answers from its token
// endpoint: it answers a bad code, and our misconfiguration, with HTTP 200
// and an error field of its own naming. What any token endpoint can do
// wrong is oauth.TestExchangeTokenErrors.
func TestExchangeTokenErrors(t *testing.T) {
	const jsonType = "application/json; charset=utf-8"
	tests := []struct {
		name string
		// prepare logs in and returns the code and params to exchange;
		// nil means a normal login.
		prepare func(t *testing.T, fake *githubtest.Server, p *oauth.Provider) (string, gatehouse.AuthParams)
		hook    func(http.ResponseWriter, *http.Request) bool
		secret  string // the provider's client secret, if not the right one
		want    string
	}{
		{
			name: "unknown code",
			prepare: func(t *testing.T, fake *githubtest.Server, p *oauth.Provider) (string, gatehouse.AuthParams) {
				return "0123456789abcdef0123", testParams()
			},
			want: gatehouse.EInvalidGrant,
		},
		{
			name: "reused code",
			prepare: func(t *testing.T, fake *githubtest.Server, p *oauth.Provider) (string, gatehouse.AuthParams) {
				code := authorize(t, fake, p, testParams())
				if _, err := p.Exchange(context.Background(), code, testParams()); err != nil {
					t.Fatalf("first exchange: %v", err)
				}
				return code, testParams()
			},
			want: gatehouse.EInvalidGrant,
		},
		{
			name: "expired code",
			prepare: func(t *testing.T, fake *githubtest.Server, p *oauth.Provider) (string, gatehouse.AuthParams) {
				var now atomic.Int64
				now.Store(time.Now().UnixNano())
				fake.Now = func() time.Time { return time.Unix(0, now.Load()) }
				code := authorize(t, fake, p, testParams())
				now.Add(int64(githubtest.CodeLifetime))
				return code, testParams()
			},
			want: gatehouse.EInvalidGrant,
		},
		{
			name:   "incorrect client credentials",
			secret: "ghsecret-wrong-0000000000000000000000000000000000000",
			want:   gatehouse.EUpstream,
		},
		{
			name: "redirect_uri mismatch",
			prepare: func(t *testing.T, fake *githubtest.Server, p *oauth.Provider) (string, gatehouse.AuthParams) {
				code := authorize(t, fake, p, testParams())
				ap := testParams()
				ap.RedirectURI = testRedirect + "/other"
				return code, ap
			},
			want: gatehouse.EUpstream,
		},
		{
			name: "unverified user email",
			hook: respond(200, jsonType, `{"error":"unverified_user_email","error_description":"The user must have a verified primary email.","error_uri":"https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#unverified-user-email"}`),
			want: gatehouse.EAccessDenied,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFake(t)
			p := newProvider(t, fake, 5*time.Second, func(c *Config) {
				if tt.secret != "" {
					c.ClientSecret = tt.secret
				}
			})
			var code string
			ap := testParams()
			if tt.prepare != nil {
				code, ap = tt.prepare(t, fake, p)
			} else {
				code = authorize(t, fake, p, ap)
			}
			fake.OnToken = tt.hook
			before, userBefore := fake.Count("/login/oauth/access_token"), fake.Count("/api/v3/user")

			ident, err := p.Exchange(context.Background(), code, ap)
			if got := errorCode(t, err); got != tt.want {
				t.Errorf("got identity %s, error %v (code %q); want %q", show(ident), err, got, tt.want)
			}
			if ident != nil {
				t.Errorf("got identity %s with the error, want nil", show(ident))
			}
			if tt.secret != "" && err != nil && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q contains the client secret", err)
			}
			if n := fake.Count("/login/oauth/access_token") - before; n != 1 {
				t.Errorf("got %d token requests, want exactly 1", n)
			}
			if n := fake.Count("/api/v3/user") - userBefore; n != 0 {
				t.Errorf("got %d /user requests after a failed token request, want 0", n)
			}
		})
	}
}

// hang is a hook that never answers: it returns when the client gives up.
func hang(w http.ResponseWriter, r *http.Request) bool {
	<-r.Context().Done()
	return true
}

// TestExchangeTimeout: GitHub's second API call, /user/emails, is bounded
// like every call of the engine (oauth.TestExchangeTimeout).
func TestExchangeTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	tests := []struct {
		name string
		set  func(fake *githubtest.Server)
		path string // the path that hangs
	}{
		{name: "/user/emails never answers", set: func(f *githubtest.Server) { f.OnEmails = hang }, path: "/api/v3/user/emails"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFake(t)
			p := newProvider(t, fake, timeout)
			code := authorize(t, fake, p, testParams())
			tt.set(fake)

			start := time.Now()
			ident, err := p.Exchange(context.Background(), code, testParams())
			elapsed := time.Since(start)
			if got := errorCode(t, err); got != gatehouse.EUpstreamTimeout {
				t.Errorf("got identity %s, error %v (code %q); want %q", show(ident), err, got, gatehouse.EUpstreamTimeout)
			}
			// Each call has its own timeout: at most three calls.
			if elapsed > 3*timeout+time.Second {
				t.Errorf("Exchange took %v, want at most %v", elapsed, 3*timeout+time.Second)
			}
			if n := fake.Count(tt.path); n != 1 {
				t.Errorf("got %d requests to %s, want 1 (no retry)", n, tt.path)
			}
		})
	}
}

// TestExchangeResponseSizeLimit serves a 50 MB /user/emails answer and
// checks that the provider gives up early: it must read through a limit, so
// the fake manages to write far less than it tried. The token endpoint and
// the first API call are oauth.TestExchangeResponseSizeLimit.
func TestExchangeResponseSizeLimit(t *testing.T) {
	const size = 50 << 20
	tests := []struct {
		name   string
		set    func(fake *githubtest.Server, hook func(http.ResponseWriter, *http.Request) bool)
		prefix string
	}{
		{name: "/user/emails",
			set:    func(f *githubtest.Server, h func(http.ResponseWriter, *http.Request) bool) { f.OnEmails = h },
			prefix: `[{"email":"mona@example.com","primary":true,"verified":true,"visibility":"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFake(t)
			var read atomic.Int64
			p := newProvider(t, fake, 5*time.Second, func(c *Config) {
				base := c.HTTPClient.Transport
				c.HTTPClient.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
					resp, err := base.RoundTrip(r)
					if err == nil {
						resp.Body = countingBody{resp.Body, &read}
					}
					return resp, err
				})
			})
			code := authorize(t, fake, p, testParams())
			var written atomic.Int64
			done := make(chan struct{})
			tt.set(fake, func(w http.ResponseWriter, r *http.Request) bool {
				defer close(done)
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.WriteHeader(http.StatusOK)
				n, err := io.WriteString(w, tt.prefix)
				written.Add(int64(n))
				chunk := strings.Repeat("a", 64<<10)
				for err == nil && written.Load() < size {
					n, err = io.WriteString(w, chunk)
					written.Add(int64(n))
				}
				if err == nil {
					io.WriteString(w, `"}`)
				}
				return true
			})

			ident, err := p.Exchange(context.Background(), code, testParams())
			if got := errorCode(t, err); got != gatehouse.EUpstream {
				t.Errorf("got identity %s, error %v (code %q); want %q", show(ident), err, got, gatehouse.EUpstream)
			}
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the fake is still writing 5s after Exchange returned: the body was not abandoned")
			}
			// What the provider read is exact; what the fake managed to
			// write also counts what the kernel buffered (a few MB).
			if n := read.Load(); n > 1<<20+64<<10 {
				t.Errorf("the provider read %d bytes of the answers, want at most about 1 MiB from the last", n)
			}
			if n := written.Load(); n >= size/4 {
				t.Errorf("the fake wrote %d bytes, want far less than %d", n, size)
			}
		})
	}
}

// TestExchangeUserErrors covers GitHub's ways of saying "rate limited" on
// /user: 403 with x-ratelimit-remaining: 0 or Retry-After (a 403 without
// them is a refusal). Other failures of an API call are
// oauth.TestExchangeIdentityErrors.
func TestExchangeUserErrors(t *testing.T) {
	const jsonType = "application/json; charset=utf-8"
	reset := func() string { return strconv.FormatInt(time.Now().Add(2*time.Minute).Unix(), 10) }
	tests := []struct {
		name string
		hook func(http.ResponseWriter, *http.Request) bool
		want string
		// RetryAfter bounds, for EUnavailable.
		minRetry, maxRetry time.Duration
	}{
		{name: "403 primary rate limit",
			hook: respond(403, jsonType, `{"message":"API rate limit exceeded for user ID 7.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api","status":"403"}`,
				"X-Ratelimit-Limit", "5000", "X-Ratelimit-Remaining", "0", "X-Ratelimit-Used", "5000", "X-Ratelimit-Reset", reset(), "X-Ratelimit-Resource", "core"),
			want: gatehouse.EUnavailable, minRetry: time.Second, maxRetry: 2 * time.Minute},
		{name: "403 secondary rate limit with retry-after",
			hook: respond(403, jsonType, `{"message":"You have exceeded a secondary rate limit.","status":"403"}`, "Retry-After", "60"),
			want: gatehouse.EUnavailable, minRetry: 60 * time.Second, maxRetry: 60 * time.Second},
		{name: "403 not a rate limit",
			hook: respond(403, jsonType, `{"message":"Resource not accessible by integration","status":"403"}`, "X-Ratelimit-Remaining", "4999"),
			want: gatehouse.EUpstream},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFake(t)
			p := newProvider(t, fake, 5*time.Second)
			code := authorize(t, fake, p, testParams())
			fake.OnUser = tt.hook

			ident, err := p.Exchange(context.Background(), code, testParams())
			if got := errorCode(t, err); got != tt.want {
				t.Fatalf("got identity %s, error %v (code %q); want %q", show(ident), err, got, tt.want)
			}
			if tt.want == gatehouse.EUnavailable && tt.maxRetry > 0 {
				ge, _ := errors.AsType[*gatehouse.Error](err)
				if ge.RetryAfter < tt.minRetry || ge.RetryAfter > tt.maxRetry {
					t.Errorf("got RetryAfter %v, want between %v and %v", ge.RetryAfter, tt.minRetry, tt.maxRetry)
				}
			}
			if n := fake.Count("/api/v3/user"); n != 1 {
				t.Errorf("got %d /user requests, want 1", n)
			}
			if n := fake.Count("/api/v3/user/emails"); n != 0 {
				t.Errorf("got %d /user/emails requests after /user failed, want 0", n)
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

// roundTripFunc lets a test answer HTTP requests without a network.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestEndpointURLs(t *testing.T) {
	tests := []struct {
		name        string
		url, apiURL string
		wantWeb     string
		wantAPI     string
	}{
		{name: "github.com by default", wantWeb: "https://github.com", wantAPI: "https://api.github.com"},
		{name: "GitHub Enterprise Server", url: "https://ghe.example/", apiURL: "https://ghe.example/api/v3",
			wantWeb: "https://ghe.example", wantAPI: "https://ghe.example/api/v3"},
		{name: "trailing slashes", url: "https://ghe.example/", apiURL: "https://ghe.example/api/v3/",
			wantWeb: "https://ghe.example", wantAPI: "https://ghe.example/api/v3"},
		{name: "port", url: "https://ghe.example:8443", apiURL: "https://ghe.example:8443/api/v3",
			wantWeb: "https://ghe.example:8443", wantAPI: "https://ghe.example:8443/api/v3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				got = append(got, r.URL.String())
				body := `{"login":"mona","id":7}`
				switch {
				case strings.HasSuffix(r.URL.Path, "/access_token"):
					body = `{"access_token":"gho_x","token_type":"bearer","scope":"read:user,user:email"}`
				case strings.HasSuffix(r.URL.Path, "/emails"):
					body = `[]`
				}
				return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
					Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
			})}
			p, err := New(Config{ClientID: testClientID, ClientSecret: testClientSecret, URL: tt.url, APIURL: tt.apiURL, HTTPClient: client})
			if err != nil {
				t.Fatal(err)
			}
			if u := p.AuthCodeURL(testParams()); !strings.HasPrefix(u, tt.wantWeb+"/login/oauth/authorize?") {
				t.Errorf("got AuthCodeURL %q, want it on %s/login/oauth/authorize", u, tt.wantWeb)
			}
			if _, err := p.Exchange(context.Background(), "code", testParams()); err != nil {
				t.Fatal(err)
			}
			want := []string{tt.wantWeb + "/login/oauth/access_token", tt.wantAPI + "/user", tt.wantAPI + "/user/emails?per_page=100"}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got API requests %q, want %q", got, want)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{name: "ftp URL", edit: func(c *Config) { c.URL = "ftp://ghe.example" }},
		{name: "URL without host", edit: func(c *Config) { c.URL = "https://" }},
		{name: "URL without scheme", edit: func(c *Config) { c.URL = "ghe.example" }},
		{name: "URL with query", edit: func(c *Config) { c.URL = "https://ghe.example/?next=1" }},
		{name: "URL with fragment", edit: func(c *Config) { c.URL = "https://ghe.example/#x" }},
		{name: "URL with user info", edit: func(c *Config) { c.URL = "https://admin:pw@ghe.example" }},
		{name: "unparsable URL", edit: func(c *Config) { c.URL = "https://ghe.example/%zz" }},
		{name: "ftp API URL", edit: func(c *Config) { c.APIURL = "ftp://ghe.example/api/v3" }},
		{name: "API URL without host", edit: func(c *Config) { c.APIURL = "https:///api/v3" }},
		{name: "API URL with query", edit: func(c *Config) { c.APIURL = "https://ghe.example/api/v3?x=1" }},
		{name: "no client id", edit: func(c *Config) { c.ClientID = "" }},
		{name: "no client secret", edit: func(c *Config) { c.ClientSecret = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{ClientID: testClientID, ClientSecret: testClientSecret, URL: "https://ghe.example", APIURL: "https://ghe.example/api/v3"}
			tt.edit(&c)
			p, err := New(c)
			if err == nil {
				t.Fatalf("got provider with authorization URL %q, want an error", p.AuthCodeURL(testParams()))
			}
			if strings.Contains(err.Error(), testClientSecret) {
				t.Errorf("error %q contains the client secret", err)
			}
		})
	}
}
