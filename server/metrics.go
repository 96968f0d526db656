package server

import (
	"time"

	"github.com/gatehouse/gatehouse"
)

// Recorder counts the server's events for metrics (package metrics
// implements it with Prometheus). Its arguments are provider names, error
// codes and fixed words only: never a user, session, token or address.
type Recorder interface {
	// Login counts a finished sign-in through provider; outcome is
	// "success" or the error code.
	Login(provider, outcome string)
	// Refresh counts a refresh; outcome is "success", "signed_out" (no
	// refresh cookie) or the error code.
	Refresh(outcome string)
	// RefreshReuse counts a retired refresh token presented again, which
	// ends its session.
	RefreshReuse()
	// Logout counts a logout audited as one: of a session of the
	// refresh cookie, or with global of every session of its user.
	Logout(global bool)
	// SessionRevoked counts a session ended by its user from the list of
	// their sessions.
	SessionRevoked()
}

// nopRecorder records nothing: the server without Config.Metrics.
type nopRecorder struct{}

func (nopRecorder) Login(string, string) {}
func (nopRecorder) Refresh(string)       {}
func (nopRecorder) RefreshReuse()        {}
func (nopRecorder) Logout(bool)          {}
func (nopRecorder) SessionRevoked()      {}

// outcome is the outcome label of err: "success" or its error code.
func outcome(err error) string {
	if err == nil {
		return "success"
	}
	return gatehouse.ErrorCode(err)
}

// SigningKeySince returns when the key that signs now activated, and
// whether there is such a time: an HMAC secret has none.
func (s *Server) SigningKeySince() (time.Time, bool) {
	k, ok := s.keys.(interface{ SigningSince() time.Time })
	if !ok {
		return time.Time{}, false
	}
	return k.SigningSince(), true
}
