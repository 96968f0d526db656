package githubtest

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	testClientID     = "Ov23liAbCdEfGhIjKlMn"
	testClientSecret = "0123456789abcdef0123456789abcdef01234567"
	testRedirect     = "https://app.example/auth/callback"
	// The example of RFC 7636 appendix B.
	testVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	testChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

var (
	codeRE  = regexp.MustCompile(`^[0-9a-f]{20}$`)
	tokenRE = regexp.MustCompile(`^gho_[A-Za-z0-9]{36}$`)
)

// authQuery returns the query of a well-formed authorization request.
func authQuery() url.Values {
	return url.Values{
		"client_id":             {testClientID},
		"redirect_uri":          {testRedirect},
		"scope":                 {"read:user user:email"},
		"state":                 {"st4te"},
		"code_challenge":        {testChallenge},
		"code_challenge_method": {"S256"},
	}
}

// code runs an authorization request with q and returns the code.
func code(t *testing.T, s *Server, q url.Values) string {
	t.Helper()
	loc, err := s.Authorize(s.URL + AuthorizePath + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	c := loc.Query().Get("code")
	if !codeRE.MatchString(c) {
		t.Fatalf("redirect %s: got code %q, want 20 hex characters", loc, c)
	}
	return c
}

// tokenForm returns a well-formed token request for code.
func tokenForm(code string) url.Values {
	return url.Values{
		"client_id":     {testClientID},
		"client_secret": {testClientSecret},
		"code":          {code},
		"redirect_uri":  {testRedirect},
		"code_verifier": {testVerifier},
		"grant_type":    {"authorization_code"},
	}
}

type tokenJSON struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	Scope            string `json:"scope"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorURI         string `json:"error_uri"`
}

// postToken posts form to the token endpoint asking for JSON and decodes
// the answer, which must be HTTP 200 JSON whatever happened.
func postToken(t *testing.T, s *Server, form url.Values, edit func(*http.Request)) tokenJSON {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+TokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if edit != nil {
		edit(req)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token endpoint: got HTTP %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("token endpoint: got Content-Type %q, want application/json; charset=utf-8", ct)
	}
	var tj tokenJSON
	if err := json.NewDecoder(resp.Body).Decode(&tj); err != nil {
		t.Fatal(err)
	}
	return tj
}

func TestAuthorize(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(url.Values)
		deny   bool
		status int // non-zero: no redirect, this status
		// For redirects: where to, and the error if any.
		wantPrefix string
		wantError  string
	}{
		{name: "approved", wantPrefix: testRedirect + "?"},
		{name: "registered callback when redirect_uri is absent",
			edit: func(q url.Values) { q.Del("redirect_uri") }, wantPrefix: testRedirect + "?"},
		{name: "subdirectory of the callback",
			edit:       func(q url.Values) { q.Set("redirect_uri", testRedirect+"/github") },
			wantPrefix: testRedirect + "/github?"},
		{name: "sub-domain of the callback host",
			edit:       func(q url.Values) { q.Set("redirect_uri", "https://eu.app.example/auth/callback") },
			wantPrefix: "https://eu.app.example/auth/callback?"},
		{name: "scope may be absent", edit: func(q url.Values) { q.Del("scope") }, wantPrefix: testRedirect + "?"},
		{name: "PKCE may be absent", edit: func(q url.Values) {
			q.Del("code_challenge")
			q.Del("code_challenge_method")
		}, wantPrefix: testRedirect + "?"},
		{name: "unknown client_id", edit: func(q url.Values) { q.Set("client_id", "Ov23liSomebodyElse") }, status: http.StatusNotFound},
		{name: "missing client_id", edit: func(q url.Values) { q.Del("client_id") }, status: http.StatusNotFound},
		{name: "other path", edit: func(q url.Values) { q.Set("redirect_uri", "https://app.example/auth") },
			wantPrefix: testRedirect + "?", wantError: "redirect_uri_mismatch"},
		{name: "sibling path with the same prefix", edit: func(q url.Values) { q.Set("redirect_uri", testRedirect+"x") },
			wantPrefix: testRedirect + "?", wantError: "redirect_uri_mismatch"},
		{name: "dot segments", edit: func(q url.Values) { q.Set("redirect_uri", testRedirect+"/../../evil") },
			wantPrefix: testRedirect + "?", wantError: "redirect_uri_mismatch"},
		{name: "other port", edit: func(q url.Values) { q.Set("redirect_uri", "https://app.example:8443/auth/callback") },
			wantPrefix: testRedirect + "?", wantError: "redirect_uri_mismatch"},
		{name: "other host", edit: func(q url.Values) { q.Set("redirect_uri", "https://evilapp.example/auth/callback") },
			wantPrefix: testRedirect + "?", wantError: "redirect_uri_mismatch"},
		{name: "other scheme", edit: func(q url.Values) { q.Set("redirect_uri", "http://app.example/auth/callback") },
			wantPrefix: testRedirect + "?", wantError: "redirect_uri_mismatch"},
		{name: "plain challenge method", edit: func(q url.Values) { q.Set("code_challenge_method", "plain") },
			wantPrefix: testRedirect + "?", wantError: "invalid_request"},
		{name: "challenge without method", edit: func(q url.Values) { q.Del("code_challenge_method") },
			wantPrefix: testRedirect + "?", wantError: "invalid_request"},
		{name: "method without challenge", edit: func(q url.Values) { q.Del("code_challenge") },
			wantPrefix: testRedirect + "?", wantError: "invalid_request"},
		{name: "short challenge", edit: func(q url.Values) { q.Set("code_challenge", testChallenge[:42]) },
			wantPrefix: testRedirect + "?", wantError: "invalid_request"},
		{name: "challenge not base64url", edit: func(q url.Values) { q.Set("code_challenge", "+"+testChallenge[1:]) },
			wantPrefix: testRedirect + "?", wantError: "invalid_request"},
		{name: "user denies", deny: true, wantPrefix: testRedirect + "?", wantError: "access_denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := NewServer(t, testClientID, testClientSecret, testRedirect)
			s.SetDeny(tt.deny)
			q := authQuery()
			if tt.edit != nil {
				tt.edit(q)
			}
			loc, err := s.Authorize(s.URL + AuthorizePath + "?" + q.Encode())
			if tt.status != 0 {
				if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("HTTP %d", tt.status)) {
					t.Fatalf("got redirect %v, error %v; want HTTP %d", loc, err, tt.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(loc.String(), tt.wantPrefix) {
				t.Errorf("got redirect %s, want one starting %s", loc, tt.wantPrefix)
			}
			got := loc.Query()
			if s := got.Get("state"); s != "st4te" {
				t.Errorf("got state %q, want %q", s, "st4te")
			}
			if e := got.Get("error"); e != tt.wantError {
				t.Errorf("got error %q, want %q", e, tt.wantError)
			}
			if tt.wantError != "" {
				if got.Get("code") != "" || got.Get("error_description") == "" {
					t.Errorf("got %v, want error_description and no code", got)
				}
			} else if !codeRE.MatchString(got.Get("code")) {
				t.Errorf("got code %q, want 20 hex characters", got.Get("code"))
			}
		})
	}
}

func TestToken(t *testing.T) {
	tests := []struct {
		name      string
		authEdit  func(url.Values)
		edit      func(url.Values)
		req       func(*http.Request)
		wantError string
		wantScope string
	}{
		{name: "exchanged", wantScope: "read:user,user:email"},
		{name: "client authenticated with HTTP Basic",
			edit: func(f url.Values) { f.Del("client_id"); f.Del("client_secret") },
			req:  func(r *http.Request) { r.SetBasicAuth(testClientID, testClientSecret) }, wantScope: "read:user,user:email"},
		{name: "redirect_uri may be omitted", edit: func(f url.Values) { f.Del("redirect_uri") }, wantScope: "read:user,user:email"},
		{name: "grant_type may be omitted", edit: func(f url.Values) { f.Del("grant_type") }, wantScope: "read:user,user:email"},
		{name: "comma-separated scopes", authEdit: func(q url.Values) { q.Set("scope", "user:email,read:user") }, wantScope: "user:email,read:user"},
		{name: "no scope", authEdit: func(q url.Values) { q.Del("scope") }, wantScope: ""},
		{name: "verifier ignored without challenge", authEdit: func(q url.Values) {
			q.Del("code_challenge")
			q.Del("code_challenge_method")
		}, edit: func(f url.Values) { f.Set("code_verifier", "whatever") }, wantScope: "read:user,user:email"},
		{name: "wrong secret", edit: func(f url.Values) { f.Set("client_secret", "wrong") }, wantError: "incorrect_client_credentials"},
		{name: "wrong client_id", edit: func(f url.Values) { f.Set("client_id", "Ov23liSomebodyElse") }, wantError: "incorrect_client_credentials"},
		{name: "wrong Basic password",
			edit: func(f url.Values) { f.Del("client_id"); f.Del("client_secret") },
			req:  func(r *http.Request) { r.SetBasicAuth(testClientID, "wrong") }, wantError: "incorrect_client_credentials"},
		{name: "credentials in the query string",
			edit: func(f url.Values) { f.Del("client_id"); f.Del("client_secret") },
			req: func(r *http.Request) {
				r.URL.RawQuery = url.Values{"client_id": {testClientID}, "client_secret": {testClientSecret}}.Encode()
			}, wantError: "incorrect_client_credentials"},
		{name: "unknown code", edit: func(f url.Values) { f.Set("code", "00000000000000000000") }, wantError: "bad_verification_code"},
		{name: "other grant_type", edit: func(f url.Values) { f.Set("grant_type", "password") }, wantError: "unsupported_grant_type"},
		{name: "redirect_uri differs from authorization",
			edit: func(f url.Values) { f.Set("redirect_uri", testRedirect+"/github") }, wantError: "redirect_uri_mismatch"},
		{name: "redirect_uri outside the callback",
			authEdit: func(q url.Values) { q.Del("redirect_uri") },
			edit:     func(f url.Values) { f.Set("redirect_uri", "https://evil.example/") }, wantError: "redirect_uri_mismatch"},
		{name: "missing verifier", edit: func(f url.Values) { f.Del("code_verifier") }, wantError: "bad_verification_code"},
		{name: "wrong verifier", edit: func(f url.Values) { f.Set("code_verifier", testVerifier[1:]+"A") }, wantError: "bad_verification_code"},
		{name: "challenge as verifier", edit: func(f url.Values) { f.Set("code_verifier", testChallenge) }, wantError: "bad_verification_code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := NewServer(t, testClientID, testClientSecret, testRedirect)
			q := authQuery()
			if tt.authEdit != nil {
				tt.authEdit(q)
			}
			f := tokenForm(code(t, s, q))
			if tt.edit != nil {
				tt.edit(f)
			}
			got := postToken(t, s, f, tt.req)
			if got.Error != tt.wantError {
				t.Fatalf("got error %q (%s), want %q", got.Error, got.ErrorDescription, tt.wantError)
			}
			if tt.wantError != "" {
				if got.AccessToken != "" || got.ErrorDescription == "" || !strings.HasPrefix(got.ErrorURI, "https://docs.github.com/") {
					t.Errorf("got %+v, want an error description and URI and no token", got)
				}
				if n := len(s.Tokens()); n != 0 {
					t.Errorf("got %d tokens issued, want 0", n)
				}
				return
			}
			if !tokenRE.MatchString(got.AccessToken) {
				t.Errorf("got access_token %q, want gho_ and 36 alphanumerics", got.AccessToken)
			}
			if got.TokenType != "bearer" {
				t.Errorf("got token_type %q, want bearer", got.TokenType)
			}
			if got.Scope != tt.wantScope {
				t.Errorf("got scope %q, want %q", got.Scope, tt.wantScope)
			}
		})
	}
}

func TestTokenCodeIsSingleUse(t *testing.T) {
	tests := []struct {
		name  string
		first func(url.Values) // the first attempt
	}{
		{name: "after success"},
		{name: "after a wrong verifier", first: func(f url.Values) { f.Set("code_verifier", strings.Repeat("a", 43)) }},
		{name: "after a redirect_uri mismatch", first: func(f url.Values) { f.Set("redirect_uri", testRedirect+"/x") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := NewServer(t, testClientID, testClientSecret, testRedirect)
			c := code(t, s, authQuery())
			f := tokenForm(c)
			if tt.first != nil {
				tt.first(f)
			}
			postToken(t, s, f, nil)
			if got := postToken(t, s, tokenForm(c), nil); got.Error != "bad_verification_code" {
				t.Errorf("second exchange: got error %q, want bad_verification_code", got.Error)
			}
		})
	}
}

func TestTokenCodeWithWrongCredentialsIsNotUsedUp(t *testing.T) {
	s := NewServer(t, testClientID, testClientSecret, testRedirect)
	c := code(t, s, authQuery())
	f := tokenForm(c)
	f.Set("client_secret", "wrong")
	if got := postToken(t, s, f, nil); got.Error != "incorrect_client_credentials" {
		t.Fatalf("got error %q, want incorrect_client_credentials", got.Error)
	}
	if got := postToken(t, s, tokenForm(c), nil); got.Error != "" {
		t.Errorf("got error %q, want a token", got.Error)
	}
}

func TestTokenCodeExpiry(t *testing.T) {
	tests := []struct {
		name      string
		after     time.Duration
		wantError string
	}{
		{name: "just issued", after: 0},
		{name: "a second before expiry", after: CodeLifetime - time.Second},
		{name: "at expiry", after: CodeLifetime, wantError: "bad_verification_code"},
		{name: "long after", after: 24 * time.Hour, wantError: "bad_verification_code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := NewServer(t, testClientID, testClientSecret, testRedirect)
			var now atomic.Int64
			now.Store(time.Date(2025, 7, 14, 12, 0, 0, 0, time.UTC).UnixNano())
			s.Now = func() time.Time { return time.Unix(0, now.Load()) }
			c := code(t, s, authQuery())
			now.Add(int64(tt.after))
			if got := postToken(t, s, tokenForm(c), nil); got.Error != tt.wantError {
				t.Errorf("got error %q, want %q", got.Error, tt.wantError)
			}
		})
	}
}

func TestTokenFormats(t *testing.T) {
	tests := []struct {
		name     string
		accept   string
		badCode  bool
		wantType string
		// parse returns access_token (or error), token_type and scope.
		parse func(t *testing.T, body []byte) (string, string, string)
	}{
		{name: "JSON", accept: "application/json", wantType: "application/json; charset=utf-8", parse: parseJSON},
		{name: "JSON among others", accept: "text/html, application/json;q=0.9", wantType: "application/json; charset=utf-8", parse: parseJSON},
		{name: "XML", accept: "application/xml", wantType: "application/xml; charset=utf-8", parse: parseXML},
		{name: "form by default", accept: "", wantType: "application/x-www-form-urlencoded; charset=utf-8", parse: parseForm},
		{name: "form for anything else", accept: "*/*", wantType: "application/x-www-form-urlencoded; charset=utf-8", parse: parseForm},
		{name: "JSON error", accept: "application/json", badCode: true, wantType: "application/json; charset=utf-8", parse: parseJSON},
		{name: "XML error", accept: "application/xml", badCode: true, wantType: "application/xml; charset=utf-8", parse: parseXML},
		{name: "form error", accept: "", badCode: true, wantType: "application/x-www-form-urlencoded; charset=utf-8", parse: parseForm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := NewServer(t, testClientID, testClientSecret, testRedirect)
			f := tokenForm(code(t, s, authQuery()))
			if tt.badCode {
				f.Set("code", "00000000000000000000")
			}
			req, _ := http.NewRequest(http.MethodPost, s.URL+TokenPath, strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("got HTTP %d, want 200", resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != tt.wantType {
				t.Errorf("got Content-Type %q, want %q", ct, tt.wantType)
			}
			tok, typ, scope := tt.parse(t, body)
			if tt.badCode {
				if tok != "bad_verification_code" {
					t.Errorf("got error %q in %s, want bad_verification_code", tok, body)
				}
				return
			}
			if !tokenRE.MatchString(tok) || typ != "bearer" || scope != "read:user,user:email" {
				t.Errorf("got token %q, type %q, scope %q in %s; want a gho_ token, bearer, read:user,user:email", tok, typ, scope, body)
			}
		})
	}
}

func parseJSON(t *testing.T, body []byte) (string, string, string) {
	var v tokenJSON
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	return v.AccessToken + v.Error, v.TokenType, v.Scope
}

func parseXML(t *testing.T, body []byte) (string, string, string) {
	var v struct {
		XMLName     xml.Name `xml:"OAuth"`
		AccessToken string   `xml:"access_token"`
		TokenType   string   `xml:"token_type"`
		Scope       string   `xml:"scope"`
		Error       string   `xml:"error"`
	}
	if err := xml.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	return v.AccessToken + v.Error, v.TokenType, v.Scope
}

func parseForm(t *testing.T, body []byte) (string, string, string) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		t.Fatal(err)
	}
	return v.Get("access_token") + v.Get("error"), v.Get("token_type"), v.Get("scope")
}

// accessToken runs the whole web flow for u with scope and returns the
// token.
func accessToken(t *testing.T, s *Server, u User, scope string) string {
	t.Helper()
	s.SetUser(u)
	q := authQuery()
	q.Set("scope", scope)
	got := postToken(t, s, tokenForm(code(t, s, q)), nil)
	if got.Error != "" {
		t.Fatalf("token: %s", got.Error)
	}
	return got.AccessToken
}

func apiGet(t *testing.T, s *Server, path string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
	req.Header = header
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestAPI(t *testing.T) {
	withEmails := DefaultUser()
	noEmails := DefaultUser()
	noEmails.Emails = nil
	forbidden := DefaultUser()
	forbidden.EmailsStatus = http.StatusForbidden
	tests := []struct {
		name       string
		user       User
		scope      string
		path       string
		header     func(tok string) http.Header
		wantStatus int
		wantType   string
		wantBody   string // a substring
	}{
		{name: "user with Bearer", path: UserPath, wantStatus: 200, wantBody: `"login":"octocat"`},
		{name: "user with token scheme", path: UserPath,
			header: func(tok string) http.Header {
				return http.Header{"Authorization": {"token " + tok}, "User-Agent": {"t"}}
			}, wantStatus: 200, wantBody: `"id":583231`},
		{name: "no User-Agent", path: UserPath,
			header: func(tok string) http.Header {
				return http.Header{"Authorization": {"Bearer " + tok}, "User-Agent": {""}}
			}, wantStatus: 403, wantType: "text/plain; charset=utf-8", wantBody: "User-Agent"},
		{name: "no token", path: UserPath,
			header:     func(string) http.Header { return http.Header{"User-Agent": {"t"}} },
			wantStatus: 401, wantBody: `"message":"Requires authentication"`},
		{name: "unknown token", path: UserPath,
			header: func(string) http.Header {
				return http.Header{"Authorization": {"Bearer gho_" + strings.Repeat("x", 36)}, "User-Agent": {"t"}}
			}, wantStatus: 401, wantBody: `"message":"Bad credentials"`},
		{name: "other scheme", path: UserPath,
			header: func(tok string) http.Header {
				return http.Header{"Authorization": {"Basic " + tok}, "User-Agent": {"t"}}
			}, wantStatus: 401, wantBody: `"status":"401"`},
		{name: "unsupported API version", path: UserPath,
			header: func(tok string) http.Header {
				return http.Header{"Authorization": {"Bearer " + tok}, "User-Agent": {"t"}, "X-Github-Api-Version": {"2021-01-01"}}
			}, wantStatus: 400, wantBody: "not supported"},
		{name: "private profile with read:user", path: UserPath, wantStatus: 200, wantBody: `"two_factor_authentication":true`},
		{name: "emails", path: EmailsPath, user: withEmails, wantStatus: 200,
			wantBody: `[{"email":"octocat@github.com","primary":true,"verified":true,"visibility":"public"}]`},
		{name: "emails with the user scope", path: EmailsPath, scope: "user", wantStatus: 200, wantBody: `"primary":true`},
		{name: "no emails", path: EmailsPath, user: noEmails, wantStatus: 200, wantBody: `[]`},
		{name: "emails without scope", path: EmailsPath, scope: "read:user", wantStatus: 404, wantBody: `"message":"Not Found"`},
		{name: "emails status", path: EmailsPath, user: forbidden, wantStatus: 403, wantBody: `"status":"403"`},
		{name: "unknown API path", path: APIPrefix + "/users/octocat", wantStatus: 404, wantBody: `"message":"Not Found"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := NewServer(t, testClientID, testClientSecret, testRedirect)
			u := tt.user
			if u.ID == 0 {
				u = DefaultUser()
			}
			scope := tt.scope
			if scope == "" {
				scope = "read:user user:email"
			}
			tok := accessToken(t, s, u, scope)
			h := http.Header{"Authorization": {"Bearer " + tok}, "User-Agent": {"githubtest"}, "Accept": {"application/vnd.github+json"}}
			if tt.header != nil {
				h = tt.header(tok)
			}
			resp, body := apiGet(t, s, tt.path, h)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("got HTTP %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			wantType := tt.wantType
			if wantType == "" {
				wantType = "application/json; charset=utf-8"
			}
			if ct := resp.Header.Get("Content-Type"); ct != wantType {
				t.Errorf("got Content-Type %q, want %q", ct, wantType)
			}
			if !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("got body %s, want it to contain %s", body, tt.wantBody)
			}
			if resp.StatusCode == 403 && tt.wantType != "" {
				return // the User-Agent check comes before everything
			}
			for _, h := range []string{"X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Used", "X-Ratelimit-Reset", "X-Ratelimit-Resource"} {
				if resp.Header.Get(h) == "" {
					t.Errorf("got no %s header", h)
				}
			}
		})
	}
}

func TestAPIRateLimitHeaders(t *testing.T) {
	s := NewServer(t, testClientID, testClientSecret, testRedirect)
	now := time.Date(2025, 7, 14, 12, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }
	tok := accessToken(t, s, DefaultUser(), "read:user")
	h := http.Header{"Authorization": {"Bearer " + tok}, "User-Agent": {"t"}}
	for i := 1; i <= 3; i++ {
		resp, _ := apiGet(t, s, UserPath, h)
		got := fmt.Sprintf("%s/%s/%s/%s/%s", resp.Header.Get("X-Ratelimit-Limit"), resp.Header.Get("X-Ratelimit-Remaining"),
			resp.Header.Get("X-Ratelimit-Used"), resp.Header.Get("X-Ratelimit-Reset"), resp.Header.Get("X-Ratelimit-Resource"))
		want := fmt.Sprintf("5000/%d/%d/%d/core", 5000-i, i, now.Add(time.Hour).Unix())
		if got != want {
			t.Errorf("request %d: got limit/remaining/used/reset/resource %s, want %s", i, got, want)
		}
	}
}

func TestUserJSON(t *testing.T) {
	tests := []struct {
		name string
		user User
		want map[string]string // field => raw JSON
	}{
		{
			name: "id above 2^53 and nulls",
			user: User{ID: 9007199254740993, Login: "big"},
			want: map[string]string{
				"id": "9007199254740993", "login": `"big"`, "name": "null", "email": "null", "company": "null",
				"location": "null", "blog": "null", "bio": "null", "twitter_username": "null", "avatar_url": "null",
				"hireable": "null", "type": `"User"`, "site_admin": "false",
			},
		},
		{
			name: "set fields",
			user: DefaultUser(),
			want: map[string]string{
				"id": "583231", "node_id": `"MDQ6VXNlcjU4MzIzMQ=="`, "name": `"The Octocat"`, "email": `"octocat@github.com"`,
				"avatar_url": `"https://avatars.githubusercontent.com/u/583231?v=4"`, "twitter_username": `"monatheoctocat"`,
			},
		},
	}
	shape := []string{"login", "id", "node_id", "avatar_url", "gravatar_id", "url", "html_url", "type", "site_admin",
		"name", "company", "blog", "location", "email", "hireable", "bio", "twitter_username",
		"public_repos", "public_gists", "followers", "following", "created_at", "updated_at"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := NewServer(t, testClientID, testClientSecret, testRedirect)
			tok := accessToken(t, s, tt.user, "read:user")
			_, body := apiGet(t, s, UserPath, http.Header{"Authorization": {"Bearer " + tok}, "User-Agent": {"t"}})
			var got map[string]json.RawMessage
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			for _, k := range shape {
				if _, ok := got[k]; !ok {
					t.Errorf("got no %q field in %s", k, body)
				}
			}
			for k, want := range tt.want {
				if string(got[k]) != want {
					t.Errorf("got %s %s, want %s", k, got[k], want)
				}
			}
		})
	}
}

func TestRecordsEveryRequestBeforeHooks(t *testing.T) {
	s := NewServer(t, testClientID, testClientSecret, testRedirect)
	var hooked atomic.Int32
	hook := func(w http.ResponseWriter, r *http.Request) bool {
		hooked.Add(1)
		http.Error(w, "teapot", http.StatusTeapot)
		return true
	}
	s.OnToken, s.OnUser, s.OnEmails = hook, hook, hook

	f := tokenForm("c0de")
	postReq, _ := http.NewRequest(http.MethodPost, s.URL+TokenPath+"?q=1", strings.NewReader(f.Encode()))
	postReq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	postReq.Header.Set("X-Test", "yes")
	for _, req := range []*http.Request{postReq, mustGet(t, s.URL+UserPath), mustGet(t, s.URL+EmailsPath)} {
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTeapot {
			t.Errorf("%s: got HTTP %d, want the hook's 418", req.URL.Path, resp.StatusCode)
		}
	}
	if n := hooked.Load(); n != 3 {
		t.Errorf("got %d hook calls, want 3", n)
	}
	for _, p := range []string{TokenPath, UserPath, EmailsPath} {
		if n := s.Count(p); n != 1 {
			t.Errorf("got Count(%s) = %d, want 1", p, n)
		}
	}
	rs := s.Requests(TokenPath)
	if len(rs) != 1 {
		t.Fatalf("got %d token requests, want 1", len(rs))
	}
	r := rs[0]
	if r.Method != http.MethodPost || r.Path != TokenPath || r.Header.Get("X-Test") != "yes" ||
		r.Form.Get("code") != "c0de" || r.Form.Get("q") != "1" || r.Form.Get("client_secret") != testClientSecret {
		t.Errorf("got %+v, want the POST with its headers and its query and body parsed", r)
	}
	// The record is a copy.
	r.Form.Set("code", "changed")
	if got := s.Requests(TokenPath)[0].Form.Get("code"); got != "c0de" {
		t.Errorf("got code %q after changing a copy, want c0de", got)
	}
}

func mustGet(t *testing.T, u string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestConcurrentLogins runs whole logins in parallel, for the race
// detector and to check that codes and tokens stay with their users.
func TestConcurrentLogins(t *testing.T) {
	s := NewServer(t, testClientID, testClientSecret, testRedirect)
	const n = 16
	var wg sync.WaitGroup
	tokens := make([]string, n)
	for i := range n {
		wg.Go(func() {
			q := authQuery()
			q.Set("state", fmt.Sprint(i))
			loc, err := s.Authorize(s.URL + AuthorizePath + "?" + q.Encode())
			if err != nil {
				t.Error(err)
				return
			}
			s.SetDeny(false)
			_ = s.Count(AuthorizePath)
			tokens[i] = postTokenNoFatal(t, s, tokenForm(loc.Query().Get("code")))
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, tok := range tokens {
		if !tokenRE.MatchString(tok) || seen[tok] {
			t.Errorf("login %d: got token %q, want a fresh gho_ token", i, tok)
		}
		seen[tok] = true
	}
	if got := s.Count(TokenPath); got != n {
		t.Errorf("got %d token requests, want %d", got, n)
	}
}

func postTokenNoFatal(t *testing.T, s *Server, f url.Values) string {
	req, _ := http.NewRequest(http.MethodPost, s.URL+TokenPath, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Error(err)
		return ""
	}
	defer resp.Body.Close()
	var tj tokenJSON
	if err := json.NewDecoder(resp.Body).Decode(&tj); err != nil {
		t.Error(err)
	}
	return tj.AccessToken
}
