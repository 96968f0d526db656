package gatehouse

import "context"

// AuthParams are the per-login values a Provider puts into the authorization
// request and must repeat in the code exchange. Gatehouse generates them and
// keeps them server-side in a LoginState.
type AuthParams struct {
	// State is the opaque, single-use value that comes back with the code.
	State string
	// RedirectURI is the exact redirect_uri to send.
	RedirectURI string
	// CodeVerifier is the PKCE verifier; the authorization request carries
	// its S256 challenge and the token request the verifier itself.
	CodeVerifier string
	// Nonce is the OpenID Connect nonce, for providers that use one.
	Nonce string
}

// Provider is an identity provider Gatehouse can log users in with.
//
// Optional abilities, when they exist, are separate interfaces that callers
// check for with a type assertion.
type Provider interface {
	// AuthCodeURL returns the provider URL the browser is sent to.
	AuthCodeURL(p AuthParams) string

	// Exchange trades an authorization code for the identity of the person
	// who logged in. It reports failures as *Error values: EInvalidGrant
	// when the provider rejected the code, EAccessDenied when it refused the
	// person, EUpstream when it misbehaved, EUpstreamTimeout when it did not
	// answer in time, and EUnavailable when it asked us to come back later.
	// The returned Identity has Subject and Profile set; Provider and
	// UserID are the caller's to fill.
	Exchange(ctx context.Context, code string, p AuthParams) (*Identity, error)
}

// LoopbackOnly is an optional ability of a Provider: one that lets anyone
// who reaches it sign in as anyone (the development login). A Provider
// whose LoopbackOnly reports true is used only by clients on the machine
// Gatehouse runs on: the server refuses to start or finish a login through
// it for a client whose address, under the trusted-proxy rule, is not a
// loopback address, whatever the configuration.
type LoopbackOnly interface {
	LoopbackOnly() bool
}

// Preparer is an optional ability of a Provider: one that depends on
// something it may not have yet, such as an OpenID Connect issuer's
// discovery document, and so cannot always start a login. Callers check it
// with a type assertion before they store anything for a new login and
// before they call AuthCodeURL.
type Preparer interface {
	// Prepare reports whether the provider can start a login now. It
	// returns nil when it can; otherwise an *Error, EUnavailable with a
	// RetryAfter when the provider is unreachable for now. Prepare may
	// call the provider, with a bounded pace, and is safe for concurrent
	// use.
	Prepare(ctx context.Context) error
}
