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
