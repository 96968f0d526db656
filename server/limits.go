package server

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/session"
)

// Limits are the request limits of one Gatehouse node, per client address
// (under the trusted-proxy rule, an IPv6 address by its /64) and per
// session. With n nodes behind a load balancer a client gets up to n times
// each rate. A zero Rate takes its default; ratelimit.Unlimited turns a
// limit off.
type Limits struct {
	// Login limits GET /auth/{provider}/login.
	Login ratelimit.Rate
	// Authorize limits POST /auth/{provider}/authorize, and with it the
	// calls to providers.
	Authorize ratelimit.Rate
	// Refresh limits POST /auth/refresh per client address.
	Refresh ratelimit.Rate
	// Logout limits POST /auth/logout.
	Logout ratelimit.Rate
	// AdminAuth limits the failed authentications of the admin API (a
	// wrong, unknown or revoked key, or none).
	AdminAuth ratelimit.Rate
	// RefreshPerSession limits the refreshes of one session.
	RefreshPerSession ratelimit.Rate
	// PendingLoginsPerClient caps the logins one client address may have
	// started and not finished, across every node (they are rows in the
	// database); zero takes the default, a negative value sets no cap.
	PendingLoginsPerClient int
}

// DefaultLimits are the limits Config.Limits defaults to, field by field.
var DefaultLimits = Limits{
	Login:                  ratelimit.Rate{N: 60, Per: time.Minute},
	Authorize:              ratelimit.Rate{N: 60, Per: time.Minute},
	Refresh:                ratelimit.Rate{N: 600, Per: time.Minute},
	Logout:                 ratelimit.Rate{N: 120, Per: time.Minute},
	AdminAuth:              ratelimit.Rate{N: 10, Per: time.Minute},
	RefreshPerSession:      session.DefaultRefreshRate,
	PendingLoginsPerClient: 100,
}

// withDefaults fills the zero fields of l from DefaultLimits.
func (l Limits) withDefaults() Limits {
	for _, f := range []struct{ v, def *ratelimit.Rate }{
		{&l.Login, &DefaultLimits.Login}, {&l.Authorize, &DefaultLimits.Authorize},
		{&l.Refresh, &DefaultLimits.Refresh}, {&l.Logout, &DefaultLimits.Logout},
		{&l.AdminAuth, &DefaultLimits.AdminAuth}, {&l.RefreshPerSession, &DefaultLimits.RefreshPerSession},
	} {
		if *f.v == (ratelimit.Rate{}) {
			*f.v = *f.def
		}
	}
	switch {
	case l.PendingLoginsPerClient == 0:
		l.PendingLoginsPerClient = DefaultLimits.PendingLoginsPerClient
	case l.PendingLoginsPerClient < 0:
		l.PendingLoginsPerClient = 0
	}
	return l
}

// limiters are the per-address limiters of a Server.
type limiters struct {
	login, authorize, refresh, logout, adminAuth *ratelimit.Limiter
	// failedLoginAudit bounds the failed logins a node writes to the audit
	// table, all clients together (FailedLoginAuditRate).
	failedLoginAudit *ratelimit.Limiter
}

// FailedLoginAuditRate is how many failed logins a node writes to the audit
// table, all clients together: anyone can fail a login, and each would be
// a row kept for the audit retention. Past it, a failed login is still
// logged and counted in the metrics, but not stored.
var FailedLoginAuditRate = ratelimit.Rate{N: 120, Per: time.Minute}

func newLimiters(l Limits) limiters {
	return limiters{
		login:     ratelimit.New(l.Login, ratelimit.DefaultMaxKeys),
		authorize: ratelimit.New(l.Authorize, ratelimit.DefaultMaxKeys),
		refresh:   ratelimit.New(l.Refresh, ratelimit.DefaultMaxKeys),
		logout:    ratelimit.New(l.Logout, ratelimit.DefaultMaxKeys),
		adminAuth: ratelimit.New(l.AdminAuth, ratelimit.DefaultMaxKeys),

		failedLoginAudit: ratelimit.New(FailedLoginAuditRate, 1),
	}
}

// allow counts one request of r's client against l, and returns a
// rate_limited error if it is over.
func (s *Server) allow(l *ratelimit.Limiter, r *http.Request) error {
	ok, wait := l.Allow(s.clientKey(r), s.now())
	if ok {
		return nil
	}
	return &gatehouse.Error{Code: gatehouse.ERateLimited, Message: "too many requests from this address; try again later", RetryAfter: wait}
}

// clientKey is the key r's client is limited and capped under.
func (s *Server) clientKey(r *http.Request) string {
	a := s.clients.Resolve(r.RemoteAddr, r.Header.Values("X-Forwarded-For"))
	if !a.IsValid() {
		return r.RemoteAddr
	}
	return ratelimit.AddrKey(a)
}
