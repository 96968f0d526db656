package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/teststore"
	"github.com/gatehouse/gatehouse/metrics"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newMetrics(t *testing.T) (*prometheus.Registry, *metrics.Metrics) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	return reg, m
}

// exposition is reg as a scrape reads it.
func exposition(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape = %d\n%s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// family is the metric family name in reg, or nil.
func family(t *testing.T, reg *prometheus.Registry, name string) *dto.MetricFamily {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f
		}
	}
	return nil
}

// labels are m's labels as a map.
func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// histogram is the one histogram of the family name in reg, failing the
// test unless there is exactly one and its labels are want.
func histogram(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) *dto.Histogram {
	t.Helper()
	f := family(t, reg, name)
	if f == nil || len(f.GetMetric()) != 1 {
		t.Fatalf("%s: got %v, want one histogram", name, f)
	}
	m := f.GetMetric()[0]
	if got := labels(m); !equalLabels(got, want) {
		t.Errorf("%s labels: got %v, want %v", name, got, want)
	}
	return m.GetHistogram()
}

func equalLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

const requestsHelp = `# HELP gatehouse_http_requests_total HTTP requests answered, by route pattern and status code.
# TYPE gatehouse_http_requests_total counter
`

func TestHandlerLabelsByRoutePattern(t *testing.T) {
	routes := func(catchAll bool) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a user") })
		mux.HandleFunc("POST /users", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
		mux.HandleFunc("DELETE /users/{id}", func(w http.ResponseWriter, r *http.Request) {})
		if catchAll {
			mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no such page", http.StatusNotFound) })
		}
		return mux
	}
	// An outer mux sending everything to an inner one: the inner pattern
	// is the route.
	nested := func() http.Handler {
		inner := http.NewServeMux()
		inner.HandleFunc("GET /api/things/{id}", func(w http.ResponseWriter, r *http.Request) {})
		outer := http.NewServeMux()
		outer.Handle("/", inner)
		return outer
	}
	cases := []struct {
		name        string
		h           http.Handler
		method, url string
		route, code string
	}{
		{"matched route", routes(false), "GET", "/users/42", "GET /users/{id}", "200"},
		{"status the handler set", routes(false), "POST", "/users", "POST /users", "201"},
		{"handler that writes nothing", routes(false), "DELETE", "/users/42", "DELETE /users/{id}", "200"},
		{"no route: 404", routes(false), "GET", "/a/b/c?x=secret", metrics.Unmatched, "404"},
		{"no route for the method: 405", routes(false), "PUT", "/users/42", metrics.Unmatched, "405"},
		{"catch-all /", routes(true), "GET", "/a/b/c?x=secret", metrics.Unmatched, "404"},
		{"inner mux's route", nested(), "GET", "/api/things/42", "GET /api/things/{id}", "200"},
		{"inner mux's 404", nested(), "GET", "/a/b/c?x=secret", metrics.Unmatched, "404"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg, m := newMetrics(t)
			rec := httptest.NewRecorder()
			m.Handler(tc.h).ServeHTTP(rec, httptest.NewRequest(tc.method, tc.url, nil))
			if got := strconv.Itoa(rec.Code); got != tc.code {
				t.Fatalf("status: got %s, want %s", got, tc.code)
			}

			want := requestsHelp + `gatehouse_http_requests_total{code="` + tc.code + `",route="` + tc.route + "\"} 1\n"
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gatehouse_http_requests_total"); err != nil {
				t.Error(err)
			}
			if h := histogram(t, reg, "gatehouse_http_request_duration_seconds", map[string]string{"route": tc.route}); h.GetSampleCount() != 1 {
				t.Errorf("duration observations: got %d, want 1", h.GetSampleCount())
			}
			text := exposition(t, reg)
			for _, raw := range []string{"secret", "/a/b/c", "/42"} {
				if strings.Contains(text, raw) {
					t.Errorf("the exposition contains %q:\n%s", raw, text)
				}
			}
		})
	}
}

func TestHandlerObservesDuration(t *testing.T) {
	reg, m := newMetrics(t)
	const wait = 20 * time.Millisecond
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(wait) })
	mux := http.NewServeMux()
	mux.Handle("GET /slow", slow)
	m.Handler(mux).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/slow", nil))
	h := histogram(t, reg, "gatehouse_http_request_duration_seconds", map[string]string{"route": "GET /slow"})
	if h.GetSampleCount() != 1 || h.GetSampleSum() < wait.Seconds() {
		t.Errorf("got %d observations summing to %vs, want 1 of at least %v", h.GetSampleCount(), h.GetSampleSum(), wait)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestTransportCountsFailures: a call with no answer or a 5xx is a
// failure; any other answer, a 4xx included, is not. Every call is timed,
// and the provider is the only label.
func TestTransportCountsFailures(t *testing.T) {
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.WriteHeader(code)
	}))
	defer provider.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()

	cases := []struct {
		name     string
		url      string
		failures string
	}{
		{"200", provider.URL + "/200", "0"},
		{"302", provider.URL + "/302", "0"},
		{"400", provider.URL + "/400", "0"},
		{"401", provider.URL + "/401", "0"},
		{"429", provider.URL + "/429", "0"},
		{"500", provider.URL + "/500", "1"},
		{"502", provider.URL + "/502", "1"},
		{"503", provider.URL + "/503", "1"},
		{"no answer", gone.URL + "/200", "1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg, m := newMetrics(t)
			// A nil transport is http.DefaultTransport.
			c := &http.Client{Transport: m.Transport("github", nil),
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := c.Get(tc.url)
			if err == nil {
				resp.Body.Close()
			}
			// The series exists from the start, at 0, so that a rate of
			// failures is defined before the first one.
			want := `# HELP gatehouse_provider_request_failures_total HTTP calls to a login provider that failed (no answer, or a 5xx), by provider.
# TYPE gatehouse_provider_request_failures_total counter
gatehouse_provider_request_failures_total{provider="github"} ` + tc.failures + "\n"
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gatehouse_provider_request_failures_total"); err != nil {
				t.Error(err)
			}
			if h := histogram(t, reg, "gatehouse_provider_request_duration_seconds", map[string]string{"provider": "github"}); h.GetSampleCount() != 1 {
				t.Errorf("duration observations: got %d, want 1", h.GetSampleCount())
			}
			if text := exposition(t, reg); strings.Contains(text, "127.0.0.1") {
				t.Errorf("the exposition names the provider's address:\n%s", text)
			}
		})
	}
}

func TestTransportObservesLatency(t *testing.T) {
	reg, m := newMetrics(t)
	const wait = 20 * time.Millisecond
	errDown := errors.New("connection refused")
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		time.Sleep(wait)
		return nil, errDown
	})
	req := httptest.NewRequest("GET", "https://idp.example.com/token?code=secret", nil)
	if _, err := m.Transport("oidc", next).RoundTrip(req); !errors.Is(err, errDown) {
		t.Fatalf("got %v, want the transport's error", err)
	}
	h := histogram(t, reg, "gatehouse_provider_request_duration_seconds", map[string]string{"provider": "oidc"})
	if h.GetSampleCount() != 1 || h.GetSampleSum() < wait.Seconds() {
		t.Errorf("got %d observations summing to %vs, want 1 of at least %v", h.GetSampleCount(), h.GetSampleSum(), wait)
	}
	if text := exposition(t, reg); strings.Contains(text, "secret") || strings.Contains(text, "idp.example.com") {
		t.Errorf("the exposition holds the request:\n%s", text)
	}
}

func TestRecorder(t *testing.T) {
	reg, m := newMetrics(t)
	m.Login("github", "success")
	m.Login("github", "success")
	m.Login("dev", gatehouse.EAccessDenied)
	m.Refresh("success")
	m.Refresh("signed_out")
	m.RefreshReuse()
	m.Logout(false)
	m.Logout(true)
	m.Logout(true)
	m.SessionRevoked()
	want := `# HELP gatehouse_logins_total Finished sign-ins, by provider and outcome (success or the error code).
# TYPE gatehouse_logins_total counter
gatehouse_logins_total{outcome="access_denied",provider="dev"} 1
gatehouse_logins_total{outcome="success",provider="github"} 2
# HELP gatehouse_refreshes_total Refreshes, by outcome (success, signed_out or the error code).
# TYPE gatehouse_refreshes_total counter
gatehouse_refreshes_total{outcome="signed_out"} 1
gatehouse_refreshes_total{outcome="success"} 1
# HELP gatehouse_refresh_token_reuse_total Retired refresh tokens presented again, each ending its session.
# TYPE gatehouse_refresh_token_reuse_total counter
gatehouse_refresh_token_reuse_total 1
# HELP gatehouse_logouts_total Logouts, by scope (one or global).
# TYPE gatehouse_logouts_total counter
gatehouse_logouts_total{scope="global"} 2
gatehouse_logouts_total{scope="one"} 1
# HELP gatehouse_sessions_revoked_total Sessions ended by their user from the list of their sessions.
# TYPE gatehouse_sessions_revoked_total counter
gatehouse_sessions_revoked_total 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gatehouse_logins_total", "gatehouse_refreshes_total",
		"gatehouse_refresh_token_reuse_total", "gatehouse_logouts_total", "gatehouse_sessions_revoked_total"); err != nil {
		t.Error(err)
	}
}

// countingStore counts the calls to Count and, while block is set, holds
// each until its context ends or block is closed, recording the time its
// context had left.
type countingStore struct {
	gatehouse.Counter

	mu    sync.Mutex
	calls int
	block chan struct{}
	left  time.Duration
}

func (c *countingStore) Count(ctx context.Context, now time.Time) (gatehouse.Counts, error) {
	c.mu.Lock()
	c.calls++
	block := c.block
	if d, ok := ctx.Deadline(); ok {
		c.left = time.Until(d)
	} else {
		c.left = 0
	}
	c.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return gatehouse.Counts{}, ctx.Err()
		}
	}
	return c.Counter.Count(ctx, now)
}

func (c *countingStore) state() (calls int, left time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls, c.left
}

func counts(states, sessions string) string {
	return `# HELP gatehouse_login_states Logins started and not finished nor expired.
# TYPE gatehouse_login_states gauge
gatehouse_login_states ` + states + `
# HELP gatehouse_sessions Active sessions.
# TYPE gatehouse_sessions gauge
gatehouse_sessions ` + sessions + "\n"
}

func loginState(hash string) *gatehouse.LoginState {
	return &gatehouse.LoginState{StateHash: hash, BindingHash: "binding-" + hash, Provider: "github",
		RedirectURI: "https://app.example.com/auth/github", CodeVerifier: "verifier", Nonce: "nonce",
		Client: "192.0.2.1", CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}
}

// TestCountsAreCached: the store is counted at the first scrape and then
// at most every CountEvery; a failed count keeps the last one.
func TestCountsAreCached(t *testing.T) {
	teststore.Each(t, func(t *testing.T, s gatehouse.Store) {
		ctx := context.Background()
		reg, m := newMetrics(t)
		c := &countingStore{Counter: s.(gatehouse.Counter)}
		now := t0
		if err := m.WatchCounts(c, func() time.Time { return now }); err != nil {
			t.Fatal(err)
		}
		n := 0
		steps := []struct {
			name      string
			advance   time.Duration
			add       int
			close     bool
			states    string
			wantCalls int
		}{
			{"first scrape counts", 0, 1, false, "1", 1},
			{"within CountEvery: the last count", metrics.CountEvery - time.Second, 2, false, "1", 1},
			{"CountEvery later: counted again", time.Second, 0, false, "3", 2},
			{"cached again", time.Second, 1, false, "3", 2},
			{"a failed count keeps the last", metrics.CountEvery, 0, true, "3", 3},
			{"and is tried again at the next scrape", time.Second, 0, false, "3", 4},
		}
		for _, st := range steps {
			now = now.Add(st.advance)
			for range st.add {
				n++
				if err := s.CreateLoginState(ctx, loginState(strings.Repeat("s", n)), "", 0); err != nil {
					t.Fatal(err)
				}
			}
			if st.close {
				s.Close()
			}
			if err := testutil.GatherAndCompare(reg, strings.NewReader(counts(st.states, "0")),
				"gatehouse_login_states", "gatehouse_sessions"); err != nil {
				t.Errorf("%s: %v", st.name, err)
			}
			if calls, _ := c.state(); calls != st.wantCalls {
				t.Errorf("%s: got %d counts, want %d", st.name, calls, st.wantCalls)
			}
		}
	})
}

// TestCountsNeverCounted: with no count yet, a failed count leaves the
// gauges out rather than reporting zero.
func TestCountsNeverCounted(t *testing.T) {
	teststore.Each(t, func(t *testing.T, s gatehouse.Store) {
		reg, m := newMetrics(t)
		s.Close()
		if err := m.WatchCounts(s.(gatehouse.Counter), func() time.Time { return t0 }); err != nil {
			t.Fatal(err)
		}
		if n, err := testutil.GatherAndCount(reg, "gatehouse_login_states", "gatehouse_sessions"); err != nil || n != 0 {
			t.Errorf("got %d series, %v; want none", n, err)
		}
	})
}

// TestCountTimeout: a store that does not answer holds a scrape for at
// most the count's 2 s timeout, and the scrape gets the last count.
func TestCountTimeout(t *testing.T) {
	s := teststore.Open(t, "sqlite")
	reg, m := newMetrics(t)
	c := &countingStore{Counter: s.(gatehouse.Counter)}
	now := t0
	if err := m.WatchCounts(c, func() time.Time { return now }); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLoginState(context.Background(), loginState("s"), "", 0); err != nil {
		t.Fatal(err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(counts("1", "0")), "gatehouse_login_states", "gatehouse_sessions"); err != nil {
		t.Fatal(err)
	}

	block := make(chan struct{})
	defer close(block)
	c.mu.Lock()
	c.block = block
	c.mu.Unlock()
	now = now.Add(metrics.CountEvery)
	start := time.Now()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(counts("1", "0")), "gatehouse_login_states", "gatehouse_sessions"); err != nil {
		t.Error(err)
	}
	took := time.Since(start)
	calls, left := c.state()
	if calls != 2 {
		t.Errorf("got %d counts, want 2", calls)
	}
	if left <= 0 || left > 2*time.Second {
		t.Errorf("the count's context had %v left, want at most 2s", left)
	}
	if took > 5*time.Second {
		t.Errorf("the scrape took %v, want about 2s", took)
	}
}

func TestSigningKeyAge(t *testing.T) {
	cases := []struct {
		name    string
		since   time.Time
		ok      bool
		now     time.Time
		want    string
		present bool
	}{
		{"a key", t0, true, t0.Add(90 * time.Second), "90", true},
		{"a key activated a day ago", t0.Add(-24 * time.Hour), true, t0, "86400", true},
		{"an HMAC secret", time.Time{}, false, t0, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg, m := newMetrics(t)
			since := func() (time.Time, bool) { return tc.since, tc.ok }
			if err := m.WatchSigningKey(since, func() time.Time { return tc.now }); err != nil {
				t.Fatal(err)
			}
			want := ""
			if tc.present {
				want = `# HELP gatehouse_signing_key_age_seconds Seconds since the signing key that signs now activated.
# TYPE gatehouse_signing_key_age_seconds gauge
gatehouse_signing_key_age_seconds ` + tc.want + "\n"
			}
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gatehouse_signing_key_age_seconds"); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestSigningKeyAgeFollowsRotation: the gauge reads the signing key at
// each scrape, so a rotation resets it.
func TestSigningKeyAgeFollowsRotation(t *testing.T) {
	reg, m := newMetrics(t)
	var mu sync.Mutex
	since, now := t0, t0.Add(time.Hour)
	err := m.WatchSigningKey(func() (time.Time, bool) { mu.Lock(); defer mu.Unlock(); return since, true },
		func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	if err != nil {
		t.Fatal(err)
	}
	f := family(t, reg, "gatehouse_signing_key_age_seconds")
	if got := f.GetMetric()[0].GetGauge().GetValue(); got != 3600 {
		t.Errorf("got %v, want 3600", got)
	}
	mu.Lock()
	since, now = now, now.Add(time.Minute)
	mu.Unlock()
	f = family(t, reg, "gatehouse_signing_key_age_seconds")
	if got := f.GetMetric()[0].GetGauge().GetValue(); got != 60 {
		t.Errorf("after a rotation: got %v, want 60", got)
	}
}

// TestNothingInTheDefaultRegistry: every metric goes to the registry New
// was given, so that two servers can run in one process.
func TestNothingInTheDefaultRegistry(t *testing.T) {
	s := teststore.Open(t, "sqlite")
	reg, m := newMetrics(t)
	m.Login("dev", "success")
	m.Refresh("success")
	m.RefreshReuse()
	m.Logout(true)
	m.SessionRevoked()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /x", func(w http.ResponseWriter, r *http.Request) {})
	m.Handler(mux).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	ok := roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("down") })
	m.Transport("dev", ok).RoundTrip(httptest.NewRequest("GET", "https://example.com/", nil))
	ws := m.Store(s)
	s.Close()
	ws.Ping(context.Background())
	if err := m.WatchCounts(ws.(gatehouse.Counter), time.Now); err != nil {
		t.Fatal(err)
	}
	if err := m.WatchSigningKey(func() (time.Time, bool) { return t0, true }, time.Now); err != nil {
		t.Fatal(err)
	}

	if n, err := testutil.GatherAndCount(reg); err != nil || n < 10 {
		t.Fatalf("the registry given has %d series, %v; want them all", n, err)
	}
	fams, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "gatehouse_") {
			t.Errorf("%s is in the default registry", f.GetName())
		}
	}
	if _, err := metrics.New(prometheus.NewRegistry()); err != nil {
		t.Errorf("a second Metrics in its own registry: %v", err)
	}
	if _, err := metrics.New(reg); err == nil {
		t.Error("a second Metrics in the same registry: no error")
	}
}
