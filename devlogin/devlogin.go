// Package devlogin is a small but real OpenID Connect issuer built into
// Gatehouse for development: an authorize page where you pick a name and an
// email, a token endpoint that checks the client secret, the redirect_uri
// and PKCE and returns an ID token signed with a key made at startup, a
// userinfo endpoint, a discovery document and a JWKS. It runs the whole
// authorization-code flow without any account anywhere.
//
// Gatehouse can sign into it two ways. Provider returns an OAuth 2.0 client
// built on the same provider code as GitHub (golang.org/x/oauth2, PKCE,
// the same error mapping), which reads the userinfo endpoint. Or an OpenID
// Connect client (github.com/coreos/go-oidc/v3) is built from Issuer,
// ClientID, ClientSecret, RedirectURI and HTTPClient and wrapped with
// LoopbackOnly; it discovers the endpoints and verifies the ID token.
//
// Anyone who can reach it can sign in as anyone, so it is confined to the
// machine Gatehouse runs on, by construction rather than by configuration:
//
//   - New refuses to build a Server unless Config.Listener, the address
//     Gatehouse listens on, is a loopback TCP address (127.0.0.0/8 or ::1).
//     A wildcard address such as 0.0.0.0 is refused.
//   - The authorize page and form, the only endpoints ServeHTTP serves,
//     answer 403 to every client whose address is not loopback. The client
//     address is decided by package clientip: behind a trusted proxy
//     (Config.TrustedProxies) it is the forwarded client that must be
//     loopback, not the proxy. A request that names a forwarded client
//     (X-Forwarded-For, Forwarded, X-Real-IP) but does not come from a
//     trusted proxy is refused too: it went through a proxy nobody told
//     Gatehouse about, perhaps one on this machine that makes every client
//     look loopback. There is no switch to turn any of this off.
//   - The provider returned by Provider reports LoopbackOnly, and so does
//     any provider wrapped with LoopbackOnly, so the server also refuses
//     logins through it from non-loopback clients.
//
// The discovery, JWKS, token and userinfo endpoints are on no listener at
// all. The client side reaches them through an in-process
// http.RoundTripper that calls their handler directly (the back-channel,
// see HTTPClient): nobody else can call them, and a login in flight
// completes even while the listener shuts down. This is why the issuer
// identifier is on the back-channel too (see Issuer).
//
// Pending authorize requests are capped per client address and in total,
// and every kind of state (requests, codes, tokens) expires oldest first,
// at a cost independent of how much is held.
package devlogin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/clientip"
	"github.com/gatehouse/gatehouse/oauth"
	"golang.org/x/oauth2"
)

// Prefix is the path under which the server's endpoints live.
const Prefix = "/dev-login"

// Lifetimes and bounds of what the server keeps in memory. Every entry of
// one kind lives for the same time, which is what lets each kind expire
// oldest first.
const (
	// requestTTL is how long an authorize page can be submitted.
	requestTTL = 10 * time.Minute
	// codeTTL is how long an authorization code can be exchanged.
	codeTTL = time.Minute
	// tokenTTL is how long an access token reads the userinfo endpoint.
	tokenTTL = 5 * time.Minute

	// maxPendingPerClient is how many authorize requests one client
	// address may have pending; the next one is answered 429 until one is
	// used, cancelled or expires. It keeps one client from using up
	// maxPending for everyone.
	maxPendingPerClient = 20
	// maxPending bounds the pending authorize requests of all clients
	// together: a memory bound, answered 503.
	maxPending = 10_000
	// maxCodes bounds the issued, unexchanged codes.
	maxCodes = 10_000
	// maxTokens bounds the live access tokens.
	maxTokens = 10_000

	// maxBodySize caps a form or token request body.
	maxBodySize = 16 << 10
	// maxNonceLen caps the nonce of an authorize request, in bytes: it is
	// kept with the request and copied into the ID token.
	maxNonceLen = 255
)

// Config configures the development login server.
type Config struct {
	// PublicURL is the base URL browsers reach Gatehouse at; the authorize
	// page is at PublicURL + Prefix + "/authorize".
	PublicURL string
	// RedirectURI is the one redirect_uri the client may use.
	RedirectURI string
	// Listener is the address Gatehouse listens on (net.Listener.Addr).
	// It is required and must be a loopback TCP address: New refuses any
	// other, including a wildcard such as 0.0.0.0.
	Listener net.Addr
	// TrustedProxies are the networks of reverse proxies whose
	// X-Forwarded-For is believed, as in server.Config: behind one, the
	// forwarded client must be loopback.
	TrustedProxies []netip.Prefix
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Server is the development OpenID Connect issuer. It keeps its pending
// requests, codes, tokens and signing key in memory.
type Server struct {
	cfg          Config
	clientID     string
	clientSecret string
	idSigner     *idSigner
	clients      *clientip.Resolver
	public       http.Handler // the authorize page and form
	transport    http.RoundTripper
	now          func() time.Time

	mu        sync.Mutex
	requests  *fifo[*authRequest]
	perClient map[netip.Addr]int // pending requests per client address
	codes     *fifo[*grant]
	tokens    *fifo[*grant]
}

type authRequest struct {
	client    netip.Addr
	state     string
	challenge string
	scope     string
	nonce     string
}

type grant struct {
	challenge string
	// scope and nonce are those of the authorization request: an ID token
	// is issued if scope has openid, and carries the nonce.
	scope string
	nonce string
	user  userinfo
}

// New returns a development login server with a fresh random client
// secret and a fresh ID token signing key. It returns an error if
// cfg.Listener is not a loopback TCP address.
func New(cfg Config) (*Server, error) {
	if cfg.PublicURL == "" || cfg.RedirectURI == "" {
		return nil, errors.New("devlogin: PublicURL and RedirectURI are required")
	}
	if err := checkListener(cfg.Listener); err != nil {
		return nil, err
	}
	signer, err := newIDSigner()
	if err != nil {
		return nil, err
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	s := &Server{
		cfg:          cfg,
		clientID:     "gatehouse-dev",
		clientSecret: rand.Text(),
		idSigner:     signer,
		clients:      clientip.New(cfg.TrustedProxies),
		now:          cfg.Now,
		perClient:    map[netip.Addr]int{},
		codes:        newFIFO[*grant](codeTTL, maxCodes, nil),
		tokens:       newFIFO[*grant](tokenTTL, maxTokens, nil),
	}
	s.requests = newFIFO(requestTTL, maxPending, s.release)
	if s.now == nil {
		s.now = time.Now
	}
	public := http.NewServeMux()
	public.HandleFunc("GET "+Prefix+"/authorize", s.handleAuthorizePage)
	public.HandleFunc("POST "+Prefix+"/authorize", s.handleAuthorizeForm)
	s.public = s.loopbackOnly(public)
	back := http.NewServeMux()
	back.HandleFunc("GET "+Prefix+discoveryPath, s.handleDiscovery)
	back.HandleFunc("GET "+Prefix+jwksPath, s.handleJWKS)
	back.HandleFunc("POST "+Prefix+tokenPath, s.handleToken)
	back.HandleFunc("GET "+Prefix+userinfoPath, s.handleUserinfo)
	s.transport = backchannel{back}
	return s, nil
}

// ServeHTTP serves the authorize page and form under Prefix, to loopback
// clients only. The discovery, JWKS, token and userinfo endpoints are not
// here: see HTTPClient.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.public.ServeHTTP(w, r)
}

// Issuer returns the issuer identifier, the iss of every ID token and the
// URL its discovery document is found under (Issuer() +
// "/.well-known/openid-configuration"). It is on the back-channel,
// http://dev-login.invalid/dev-login, not under Config.PublicURL.
//
// An OpenID Connect client needs one issuer string, the one it was
// configured with, to be both where it fetches the discovery document and
// the issuer that document and the ID tokens name; every other URL it takes
// from the document. Putting the issuer on the back-channel keeps the
// back-channel what it was: a transport that answers one origin, under the
// reserved .invalid domain, which no network request can reach. Only the
// document's authorization_endpoint is under Config.PublicURL, because
// browsers must open it; OpenID Connect Discovery lets endpoints live on
// any host. The other design, an issuer under Config.PublicURL with the
// HTTP client diverting that origin in-process, would give the token and
// userinfo endpoints addresses that look served on the network listener
// when they are not, and a client without HTTPClient would send the client
// secret and codes there. (The issuer is http, not the https Discovery
// requires, as the authorize page is on a loopback http URL: this issuer
// serves only this process.)
func (s *Server) Issuer() string { return backchannelURL + Prefix }

// ClientID returns the client_id of the one client, Gatehouse.
func (s *Server) ClientID() string { return s.clientID }

// ClientSecret returns the client's secret, made at random by New. The
// token endpoint accepts it as client_secret_basic or client_secret_post.
func (s *Server) ClientSecret() string { return s.clientSecret }

// RedirectURI returns the one redirect_uri the client may use,
// Config.RedirectURI.
func (s *Server) RedirectURI() string { return s.cfg.RedirectURI }

// HTTPClient returns a new client whose requests are served in-process by
// the discovery, JWKS, token and userinfo endpoints: the only way to reach
// them. An OpenID Connect client must make all its server-side calls with
// it (for go-oidc, through oidc.ClientContext); it refuses any URL not
// under http://dev-login.invalid. It follows no redirects and gives up
// after oauth.DefaultTimeout.
func (s *Server) HTTPClient() *http.Client {
	return &http.Client{
		Transport: s.transport,
		Timeout:   oauth.DefaultTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Provider returns an OAuth 2.0 client side: a Gatehouse provider that
// sends browsers to this server's authorize page and calls its token and
// userinfo endpoints in-process. It does not ask for the openid scope, so
// it gets no ID token. It implements gatehouse.LoopbackOnly.
func (s *Server) Provider() (gatehouse.Provider, error) {
	p, err := oauth.New(oauth.Config{
		ClientID:     s.clientID,
		ClientSecret: s.clientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   s.cfg.PublicURL + Prefix + "/authorize",
			TokenURL:  s.Issuer() + tokenPath,
			AuthStyle: oauth2.AuthStyleInParams,
		},
		Scopes:     []string{"profile", "email"},
		HTTPClient: s.HTTPClient(),
		Identity:   s.identity,
	})
	if err != nil {
		return nil, fmt.Errorf("devlogin: %w", err)
	}
	return LoopbackOnly(p), nil
}

// LoopbackOnly returns p with the gatehouse.LoopbackOnly ability, reporting
// true, so that the server refuses logins through p from clients that are
// not on this machine. Every client of the development login must be
// wrapped with it: anyone who reaches the development login can sign in as
// anyone. The result has only the methods of gatehouse.Provider and
// gatehouse.LoopbackOnly; other optional abilities of p are hidden.
func LoopbackOnly(p gatehouse.Provider) gatehouse.Provider {
	return provider{p}
}

// provider is a client of the development login.
type provider struct {
	gatehouse.Provider
}

// LoopbackOnly reports true: anyone who reaches the development login can
// sign in as anyone.
func (provider) LoopbackOnly() bool { return true }

var _ gatehouse.LoopbackOnly = provider{}

// userinfo is what the userinfo endpoint answers, in OpenID Connect's
// standard claim names. A claim without a value is left out, as OpenID
// Connect Core 1.0 section 5.3.2 asks, rather than sent as null.
type userinfo struct {
	Subject           string  `json:"sub"`
	PreferredUsername string  `json:"preferred_username"`
	Name              *string `json:"name,omitempty"`
	Email             string  `json:"email"`
	EmailVerified     bool    `json:"email_verified"`
	Picture           *string `json:"picture,omitempty"`
}

func (s *Server) identity(ctx context.Context, client *http.Client, tok *oauth2.Token, _ gatehouse.AuthParams) (*gatehouse.Identity, error) {
	req, err := oauth.NewRequest(ctx, s.Issuer()+userinfoPath, tok.AccessToken)
	if err != nil {
		return nil, err
	}
	var u userinfo
	if err := oauth.GetJSON(client, req, &u); err != nil {
		return nil, oauth.APIError(err)
	}
	return &gatehouse.Identity{
		Subject: u.Subject,
		Profile: gatehouse.Profile{
			Login:         &u.PreferredUsername,
			Name:          u.Name,
			Email:         &u.Email,
			EmailVerified: u.EmailVerified,
			Picture:       u.Picture,
		},
	}, nil
}

func randomString() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// release forgets a pending request that was used, cancelled or expired,
// so that its client may start another.
func (s *Server) release(r *authRequest) {
	if s.perClient[r.client]--; s.perClient[r.client] <= 0 {
		delete(s.perClient, r.client)
	}
}
