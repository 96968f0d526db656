// Package gatehouse holds the domain types shared by every part of Gatehouse:
// users and their provider identities, the login state that binds an
// authorization-code flow to one browser, signing keys, the error codes the
// HTTP API speaks, and the two interfaces everything else plugs into,
// [Store] and [Provider].
//
// The package imports only the standard library. Adapters live in
// subpackages named after what they adapt (sqlite, github, devlogin), the HTTP
// layer lives in server, access tokens in token, and the wiring of the
// gatehouse binary in cmd/gatehouse.
package gatehouse

import (
	"strings"
	"time"
)

// Profile is what a provider tells us about a person. Every field but
// EmailVerified may be unknown, which is a nil pointer and null in JSON:
// GitHub, for one, answers null for the name, email, company and location of
// many accounts.
type Profile struct {
	Login    *string `json:"login"`
	Name     *string `json:"name"`
	Company  *string `json:"company"`
	Location *string `json:"location"`
	Email    *string `json:"email"`
	Picture  *string `json:"picture"`

	// EmailVerified reports whether the provider vouched that Email belongs
	// to the person. For GitHub it is true only for the primary, verified
	// address; the public profile email never counts.
	EmailVerified bool `json:"email_verified"`
}

// User is a Gatehouse account. Its ID is ours, never a provider's subject,
// and it is a string so that JavaScript clients do not round it.
type User struct {
	ID string `json:"id"`
	Profile
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// DisabledAt is when an operator disabled the account, or nil. A
	// disabled user cannot log in, refresh, or use an access token.
	DisabledAt *time.Time `json:"-"`
}

// Identity links a User to one account at one provider. It is keyed by
// (Provider, Subject), where Subject is the provider's immutable account id
// (GitHub's numeric id as a decimal string, an OpenID Connect "sub"), never a
// login name or an email address, which their owners can change. A user
// has one identity or more: the one they first signed in with, and those
// they linked since.
type Identity struct {
	Provider string
	Subject  string
	UserID   string
	// Profile is what the provider said at the last sign-in or link. The
	// store keeps Login, Email and EmailVerified of it; the rest of the
	// profile is the user's.
	Profile
	// CreatedAt is when the identity was first signed in with or linked.
	CreatedAt time.Time
	// UpdatedAt is when the provider last vouched for the account: its
	// last sign-in or link.
	UpdatedAt time.Time
}

// EmailMatch is what a first sign-in does when its verified email is a
// verified email of another user's identity.
type EmailMatch string

const (
	// EmailMatchRefuse refuses the sign-in (an *AccountExistsError): the
	// person signs in with the account they have and links the new one.
	// Linking is never silent, and a provider that vouches for an address
	// it does not own cannot reach the account that has it.
	EmailMatchRefuse EmailMatch = "refuse"
	// EmailMatchNewAccount creates a separate user, as if no other user
	// had the address.
	EmailMatchNewAccount EmailMatch = "new_account"
)

// Valid reports whether m is one of the EmailMatch values.
func (m EmailMatch) Valid() bool { return m == EmailMatchRefuse || m == EmailMatchNewAccount }

// EmailKey is the form in which verified emails are compared: the whole
// address with ASCII letters lower-cased, so that Octo@Example.COM and
// octo@example.com match. Only ASCII is folded, the same way in Go, SQLite
// and PostgreSQL. Folding the local part too errs on the side of matching,
// which the email rule can afford: a match refuses a sign-in (or, with
// EmailMatchNewAccount, changes nothing), it never merges accounts.
func EmailKey(email string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, email)
}

// VerifiedEmailKey returns the EmailKey of p's email if the provider
// vouched for it, and "" otherwise: an unverified address never matches
// anything.
func (p *Profile) VerifiedEmailKey() string {
	if !p.EmailVerified || p.Email == nil {
		return ""
	}
	return EmailKey(*p.Email)
}

// LoginState is the server-side record of one login that has been started
// but not finished. It is created when the login URL is handed out and
// consumed, at most once, when the browser comes back with the code.
//
// Neither the state nor the browser binding is stored in the clear: both are
// kept as SHA-256 hashes, so a copy of the database cannot be used to finish
// somebody's login.
type LoginState struct {
	// StateHash is the hash of the state parameter sent to the provider.
	StateHash string
	// BindingHash is the hash of the secret kept in the browser's HttpOnly
	// login cookie.
	BindingHash string
	// Provider is the name of the provider the login was started for.
	Provider string
	// RedirectURI is the exact redirect_uri sent to the provider, which the
	// code exchange must repeat byte for byte.
	RedirectURI string
	// CodeVerifier is the PKCE verifier whose S256 challenge was sent.
	CodeVerifier string
	// Nonce is the OpenID Connect nonce sent with the request.
	Nonce string
	// Client is the address of the client that started the login, as
	// rate limits key it (an IPv6 address by its /64), for the cap on
	// pending logins per client.
	Client string
	// LinkUserID is the user who started the login to link another
	// provider account to their own, or "" for a login that signs in.
	// The caller authenticated that user when the login started.
	LinkUserID string
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// SigningKey is a key Gatehouse signs access tokens with, as stored.
type SigningKey struct {
	// ID is the key's "kid".
	ID string
	// Algorithm is the one JWS algorithm this key is used with.
	Algorithm string
	// PrivateKey is the PKCS #8 DER encoding of the private key, or that
	// encoding sealed with the operator's encryption key (package keys
	// tells them apart).
	PrivateKey []byte
	CreatedAt  time.Time
	// ActivatesAt is when the key starts signing. Until then it is
	// published, so that verifiers have it before the first token it
	// signs reaches them.
	ActivatesAt time.Time
	// RetiresAt is when the key stops signing (its successor's
	// ActivatesAt), or zero while no successor is planned. A retired key
	// is still published and verifies until every token it signed has
	// expired.
	RetiresAt time.Time
	// RevokedAt is when an operator revoked the key, or zero: a revoked
	// key neither signs, verifies nor is published.
	RevokedAt time.Time
}

// Session is one signed-in browser: what a successful login starts and each
// refresh continues. Its refresh tokens are never stored, only the hash of
// the live one (and of each one it replaced, to detect reuse).
type Session struct {
	// ID is public: access tokens carry it as "sid", and the user sees it
	// in the list of their sessions.
	ID     string
	UserID string
	// Secret derives each refresh token from the one before it (an HMAC),
	// so that tabs refreshing with the same token at once all get the
	// same successor, without any token kept in the clear.
	Secret []byte
	// CurrentHash is the hash of the live refresh token.
	CurrentHash string
	CreatedAt   time.Time
	LastUsedAt  time.Time
	// IdleExpiresAt is when the session ends unless it is refreshed:
	// LastUsedAt plus the idle timeout, never after ExpiresAt.
	IdleExpiresAt time.Time
	// ExpiresAt is the absolute end of the session, fixed when it starts;
	// refreshing never moves it.
	ExpiresAt time.Time
	// RevokedAt is when the session was ended (logout, reuse of a refresh
	// token, an operator), or nil.
	RevokedAt    *time.Time
	RevokeReason string
	// UserAgent and IP describe the browser that logged in, for the user's
	// list of sessions.
	UserAgent string
	IP        string
}

// Active reports whether the session can still be used at t.
func (s *Session) Active(t time.Time) bool {
	return s.Status().Active(t)
}

// Status returns what a request with an access token checks of s.
func (s *Session) Status() SessionStatus {
	return SessionStatus{ID: s.ID, UserID: s.UserID, IdleExpiresAt: s.IdleExpiresAt, ExpiresAt: s.ExpiresAt, RevokedAt: s.RevokedAt}
}

// SessionStatus is the part of a Session that every request with an access
// token checks: whose it is, and whether it is still live. It carries no
// secret.
type SessionStatus struct {
	ID            string
	UserID        string
	IdleExpiresAt time.Time
	ExpiresAt     time.Time
	RevokedAt     *time.Time
}

// Active reports whether the session can still be used at t.
func (s SessionStatus) Active(t time.Time) bool {
	return s.RevokedAt == nil && t.Before(s.ExpiresAt) && t.Before(s.IdleExpiresAt)
}
