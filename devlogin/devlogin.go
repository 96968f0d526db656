// Package devlogin is a small but real OAuth 2.0 authorization server built
// into Gatehouse for development: an authorize page where you pick a name
// and an email, a token endpoint that checks the client secret, the
// redirect_uri and PKCE, and a userinfo endpoint. Gatehouse logs in with it
// over real HTTP through the same provider code as GitHub, so the demo runs
// the whole authorization-code flow without any account anywhere.
//
// Anyone who can reach it can log in as anyone: it is for loopback
// development URLs only, and the gatehouse binary refuses to enable it on
// any other public URL.
package devlogin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/oauth"
	"golang.org/x/oauth2"
)

// Prefix is the path under which the server's endpoints live.
const Prefix = "/dev-login"

// Lifetimes and bounds of what the server keeps in memory.
const (
	requestTTL  = 10 * time.Minute
	codeTTL     = time.Minute
	tokenTTL    = 5 * time.Minute
	maxPending  = 1000
	maxBodySize = 16 << 10
)

// Config configures the development login server.
type Config struct {
	// PublicURL is the base URL browsers reach Gatehouse at; the authorize
	// page is at PublicURL + Prefix + "/authorize".
	PublicURL string
	// BackchannelURL is the base URL Gatehouse itself calls the token and
	// userinfo endpoints at; it defaults to PublicURL.
	BackchannelURL string
	// RedirectURI is the one redirect_uri the client may use.
	RedirectURI string
	// HTTPClient is the provider side's client; nil means the default.
	HTTPClient *http.Client
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Server is the development OAuth 2.0 authorization server. It keeps its
// pending requests, codes and tokens in memory.
type Server struct {
	cfg          Config
	clientID     string
	clientSecret string
	mux          *http.ServeMux
	now          func() time.Time

	mu       sync.Mutex
	requests map[string]*authRequest
	codes    map[string]*grant
	tokens   map[string]*grant
}

type authRequest struct {
	state     string
	challenge string
	scope     string
	expires   time.Time
}

type grant struct {
	challenge string
	user      userinfo
	expires   time.Time
}

// New returns a development login server with a fresh random client
// secret.
func New(cfg Config) (*Server, error) {
	if cfg.PublicURL == "" || cfg.RedirectURI == "" {
		return nil, errors.New("devlogin: PublicURL and RedirectURI are required")
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	if cfg.BackchannelURL == "" {
		cfg.BackchannelURL = cfg.PublicURL
	}
	cfg.BackchannelURL = strings.TrimSuffix(cfg.BackchannelURL, "/")
	s := &Server{
		cfg:          cfg,
		clientID:     "gatehouse-dev",
		clientSecret: rand.Text(),
		now:          cfg.Now,
		requests:     map[string]*authRequest{},
		codes:        map[string]*grant{},
		tokens:       map[string]*grant{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET "+Prefix+"/authorize", s.handleAuthorizePage)
	s.mux.HandleFunc("POST "+Prefix+"/authorize", s.handleAuthorizeForm)
	s.mux.HandleFunc("POST "+Prefix+"/token", s.handleToken)
	s.mux.HandleFunc("GET "+Prefix+"/userinfo", s.handleUserinfo)
	return s, nil
}

// ServeHTTP serves the endpoints under Prefix.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Provider returns the client side: a Gatehouse provider that logs in with
// this server over HTTP.
func (s *Server) Provider() (gatehouse.Provider, error) {
	p := &oauth.Provider{
		ClientID:     s.clientID,
		ClientSecret: s.clientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   s.cfg.PublicURL + Prefix + "/authorize",
			TokenURL:  s.cfg.BackchannelURL + Prefix + "/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
		Scopes:     []string{"profile", "email"},
		HTTPClient: s.cfg.HTTPClient,
		Identity:   s.identity,
	}
	if err := p.Init(); err != nil {
		return nil, fmt.Errorf("devlogin: %w", err)
	}
	return p, nil
}

// userinfo is what the userinfo endpoint answers, in OpenID Connect's
// standard claim names.
type userinfo struct {
	Subject           string  `json:"sub"`
	PreferredUsername string  `json:"preferred_username"`
	Name              *string `json:"name"`
	Email             string  `json:"email"`
	EmailVerified     bool    `json:"email_verified"`
	Picture           *string `json:"picture"`
}

func (s *Server) identity(ctx context.Context, client *http.Client, tok *oauth2.Token) (*gatehouse.Identity, error) {
	req, err := oauth.NewRequest(ctx, s.cfg.BackchannelURL+Prefix+"/userinfo", tok.AccessToken)
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

// sweep drops expired entries; the caller holds s.mu.
func (s *Server) sweep(now time.Time) {
	for k, v := range s.requests {
		if now.After(v.expires) {
			delete(s.requests, k)
		}
	}
	for k, v := range s.codes {
		if now.After(v.expires) {
			delete(s.codes, k)
		}
	}
	for k, v := range s.tokens {
		if now.After(v.expires) {
			delete(s.tokens, k)
		}
	}
}
