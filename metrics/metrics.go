// Package metrics is Gatehouse's Prometheus metrics: the server's events
// (a server.Recorder), HTTP requests by route, calls to providers, store
// errors, and gauges read from the store and the signing keys. Each
// Metrics registers into the registry it is given, never the global one,
// so that several servers can run in one process.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/httpstatus"
)

// Unmatched is the route label of a request no route pattern matched: the
// raw path is never a label.
const Unmatched = "unmatched"

// Metrics holds Gatehouse's metrics. Its methods are safe for concurrent
// use.
type Metrics struct {
	reg prometheus.Registerer

	requests         *prometheus.CounterVec
	requestDuration  *prometheus.HistogramVec
	logins           *prometheus.CounterVec
	refreshes        *prometheus.CounterVec
	reuses           prometheus.Counter
	logouts          *prometheus.CounterVec
	revoked          prometheus.Counter
	providerDuration *prometheus.HistogramVec
	providerFailures *prometheus.CounterVec
	storeErrors      *prometheus.CounterVec
}

// New returns Metrics registered in reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_logins_total",
			Help: "Finished sign-ins, by provider and outcome (success or the error code).",
		}, []string{"provider", "outcome"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_refreshes_total",
			Help: "Refreshes, by outcome (success, signed_out or the error code).",
		}, []string{"outcome"}),
		reuses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_refresh_token_reuse_total",
			Help: "Retired refresh tokens presented again, each ending its session.",
		}),
		logouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_logouts_total",
			Help: "Logouts, by scope (one or global).",
		}, []string{"scope"}),
		revoked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_sessions_revoked_total",
			Help: "Sessions ended by their user from the list of their sessions.",
		}),
		providerDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_provider_request_duration_seconds",
			Help:    "Time of each HTTP call to a login provider, by provider.",
			Buckets: prometheus.DefBuckets,
		}, []string{"provider"}),
		providerFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_provider_request_failures_total",
			Help: "HTTP calls to a login provider that failed (no answer, or a 5xx), by provider.",
		}, []string{"provider"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_store_errors_total",
			Help: "Store operations that failed, by operation and kind (unavailable: retryable; internal: any other).",
		}, []string{"operation", "kind"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.requestDuration, m.logins, m.refreshes, m.reuses,
		m.logouts, m.revoked, m.providerDuration, m.providerFailures, m.storeErrors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Login counts a finished sign-in (server.Recorder).
func (m *Metrics) Login(provider, outcome string) { m.logins.WithLabelValues(provider, outcome).Inc() }

// Refresh counts a refresh (server.Recorder).
func (m *Metrics) Refresh(outcome string) { m.refreshes.WithLabelValues(outcome).Inc() }

// RefreshReuse counts a reused refresh token (server.Recorder).
func (m *Metrics) RefreshReuse() { m.reuses.Inc() }

// Logout counts a logout (server.Recorder).
func (m *Metrics) Logout(global bool) {
	scope := "one"
	if global {
		scope = "global"
	}
	m.logouts.WithLabelValues(scope).Inc()
}

// SessionRevoked counts a session its user ended (server.Recorder).
func (m *Metrics) SessionRevoked() { m.revoked.Inc() }

// Handler counts the requests next answers, by the pattern of the route a
// ServeMux in next matched (the innermost one: muxes set the request's
// Pattern as they route it), and their status code.
func (m *Metrics) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &httpstatus.Writer{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" || route == "/" {
			route = Unmatched
		}
		if sw.Status == 0 {
			sw.Status = http.StatusOK
		}
		m.requests.WithLabelValues(route, strconv.Itoa(sw.Status)).Inc()
		m.requestDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// Transport times the calls next makes to the provider named provider,
// and counts those that fail.
func (m *Metrics) Transport(provider string, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &transport{next: next, duration: m.providerDuration.WithLabelValues(provider),
		failures: m.providerFailures.WithLabelValues(provider)}
}

type transport struct {
	next     http.RoundTripper
	duration prometheus.Observer
	failures prometheus.Counter
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(r)
	t.duration.Observe(time.Since(start).Seconds())
	if err != nil || resp.StatusCode >= 500 {
		t.failures.Inc()
	}
	return resp, err
}

// storeError counts err from the store operation op, unless it is one of
// the answers a store gives in normal use (not found, conflict, …) or a
// rule's own error passed through an updater.
func (m *Metrics) storeError(ctx context.Context, op string, err error) {
	if err == nil || errors.Is(ctx.Err(), context.Canceled) {
		// A caller that gave up (a client that hung up) says nothing
		// about the database; a deadline that passed does, and counts.
		return
	}
	kind := "internal"
	if errors.Is(err, gatehouse.ErrUnavailable) {
		kind = "unavailable"
	} else if expected(err) {
		return
	}
	m.storeErrors.WithLabelValues(op, kind).Inc()
}

func expected(err error) bool {
	for _, e := range []error{gatehouse.ErrNotFound, gatehouse.ErrConflict, gatehouse.ErrInvalid, gatehouse.ErrDisabled,
		gatehouse.ErrTooMany, gatehouse.ErrIdentityInUse, gatehouse.ErrLastIdentity, gatehouse.ErrAccountExists} {
		if errors.Is(err, e) {
			return true
		}
	}
	_, ok := errors.AsType[*gatehouse.Error](err)
	return ok
}

// CountEvery is how long the gauges read from the store are cached.
const CountEvery = 30 * time.Second

// countTimeout bounds the store's count at a scrape.
const countTimeout = 2 * time.Second

// WatchCounts adds gauges of the login states and live sessions, counted
// by c at a scrape at most every CountEvery; a scrape in between, or one
// whose count fails, gets the last count.
func (m *Metrics) WatchCounts(c gatehouse.Counter, now func() time.Time) error {
	return m.reg.Register(&counts{store: c, now: now,
		states: prometheus.NewDesc("gatehouse_login_states", "Logins started and not finished nor expired.", nil, nil),
		live:   prometheus.NewDesc("gatehouse_sessions", "Active sessions.", nil, nil),
	})
}

type counts struct {
	store        gatehouse.Counter
	now          func() time.Time
	states, live *prometheus.Desc

	mu   sync.Mutex
	at   time.Time
	last gatehouse.Counts
	ok   bool
}

func (c *counts) Describe(ch chan<- *prometheus.Desc) { ch <- c.states; ch <- c.live }

func (c *counts) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if !c.ok || now.Sub(c.at) >= CountEvery {
		ctx, cancel := context.WithTimeout(context.Background(), countTimeout)
		n, err := c.store.Count(ctx, now)
		cancel()
		if err == nil {
			c.last, c.at, c.ok = n, now, true
		}
	}
	if !c.ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.states, prometheus.GaugeValue, float64(c.last.LoginStates))
	ch <- prometheus.MustNewConstMetric(c.live, prometheus.GaugeValue, float64(c.last.Sessions))
}

// WatchSigningKey adds a gauge of the signing key's age: the seconds since
// the key that signs now activated, as since reports it (a
// server.Server's SigningKeySince). No key (an HMAC secret) adds nothing.
func (m *Metrics) WatchSigningKey(since func() (time.Time, bool), now func() time.Time) error {
	if _, ok := since(); !ok {
		return nil
	}
	return m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gatehouse_signing_key_age_seconds",
		Help: "Seconds since the signing key that signs now activated.",
	}, func() float64 {
		t, _ := since()
		return now().Sub(t).Seconds()
	}))
}
