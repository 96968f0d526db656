package login

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Started is a login in progress, as the browser needs it.
type Started struct {
	// URL is the provider URL to send the browser to.
	URL string
	// Binding is the secret that ties the login to the browser that
	// started it. The caller keeps it in that browser (an HttpOnly cookie)
	// and hands it back to Finish, and to Start as the previous binding.
	Binding string
	// Lifetime is how long the login stays usable: the browser need not
	// keep the binding longer.
	Lifetime time.Duration
}

// Start starts a login through the named provider for client, the key the
// caller counts a client's pending logins under (its address). previous is
// the binding of the browser's earlier login, or "": that login is
// replaced, since the browser keeps one binding. If client already has
// Config.MaxPendingPerClient logins in progress, Start stores nothing and
// returns an ERateLimited error.
func (m *Manager) Start(ctx context.Context, provider, client, previous string) (*Started, error) {
	return m.start(ctx, provider, client, previous, "")
}

// StartLink is Start for a login that links the provider account to the
// user userID instead of signing in: Finish attaches the account to that
// user. The caller has authenticated the user (a live session of a user
// who is not disabled); the login state records them, bound to this
// browser like any login.
func (m *Manager) StartLink(ctx context.Context, userID, provider, client, previous string) (*Started, error) {
	if userID == "" {
		return nil, gatehouse.Errorf(gatehouse.EUnauthorized, "linking an account needs a signed-in user")
	}
	return m.start(ctx, provider, client, previous, userID)
}

// unavailableRetry is how long a client is told to wait when a provider
// cannot start a login.
const unavailableRetry = 10 * time.Second

func (m *Manager) start(ctx context.Context, provider, client, previous, linkUserID string) (*Started, error) {
	p, err := m.Provider(provider)
	if err != nil {
		return nil, err
	}
	// A provider that cannot start a login now (an OpenID Connect issuer
	// not discovered yet) says so before anything is stored.
	if pr, ok := p.Provider.(gatehouse.Preparer); ok {
		if err := pr.Prepare(ctx); err != nil {
			return nil, err
		}
	}
	now := m.now()
	state, binding := randomToken(), randomToken()
	ls := &gatehouse.LoginState{
		StateHash:    hash(state),
		BindingHash:  hash(binding),
		Provider:     p.Name,
		RedirectURI:  p.RedirectURL,
		CodeVerifier: randomToken(),
		Nonce:        randomToken(),
		Client:       client,
		LinkUserID:   linkUserID,
		CreatedAt:    now,
		ExpiresAt:    now.Add(m.ttl),
	}
	authURL := p.AuthCodeURL(gatehouse.AuthParams{
		State:        state,
		RedirectURI:  ls.RedirectURI,
		CodeVerifier: ls.CodeVerifier,
		Nonce:        ls.Nonce,
	})
	if authURL == "" {
		// A provider with no URL to send the browser to (one that cannot
		// say so through Prepare) cannot start a login: store nothing.
		return nil, &gatehouse.Error{Code: gatehouse.EUnavailable, RetryAfter: unavailableRetry,
			Message: "the provider cannot start a login now; try again later"}
	}
	var replaces string
	if isRandomToken(previous) {
		replaces = hash(previous)
	}
	err = m.store.CreateLoginState(ctx, ls, replaces, m.maxPending)
	if errors.Is(err, gatehouse.ErrTooMany) {
		return nil, &gatehouse.Error{Code: gatehouse.ERateLimited, RetryAfter: time.Minute,
			Message: "too many logins in progress from this address; finish one or try again later"}
	}
	if err != nil {
		return nil, err
	}
	return &Started{URL: authURL, Binding: binding, Lifetime: m.ttl}, nil
}
