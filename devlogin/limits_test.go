package devlogin_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/devlogin"
	"github.com/gatehouse/gatehouse/devlogin/devlogintest"
	"golang.org/x/oauth2"
)

// TestPendingPerClientCap: one client address may have MaxPendingPerClient
// authorize requests pending; the next is refused with 429 until they
// expire, and other addresses are not affected.
func TestPendingPerClientCap(t *testing.T) {
	f := newFixture(t)
	first := f.browser("127.0.0.1:1000", "")
	for range devlogin.MaxPendingPerClient {
		startLogin(t, f, first)
	}
	resp, page := get(t, first, f.provider.AuthCodeURL(params))
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("request %d from one address: got %d, want 429", devlogin.MaxPendingPerClient+1, resp.StatusCode)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s <= 0 {
		t.Errorf("Retry-After: got %q, want a positive number of seconds", resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(page, "Development login") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("the 429 is not the styled page: %v\n%s", resp.Header, page)
	}
	if got := f.dev.Sizes().Requests; got != devlogin.MaxPendingPerClient {
		t.Errorf("pending requests: got %d, want %d", got, devlogin.MaxPendingPerClient)
	}

	// The same machine, another loopback address, is another client.
	startLogin(t, f, f.browser("127.0.0.2:1000", ""))

	f.now = f.now.Add(devlogin.RequestTTL + time.Second)
	startLogin(t, f, first)
}

// TestUsedRequestsFreeTheirPlace: a request that is approved or denied no
// longer counts against its client.
func TestUsedRequestsFreeTheirPlace(t *testing.T) {
	cases := []struct {
		name   string
		finish func(t *testing.T, f *fixture, client *http.Client)
	}{
		{"approved", func(t *testing.T, f *fixture, client *http.Client) {
			if _, err := devlogintest.Approve(client, f.provider.AuthCodeURL(params), "allow", "A", "a@example.com"); err != nil {
				t.Fatal(err)
			}
		}},
		{"denied", func(t *testing.T, f *fixture, client *http.Client) {
			if _, err := devlogintest.Approve(client, f.provider.AuthCodeURL(params), "deny", "", ""); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			for range devlogin.MaxPendingPerClient - 1 {
				startLogin(t, f, f.client)
			}
			for range 3 {
				c.finish(t, f, f.client)
			}
			startLogin(t, f, f.client)
			if resp, _ := get(t, f.client, f.provider.AuthCodeURL(params)); resp.StatusCode != http.StatusTooManyRequests {
				t.Errorf("request %d: got %d, want 429", devlogin.MaxPendingPerClient+1, resp.StatusCode)
			}
		})
	}
}

// TestPendingGlobalCap: however many addresses they come from, at most
// MaxPending requests are pending; the next is refused with 503 until the
// oldest expire.
func TestPendingGlobalCap(t *testing.T) {
	f := newFixture(t)
	clients := devlogin.MaxPending / devlogin.MaxPendingPerClient
	for i := range clients {
		c := f.browser(fmt.Sprintf("127.0.%d.%d:1000", i/250, i%250+1), "")
		for range devlogin.MaxPendingPerClient {
			f.now = f.now.Add(time.Millisecond)
			startLogin(t, f, c)
		}
	}
	fresh := f.browser("127.255.255.254:1000", "")
	resp, page := get(t, fresh, f.provider.AuthCodeURL(params))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("request %d: got %d, Retry-After %q; want 503 and a Retry-After", devlogin.MaxPending+1, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(page, "Development login") {
		t.Errorf("the 503 is not the styled page:\n%s", page)
	}
	if got := f.dev.Sizes(); got.Requests != devlogin.MaxPending || got.Clients != clients {
		t.Errorf("after the refusal: got %d requests of %d clients, want %d of %d", got.Requests, got.Clients, devlogin.MaxPending, clients)
	}

	// Once the oldest have expired there is room again.
	f.now = f.now.Add(devlogin.RequestTTL - 9*time.Second)
	startLogin(t, f, fresh)
}

// TestStateExpiresOldestFirst: pending requests, codes and tokens leave
// memory once expired, as soon as their kind is next used, and only those
// that expired.
func TestStateExpiresOldestFirst(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	start := f.now
	// Every 10s: a pending request, an unexchanged code and a token
	// whose userinfo was never read (reading it removes it).
	const n, step = 4, 10 * time.Second
	relying := newRP(t, f, oauth2.AuthStyleInHeader)
	for i := range n {
		f.now = start.Add(time.Duration(i) * step)
		startLogin(t, f, f.client)
		if _, err := devlogintest.Approve(f.client, f.provider.AuthCodeURL(params), "allow", "A", "a@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := relying.exchange(relying.login(t, f, "n"), oauth2.VerifierOption(codeVerifier)); err != nil {
			t.Fatal(err)
		}
	}
	want := devlogin.Sizes{Requests: n, RequestQueue: n, Codes: n, CodeQueue: n, Tokens: n, TokenQueue: n, Clients: 1}
	if got := f.dev.Sizes(); got != want {
		t.Fatalf("before expiry: got %+v, want %+v", got, want)
	}

	back := f.dev.BackchannelClient()
	cases := []struct {
		name string
		ttl  time.Duration
		use  func(t *testing.T) // any request that touches the kind
		left func(devlogin.Sizes) (entries, queue int)
	}{
		{"codes", devlogin.CodeTTL, func(t *testing.T) {
			f.provider.Exchange(ctx, "no-such-code", params)
		}, func(s devlogin.Sizes) (int, int) { return s.Codes, s.CodeQueue }},
		{"tokens", devlogin.TokenTTL, func(t *testing.T) {
			req, _ := http.NewRequest("GET", devlogin.BackchannelURL+devlogin.Prefix+"/userinfo", nil)
			req.Header.Set("Authorization", "Bearer no-such-token")
			resp, err := back.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}, func(s devlogin.Sizes) (int, int) { return s.Tokens, s.TokenQueue }},
		{"requests", devlogin.RequestTTL, func(t *testing.T) {
			submit(t, f.client, "no-such-request", "allow")
		}, func(s devlogin.Sizes) (int, int) { return s.Requests, s.RequestQueue }},
	}
	for _, c := range cases {
		// The first two have expired, the others not.
		f.now = start.Add(c.ttl + step + step/2)
		c.use(t)
		if entries, queue := c.left(f.dev.Sizes()); entries != n-2 || queue != n-2 {
			t.Errorf("%s at TTL+%s: got %d entries and %d queued, want %d and %d", c.name, step+step/2, entries, queue, n-2, n-2)
		}
	}

	// Expired requests no longer count against their client.
	f.now = start.Add(devlogin.RequestTTL + time.Hour)
	submit(t, f.client, "no-such-request", "allow")
	if got := f.dev.Sizes(); got.Requests != 0 || got.Clients != 0 {
		t.Errorf("after every request expired: got %d requests of %d clients, want 0 and 0", got.Requests, got.Clients)
	}
}
