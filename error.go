package gatehouse

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. Most are sent to clients as the "error" member of a JSON
// error body; the server package maps each to an HTTP status, and maps the
// internal ones (EUpstream, EUpstreamTimeout, ERefreshRefused,
// ERefreshReused, EProviderDenied, EInternal) to a public code.
const (
	EInvalidRequest       = "invalid_request"
	EInvalidState         = "invalid_state"
	EInvalidGrant         = "invalid_grant"
	EAccessDenied         = "access_denied"
	EUnsupportedProvider  = "unsupported_provider"
	EUnauthorized         = "unauthorized"
	EInvalidToken         = "invalid_token"
	ENotFound             = "not_found"
	EMethodNotAllowed     = "method_not_allowed"
	EUnsupportedMediaType = "unsupported_media_type"
	ERequestTooLarge      = "request_too_large"
	EHeaderTooLarge       = "request_header_too_large"
	ERateLimited          = "rate_limited"
	EUnavailable          = "temporarily_unavailable"
	EUpstream             = "upstream_error"
	EUpstreamTimeout      = "upstream_timeout"
	EInternal             = "server_error"

	// EIdentityInUse is a link of a provider account that already belongs
	// to another user.
	EIdentityInUse = "identity_in_use"
	// EAccountExists is a first sign-in refused because another user has
	// its verified email; the answer names the providers that user signs
	// in with (Error.Details).
	EAccountExists = "account_exists"
	// ELastIdentity is an unlink of a user's last identity.
	ELastIdentity = "last_identity"

	// ERefreshRefused is a refresh token that cannot be used: unknown,
	// of a session that has ended, or of a disabled user. Clients see
	// invalid_grant.
	ERefreshRefused = "refresh_refused"
	// ERefreshReused is a retired refresh token presented after the grace
	// window: its session has been revoked. Clients see invalid_grant;
	// audit logs see this code.
	ERefreshReused = "refresh_token_reused"
	// EProviderDenied is a denial the provider sent back through the
	// browser (the person clicked "Cancel"). Clients see access_denied,
	// with a 400 rather than the 403 of Gatehouse's own refusal.
	EProviderDenied = "provider_denied"
)

// Error is an error with a code from the list above and a message that is
// safe to show to the client. Err, if set, is the underlying cause: it is
// logged for the operator and never sent to the client.
type Error struct {
	Code    string
	Message string
	// RetryAfter, if positive, is how long a client should wait before
	// trying again.
	RetryAfter time.Duration
	// Details, if set, are further members of the JSON error body, for a
	// client to act on (account_exists names the providers to sign in
	// with). They are sent to the client, and never replace "error" or
	// "error_description".
	Details map[string]any
	Err     error
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("gatehouse: %s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("gatehouse: %s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the code of the first *Error in err's chain,
// EUnavailable for an error wrapping ErrUnavailable, or EInternal for any
// other non-nil error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	if errors.Is(err, ErrUnavailable) {
		return EUnavailable
	}
	return EInternal
}

// ConfigError is a bad field of a package's Config. Field names the field
// as the package spells it, so that a caller can map it to its own name for
// the setting (a wrapping Config's field, an environment variable).
type ConfigError struct {
	Field string
	Err   error
}

// ConfigErrorf returns a *ConfigError for field with a formatted message.
func ConfigErrorf(field, format string, args ...any) *ConfigError {
	return &ConfigError{Field: field, Err: fmt.Errorf(format, args...)}
}

func (e *ConfigError) Error() string { return "Config." + e.Field + ": " + e.Err.Error() }

func (e *ConfigError) Unwrap() error { return e.Err }
