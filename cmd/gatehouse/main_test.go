package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/devlogin/devlogintest"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/internal/syncbuf"
)

// startServe runs `gatehouse serve` with the given environment on a free
// loopback port, and returns its base URL, its log, and a function that
// stops it and returns serve's error.
func startServe(t *testing.T, kv ...string) (string, *syncbuf.Buffer, func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg, err := loadConfig(nil, env(append([]string{"GATEHOUSE_PUBLIC_URL", base}, kv...)...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, ln, logs) }()
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			t.Fatal("serve did not stop")
			return nil
		}
	}
	for i := 0; ; i++ {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if i == 100 {
			stop()
			t.Fatalf("server not ready: %v\n%s", err, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return base, logs, stop
}

func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func getJSON(t *testing.T, c *http.Client, req *http.Request, v any) *http.Response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s %s: not JSON: %v", req.Method, req.URL.Path, err)
	}
	return resp
}

// TestServeDevLoginEndToEnd runs the binary's wiring on its defaults: the
// demo page, the dev provider reached over HTTP, authorize, /me, and a
// restart that keeps the signing key and the user.
func TestServeDevLoginEndToEnd(t *testing.T) {
	dir := t.TempDir()
	serveEndToEnd(t, "GATEHOUSE_DATA_DIR", dir)
	if _, err := os.Stat(filepath.Join(dir, "gatehouse.db")); err != nil {
		t.Fatalf("database not in the data dir: %v", err)
	}
}

// TestServePostgres is the same walk through the binary on PostgreSQL,
// with the migrations applied at startup.
func TestServePostgres(t *testing.T) {
	url := pgtest.Schema(t)
	logs := serveEndToEnd(t, "GATEHOUSE_DATABASE_URL", url, "GATEHOUSE_DATA_DIR", t.TempDir())
	if !strings.Contains(logs, "applied a database migration") || !strings.Contains(logs, "database=\"postgres postgres://postgres@") {
		t.Errorf("the log does not show the migration and the database:\n%s", logs)
	}
}

// serveEndToEnd runs gatehouse serve with kv as its environment, logs in
// through the dev provider, restarts it, and returns the first run's log.
func serveEndToEnd(t *testing.T, kv ...string) string {
	base, logs, stop := startServe(t, kv...)

	// The demo page, at the root and at the provider redirect route.
	for _, p := range []string{"/", "/auth/dev?code=x&state=y", "/demo/app.js", "/demo/app.css"} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", p, resp.StatusCode)
		}
		if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") ||
			resp.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("GET %s headers = %v", p, resp.Header)
		}
	}

	c := browser(t)
	var providers struct {
		Providers []struct{ Name, DisplayName string } `json:"providers"`
	}
	getJSON(t, c, mustRequest(t, "GET", base+"/auth/providers", ""), &providers)
	if len(providers.Providers) != 1 || providers.Providers[0].Name != "dev" {
		t.Fatalf("providers = %+v, want only dev", providers)
	}

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
	resp := getJSON(t, c, mustRequest(t, "POST", base+"/auth/dev/authorize", body), &auth)
	if resp.StatusCode != http.StatusOK || auth.AccessToken == "" {
		t.Fatalf("authorize = %d %+v\n%s", resp.StatusCode, auth, logs)
	}
	me := map[string]any{}
	req := mustRequest(t, "GET", base+"/me", "")
	req.Header.Set("Authorization", "Bearer "+auth.AccessToken)
	if resp := getJSON(t, c, req, &me); resp.StatusCode != http.StatusOK || me["name"] != "Grace Hopper" {
		t.Fatalf("/me = %d %v", resp.StatusCode, me)
	}
	var jwks1 json.RawMessage
	getJSON(t, c, mustRequest(t, "GET", base+"/.well-known/jwks.json", ""), &jwks1)

	if err := stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
	for _, secret := range []string{q.Get("code"), q.Get("state"), auth.AccessToken} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log contains a code, state or token")
		}
	}
	if !strings.Contains(logs.String(), "event=login") || !strings.Contains(logs.String(), "result=success") {
		t.Errorf("no login audit line in the log:\n%s", logs)
	}

	// A restart keeps the key, so the token still verifies, and the user.
	base2, _, stop2 := startServe(t, kv...)
	defer stop2()
	var jwks2 json.RawMessage
	getJSON(t, c, mustRequest(t, "GET", base2+"/.well-known/jwks.json", ""), &jwks2)
	if string(jwks1) != string(jwks2) {
		t.Errorf("JWKS changed across a restart:\n%s\n%s", jwks1, jwks2)
	}
	return logs.String()
}

func mustRequest(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

func TestRunCommands(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"version"}, env(), &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "gatehouse ") {
		t.Errorf("version: %q, %v", out.String(), err)
	}
	if err := run(context.Background(), nil, env(), &out, &errOut); err == nil {
		t.Error("no command: no error")
	}
	if err := run(context.Background(), []string{"frobnicate"}, env(), &out, &errOut); err == nil {
		t.Error("unknown command: no error")
	}
	err := run(context.Background(), []string{"serve"}, env("GATEHOUSE_GITHUB_CLIENT_ID", "x"), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_GITHUB_CLIENT_SECRET") {
		t.Errorf("serve with a bad config: %v", err)
	}
}
