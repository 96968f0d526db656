package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/devlogin/devlogintest"
	"github.com/gatehouse/gatehouse/internal/testaddr"
)

// TestMetrics scrapes the metrics listener after a login, a refresh and a
// logout over HTTP: the counts moved, no user, email, token or address is
// in the exposition, and the API has no /metrics.
func TestMetrics(t *testing.T) {
	addr := testaddr.Free(t)
	base, logs, stop := startServe(t, "GATEHOUSE_DATA_DIR", t.TempDir(), "GATEHOUSE_METRICS_ADDR", addr)
	defer stop()

	if resp, err := http.Get(base + "/metrics"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics on the API = %v, %v; want 404", resp.StatusCode, err)
	}

	c := browser(t)
	var login struct{ URL string }
	getJSON(t, c, mustRequest(t, "GET", base+"/auth/dev/login", ""), &login)
	q, err := devlogintest.Approve(browser(t), login.URL, "allow", "Grace Hopper", "grace@example.com")
	if err != nil {
		t.Fatal(err)
	}
	var auth struct {
		AccessToken string         `json:"access_token"`
		User        map[string]any `json:"user"`
	}
	body := `{"code":"` + q.Get("code") + `","state":"` + q.Get("state") + `"}`
	if resp := getJSON(t, c, mustRequest(t, "POST", base+"/auth/dev/authorize", body), &auth); resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize = %d\n%s", resp.StatusCode, logs)
	}
	before := scrape(t, addr)
	for _, path := range []string{"/auth/refresh", "/auth/logout"} {
		req := mustRequest(t, "POST", base+path, "")
		req.Header.Set("X-Requested-With", "gatehouse")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("POST %s = %d", path, resp.StatusCode)
		}
	}
	after := scrape(t, addr)

	for _, tc := range []struct {
		metric      string
		before, min float64
	}{
		{`gatehouse_logins_total{outcome="success",provider="dev"}`, 1, 1},
		{`gatehouse_refreshes_total{outcome="success"}`, 0, 1},
		{`gatehouse_logouts_total{scope="one"}`, 0, 1},
		{`gatehouse_http_requests_total{code="200",route="POST /auth/{provider}/authorize"}`, 1, 1},
		{`gatehouse_http_requests_total{code="200",route="POST /auth/refresh"}`, 0, 1},
		{`gatehouse_http_requests_total{code="204",route="POST /auth/logout"}`, 0, 1},
		{`gatehouse_http_requests_total{code="404",route="unmatched"}`, 1, 1},
		// Discovery, the JWKS, the token and the userinfo endpoints.
		{`gatehouse_provider_request_duration_seconds_count{provider="dev"}`, 4, 4},
		{`gatehouse_sessions`, 1, 0},
	} {
		if got := value(t, before, tc.metric); got != tc.before {
			t.Errorf("before: %s = %v, want %v", tc.metric, got, tc.before)
		}
		if got := value(t, after, tc.metric); got < tc.min {
			t.Errorf("after: %s = %v, want at least %v", tc.metric, got, tc.min)
		}
	}
	for _, name := range []string{"gatehouse_signing_key_age_seconds", "gatehouse_login_states", "go_goroutines", "process_cpu_seconds_total"} {
		if !regexp.MustCompile(`(?m)^` + name + ` `).MatchString(after) {
			t.Errorf("no %s in the exposition", name)
		}
	}
	for _, secret := range []string{auth.User["id"].(string), "grace@example.com", "Grace", auth.AccessToken, "127.0.0.1", q.Get("code")} {
		if strings.Contains(after, secret) {
			t.Errorf("the exposition contains %q", secret)
		}
	}
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape = %d, %v", resp.StatusCode, err)
	}
	return string(b)
}

// value is the sample named metric (with its labels as the exposition
// spells them) in text, or 0.
func value(t *testing.T, text, metric string) float64 {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, metric+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return 0
}

// TestBadMetricsAddrStopsStartup: a metrics address Gatehouse cannot
// listen on stops serve with an error naming the setting, rather than
// serving the API without its metrics. A malformed address is refused with
// the other settings, before the database is opened.
func TestBadMetricsAddrStopsStartup(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cases := []struct{ name, addr string }{
		{"no port", "127.0.0.1"},
		{"port out of range", "127.0.0.1:65536"},
		{"unknown host", "no-such-host.invalid:9090"},
		{"port in use", taken.Addr().String()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := loadConfig(nil, env("GATEHOUSE_PUBLIC_URL", "http://"+ln.Addr().String(),
				"GATEHOUSE_DATA_DIR", t.TempDir(), "GATEHOUSE_METRICS_ADDR", tc.addr), io.Discard)
			if err != nil {
				// A malformed address is refused with the settings.
				if !strings.Contains(err.Error(), "GATEHOUSE_METRICS_ADDR") {
					t.Errorf("loadConfig: got %v, want an error naming GATEHOUSE_METRICS_ADDR", err)
				}
				return
			}
			// Were it to start, serve would run until ctx ends and then
			// return nil.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = serve(ctx, cfg, ln, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_METRICS_ADDR") {
				t.Errorf("got %v, want an error naming GATEHOUSE_METRICS_ADDR", err)
			}
		})
	}
}
