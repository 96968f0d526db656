package gatehouse

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"
)

// Errors that every Store returns, wrapped or not, so that callers can branch
// with errors.Is whatever the backend.
var (
	// ErrNotFound means the record does not exist.
	ErrNotFound = errors.New("gatehouse: not found")
	// ErrConflict means the write collided with a record that already
	// exists.
	ErrConflict = errors.New("gatehouse: conflict")
	// ErrUnavailable means the database could not be reached or was too
	// busy; the operation may succeed if retried.
	ErrUnavailable = errors.New("gatehouse: storage temporarily unavailable")
	// ErrInvalid means a value cannot be stored: text that is not valid
	// UTF-8 or that holds a NUL byte. PostgreSQL refuses both in text
	// columns and SQLite would keep them, so every store refuses them alike,
	// before writing anything. Profile.Normalize makes provider data
	// storable.
	ErrInvalid = errors.New("gatehouse: value cannot be stored (invalid UTF-8 or NUL byte)")
	// ErrDisabled means the user an operation would act for is disabled.
	ErrDisabled = errors.New("gatehouse: the user is disabled")
	// ErrTooMany means a cap on stored records was reached; nothing was
	// stored.
	ErrTooMany = errors.New("gatehouse: too many records")
	// ErrIdentityInUse means the identity belongs to another user; nothing
	// was written.
	ErrIdentityInUse = errors.New("gatehouse: the identity belongs to another user")
	// ErrLastIdentity means the identity is its user's last: without it
	// the user could not sign in. Nothing was written.
	ErrLastIdentity = errors.New("gatehouse: the user's last identity")
	// ErrAccountExists means a first sign-in was refused because its
	// verified email is another user's (EmailMatchRefuse). The error is
	// an *AccountExistsError.
	ErrAccountExists = errors.New("gatehouse: an account with this verified email exists")
)

// AccountExistsError is the refusal of a first sign-in whose verified
// email is a verified email of another user's identity. It wraps
// ErrAccountExists.
type AccountExistsError struct {
	// Providers are the providers the users with that email can sign in
	// with, sorted, each once.
	Providers []string
}

func (e *AccountExistsError) Error() string {
	return ErrAccountExists.Error() + " (providers " + strings.Join(e.Providers, ", ") + ")"
}

func (e *AccountExistsError) Unwrap() error { return ErrAccountExists }

// Retired refresh token hashes: a store keeps at least those of a
// session's last KeptRetiredRefreshTokens rotations, and every
// RetiredPruneEvery rotations of the session it deletes the older ones, so
// that a session has at most KeptRetiredRefreshTokens + RetiredPruneEvery
// - 1 of them. Reuse detection needs them: a retired token presented again
// ends its session. The grace window needs far fewer (a token at most a
// few rotations behind). A token older than that is unknown: it is
// refused, but no longer ends the session. With 15-minute access tokens
// this is about eight hours of refreshes, and a session refreshed in a loop
// cannot grow its table beyond it. Pruning in batches keeps the delete off
// most refreshes.
const (
	KeptRetiredRefreshTokens = 32
	RetiredPruneEvery        = 16
)

// CheckText returns an error wrapping ErrInvalid if any value is not valid
// UTF-8 or contains a NUL byte. Stores call it on every text they write.
func CheckText(values ...string) error {
	for _, v := range values {
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			return ErrInvalid
		}
	}
	return nil
}

// CheckIdentity is CheckText for every text of an identity and its profile.
func CheckIdentity(ident *Identity) error {
	p := ident.Profile
	vals := []string{ident.Provider, ident.Subject, ident.UserID}
	for _, f := range []*string{p.Login, p.Name, p.Company, p.Location, p.Email, p.Picture} {
		if f != nil {
			vals = append(vals, *f)
		}
	}
	return CheckText(vals...)
}

// CheckSession is CheckText for every text of a session.
func CheckSession(s *Session) error {
	return CheckText(s.ID, s.UserID, s.CurrentHash, s.RevokeReason, s.UserAgent, s.IP)
}

// CheckLoginState is CheckText for every text of a login state.
func CheckLoginState(s *LoginState) error {
	return CheckText(s.StateHash, s.BindingHash, s.Provider, s.RedirectURI, s.CodeVerifier, s.Nonce, s.Client, s.LinkUserID)
}

// Store is the persistence Gatehouse needs. Implementations must be safe for
// concurrent use, make each method atomic, and never let a driver error
// escape except wrapped around one of the errors above or as an internal
// failure.
//
// The audit log rides on the writes: every method that writes also
// writes, in the same transaction, the audit events its context carries
// (WithAudit, WithAuditFunc; see AuditEvents for what it fills in), and
// writes none when it fails or writes nothing.
type Store interface {
	Auditor

	// User returns the user with the given id, or ErrNotFound.
	User(ctx context.Context, id string) (*User, error)

	// UpsertIdentity records a successful login. In one transaction it finds
	// the identity (ident.Provider, ident.Subject); if it exists, it updates
	// the identity's and its user's profile from ident.Profile; if not, it
	// creates a new user and the identity. It never links by email. It
	// returns the user as stored. If the identity's user is disabled, it
	// writes nothing and returns ErrDisabled: a refused login leaves no
	// trace in the profile.
	//
	// The email rule applies to a new identity whose profile has a
	// verified email (Profile.VerifiedEmailKey): if onEmailMatch is not
	// EmailMatchNewAccount and an identity of another user has the same
	// verified email, it writes nothing and returns an
	// *AccountExistsError. The check and the insert are atomic: of two
	// concurrent first sign-ins with one verified email, one creates a
	// user and the other is refused.
	UpsertIdentity(ctx context.Context, ident *Identity, now time.Time, onEmailMatch EmailMatch) (*User, error)

	// LinkIdentity attaches the identity (ident.Provider, ident.Subject)
	// to the user userID, in one transaction, and returns the user as
	// stored. An identity the user already has is updated from
	// ident.Profile (a no-op link that refreshes it); one that belongs to
	// another user is ErrIdentityInUse. The user's own profile does not
	// change. An unknown user is ErrNotFound, a disabled one
	// ErrDisabled. Nothing is written when it fails. Of two concurrent
	// links of one identity to two users, one wins and the other gets
	// ErrIdentityInUse.
	LinkIdentity(ctx context.Context, userID string, ident *Identity, now time.Time) (*User, error)

	// Identities returns the user's identities, oldest first (an unknown
	// user has none).
	Identities(ctx context.Context, userID string) ([]*Identity, error)

	// UnlinkIdentity deletes the user's identity (provider, subject). It
	// returns ErrNotFound if the user has no such identity, and
	// ErrLastIdentity, deleting nothing, if it is the user's last one.
	// Concurrent unlinks of a user's identities leave at least one.
	UnlinkIdentity(ctx context.Context, userID, provider, subject string) error

	// CreateLoginState stores a new login state. In the same transaction
	// it deletes the login states whose BindingHash is replaces (the
	// browser's earlier login, whose cookie the new one overwrites; ""
	// replaces nothing), and then, if maxPerClient is positive and
	// s.Client still has that many login states that have not expired at
	// s.CreatedAt, it stores and deletes nothing and returns ErrTooMany:
	// a browser at the cap can always restart its own login. Under
	// concurrent calls for one client the cap may be passed by the number
	// of calls in flight.
	CreateLoginState(ctx context.Context, s *LoginState, replaces string, maxPerClient int) error

	// ConsumeLoginState atomically deletes and returns the login state whose
	// StateHash and BindingHash both match. If none matches, it returns
	// ErrNotFound and deletes nothing, so a mismatched browser binding does
	// not use up somebody else's login. Of two concurrent calls, at most one
	// gets the state. Expiry is the caller's to check.
	ConsumeLoginState(ctx context.Context, stateHash, bindingHash string) (*LoginState, error)

	// DeleteExpiredLoginStates deletes at most limit login states that
	// expired before t and reports how many it deleted. Callers delete in
	// batches, so that no transaction holds the database for long.
	DeleteExpiredLoginStates(ctx context.Context, t time.Time, limit int) (int64, error)

	// SigningKeys returns every stored signing key, oldest first.
	SigningKeys(ctx context.Context) ([]*SigningKey, error)

	// UpdateSigningKeys reads the signing keys, passes them to update and
	// stores what update returns, all in one transaction, so that several
	// nodes starting at once agree on one set. If update returns an error,
	// nothing is written and the error is returned.
	UpdateSigningKeys(ctx context.Context, update func(keys []*SigningKey) ([]*SigningKey, error)) ([]*SigningKey, error)

	// CreateSession stores a new session; s.CurrentHash is its first
	// refresh token.
	CreateSession(ctx context.Context, s *Session) error

	// SessionUser returns the session with the given id and its user, or
	// ErrNotFound if either is gone. It is what every request with an
	// access token checks, so it is one lookup.
	SessionUser(ctx context.Context, id string) (*Session, *User, error)

	// SessionStatus is SessionUser reading only the session's status: the
	// lookup of every request with an access token, so it reads no more
	// than that check needs.
	SessionStatus(ctx context.Context, id string) (*SessionStatus, *User, error)

	// UpdateSessionByToken finds the session whose live or retired refresh
	// token has the hash tokenHash and, in one transaction that no other
	// update of that session can interleave with, calls update with it, its
	// user as stored, and the time the token was retired (nil if it is the
	// live one). update returns the session to store; if its CurrentHash
	// changed, the old hash is recorded as retired at now, and older
	// retired hashes are pruned as KeptRetiredRefreshTokens says. It returns the stored session and the user read in the same
	// transaction, so that a caller answering from them needs nothing more
	// from the database once the change is committed. If update returns
	// an error, nothing is written and the error is returned. An unknown
	// token is ErrNotFound.
	//
	// A store may call update more than once for one call (PostgreSQL's
	// runs a refresh again on its own when the batch it was in failed, or
	// after a deadlock): only the last call's session is stored, so update
	// must have no effect beyond its result that a second call would
	// repeat. update runs while the store holds its writer (SQLite) or a
	// batch of refreshes (PostgreSQL): it must not call the store.
	UpdateSessionByToken(ctx context.Context, tokenHash string, now time.Time,
		update func(s *Session, u *User, retiredAt *time.Time) (*Session, error)) (*Session, *User, error)

	// Sessions returns the user's sessions that are not revoked, newest
	// first. Expiry is the caller's to check.
	Sessions(ctx context.Context, userID string) ([]*Session, error)

	// RevokeSession revokes the user's session with the given id, or
	// returns ErrNotFound if the user has no such session. Revoking a
	// revoked session changes nothing and succeeds.
	RevokeSession(ctx context.Context, userID, id string, at time.Time, reason string) error

	// RevokeSessions revokes every session of the user and reports how
	// many were live.
	RevokeSessions(ctx context.Context, userID string, at time.Time, reason string) (int64, error)

	// DeleteEndedSessions deletes at most limit sessions that expired, went
	// idle or were revoked before t, with their refresh token hashes, and
	// reports how many it deleted.
	DeleteEndedSessions(ctx context.Context, t time.Time, limit int) (int64, error)

	// SetUserDisabled disables the user (and, in the same transaction,
	// revokes their sessions) or enables them again. An unknown user is
	// ErrNotFound.
	SetUserDisabled(ctx context.Context, id string, disabled bool, at time.Time) error

	// ListUsers returns up to q.Limit users in id order (which is
	// creation order, to the millisecond), starting after the id q.After,
	// and only those q.Search selects. A page ends short only at the end.
	ListUsers(ctx context.Context, q UserQuery) ([]*User, error)

	// DeleteUser deletes the user with their identities, sessions (with
	// their refresh token hashes) and pending link logins, in one
	// transaction that also writes the context's audit events (the audit
	// trail keeps the user id only). An unknown user is ErrNotFound.
	DeleteUser(ctx context.Context, id string) error

	// CreateAdminKey stores a new admin key. A key with the same name or
	// hash, even a revoked one, is ErrConflict.
	CreateAdminKey(ctx context.Context, k *AdminKey) error

	// AdminKeys returns every admin key, revoked ones too, oldest first.
	AdminKeys(ctx context.Context) ([]*AdminKey, error)

	// UseAdminKey finds the live (not revoked) admin key with the given
	// hash, records at as its last use, and returns it as stored then. An
	// unknown or revoked key is ErrNotFound alike.
	UseAdminKey(ctx context.Context, hash string, at time.Time) (*AdminKey, error)

	// RevokeAdminKey revokes the live admin key of that name at at. A name
	// with no live key is ErrNotFound.
	RevokeAdminKey(ctx context.Context, name string, at time.Time) error

	// Ping reports whether the database can be reached.
	Ping(ctx context.Context) error

	// Close releases the store's resources.
	Close() error
}

// Counts are how many live records a store holds at one moment.
type Counts struct {
	// LoginStates are the login states that have not expired: logins
	// started and not yet finished.
	LoginStates int64
	// Sessions are the sessions that are active (Session.Active).
	Sessions int64
}

// Counter is a Store that can count its live records, for metrics. Both
// built-in stores are Counters; the count is one indexed query per table.
type Counter interface {
	// Count returns the login states and sessions live at now.
	Count(ctx context.Context, now time.Time) (Counts, error)
}
