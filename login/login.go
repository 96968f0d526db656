// Package login holds the rules of a login through a provider, with no HTTP
// in them. Start stores a login state (state, PKCE verifier, nonce, exact
// redirect URI), binds it to the browser that asked with a secret the
// caller keeps in that browser, and answers the provider URL. Finish checks
// what came back against that state (the browser's binding, the provider,
// expiry), consumes it before the provider is called, exchanges the code,
// cleans the profile, and finds or creates the user.
//
// A signed-in user links another provider account to theirs with
// StartLink: the login state records the user, and Finish attaches the
// account to them instead of signing in. Accounts are never linked
// silently: a first sign-in whose verified email another user has is
// refused (EAccountExists, naming the providers to sign in with), unless
// Config.OnEmailMatch makes it a separate user. Identities and Unlink
// manage a user's linked accounts.
//
// A browser has one login in progress: a new one replaces its earlier one.
// A client (an address, as the caller keys it) may have at most
// Config.MaxPendingPerClient logins in progress.
//
// Who may use a provider right now (rate limits, and the loopback-only rule
// of gatehouse.LoopbackOnly) depends on the client's address; the caller
// checks it before Start and Finish. Starting a session for the user is the
// caller's too (package session).
//
// The package takes its store, clock and providers as values; the server
// package maps HTTP requests to its calls.
package login

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Defaults and bounds of Config.
const (
	// DefaultTTL is how long a started login stays usable.
	DefaultTTL = 10 * time.Minute
	// MinTTL and MaxTTL bound Config.TTL: long enough to sign in at the
	// provider, short enough that a forgotten login does not linger.
	MinTTL = time.Minute
	MaxTTL = time.Hour
	// DefaultExchangeTimeout bounds the whole code exchange with a
	// provider.
	DefaultExchangeTimeout = 25 * time.Second
)

// ReservedNames are the names a provider cannot take: the HTTP API's own
// /auth/… paths sit where a provider's name goes (/auth/{name}/login).
var ReservedNames = []string{"providers", "refresh", "logout", "sessions"}

var providerName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// Provider is a provider as registered for logins.
type Provider struct {
	// Name is the provider's URL segment (/auth/{Name}/login) and the
	// provider part of its identities' key: lower-case letters, digits and
	// hyphens, and none of ReservedNames.
	Name string
	// DisplayName is shown on login buttons; it defaults to Name.
	DisplayName string
	// RedirectURL is the exact redirect_uri registered with the provider.
	// Package server defaults it to {AppURL}/auth/{Name}.
	RedirectURL string
	gatehouse.Provider
}

// Config configures a Manager.
type Config struct {
	Store gatehouse.Store
	// Providers are the providers users can log in with, in display order.
	Providers []Provider
	// TTL is how long a started login stays usable; zero means DefaultTTL.
	TTL time.Duration
	// MaxPendingPerClient caps the logins one client may have started and
	// not finished (they are rows in the store, shared by every node);
	// zero sets no cap.
	MaxPendingPerClient int
	// ExchangeTimeout bounds the code exchange with a provider; zero means
	// DefaultExchangeTimeout.
	ExchangeTimeout time.Duration
	// OnEmailMatch is what a first sign-in does when its verified email is
	// a verified email of another user: gatehouse.EmailMatchRefuse (the
	// default, for "") or gatehouse.EmailMatchNewAccount.
	OnEmailMatch gatehouse.EmailMatch
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Manager applies the login rules. It is safe for concurrent use.
type Manager struct {
	store      gatehouse.Store
	providers  []Provider
	byName     map[string]*Provider
	ttl        time.Duration
	maxPending int
	timeout    time.Duration
	onEmail    gatehouse.EmailMatch
	now        func() time.Time
}

// New checks cfg and returns a Manager.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("login: Config.Store is required")
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.TTL < MinTTL || cfg.TTL > MaxTTL {
		return nil, fmt.Errorf("login: Config.TTL must be between %s and %s, got %s", MinTTL, MaxTTL, cfg.TTL)
	}
	if cfg.MaxPendingPerClient < 0 {
		return nil, fmt.Errorf("login: Config.MaxPendingPerClient must not be negative (zero sets no cap), got %d", cfg.MaxPendingPerClient)
	}
	if cfg.ExchangeTimeout == 0 {
		cfg.ExchangeTimeout = DefaultExchangeTimeout
	}
	if cfg.ExchangeTimeout < 0 {
		return nil, fmt.Errorf("login: Config.ExchangeTimeout must be positive, got %s", cfg.ExchangeTimeout)
	}
	if cfg.OnEmailMatch == "" {
		cfg.OnEmailMatch = gatehouse.EmailMatchRefuse
	}
	if !cfg.OnEmailMatch.Valid() {
		return nil, fmt.Errorf("login: Config.OnEmailMatch must be %q or %q, got %q",
			gatehouse.EmailMatchRefuse, gatehouse.EmailMatchNewAccount, cfg.OnEmailMatch)
	}
	m := &Manager{
		store:      cfg.Store,
		providers:  make([]Provider, 0, len(cfg.Providers)),
		byName:     map[string]*Provider{},
		ttl:        cfg.TTL,
		maxPending: cfg.MaxPendingPerClient,
		timeout:    cfg.ExchangeTimeout,
		onEmail:    cfg.OnEmailMatch,
		now:        cfg.Now,
	}
	if m.now == nil {
		m.now = time.Now
	}
	for _, p := range cfg.Providers {
		if !providerName.MatchString(p.Name) || slices.Contains(ReservedNames, p.Name) {
			return nil, fmt.Errorf("login: Config.Providers: provider name %q must be lower-case letters, digits and hyphens, and not one of %v", p.Name, ReservedNames)
		}
		if p.Provider == nil {
			return nil, fmt.Errorf("login: Config.Providers: provider %q has no implementation", p.Name)
		}
		if slices.ContainsFunc(m.providers, func(q Provider) bool { return q.Name == p.Name }) {
			return nil, fmt.Errorf("login: Config.Providers: provider %q registered twice", p.Name)
		}
		if p.RedirectURL == "" {
			return nil, fmt.Errorf("login: Config.Providers: provider %q has no RedirectURL", p.Name)
		}
		if p.DisplayName == "" {
			p.DisplayName = p.Name
		}
		m.providers = append(m.providers, p)
	}
	for i := range m.providers {
		m.byName[m.providers[i].Name] = &m.providers[i]
	}
	return m, nil
}

// Providers returns the registered providers in display order, with their
// defaults filled in.
func (m *Manager) Providers() []Provider { return slices.Clone(m.providers) }

// Provider returns the registered provider named name. Names are matched
// exactly: "GITHUB" or "github\x00" are unknown (EUnsupportedProvider).
func (m *Manager) Provider(name string) (*Provider, error) {
	p, ok := m.byName[name]
	if !ok {
		return nil, gatehouse.Errorf(gatehouse.EUnsupportedProvider, "unknown provider")
	}
	return p, nil
}
