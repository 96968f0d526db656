// Package oidctest is a fake OpenID Connect issuer for tests: discovery, a
// JWKS with key rotation, an authorize endpoint that issues codes, a token
// endpoint that checks the exact request, and userinfo, served over TLS by
// one httptest server.
//
// The fake behaves as OpenID Connect Core 1.0, Discovery 1.0, RFC 6749 and
// RFC 7636 say: codes are single use, bound to the client, the
// redirect_uri and an S256 challenge, and expire after ten minutes; the
// client authenticates with exactly one of the methods the discovery
// document lists (client_secret_basic when it lists none); the ID token
// echoes the authorization request's nonce. Hooks make it misbehave the
// way real issuers and attackers do: ID tokens with any header, claims or
// signature (SetIDToken with Sign, SignWith, SignNone, SignHMAC), userinfo
// answers (SetUserinfo), discovery documents (SetDiscovery) and outages
// (SetDown). It counts and records every request.
//
// Pages it follows:
//   - https://openid.net/specs/openid-connect-core-1_0.html
//   - https://openid.net/specs/openid-connect-discovery-1_0.html
//   - https://www.rfc-editor.org/rfc/rfc7636
package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Paths the fake serves under Options.Path.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/jwks"
	AuthorizePath = "/authorize"
	TokenPath     = "/token"
	UserinfoPath  = "/userinfo"
)

// CodeLifetime is how long an authorization code can be exchanged.
const CodeLifetime = 10 * time.Minute

// Options configure a Server. Zero values take the defaults noted.
type Options struct {
	// ClientID and ClientSecret default to "oidctest-client" and a fixed
	// secret.
	ClientID, ClientSecret string
	// RedirectURI, if set, is the only redirect_uri the authorize endpoint
	// accepts.
	RedirectURI string
	// Path is where the issuer lives on the server ("/realms/x",
	// "/common/v2.0"); the issuer is the server's URL plus Path.
	Path string
	// AuthMethods is token_endpoint_auth_methods_supported. Nil leaves the
	// member out, which means client_secret_basic.
	AuthMethods []string
	// Algs are the algorithms of the first keys, one key each, the first
	// signing; they default to RS256.
	Algs []string
	// AdvertisedAlgs, if set, is id_token_signing_alg_values_supported;
	// otherwise the algorithms of the keys.
	AdvertisedAlgs []string
	// NoUserinfo leaves userinfo_endpoint out of the discovery document.
	NoUserinfo bool
	// Now is the fake's clock; nil means time.Now.
	Now func() time.Time
	// PlainHTTP serves over http on the loopback address (an issuer
	// Gatehouse accepts for development), for callers whose HTTP client
	// cannot be given the fake's certificate, such as the gatehouse
	// binary.
	PlainHTTP bool
}

// Server is a fake OpenID Connect issuer. Its methods are safe for
// concurrent use.
type Server struct {
	*httptest.Server
	ClientID, ClientSecret string
	opts                   Options

	mu        sync.Mutex
	keys      []*Key // published, in order
	signing   *Key
	user      User
	codes     map[string]*grant
	tokens    map[string]*grant
	requests  map[string][]Request
	down      bool
	idToken   func(claims map[string]any) string
	userinfo  func(claims map[string]any)
	discovery func(doc map[string]any)
}

// User is the account that approves logins: its sub and the claims the ID
// token and userinfo carry about it. Claims may override the fake's own
// (iss, for an issuer per tenant).
type User struct {
	Subject string
	Claims  map[string]any
}

// DefaultUser is the account a new Server logs in.
func DefaultUser() User {
	return User{Subject: "248289761001", Claims: map[string]any{
		"name": "Jane Doe", "preferred_username": "j.doe", "email": "jane@example.com",
		"email_verified": true, "picture": "https://pictures.example/jane.png",
	}}
}

// Request is a request the fake received.
type Request struct {
	Method string
	Header http.Header
	// Form is the parsed query and form body.
	Form url.Values
}

// Grant is what an authorization code remembers.
type Grant struct {
	RedirectURI string
	// Challenge is the S256 code_challenge.
	Challenge string
	Nonce     string
	Scope     string
}

type grant struct {
	Grant
	user    User
	expires time.Time
	used    bool
}

// NewServer starts a fake issuer, closed when t ends.
func NewServer(t testing.TB, o Options) *Server {
	t.Helper()
	if o.ClientID == "" {
		o.ClientID = "oidctest-client"
	}
	if o.ClientSecret == "" {
		o.ClientSecret = "oidctest-secret-2b7e151628aed2a6abf71588"
	}
	if len(o.Algs) == 0 {
		o.Algs = []string{"RS256"}
	}
	s := &Server{ClientID: o.ClientID, ClientSecret: o.ClientSecret, opts: o, user: DefaultUser(),
		codes: map[string]*grant{}, tokens: map[string]*grant{}, requests: map[string][]Request{}}
	for _, alg := range o.Algs {
		k := NewKey(alg)
		s.keys = append(s.keys, k)
	}
	s.signing = s.keys[0]
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+o.Path+DiscoveryPath, s.serveDiscovery)
	mux.HandleFunc("GET "+o.Path+JWKSPath, s.serveJWKS)
	mux.HandleFunc("GET "+o.Path+AuthorizePath, s.serveAuthorize)
	mux.HandleFunc("POST "+o.Path+TokenPath, s.serveToken)
	mux.HandleFunc("GET "+o.Path+UserinfoPath, s.serveUserinfo)
	if o.PlainHTTP {
		s.Server = httptest.NewServer(mux)
	} else {
		s.Server = httptest.NewTLSServer(mux)
	}
	t.Cleanup(s.Close)
	return s
}

// Issuer returns the issuer URL.
func (s *Server) Issuer() string { return s.URL + s.opts.Path }

// HTTPClient returns a client that trusts the fake's certificate, with
// timeout, and does not follow redirects.
func (s *Server) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Transport: s.Client().Transport,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// SetUser sets the account that approves the next logins.
func (s *Server) SetUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user = User{Subject: u.Subject, Claims: maps.Clone(u.Claims)}
}

// SetDown makes every endpoint answer 503 while down is true.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// SetIDToken sets the hook that makes the token endpoint's ID token from
// its claims (iss, sub, aud, exp, iat, auth_time, nonce and the user's);
// nil restores the default, Sign.
func (s *Server) SetIDToken(f func(claims map[string]any) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idToken = f
}

// SetUserinfo sets a hook that edits the userinfo answer's claims.
func (s *Server) SetUserinfo(f func(claims map[string]any)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.userinfo = f
}

// SetDiscovery sets a hook that edits the discovery document.
func (s *Server) SetDiscovery(f func(doc map[string]any)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.discovery = f
}

// Requests returns the requests received at path (relative to
// Options.Path, e.g. TokenPath).
func (s *Server) Requests(path string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests[path])
}

// Count returns how many requests path received.
func (s *Server) Count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests[path])
}

func (s *Server) record(path string, r *http.Request) bool {
	r.ParseForm()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[path] = append(s.requests[path], Request{Method: r.Method, Header: r.Header.Clone(), Form: r.Form})
	return s.down
}

// Key is a signing key.
type Key struct {
	ID, Alg string
	Private crypto.Signer
}

// NewKey returns a new key for alg: RS256, PS256, ES256 or EdDSA.
func NewKey(alg string) *Key {
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case "RS256", "PS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		panic("oidctest: no key type for " + alg)
	}
	if err != nil {
		panic(err)
	}
	return &Key{ID: rand.Text()[:12], Alg: alg, Private: priv}
}

// AddKey publishes a new key for alg and returns it; it does not sign
// until UseKey.
func (s *Server) AddKey(alg string) *Key {
	k := NewKey(alg)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, k)
	return k
}

// UseKey makes the published key kid the signing key.
func (s *Server) UseKey(kid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		if k.ID == kid {
			s.signing = k
			return
		}
	}
	panic("oidctest: no published key " + kid)
}

// RemoveKey unpublishes the key kid.
func (s *Server) RemoveKey(kid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = slices.DeleteFunc(s.keys, func(k *Key) bool { return k.ID == kid })
}

// Rotate publishes a new key of the signing key's algorithm, signs with it
// from now on, and returns it.
func (s *Server) Rotate() *Key {
	s.mu.Lock()
	alg := s.signing.Alg
	s.mu.Unlock()
	k := s.AddKey(alg)
	s.UseKey(k.ID)
	return k
}

// SigningKey returns the key that signs ID tokens.
func (s *Server) SigningKey() *Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signing
}

// Sign signs claims with the signing key and a header of alg, kid and typ.
func (s *Server) Sign(claims map[string]any) string {
	return SignWith(s.SigningKey(), nil, claims)
}

// SignWith signs claims with k. The header has alg k.Alg, kid k.ID and
// typ JWT, and then the members of header, which may replace them (a kid
// that is not k's) or add others (jku, x5u, jwk).
func SignWith(k *Key, header, claims map[string]any) string {
	h := map[string]any{"alg": k.Alg, "kid": k.ID, "typ": "JWT"}
	maps.Copy(h, header)
	input := encode(h) + "." + encode(claims)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	var err error
	switch priv := k.Private.(type) {
	case *rsa.PrivateKey:
		if k.Alg == "PS256" {
			sig, err = rsa.SignPSS(rand.Reader, priv, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, digest[:])
		}
	case *ecdsa.PrivateKey:
		var r, sv *big.Int
		r, sv, err = ecdsa.Sign(rand.Reader, priv, digest[:])
		if err == nil {
			sig = append(r.FillBytes(make([]byte, 32)), sv.FillBytes(make([]byte, 32))...)
		}
	case ed25519.PrivateKey:
		sig = ed25519.Sign(priv, []byte(input))
	}
	if err != nil {
		panic(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// SignNone returns claims as an unsigned token with the given alg
// spelling of "none" (none, None, NONE…) and an empty signature.
func SignNone(alg string, claims map[string]any) string {
	return encode(map[string]any{"alg": alg, "typ": "JWT"}) + "." + encode(claims) + "."
}

// SignHMAC returns claims MACed with secret under HS256, with the header
// members of header added (a kid of a published key, say).
func SignHMAC(secret []byte, header, claims map[string]any) string {
	h := map[string]any{"alg": "HS256", "typ": "JWT"}
	maps.Copy(h, header)
	input := encode(h) + "." + encode(claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func encode(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// JWK returns the public JWK of k, as the JWKS publishes it.
func (k *Key) JWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.Private.Public(), KeyID: k.ID, Algorithm: k.Alg, Use: "sig"}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "5")
	http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
}

func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	if s.record(DiscoveryPath, r) {
		unavailable(w)
		return
	}
	s.mu.Lock()
	algs := s.opts.AdvertisedAlgs
	if algs == nil {
		for _, k := range s.keys {
			if !slices.Contains(algs, k.Alg) {
				algs = append(algs, k.Alg)
			}
		}
	}
	hook := s.discovery
	s.mu.Unlock()
	iss := s.Issuer()
	doc := map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + AuthorizePath,
		"token_endpoint":                        iss + TokenPath,
		"jwks_uri":                              iss + JWKSPath,
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": algs,
		"scopes_supported":                      []string{"openid", "profile", "email"},
		"code_challenge_methods_supported":      []string{"S256"},
		"grant_types_supported":                 []string{"authorization_code"},
	}
	if !s.opts.NoUserinfo {
		doc["userinfo_endpoint"] = iss + UserinfoPath
	}
	if s.opts.AuthMethods != nil {
		doc["token_endpoint_auth_methods_supported"] = s.opts.AuthMethods
	}
	if hook != nil {
		hook(doc)
	}
	writeJSON(w, http.StatusOK, doc)
}

func (s *Server) serveJWKS(w http.ResponseWriter, r *http.Request) {
	if s.record(JWKSPath, r) {
		unavailable(w)
		return
	}
	s.mu.Lock()
	set := jose.JSONWebKeySet{}
	for _, k := range s.keys {
		set.Keys = append(set.Keys, k.JWK())
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, set)
}

// Authorize plays the user approving the authorization request authURL
// and returns the code the browser would come back with. The URL must be
// one the fake accepts.
func (s *Server) Authorize(authURL string) (string, error) {
	u, err := url.Parse(authURL)
	if err != nil {
		return "", err
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != s.Issuer()+AuthorizePath {
		return "", fmt.Errorf("%s is not this issuer's authorization endpoint", got)
	}
	return s.authorize(u.Query())
}

func (s *Server) authorize(q url.Values) (string, error) {
	switch {
	case q.Get("response_type") != "code":
		return "", errors.New("response_type is not code")
	case q.Get("client_id") != s.ClientID:
		return "", errors.New("unknown client_id")
	case q.Get("redirect_uri") == "" || s.opts.RedirectURI != "" && q.Get("redirect_uri") != s.opts.RedirectURI:
		return "", errors.New("redirect_uri is not the registered one")
	case !slices.Contains(strings.Fields(q.Get("scope")), "openid"):
		return "", errors.New("scope lacks openid")
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43:
		return "", errors.New("no S256 code_challenge")
	}
	return s.MintCode(Grant{RedirectURI: q.Get("redirect_uri"), Challenge: q.Get("code_challenge"),
		Nonce: q.Get("nonce"), Scope: q.Get("scope")}), nil
}

// MintCode issues a code for g and the current user, as if the user had
// approved an authorization request.
func (s *Server) MintCode(g Grant) string {
	code := rand.Text()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = &grant{Grant: g, user: User{Subject: s.user.Subject, Claims: maps.Clone(s.user.Claims)},
		expires: s.now().Add(CodeLifetime)}
	return code
}

func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if s.record(AuthorizePath, r) {
		unavailable(w)
		return
	}
	code, err := s.authorize(r.URL.Query())
	if err != nil {
		// Never redirect a request that failed these checks (Core 3.1.2.6).
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	v := url.Values{"code": {code}, "iss": {s.Issuer()}}
	if st := r.URL.Query().Get("state"); st != "" {
		v.Set("state", st)
	}
	http.Redirect(w, r, r.URL.Query().Get("redirect_uri")+"?"+v.Encode(), http.StatusFound)
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if s.record(TokenPath, r) {
		unavailable(w)
		return
	}
	methods := s.opts.AuthMethods
	if methods == nil {
		methods = []string{"client_secret_basic"}
	}
	// Exactly one authentication method, and one the document lists.
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	}
	post := r.PostForm.Has("client_secret")
	method := "client_secret_basic"
	if post {
		method = "client_secret_post"
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if basic == post || !slices.Contains(methods, method) || id != s.ClientID ||
		!hmac.Equal([]byte(secret), []byte(s.ClientSecret)) {
		w.Header().Set("WWW-Authenticate", `Basic realm="oidctest"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	s.mu.Lock()
	g := s.codes[r.PostForm.Get("code")]
	ok := g != nil && !g.used && s.now().Before(g.expires) &&
		g.RedirectURI == r.PostForm.Get("redirect_uri") && s256(r.PostForm.Get("code_verifier")) == g.Challenge
	if g != nil {
		g.used = true
	}
	var at string
	if ok {
		at = rand.Text()
		s.tokens[at] = g
	}
	hook := s.idToken
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	}
	now := s.now()
	claims := map[string]any{
		"iss": s.Issuer(), "sub": g.user.Subject, "aud": s.ClientID,
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "auth_time": now.Unix(),
	}
	if g.Nonce != "" {
		claims["nonce"] = g.Nonce
	}
	maps.Copy(claims, g.user.Claims)
	var idToken string
	if hook != nil {
		idToken = hook(claims)
	} else {
		idToken = s.Sign(claims)
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": 3600,
		"id_token": idToken, "scope": g.Scope})
}

func (s *Server) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	if s.record(UserinfoPath, r) {
		unavailable(w)
		return
	}
	at, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	g := s.tokens[at]
	hook := s.userinfo
	s.mu.Unlock()
	if !ok || g == nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	claims := maps.Clone(g.user.Claims)
	if claims == nil {
		claims = map[string]any{}
	}
	claims["sub"] = g.user.Subject
	for _, k := range []string{"iss", "aud", "tid", "hd"} {
		delete(claims, k)
	}
	if hook != nil {
		hook(claims)
	}
	writeJSON(w, http.StatusOK, claims)
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
