package login

import (
	"context"
	"errors"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// Callback is what came back from the provider through the browser, with
// the browser's binding.
type Callback struct {
	// State is the state the provider sent back.
	State string
	// Binding is the binding the browser kept from Start, or "".
	Binding string
	// Code is the authorization code; empty when the provider sent Error.
	Code string
	// Error is the provider's error code, when it sent one instead of a
	// code. Its description is not taken: it is the provider's text,
	// relayed by whoever holds the browser.
	Error string
}

// Result is the outcome of Finish. Finish returns one even with an error,
// so that the caller knows whether the binding is spent and can name in
// its audit line what was learnt before the failure.
type Result struct {
	// Consumed reports whether the login state was used up: the binding
	// is spent, and the browser may forget it.
	Consumed bool
	// Identity is the provider account, once the provider vouched for it:
	// Provider and Subject set, Profile cleaned.
	Identity *gatehouse.Identity
	// User is the user who logged in, or who linked the account; nil
	// unless Finish succeeded.
	User *gatehouse.User
	// Linked reports whether the login linked the account to a user who
	// was already signed in (StartLink) rather than signing in: no
	// session is to be started for it.
	Linked bool
	// NewUser reports whether the sign-in created User.
	NewUser bool
}

// Finish finishes a login through the named provider. The state and the
// browser's binding must match a login started with this provider that
// has not expired; it is consumed before the provider is called, so that a
// code or state works once. A login that matches but was started for
// another provider, or has expired, is consumed and refused. A binding
// that does not match consumes nothing: somebody else's login stays
// usable. Every check that can fail without the provider runs before the
// provider is called.
//
// A login started with StartLink attaches the account to the user who
// started it (Result.Linked) instead of signing in. Any other login signs
// in as the account's user, or makes a user for a new account, unless
// the email rule refuses it (EAccountExists; Config.OnEmailMatch).
func (m *Manager) Finish(ctx context.Context, provider string, cb Callback) (*Result, error) {
	res := &Result{}
	p, err := m.Provider(provider)
	if err != nil {
		return res, err
	}
	if cb.Error == "" && strings.TrimSpace(cb.Code) == "" {
		return res, gatehouse.Errorf(gatehouse.EInvalidRequest, "code is required")
	}
	ls, err := m.consume(ctx, cb.State, cb.Binding)
	if err != nil {
		return res, err
	}
	res.Consumed = true
	if ls.Provider != p.Name {
		return res, gatehouse.Errorf(gatehouse.EInvalidState, "the login was started for another provider")
	}
	if !m.now().Before(ls.ExpiresAt) {
		return res, gatehouse.Errorf(gatehouse.EInvalidState, "the login has expired; start again")
	}
	if cb.Error != "" {
		if cb.Error == gatehouse.EAccessDenied {
			return res, gatehouse.Errorf(gatehouse.EProviderDenied, "the login was cancelled or refused at the provider")
		}
		return res, gatehouse.Errorf(gatehouse.EInvalidRequest, "the provider did not complete the login")
	}
	if res.Identity, err = m.exchange(ctx, p, ls, cb); err != nil {
		return res, err
	}
	if ls.LinkUserID != "" {
		res.User, err = m.link(ctx, ls.LinkUserID, res.Identity)
		res.Linked = err == nil
		return res, err
	}
	res.User, err = m.signIn(ctx, res.Identity)
	// A user the sign-in created was created and updated at once; a
	// returning one was created at an earlier sign-in.
	res.NewUser = err == nil && res.User.CreatedAt.Equal(res.User.UpdatedAt)
	return res, err
}

// consume checks the state and the browser's binding and consumes the
// login state they match.
func (m *Manager) consume(ctx context.Context, state, binding string) (*gatehouse.LoginState, error) {
	if !isRandomToken(state) {
		return nil, gatehouse.Errorf(gatehouse.EInvalidState, "unknown state")
	}
	if !isRandomToken(binding) {
		return nil, gatehouse.Errorf(gatehouse.EInvalidState, "this browser did not start the login")
	}
	ls, err := m.store.ConsumeLoginState(ctx, hash(state), hash(binding))
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, gatehouse.Errorf(gatehouse.EInvalidState, "unknown, used or expired state, or another browser's login")
	}
	if err != nil {
		return nil, err
	}
	return ls, nil
}

// exchange trades the code for the provider's account, within the
// exchange timeout, with the values the login was started with, and cleans
// the account's profile.
func (m *Manager) exchange(ctx context.Context, p *Provider, ls *gatehouse.LoginState, cb Callback) (*gatehouse.Identity, error) {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	ident, err := p.Exchange(ctx, cb.Code, gatehouse.AuthParams{
		State:        cb.State,
		RedirectURI:  ls.RedirectURI,
		CodeVerifier: ls.CodeVerifier,
		Nonce:        ls.Nonce,
	})
	if err != nil {
		return nil, err
	}
	ident.Provider = p.Name
	ident.Profile.Normalize()
	return ident, nil
}

// signIn returns the user that ident signs in as: the identity's user with
// the profile updated, or a new user for a new identity. A disabled user
// is refused, and nothing of theirs is written.
func (m *Manager) signIn(ctx context.Context, ident *gatehouse.Identity) (*gatehouse.User, error) {
	user, err := m.store.UpsertIdentity(ctx, ident, m.now(), m.onEmail)
	if exists, ok := errors.AsType[*gatehouse.AccountExistsError](err); ok {
		return nil, &gatehouse.Error{Code: gatehouse.EAccountExists,
			Message: "an account with this verified email exists: sign in with one of its providers, then link this one",
			Details: map[string]any{"providers": exists.Providers}, Err: err}
	}
	switch {
	case errors.Is(err, gatehouse.ErrInvalid):
		// Normalize cleans the profile, so only a subject no database
		// can hold (a NUL byte, invalid UTF-8) gets here.
		return nil, &gatehouse.Error{Code: gatehouse.EUpstream, Message: "the provider returned an account id that cannot be stored", Err: err}
	case errors.Is(err, gatehouse.ErrDisabled):
		return nil, gatehouse.Errorf(gatehouse.EAccessDenied, "this account is disabled")
	case err != nil:
		return nil, err
	case user.DisabledAt != nil:
		// Disabled between the store's check and its answer.
		return nil, gatehouse.Errorf(gatehouse.EAccessDenied, "this account is disabled")
	}
	return user, nil
}
