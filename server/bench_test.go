package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/session"
)

// BenchmarkRefresh measures POST /auth/refresh over real HTTP on loopback:
// 64 clients at once (b.SetParallelism; a multiple of GOMAXPROCS, so 64 on
// 2 or 4 cores), each with its own session,
// rotating its refresh token on every request, as browsers do. It runs on
// SQLite and, with GATEHOUSE_TEST_POSTGRES, again on PostgreSQL (see
// TestMain). Besides ns/op (wall time per refresh across all clients) it
// reports refreshes per second and the p50 and p99 latency one client
// sees.
//
//	go test -run XXX -bench Refresh ./server
func BenchmarkRefresh(b *testing.B) {
	// RunParallel runs parallelism × GOMAXPROCS goroutines: 64 on 2 cores.
	parallelism := (64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0)
	clients := parallelism * runtime.GOMAXPROCS(0)
	ctx := context.Background()
	store, _, _ := testStore(b, nil)
	// 64 clients on one address, each refreshing its own session as fast
	// as it can: no limit may stand in the way of the measurement.
	off := ratelimit.Unlimited
	s, err := New(ctx, Config{PublicURL: "http://127.0.0.1", Store: store, Logger: slog.New(slog.DiscardHandler),
		Limits: Limits{Login: off, Authorize: off, Refresh: off, Logout: off, RefreshPerSession: off}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ts := httptest.NewServer(s)
	defer ts.Close()
	tokens := make(chan string, clients)
	for i := range clients {
		u, err := store.UpsertIdentity(ctx, &gatehouse.Identity{Provider: "bench", Subject: fmt.Sprint(i)}, time.Now(), gatehouse.EmailMatchNewAccount)
		if err != nil {
			b.Fatal(err)
		}
		_, raw, err := s.sessions.Start(ctx, u, session.Client{})
		if err != nil {
			b.Fatal(err)
		}
		tokens <- raw
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var mu sync.Mutex
	var latencies []time.Duration
	var failed atomic.Int64

	b.SetParallelism(parallelism)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		rt := <-tokens
		var mine []time.Duration
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/auth/refresh", nil)
			req.Header.Set("X-Requested-With", "gatehouse")
			req.AddCookie(&http.Cookie{Name: "gatehouse_refresh", Value: rt})
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				failed.Add(1)
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mine = append(mine, time.Since(t0))
			if resp.StatusCode != http.StatusOK {
				failed.Add(1)
				continue
			}
			for _, c := range resp.Cookies() {
				if c.Name == "gatehouse_refresh" {
					rt = c.Value
				}
			}
		}
		mu.Lock()
		latencies = append(latencies, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d refreshes failed", n, b.N)
	}
	slices.Sort(latencies)
	if len(latencies) > 0 {
		b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "refresh/s")
		b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "p99-µs")
	}
}

// benchTokens starts n sessions of n users and returns an access token of
// each, for the benchmarks of the authenticated routes.
func benchTokens(b testing.TB, s *Server, store gatehouse.Store, n int) []string {
	b.Helper()
	ctx := context.Background()
	out := make([]string, n)
	for i := range out {
		name, email := "Bench User", fmt.Sprintf("user%d@example.com", i)
		u, err := store.UpsertIdentity(ctx, &gatehouse.Identity{Provider: "bench", Subject: fmt.Sprint(i),
			Profile: gatehouse.Profile{Name: &name, Email: &email}}, time.Now(), gatehouse.EmailMatchNewAccount)
		if err != nil {
			b.Fatal(err)
		}
		sess, _, err := s.sessions.Start(ctx, u, session.Client{})
		if err != nil {
			b.Fatal(err)
		}
		if out[i], _, err = s.issuer.Mint(u.ID, sess.ID); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

// benchAuthenticated serves GET path through h from many goroutines at
// once, each with its own session's token, with no network in between:
// what it measures is the server's own work per request (token check,
// session query, JSON), and its allocations.
func benchAuthenticated(b *testing.B, path string, h func(s *Server) http.Handler) {
	store, _, _ := testStore(b, nil)
	s, err := New(context.Background(), Config{PublicURL: "http://127.0.0.1", Store: store, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	handler := h(s)
	tokens := benchTokens(b, s, store, 64)
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		bearer := "Bearer " + tokens[int(next.Add(1))%len(tokens)]
		// A context that can be cancelled, as net/http gives every
		// request: code that watches it pays for that on each request.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
		req.Header.Set("Authorization", bearer)
		for pb.Next() {
			w := httptest.NewRecorder()
			handler.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Errorf("GET %s: %d %s", path, w.Code, w.Body)
				return
			}
		}
	})
}

// BenchmarkMe measures GET /me inside the server: the token check (from
// the second request of a token on, a hit in the verified-token cache),
// the session query and the JSON of the user.
//
//	go test -run XXX -bench 'Me$' -benchmem ./server
func BenchmarkMe(b *testing.B) {
	benchAuthenticated(b, "/me", func(s *Server) http.Handler { return s })
}

// BenchmarkRequire measures Server.Require guarding a trivial handler.
func BenchmarkRequire(b *testing.B) {
	benchAuthenticated(b, "/private", func(s *Server) http.Handler {
		return s.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"ok":true}`))
		}))
	})
}
