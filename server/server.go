// Package server is Gatehouse's HTTP API: login through a provider, access
// tokens, GET /me, the JWKS, health checks, and the middleware that guards
// an application's private routes. It is a thin layer: it decodes requests,
// calls the rules (packages login and session), the store and the token
// issuer, and encodes answers, rendering every error through one table
// (error.go).
//
// A Server is an http.Handler. The gatehouse binary serves it at the root of
// its own listener; an existing application mounts it into its mux (see the
// package example).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/cleanup"
	"github.com/gatehouse/gatehouse/clientip"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/login"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/token"
)

// Defaults for Config fields left zero.
const (
	DefaultAccessTokenTTL = 15 * time.Minute
	DefaultAlgorithm      = keys.DefaultAlgorithm
	// DefaultKeyRotation is how long a signing key signs before the next
	// one takes over.
	DefaultKeyRotation = keys.DefaultRotation
	// MaxAccessTokenTTL is the longest access token lifetime allowed.
	MaxAccessTokenTTL = time.Hour
	// LoginTTL is how long a started login stays usable.
	LoginTTL = login.DefaultTTL
	// Leeway is the clock skew allowed when verifying access tokens.
	Leeway = 30 * time.Second
	// KeyRetention is how long a retired signing key still verifies: the
	// longest any access token can live, whatever AccessTokenTTL a node
	// was given, plus the leeway.
	KeyRetention = MaxAccessTokenTTL + Leeway
	// ExchangeTimeout bounds the whole code exchange with a provider.
	ExchangeTimeout = login.DefaultExchangeTimeout
	// DefaultSessionIdleTimeout ends a session not refreshed for a week.
	DefaultSessionIdleTimeout = session.DefaultIdleTimeout
	// DefaultSessionMaxAge ends every session 30 days after its login.
	DefaultSessionMaxAge = session.DefaultMaxAge
	// DefaultRefreshGrace is how long a rotated refresh token still gets
	// its successor, for tabs that refresh at the same moment.
	DefaultRefreshGrace = session.DefaultGrace
	// DefaultTokenCacheSize is how many verified access tokens a node
	// remembers.
	DefaultTokenCacheSize = token.DefaultCacheSize
	// MaxRefreshGrace caps the grace window: a stolen token is usable
	// alongside the real one for that long.
	MaxRefreshGrace = session.MaxGrace
)

// ReservedNames are the /auth/… paths of the API that a provider cannot be
// named after (package login checks provider names).
var ReservedNames = login.ReservedNames

// Provider is a provider as registered with a Server. Its RedirectURL
// defaults to {AppURL}/auth/{Name}.
type Provider = login.Provider

// Config configures a Server.
type Config struct {
	// PublicURL is where Gatehouse is reached, and the "iss" of its tokens.
	// It must be https, or http on a loopback host for development. It may
	// have a path, for a Gatehouse behind a reverse proxy that serves it
	// under that path and strips it (https://app.example.com/gatehouse →
	// the Server's own /): the Server's routes stay at the root of its
	// handler, and the URLs it hands out (issuer, JWKS, provider
	// redirects) carry the path.
	PublicURL string
	// AppURL is the single-page app's URL; it defaults to PublicURL. Its
	// origin may call the API from the browser (CORS), and provider
	// redirects go to {AppURL}/auth/{provider}.
	AppURL string
	// Audience is the "aud" of access tokens; it defaults to AppURL.
	Audience string
	Store    gatehouse.Store
	// Providers are the providers users can log in with, in display order.
	Providers []Provider
	// AccessTokenTTL defaults to DefaultAccessTokenTTL.
	AccessTokenTTL time.Duration
	// Algorithm signs access tokens: ES256 (default), EdDSA or RS256. A key
	// is generated and stored on first use. Changing it rolls over through
	// a key rotation, so tokens already issued stay valid.
	Algorithm string
	// KeyRotation is how long a signing key signs before its successor
	// takes over (package keys); it defaults to DefaultKeyRotation.
	KeyRotation time.Duration
	// EncryptionKey, if set, is a 32-byte key that seals the private
	// signing keys in the store (AES-256-GCM). Without it the database
	// holds them in the clear.
	EncryptionKey []byte
	// HMACSecret, if set, makes Gatehouse sign with HS256 and this secret
	// instead, for applications migrating from a shared secret. Every
	// verifier then needs the secret, and can mint tokens with it.
	HMACSecret []byte
	// Logger receives request errors and audit events; nil means
	// slog.Default().
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// InsecureAllowHTTP allows a plain-http PublicURL or AppURL on a
	// non-loopback host. Cookies then travel unencrypted: it MUST NOT be
	// used in production.
	InsecureAllowHTTP bool

	// SessionIdleTimeout ends a session that is not refreshed for this
	// long; it defaults to DefaultSessionIdleTimeout.
	SessionIdleTimeout time.Duration
	// SessionMaxAge is a session's absolute lifetime from its login;
	// refreshing never extends it. It defaults to DefaultSessionMaxAge.
	SessionMaxAge time.Duration
	// RefreshGrace is how long a rotated refresh token still answers with
	// its successor (several tabs refreshing at once); after that, using
	// it again ends the session. It defaults to DefaultRefreshGrace; a
	// negative value means none.
	RefreshGrace time.Duration
	// CORSOrigins are the exact browser origins (scheme://host[:port])
	// allowed to call the API with credentials, besides Gatehouse's own.
	// They default to the AppURL's origin.
	CORSOrigins []string
	// TrustedProxies are the networks of reverse proxies whose
	// X-Forwarded-For is believed for the client address (audit logs, the
	// session list, rate limits and the development login's loopback
	// rule). By default no proxy is trusted.
	TrustedProxies []netip.Prefix
	// Limits are the per-node request limits; zero fields take
	// DefaultLimits.
	Limits Limits
	// PendingLogoutsFile keeps the logouts the database could not record
	// until it does, so that they survive a restart (see package
	// session). Empty keeps them in memory only.
	PendingLogoutsFile string
	// OnEmailMatch is what a first sign-in does when its verified email is
	// a verified email of another user: "refuse" (the default) answers 409
	// account_exists with the providers that user signs in with, so that
	// the person signs in and links the new account explicitly;
	// "new_account" makes a separate user. Accounts are never merged by
	// email.
	OnEmailMatch string
	// AuditRetention is how long the audit log keeps an event, 1 day to
	// 10 years; zero means 90 days (package cleanup deletes older ones).
	AuditRetention time.Duration
	// TokenCacheSize is how many verified access tokens the server
	// remembers (token.Cache), so that a token seen again skips its
	// signature check; the session check of every request stays. Zero
	// means DefaultTokenCacheSize, a negative value no cache; at most
	// token.MaxCacheSize.
	TokenCacheSize int
	// Metrics, if set, counts logins, refreshes, logouts and revoked
	// sessions (package metrics); nil counts nothing.
	Metrics Recorder
}

// Server serves the Gatehouse HTTP API.
type Server struct {
	store    gatehouse.Store
	log      *slog.Logger
	now      func() time.Time
	issuer   *token.Issuer
	verifier *token.Verifier
	keys     keySource
	logins   *login.Manager
	listing  []providerInfo

	publicURL      string
	publicOrig     string
	corsOrigins    map[string]bool
	clients        *clientip.Resolver
	https          bool
	loginCookie    string
	refreshCookie  string
	previousCookie string

	sessions *session.Manager
	cleanup  *cleanup.Loop
	limits   limiters
	metrics  Recorder

	// adminState is whether the admin API is on, as last read (adminOn).
	adminState struct {
		sync.Mutex
		on bool
		at time.Time
	}

	handler http.Handler
}

type providerInfo struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
}

// New checks cfg, loads (or creates, on first start) the signing keys from
// the store, and returns a Server.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: Config.Store is required")
	}
	rc, err := cfg.resolve()
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	cfg = rc.Config
	pub, app, cors := rc.pub, rc.app, rc.cors
	limits := cfg.Limits.withDefaults()
	s := &Server{
		store:       cfg.Store,
		log:         cfg.Logger,
		now:         cfg.Now,
		listing:     []providerInfo{},
		publicURL:   pub.String(),
		publicOrig:  origin(pub),
		corsOrigins: cors,
		clients:     clientip.New(cfg.TrustedProxies),
		https:       pub.Scheme == "https",
		limits:      newLimiters(limits),
		metrics:     cfg.Metrics,
	}
	if s.metrics == nil {
		s.metrics = nopRecorder{}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.loginCookie, s.refreshCookie, s.previousCookie = "gatehouse_login", "gatehouse_refresh", "gatehouse_refresh_previous"
	if s.https {
		s.loginCookie, s.refreshCookie, s.previousCookie = "__Host-"+s.loginCookie, "__Host-"+s.refreshCookie, "__Host-"+s.previousCookie
	}
	providers := make([]Provider, len(cfg.Providers))
	for i, p := range cfg.Providers {
		if p.RedirectURL == "" {
			p.RedirectURL = strings.TrimSuffix(app.String(), "/") + "/auth/" + p.Name
		}
		providers[i] = p
	}
	s.logins, err = login.New(login.Config{
		Store:               cfg.Store,
		Providers:           providers,
		MaxPendingPerClient: limits.PendingLoginsPerClient,
		OnEmailMatch:        gatehouse.EmailMatch(cfg.OnEmailMatch),
		Now:                 s.now,
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	for _, p := range s.logins.Providers() {
		if _, err := ParseBaseURL("provider "+p.Name+" redirect URL", p.RedirectURL, cfg.InsecureAllowHTTP); err != nil {
			return nil, err
		}
		s.listing = append(s.listing, providerInfo{Name: p.Name, DisplayName: p.DisplayName})
	}

	if s.keys, err = loadKeys(ctx, cfg, s.now, s.log); err != nil {
		return nil, err
	}
	s.issuer = &token.Issuer{Issuer: s.publicURL, Audience: cfg.Audience, TTL: cfg.AccessTokenTTL, Keys: s.keys, Now: s.now}
	s.verifier = &token.Verifier{Issuer: s.publicURL, Audience: cfg.Audience, Keys: s.keys,
		Leeway: Leeway, MaxTTL: cfg.AccessTokenTTL, Now: s.now}
	if cfg.TokenCacheSize > 0 {
		s.verifier.Cache = token.NewCache(cfg.TokenCacheSize)
	}
	s.sessions, err = session.New(session.Config{
		Store:       cfg.Store,
		IdleTimeout: cfg.SessionIdleTimeout,
		MaxAge:      cfg.SessionMaxAge,
		Grace:       cfg.RefreshGrace,
		RefreshRate: limits.RefreshPerSession,
		PendingFile: cfg.PendingLogoutsFile,
		Now:         s.now,
		Logger:      s.log,
	})
	if err != nil {
		s.keys.Close()
		return nil, fmt.Errorf("server: %w", err)
	}
	s.cleanup = cleanup.Start(cleanup.Config{Store: cfg.Store, Now: s.now, Logger: s.log, Pause: 10 * time.Millisecond,
		AuditRetention: cfg.AuditRetention})
	s.handler = s.routes()
	return s, nil
}

// Close stops the server's background work: the cleanup of expired login
// states and ended sessions, the reloading of the signing keys, and the
// replay of logouts the database could
// not record (which stay in Config.PendingLogoutsFile for the next start).
// It does not close the store.
func (s *Server) Close() error {
	return errors.Join(s.cleanup.Close(), s.sessions.Close(), s.keys.Close())
}

// ParseBaseURL parses an absolute http(s) URL with no query, fragment or
// user info, and returns it without a trailing slash. Plain http is allowed
// only on a loopback host, unless insecure is set. name is used in errors.
func ParseBaseURL(name, raw string, insecure bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%s %q is not an absolute URL", name, raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.ForceQuery {
		return nil, fmt.Errorf("%s %q must not have a query, fragment or user info", name, raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !IsLoopback(u) && !insecure {
			return nil, fmt.Errorf("%s %q uses plain http on a non-loopback host; use https", name, raw)
		}
	default:
		return nil, fmt.Errorf("%s %q must be an http or https URL", name, raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// IsLoopback reports whether u's host is localhost or a loopback address.
func IsLoopback(u *url.URL) bool {
	h := u.Hostname()
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }

// checkOrigin accepts an exact browser origin: http(s)://host[:port] and
// nothing else; plain http only on loopback unless insecure.
func checkOrigin(o string, insecure bool) error {
	u, err := ParseBaseURL("CORS origin", o, insecure)
	if err != nil {
		return err
	}
	if u.Path != "" || origin(u) != o {
		return fmt.Errorf("server: CORS origin %q must be exactly scheme://host[:port], in lower case, with no path", o)
	}
	return nil
}

// loadKeys returns the signing keys: the HMAC secret if one is configured
// (it never rotates), or else the stored keys, rotating (package keys).
func loadKeys(ctx context.Context, cfg Config, now func() time.Time, log *slog.Logger) (keySource, error) {
	if len(cfg.HMACSecret) > 0 {
		k, err := token.NewHMACKey(cfg.HMACSecret)
		if err != nil {
			return nil, fmt.Errorf("server: Config.HMACSecret: %w", err)
		}
		set, err := token.NewKeySet(k)
		if err != nil {
			return nil, err
		}
		return fixedKeys{set}, nil
	}
	m, err := keys.New(ctx, keys.Config{
		Store:         cfg.Store,
		Algorithm:     cfg.Algorithm,
		Rotation:      cfg.KeyRotation,
		Retain:        KeyRetention,
		EncryptionKey: cfg.EncryptionKey,
		Background:    true,
		Now:           now,
		Logger:        log,
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return m, nil
}

// keySource is what the server signs and verifies with, and publishes.
type keySource interface {
	token.Signer
	token.KeySource
	JWKS() []byte
	Close() error
}

// fixedKeys is a key set that never changes (the HMAC secret).
type fixedKeys struct{ *token.KeySet }

func (fixedKeys) Close() error { return nil }

// ServeHTTP serves the Gatehouse API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// Issuer returns the issuer that mints the server's access tokens.
func (s *Server) Issuer() *token.Issuer { return s.issuer }

// A route is one endpoint of the API: a method, a net/http mux pattern
// (with {name} wildcards, as the OpenAPI document writes its paths) and
// its handler.
type route struct {
	method  string
	pattern string
	handle  func(*Server, http.ResponseWriter, *http.Request)
}

// routeTable is every endpoint the API serves, in one place: routes
// registers it, and the tests check that openapi.json describes exactly
// these.
var routeTable = []route{
	{"GET", "/auth/providers", (*Server).handleProviders},
	{"GET", "/auth/{provider}/login", (*Server).handleLogin},
	{"POST", "/auth/{provider}/authorize", (*Server).handleAuthorize},
	{"POST", "/auth/refresh", (*Server).handleRefresh},
	{"POST", "/auth/logout", (*Server).handleLogout},
	{"GET", "/auth/sessions", (*Server).handleSessions},
	{"DELETE", "/auth/sessions/{id}", (*Server).handleDeleteSession},
	{"GET", "/me", (*Server).handleMe},
	{"GET", "/me/identities", (*Server).handleIdentities},
	{"DELETE", "/me/identities/{provider}", (*Server).handleUnlink},
	{"DELETE", "/me/identities/{provider}/{subject}", (*Server).handleUnlink},
	{"GET", "/.well-known/jwks.json", (*Server).handleJWKS},
	{"GET", "/.well-known/openid-configuration", (*Server).handleDiscovery},
	{"GET", "/healthz", (*Server).handleHealth},
	{"GET", "/readyz", (*Server).handleReady},
	{"GET", "/openapi.json", (*Server).handleOpenAPI},
	{"GET", "/admin/users", adminHandler((*Server).handleAdminUsers)},
	{"GET", "/admin/users/{id}", adminHandler((*Server).handleAdminUser)},
	{"POST", "/admin/users/{id}/disable", adminHandler((*Server).handleAdminDisable)},
	{"POST", "/admin/users/{id}/enable", adminHandler((*Server).handleAdminEnable)},
	{"DELETE", "/admin/users/{id}", adminHandler((*Server).handleAdminDeleteUser)},
	{"GET", "/admin/users/{id}/sessions", adminHandler((*Server).handleAdminSessions)},
	{"DELETE", "/admin/users/{id}/sessions/{sid}", adminHandler((*Server).handleAdminEndSession)},
	{"DELETE", "/admin/users/{id}/sessions", adminHandler((*Server).handleAdminEndSessions)},
	{"GET", "/admin/audit", adminHandler((*Server).handleAdminAudit)},
}

// routes builds the API's mux from routeTable. A known path with the wrong
// method gets a JSON 405 with Allow, and an unknown path a JSON 404, rather
// than net/http's plain-text answers.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range routeTable {
		mux.HandleFunc(rt.method+" "+rt.pattern, func(w http.ResponseWriter, r *http.Request) { rt.handle(s, w, r) })
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
			other := *r
			other.Method = m
			if _, pattern := mux.Handler(&other); pattern != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 && strings.HasPrefix(r.URL.Path, "/admin/") {
			// While the admin API is off, its paths are unknown ones.
			if on, err := s.adminOn(r.Context()); err != nil || !on {
				allow = nil
			}
		}
		if len(allow) == 0 {
			s.renderError(w, r, gatehouse.Errorf(gatehouse.ENotFound, "no such endpoint"))
			return
		}
		if allow[0] == http.MethodGet {
			allow = slices.Insert(allow, 1, http.MethodHead)
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.renderError(w, r, gatehouse.Errorf(gatehouse.EMethodNotAllowed, "use %s", strings.Join(allow, " or ")))
	})
	return s.securityHeaders(s.cors(s.cleanPaths(mux)))
}

// cleanPaths answers a request whose path is not in clean form ("//me",
// "/a/../me") with a JSON 404, where net/http's mux would redirect to the
// clean path with a plain-text answer of its own: every answer of the API
// is its JSON.
func (s *Server) cleanPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !IsCleanPath(r.URL.EscapedPath()) {
			s.renderError(w, r, gatehouse.Errorf(gatehouse.ENotFound, "no such endpoint"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// IsCleanPath reports whether p, an escaped path (URL.EscapedPath), is one
// net/http's mux serves as it is rather than redirecting to a cleaned
// form: rooted, with no empty, "." or ".." segments (a single trailing
// slash is clean).
func IsCleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.renderError(w, r, &gatehouse.Error{Code: gatehouse.EUnavailable, Message: "the database is not reachable", Err: err})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
