package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse"
	"golang.org/x/oauth2"
)

// authServer is a fake OAuth 2.0 authorization server that behaves as RFC
// 6749 and RFC 7636 say, and no more: it issues single-use codes bound to
// the client, the redirect_uri and an S256 challenge; its token endpoint
// authenticates the client the one way it was told, answers JSON, and
// answers failures with 400 invalid_grant or 401 invalid_client. Its
// userinfo endpoint names the holder of a token it issued. It records
// every request it receives, and hooks replace an endpoint's answer.
type authServer struct {
	*httptest.Server
	t            *testing.T
	clientID     string
	clientSecret string
	style        oauth2.AuthStyle

	mu       sync.Mutex
	grants   map[string]*grant // by code
	tokens   map[string]string // access token to subject
	requests map[string][]recorded
	// onToken and onUserinfo, if set, answer instead of the endpoint.
	onToken, onUserinfo http.HandlerFunc
}

type grant struct {
	redirectURI, challenge, subject string
	used                            bool
}

// recorded is a request the fake received, with its parsed form.
type recorded struct {
	Method string
	Header http.Header
	Form   url.Values
}

const (
	fakeClientID     = "gatehouse-test-client"
	fakeClientSecret = "s3cret-7f3c9a1b2d4e6f80a1b2c3d4e5f60718"
	fakeRedirect     = "https://gatehouse.example:8443/auth/fake"
	// The example of RFC 7636 appendix B, so the challenge is known
	// independently of any code under test.
	fakeVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	fakeChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

func newAuthServer(t *testing.T, style oauth2.AuthStyle) *authServer {
	t.Helper()
	s := &authServer{t: t, clientID: fakeClientID, clientSecret: fakeClientSecret, style: style,
		grants: map[string]*grant{}, tokens: map[string]string{}, requests: map[string][]recorded{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("GET /userinfo", s.userinfo)
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *authServer) endpoint() oauth2.Endpoint {
	return oauth2.Endpoint{AuthURL: s.URL + "/authorize", TokenURL: s.URL + "/token", AuthStyle: s.style}
}

func (s *authServer) record(r *http.Request) {
	r.ParseForm()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[r.URL.Path] = append(s.requests[r.URL.Path], recorded{Method: r.Method, Header: r.Header.Clone(), Form: r.PostForm})
}

// Requests returns the requests received at path.
func (s *authServer) Requests(path string) []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.requests[path]...)
}

// authorize plays the user approving the login at the authorization URL
// raw, for the account subject, and returns the code the browser would be
// sent back with. The URL must be one the server accepts.
func (s *authServer) authorize(raw, subject string) string {
	s.t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		s.t.Fatal(err)
	}
	q := u.Query()
	switch {
	case u.Scheme+"://"+u.Host+u.Path != s.URL+"/authorize":
		s.t.Fatalf("authorization URL %s is not this server's", raw)
	case q.Get("response_type") != "code" || q.Get("client_id") != s.clientID || q.Get("redirect_uri") == "":
		s.t.Fatalf("authorization URL %s: bad response_type, client_id or redirect_uri", raw)
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43:
		s.t.Fatalf("authorization URL %s: no S256 challenge", raw)
	}
	code := rand.Text()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grants[code] = &grant{redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), subject: subject}
	return code
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *authServer) token(w http.ResponseWriter, r *http.Request) {
	s.record(r)
	if s.onToken != nil {
		s.onToken(w, r)
		return
	}
	// The client authenticates one way only (RFC 6749 section 2.3.1).
	id, secret, basic := r.BasicAuth()
	id, _ = url.QueryUnescape(id)
	secret, _ = url.QueryUnescape(secret)
	inParams := r.PostForm.Has("client_secret")
	if s.style == oauth2.AuthStyleInParams {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	wantBasic := s.style == oauth2.AuthStyleInHeader
	if basic != wantBasic || inParams == wantBasic || id != s.clientID || secret != s.clientSecret {
		w.Header().Set("WWW-Authenticate", `Basic realm="fake"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "client authentication failed"})
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	s.mu.Lock()
	g := s.grants[r.PostForm.Get("code")]
	ok := g != nil && !g.used && g.redirectURI == r.PostForm.Get("redirect_uri") && s256(r.PostForm.Get("code_verifier")) == g.challenge
	if g != nil {
		g.used = true // a code is spent by any attempt
	}
	var tok string
	if ok {
		tok = fmt.Sprintf("at-%d", len(s.tokens)+1)
		s.tokens[tok] = g.subject
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "the code is invalid"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
}

func (s *authServer) userinfo(w http.ResponseWriter, r *http.Request) {
	s.record(r)
	if s.onUserinfo != nil {
		s.onUserinfo(w, r)
		return
	}
	var tok string
	if h := r.Header.Get("Authorization"); len(h) > 7 && h[:7] == "Bearer " {
		tok = h[7:]
	}
	s.mu.Lock()
	sub, ok := s.tokens[tok]
	s.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"sub": sub})
}

// identity is the trivial Identity function of the tests' provider: the
// subject the userinfo endpoint names.
func identity(url string) func(context.Context, *http.Client, *oauth2.Token, gatehouse.AuthParams) (*gatehouse.Identity, error) {
	return func(ctx context.Context, client *http.Client, tok *oauth2.Token, _ gatehouse.AuthParams) (*gatehouse.Identity, error) {
		req, err := NewRequest(ctx, url, tok.AccessToken)
		if err != nil {
			return nil, err
		}
		var info struct {
			Sub string `json:"sub"`
		}
		if err := GetJSON(client, req, &info); err != nil {
			return nil, APIError(err)
		}
		return &gatehouse.Identity{Subject: info.Sub}, nil
	}
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
