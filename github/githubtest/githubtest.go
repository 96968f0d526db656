// Package githubtest is a fake GitHub for tests: the OAuth web application
// flow of an OAuth app and the two REST endpoints a login needs, served by
// one httptest server in the GitHub Enterprise Server layout (web flow at
// the root, REST API under /api/v3).
//
// The fake follows GitHub's documentation, including the parts a client is
// most likely to get wrong: the token endpoint answers errors with HTTP 200
// and an "error" field, and answers form-encoded unless asked for JSON;
// profile fields can be null; account ids are 64-bit integers; codes are
// single use and expire after ten minutes; /user/emails needs the
// user:email (or user) scope and answers 404 without it. It records every
// request it receives so tests can check exactly what was sent.
//
// Pages it follows:
//   - https://docs.github.com/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps
//   - https://docs.github.com/apps/oauth-apps/maintaining-oauth-apps/troubleshooting-authorization-request-errors
//   - https://docs.github.com/apps/oauth-apps/maintaining-oauth-apps/troubleshooting-oauth-app-access-token-request-errors
//   - https://github.blog/changelog/2025-07-14-pkce-support-for-oauth-and-github-app-authentication/
//   - https://docs.github.com/rest/users/users#get-the-authenticated-user
//   - https://docs.github.com/rest/users/emails#list-email-addresses-for-the-authenticated-user
//   - https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api
//   - https://docs.github.com/rest/about-the-rest-api/api-versions
package githubtest

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Paths the fake serves.
const (
	AuthorizePath = "/login/oauth/authorize"
	TokenPath     = "/login/oauth/access_token"
	APIPrefix     = "/api/v3"
	UserPath      = APIPrefix + "/user"
	EmailsPath    = APIPrefix + "/user/emails"
)

// CodeLifetime is how long an authorization code can be exchanged.
const CodeLifetime = 10 * time.Minute

// RateLimit is the x-ratelimit-limit of authenticated API requests.
const RateLimit = 5000

// Server is a fake GitHub. One httptest server serves both the web flow
// (/login/oauth/...) and the REST API under /api/v3 (the GitHub Enterprise
// Server layout).
//
// Set the exported fields before the requests they should affect; change
// the approving user and denial with SetUser and SetDeny, which are safe to
// call at any time.
type Server struct {
	*httptest.Server
	ClientID, ClientSecret string
	// RedirectURI is the OAuth app's registered callback URL.
	RedirectURI string

	// Hooks: if set and it returns true, it has written the whole response
	// itself (for misbehaviour tests). Requests are still recorded, before
	// the hook runs; the form has already been parsed into r.Form.
	OnToken  func(w http.ResponseWriter, r *http.Request) bool
	OnUser   func(w http.ResponseWriter, r *http.Request) bool
	OnEmails func(w http.ResponseWriter, r *http.Request) bool

	// Now is the fake's clock, for code expiry and rate-limit resets.
	// Nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	user     User
	deny     bool
	codes    map[string]*grant
	tokens   map[string]*grant
	issued   []string
	requests []Request
	// Rate-limit window: requests with and without a valid token.
	used, unauthUsed int
	rateResetAt      time.Time
}

// User is a GitHub account, as /user and /user/emails show it.
type User struct {
	ID    int64
	Login string
	// nil => JSON null
	Name, Email, Company, Location, Blog, Bio, TwitterUsername, AvatarURL *string
	// Emails is what /user/emails lists.
	Emails []Email
	// EmailsStatus, if non-zero, makes /user/emails answer this status
	// with GitHub's error JSON instead.
	EmailsStatus int
}

// Email is one entry of /user/emails.
type Email struct {
	Email             string
	Primary, Verified bool
	// Visibility is "public", "private" or nil (null).
	Visibility *string
}

// Request is a request the fake received.
type Request struct {
	Method, Path string
	Header       http.Header
	// Form is the parsed query and (form-encoded) body.
	Form url.Values
}

// grant is what an authorization code, and then the token issued for it,
// remembers.
type grant struct {
	clientID string
	// redirectURI is the redirect_uri sent to the authorize endpoint, ""
	// if none was.
	redirectURI string
	scopes      []string
	challenge   string
	user        User
	expires     time.Time
	used        bool
}

// NewServer starts a fake GitHub for the OAuth app with the given client
// credentials and registered callback URL. It is closed when the test
// ends. Until SetUser is called, the account that approves is DefaultUser.
func NewServer(t testing.TB, clientID, clientSecret, redirectURI string) *Server {
	t.Helper()
	s := &Server{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		RedirectURI:  redirectURI,
		user:         DefaultUser(),
		codes:        make(map[string]*grant),
		tokens:       make(map[string]*grant),
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// DefaultUser returns the account that approves authorization requests
// until SetUser is called: every profile field set and a primary, verified
// email.
func DefaultUser() User {
	return User{
		ID:              583231,
		Login:           "octocat",
		Name:            Ptr("The Octocat"),
		Email:           Ptr("octocat@github.com"),
		Company:         Ptr("@github"),
		Location:        Ptr("San Francisco"),
		Blog:            Ptr("https://github.blog"),
		Bio:             Ptr("There once was..."),
		TwitterUsername: Ptr("monatheoctocat"),
		AvatarURL:       Ptr("https://avatars.githubusercontent.com/u/583231?v=4"),
		Emails: []Email{
			{Email: "octocat@github.com", Primary: true, Verified: true, Visibility: Ptr("public")},
		},
	}
}

// Ptr returns a pointer to s.
func Ptr(s string) *string { return &s }

// WebURL returns the base URL of the web flow.
func (s *Server) WebURL() string { return s.URL }

// APIURL returns the base URL of the REST API.
func (s *Server) APIURL() string { return s.URL + APIPrefix }

// SetUser sets the account that approves the next authorization request.
// Codes and tokens already issued keep the account they were issued for.
func (s *Server) SetUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user = cloneUser(u)
}

// SetDeny sets whether the user denies the next authorization requests:
// the authorize endpoint then redirects with error=access_denied.
func (s *Server) SetDeny(deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deny = deny
}

// Requests returns the recorded requests to exactly path, in order.
func (s *Server) Requests(path string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rs []Request
	for _, r := range s.requests {
		if r.Path == path {
			rs = append(rs, Request{Method: r.Method, Path: r.Path, Header: r.Header.Clone(), Form: cloneValues(r.Form)})
		}
	}
	return rs
}

// Count returns the number of recorded requests to exactly path.
func (s *Server) Count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if r.Path == path {
			n++
		}
	}
	return n
}

// Tokens returns the access tokens issued so far, in order.
func (s *Server) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issued)
}

// Authorize drives the browser part of the flow: it GETs authURL on the
// fake (a real HTTP request, not following redirects) and returns the URL
// GitHub redirects the browser to, with code and state, or with error,
// error_description and state. Requests GitHub does not redirect, such as
// one with an unknown client_id, are an error.
func (s *Server) Authorize(authURL string) (*url.URL, error) {
	u, err := url.Parse(authURL)
	if err != nil {
		return nil, fmt.Errorf("githubtest: authorize URL: %w", err)
	}
	base, _ := url.Parse(s.URL)
	if u.Scheme != base.Scheme || u.Host != base.Host {
		return nil, fmt.Errorf("githubtest: authorize URL %q is not on the fake (%s)", authURL, s.URL)
	}
	c := *s.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(authURL)
	if err != nil {
		return nil, fmt.Errorf("githubtest: authorize: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusFound {
		return nil, fmt.Errorf("githubtest: authorize answered HTTP %d: %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return nil, fmt.Errorf("githubtest: authorize redirect: %w", err)
	}
	return loc, nil
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	// ParseForm reads form bodies only; a body that fails to parse leaves
	// the form as far as it got, as for any net/http server.
	_ = r.ParseForm()
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Form: cloneValues(r.Form)})
	s.mu.Unlock()

	switch r.URL.Path {
	case AuthorizePath:
		s.authorize(w, r)
	case TokenPath:
		if s.OnToken != nil && s.OnToken(w, r) {
			return
		}
		s.token(w, r)
	case UserPath:
		if s.OnUser != nil && s.OnUser(w, r) {
			return
		}
		s.api(w, r, s.getUser)
	case EmailsPath:
		if s.OnEmails != nil && s.OnEmails(w, r) {
			return
		}
		s.api(w, r, s.getEmails)
	default:
		if strings.HasPrefix(r.URL.Path, APIPrefix+"/") || r.URL.Path == APIPrefix {
			s.api(w, r, func(w http.ResponseWriter, _ *grant) {
				writeAPIError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest")
			})
			return
		}
		notFoundPage(w)
	}
}

// notFoundPage is GitHub's HTML 404, which is also what the authorize
// endpoint shows for an unknown client_id.
func notFoundPage(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	io.WriteString(w, "<!DOCTYPE html><html><head><title>Page not found · GitHub</title></head><body>Not Found</body></html>\n")
}

// The web flow.

const authErrorsDoc = "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/"

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		notFoundPage(w)
		return
	}
	q := r.URL.Query()
	if q.Get("client_id") != s.ClientID {
		notFoundPage(w)
		return
	}
	// response_type is not among GitHub's documented parameters (the web
	// flow only issues codes); like login, allow_signup and prompt it is
	// ignored.
	state := q.Get("state")
	redirect := s.RedirectURI
	if ru := q.Get("redirect_uri"); ru != "" {
		if !redirectAllowed(ru, s.RedirectURI) {
			// GitHub sends the browser to the registered callback, not to
			// the URL it refused.
			redirectError(w, r, s.RedirectURI, state, "redirect_uri_mismatch",
				"The redirect_uri MUST match the registered callback URL for this application.",
				authErrorsDoc+"#redirect-uri-mismatch")
			return
		}
		redirect = ru
	}
	// PKCE (since 2025-07-14): code_challenge and code_challenge_method
	// each require the other, the method must be S256 and the challenge
	// 43 characters. The documentation does not say how GitHub refuses
	// them; the fake answers like RFC 7636 section 4.4.1, with
	// error=invalid_request on the redirect URI.
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if challenge != "" || method != "" {
		var desc string
		switch {
		case method != "S256":
			desc = "code_challenge_method must be S256."
		case !isChallenge(challenge):
			desc = "code_challenge must be a 43 character base64url SHA-256 hash."
		}
		if desc != "" {
			redirectError(w, r, redirect, state, "invalid_request", desc, "")
			return
		}
	}

	s.mu.Lock()
	deny, user := s.deny, cloneUser(s.user)
	s.mu.Unlock()
	if deny {
		redirectError(w, r, redirect, state, "access_denied",
			"The user has denied your application access.", authErrorsDoc+"#access-denied")
		return
	}

	code := randomHex(10)
	s.mu.Lock()
	s.codes[code] = &grant{
		clientID:    s.ClientID,
		redirectURI: q.Get("redirect_uri"),
		scopes:      parseScopes(q.Get("scope")),
		challenge:   challenge,
		user:        user,
		expires:     s.now().Add(CodeLifetime),
	}
	s.mu.Unlock()
	v := url.Values{"code": {code}}
	if state != "" {
		v.Set("state", state)
	}
	http.Redirect(w, r, withQuery(redirect, v), http.StatusFound)
}

func redirectError(w http.ResponseWriter, r *http.Request, redirect, state, code, desc, uri string) {
	v := url.Values{"error": {code}, "error_description": {desc}}
	if uri != "" {
		v.Set("error_uri", uri)
	}
	if state != "" {
		v.Set("state", state)
	}
	http.Redirect(w, r, withQuery(redirect, v), http.StatusFound)
}

// withQuery adds v to the query of the URL s.
func withQuery(s string, v url.Values) string {
	u, err := url.Parse(s)
	if err != nil {
		panic(fmt.Sprintf("githubtest: bad redirect URL %q: %v", s, err))
	}
	q := u.Query()
	for k, vs := range v {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// redirectAllowed reports whether GitHub accepts redirect_uri got for an
// app whose callback URL is registered: "the redirect URL's host
// (excluding sub-domains) and port must exactly match the callback URL.
// The redirect URL's path must reference a subdirectory of the callback
// URL." The fake also requires the same scheme and query, and refuses dot
// segments and fragments. It does not implement the loopback exception.
func redirectAllowed(got, registered string) bool {
	if got == registered {
		return true
	}
	g, err := url.Parse(got)
	if err != nil {
		return false
	}
	reg, err := url.Parse(registered)
	if err != nil {
		return false
	}
	if g.Scheme != reg.Scheme || g.User != nil || g.Fragment != "" || g.RawQuery != reg.RawQuery || g.Port() != reg.Port() {
		return false
	}
	gh, rh := strings.ToLower(g.Hostname()), strings.ToLower(reg.Hostname())
	if gh != rh && !strings.HasSuffix(gh, "."+rh) {
		return false
	}
	gp, rp := g.EscapedPath(), reg.EscapedPath()
	for _, seg := range strings.Split(gp, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return gp == rp || strings.HasPrefix(gp, strings.TrimSuffix(rp, "/")+"/")
}

// parseScopes splits a scope parameter. GitHub documents it as
// space-delimited; it has long accepted commas too.
func parseScopes(s string) []string {
	var scopes []string
	for _, sc := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' }) {
		if !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	return scopes
}

func isChallenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

// isVerifier reports whether s is a code_verifier as RFC 7636 section 4.1
// defines it: 43 to 128 unreserved characters.
func isVerifier(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// The token endpoint.

const tokenErrorsDoc = "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/"

type tokenError struct {
	code, desc, uri string
}

var (
	errIncorrectCredentials = tokenError{"incorrect_client_credentials",
		"The client_id and/or client_secret passed are incorrect.", tokenErrorsDoc + "#incorrect-client-credentials"}
	errRedirectMismatch = tokenError{"redirect_uri_mismatch",
		"The redirect_uri MUST match the registered callback URL for this application.", authErrorsDoc + "#redirect-uri-mismatch2"}
	errBadCode = tokenError{"bad_verification_code",
		"The code passed is incorrect or expired.", tokenErrorsDoc + "#bad-verification-code"}
	errUnsupportedGrant = tokenError{"unsupported_grant_type",
		"The grant type is not supported.", tokenErrorsDoc}
)

// token is POST /login/oauth/access_token. Like GitHub it answers every
// error with HTTP 200 and an error field, in the format the Accept header
// asks for.
//
// Parameters are read from the form-encoded body only: GitHub no longer
// takes them from the query string. The client may authenticate in the
// body or with HTTP Basic. The code is used up by the first request that
// presents it with the right client credentials, whether or not the rest
// of the request is right, so a wrong verifier cannot be retried.
//
// PKCE: GitHub documents that code_verifier is "required if
// code_challenge was sent during the user authorization" but not the
// error it answers; the fake answers bad_verification_code, the error the
// documentation gives for a code that "doesn't match what you received in
// the first request for authorization". A code_verifier sent for a code
// issued without a challenge is ignored.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		notFoundPage(w)
		return
	}
	f := r.PostForm
	id, secret := f.Get("client_id"), f.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	if id != s.ClientID || secret != s.ClientSecret || s.ClientSecret == "" {
		writeTokenError(w, r, errIncorrectCredentials)
		return
	}
	if gt := f.Get("grant_type"); gt != "" && gt != "authorization_code" {
		writeTokenError(w, r, errUnsupportedGrant)
		return
	}

	s.mu.Lock()
	g := s.codes[f.Get("code")]
	valid := g != nil && !g.used && g.clientID == id && s.now().Before(g.expires)
	if g != nil {
		g.used = true
	}
	s.mu.Unlock()
	if !valid {
		writeTokenError(w, r, errBadCode)
		return
	}
	if ru := f.Get("redirect_uri"); ru != "" {
		allowed := ru == g.redirectURI || g.redirectURI == "" && redirectAllowed(ru, s.RedirectURI)
		if !allowed {
			writeTokenError(w, r, errRedirectMismatch)
			return
		}
	}
	if g.challenge != "" {
		v := f.Get("code_verifier")
		if !isVerifier(v) || s256(v) != g.challenge {
			writeTokenError(w, r, errBadCode)
			return
		}
	}

	tok := "gho_" + randomAlnum(36)
	s.mu.Lock()
	s.tokens[tok] = g
	s.issued = append(s.issued, tok)
	s.mu.Unlock()
	writeToken(w, r, tokenResponse{AccessToken: tok, TokenType: "bearer", Scope: strings.Join(g.scopes, ",")})
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

type tokenResponse struct {
	XMLName     xml.Name `json:"-" xml:"OAuth"`
	AccessToken string   `json:"access_token" xml:"access_token"`
	TokenType   string   `json:"token_type" xml:"token_type"`
	Scope       string   `json:"scope" xml:"scope"`
}

type tokenErrorResponse struct {
	XMLName          xml.Name `json:"-" xml:"OAuth"`
	Error            string   `json:"error" xml:"error"`
	ErrorDescription string   `json:"error_description" xml:"error_description"`
	ErrorURI         string   `json:"error_uri" xml:"error_uri"`
}

func writeTokenError(w http.ResponseWriter, r *http.Request, e tokenError) {
	writeToken(w, r, tokenErrorResponse{Error: e.code, ErrorDescription: e.desc, ErrorURI: e.uri})
}

// writeToken answers v with HTTP 200 in the format the Accept header asks
// for: JSON for application/json, XML for application/xml, and otherwise
// form-encoded, GitHub's default. JSON wins when both are acceptable.
func writeToken(w http.ResponseWriter, r *http.Request, v any) {
	switch format := tokenFormat(r.Header.Values("Accept")); format {
	case "application/json":
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		json.NewEncoder(w).Encode(v)
	case "application/xml":
		b, err := xml.Marshal(v)
		if err != nil {
			panic(err)
		}
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		w.Write(b)
	default:
		vals := url.Values{}
		switch v := v.(type) {
		case tokenResponse:
			vals.Set("access_token", v.AccessToken)
			vals.Set("scope", v.Scope)
			vals.Set("token_type", v.TokenType)
		case tokenErrorResponse:
			vals.Set("error", v.Error)
			vals.Set("error_description", v.ErrorDescription)
			vals.Set("error_uri", v.ErrorURI)
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		io.WriteString(w, vals.Encode())
	}
}

func tokenFormat(accept []string) string {
	var xmlOK bool
	for _, a := range accept {
		for _, part := range strings.Split(a, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			switch mt {
			case "application/json":
				return mt
			case "application/xml":
				xmlOK = true
			}
		}
	}
	if xmlOK {
		return "application/xml"
	}
	return ""
}

// The REST API.

// SupportedAPIVersions are the X-GitHub-Api-Version values the fake
// accepts; GitHub answers 400 to others. Requests without the header get
// 2022-11-28.
var SupportedAPIVersions = []string{"2022-11-28", "2026-03-10"}

const userAgentRequired = "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.\n"

// api checks what every REST request needs, a User-Agent, a supported API
// version and a token, sets the rate-limit headers, and calls serve.
// Unsupported methods are 404, as for any path GitHub does not route.
func (s *Server) api(w http.ResponseWriter, r *http.Request, serve func(http.ResponseWriter, *grant)) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeAPIError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest")
		return
	}
	if r.Header.Get("User-Agent") == "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, userAgentRequired)
		return
	}
	tok, present := bearer(r.Header.Get("Authorization"))
	s.mu.Lock()
	g := s.tokens[tok]
	now := s.now()
	if s.rateResetAt.IsZero() || !now.Before(s.rateResetAt) {
		s.rateResetAt = now.Add(time.Hour)
		s.used, s.unauthUsed = 0, 0
	}
	limit, used := 60, 0
	if g == nil {
		s.unauthUsed++
		used = s.unauthUsed
	} else {
		s.used++
		limit, used = RateLimit, s.used
	}
	reset := s.rateResetAt
	s.mu.Unlock()
	// GitHub's primary rate-limit headers; unauthenticated requests have
	// their own, smaller budget.
	h := w.Header()
	h.Set("X-Ratelimit-Limit", strconv.Itoa(limit))
	h.Set("X-Ratelimit-Remaining", strconv.Itoa(max(limit-used, 0)))
	h.Set("X-Ratelimit-Used", strconv.Itoa(used))
	h.Set("X-Ratelimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-Ratelimit-Resource", "core")
	if v := r.Header.Get("X-GitHub-Api-Version"); v != "" && !slices.Contains(SupportedAPIVersions, v) {
		writeAPIError(w, http.StatusBadRequest, fmt.Sprintf("API version %s is not supported.", v),
			"https://docs.github.com/rest/about-the-rest-api/api-versions")
		return
	}
	switch {
	case !present:
		writeAPIError(w, http.StatusUnauthorized, "Requires authentication",
			"https://docs.github.com/rest/users/users#get-the-authenticated-user")
		return
	case g == nil:
		writeAPIError(w, http.StatusUnauthorized, "Bad credentials", "https://docs.github.com/rest")
		return
	}
	w.Header().Set("X-OAuth-Scopes", strings.Join(g.scopes, ", "))
	w.Header().Set("X-GitHub-Api-Version-Selected", cmp.Or(r.Header.Get("X-GitHub-Api-Version"), SupportedAPIVersions[0]))
	serve(w, g)
}

// bearer returns the token of an "Authorization: Bearer TOKEN" or
// "Authorization: token TOKEN" header, and whether the header was present.
func bearer(h string) (string, bool) {
	if h == "" {
		return "", false
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") && !strings.EqualFold(scheme, "token") {
		return "", true
	}
	return strings.TrimSpace(tok), true
}

// writeAPIError writes GitHub's REST error body.
func writeAPIError(w http.ResponseWriter, status int, message, doc string) {
	writeJSON(w, status, map[string]string{
		"message":           message,
		"documentation_url": doc,
		"status":            strconv.Itoa(status),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
	w.WriteHeader(status)
	w.Write(b)
}

func hasScope(g *grant, scopes ...string) bool {
	for _, sc := range scopes {
		if slices.Contains(g.scopes, sc) {
			return true
		}
	}
	return false
}

// getUser is GET /user: the public user object, and the private one when
// the token has the read:user or user scope.
func (s *Server) getUser(w http.ResponseWriter, g *grant) {
	u := g.user
	api := s.APIURL() + "/users/" + u.Login
	body := map[string]any{
		"login":               u.Login,
		"id":                  u.ID,
		"node_id":             base64.StdEncoding.EncodeToString([]byte("04:User" + strconv.FormatInt(u.ID, 10))),
		"avatar_url":          u.AvatarURL,
		"gravatar_id":         "",
		"url":                 api,
		"html_url":            s.WebURL() + "/" + u.Login,
		"followers_url":       api + "/followers",
		"following_url":       api + "/following{/other_user}",
		"gists_url":           api + "/gists{/gist_id}",
		"starred_url":         api + "/starred{/owner}{/repo}",
		"subscriptions_url":   api + "/subscriptions",
		"organizations_url":   api + "/orgs",
		"repos_url":           api + "/repos",
		"events_url":          api + "/events{/privacy}",
		"received_events_url": api + "/received_events",
		"type":                "User",
		"user_view_type":      "public",
		"site_admin":          false,
		"name":                u.Name,
		"company":             u.Company,
		"blog":                u.Blog,
		"location":            u.Location,
		"email":               u.Email,
		"hireable":            nil,
		"bio":                 u.Bio,
		"twitter_username":    u.TwitterUsername,
		"public_repos":        8,
		"public_gists":        8,
		"followers":           20,
		"following":           0,
		"created_at":          "2008-01-14T04:33:35Z",
		"updated_at":          "2025-01-22T12:13:10Z",
	}
	if hasScope(g, "read:user", "user") {
		body["user_view_type"] = "private"
		body["private_gists"] = 0
		body["total_private_repos"] = 0
		body["owned_private_repos"] = 0
		body["disk_usage"] = 0
		body["collaborators"] = 0
		body["two_factor_authentication"] = true
		body["plan"] = map[string]any{"name": "free", "space": 976562499, "private_repos": 10000, "collaborators": 0}
	}
	writeJSON(w, http.StatusOK, body)
}

type emailJSON struct {
	Email      string  `json:"email"`
	Primary    bool    `json:"primary"`
	Verified   bool    `json:"verified"`
	Visibility *string `json:"visibility"`
}

// getEmails is GET /user/emails. Without the user:email or user scope
// GitHub answers 404, as it does for resources a token may not see.
// Pagination is not implemented: every address is on the first page.
func (s *Server) getEmails(w http.ResponseWriter, g *grant) {
	const doc = "https://docs.github.com/rest/users/emails#list-email-addresses-for-the-authenticated-user"
	if !hasScope(g, "user:email", "user") {
		writeAPIError(w, http.StatusNotFound, "Not Found", doc)
		return
	}
	if st := g.user.EmailsStatus; st != 0 {
		writeAPIError(w, st, http.StatusText(st), doc)
		return
	}
	list := make([]emailJSON, 0, len(g.user.Emails))
	for _, e := range g.user.Emails {
		list = append(list, emailJSON(e))
	}
	writeJSON(w, http.StatusOK, list)
}

// Helpers.

func cloneUser(u User) User {
	u.Emails = slices.Clone(u.Emails)
	return u
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return url.Values{}
	}
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = slices.Clone(vs)
	}
	return c
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func randomAlnum(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
