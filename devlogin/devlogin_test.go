package devlogin_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/devlogin"
	"github.com/gatehouse/gatehouse/devlogin/devlogintest"
)

const (
	publicURL = "http://localhost:8080"
	redirect  = "http://localhost:5173/auth/dev"
)

// listener is the made-up address the fixtures' servers say they listen
// on; nothing listens there.
var listener = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}

type fixture struct {
	dev      *devlogin.Server
	provider gatehouse.Provider
	client   *http.Client // a browser on 127.0.0.1
	now      time.Time
}

// newFixture returns a dev login server whose browser side is reached
// in-process, so the tests send nothing over any network.
func newFixture(t *testing.T, trusted ...netip.Prefix) *fixture {
	f := &fixture{now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	var err error
	f.dev, err = devlogin.New(devlogin.Config{
		PublicURL:      publicURL,
		RedirectURI:    redirect,
		Listener:       listener,
		TrustedProxies: trusted,
		Now:            func() time.Time { return f.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.provider, err = f.dev.Provider(); err != nil {
		t.Fatal(err)
	}
	f.client = f.browser("127.0.0.1:50000", "")
	return f
}

// browser returns a client, not following redirects, whose requests the
// dev login server serves in-process as coming from the peer remoteAddr,
// with forwardedFor, if not empty, as their X-Forwarded-For.
func (f *fixture) browser(remoteAddr, forwardedFor string) *http.Client {
	return &http.Client{
		Transport:     inProcess{f.dev, remoteAddr, forwardedFor},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type inProcess struct {
	h            http.Handler
	remoteAddr   string
	forwardedFor string
}

func (p inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	sr := httptest.NewRequestWithContext(req.Context(), req.Method, req.URL.String(), req.Body)
	for k, v := range req.Header {
		sr.Header[k] = v
	}
	if p.forwardedFor != "" {
		sr.Header.Set("X-Forwarded-For", p.forwardedFor)
	}
	sr.RemoteAddr = p.remoteAddr
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, sr)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

var params = gatehouse.AuthParams{State: "st", RedirectURI: redirect, CodeVerifier: strings.Repeat("v", 43)}

func TestLoginRoundTrip(t *testing.T) {
	f := newFixture(t)
	q, err := devlogintest.Approve(f.client, f.provider.AuthCodeURL(params), "allow", "Ada", "Ada@Example.com")
	if err != nil {
		t.Fatal(err)
	}
	if q.Get("state") != "st" || q.Get("code") == "" {
		t.Fatalf("redirect query = %v", q)
	}
	ident, err := f.provider.Exchange(context.Background(), q.Get("code"), params)
	if err != nil {
		t.Fatal(err)
	}
	if *ident.Email != "Ada@Example.com" || *ident.Name != "Ada" || *ident.Login != "ada" || !ident.EmailVerified || !strings.HasPrefix(ident.Subject, "dev-") {
		t.Errorf("identity = %+v", ident)
	}
	// The same address, in any case, is the same subject.
	q2, _ := devlogintest.Approve(f.client, f.provider.AuthCodeURL(params), "allow", "", "ada@example.com")
	ident2, err := f.provider.Exchange(context.Background(), q2.Get("code"), params)
	if err != nil {
		t.Fatal(err)
	}
	if ident2.Subject != ident.Subject || ident2.Name != nil {
		t.Errorf("second identity = %+v, want subject %s and no name", ident2, ident.Subject)
	}
	// A code works once.
	if _, err := f.provider.Exchange(context.Background(), q.Get("code"), params); gatehouse.ErrorCode(err) != gatehouse.EInvalidGrant {
		t.Errorf("reused code: %v, want invalid_grant", err)
	}
}

func TestExchangeChecks(t *testing.T) {
	cases := map[string]func(f *fixture, p *gatehouse.AuthParams){
		"wrong verifier":     func(f *fixture, p *gatehouse.AuthParams) { p.CodeVerifier = strings.Repeat("w", 43) },
		"other redirect_uri": func(f *fixture, p *gatehouse.AuthParams) { p.RedirectURI = "http://localhost:5173/other" },
		"expired code":       func(f *fixture, p *gatehouse.AuthParams) { f.now = f.now.Add(devlogin.CodeTTL + time.Second) },
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			q, err := devlogintest.Approve(f.client, f.provider.AuthCodeURL(params), "allow", "A", "a@example.com")
			if err != nil {
				t.Fatal(err)
			}
			p := params
			mod(f, &p)
			if _, err := f.provider.Exchange(context.Background(), q.Get("code"), p); gatehouse.ErrorCode(err) != gatehouse.EInvalidGrant {
				t.Fatalf("Exchange error = %v, want invalid_grant", err)
			}
		})
	}
}

func TestAuthorizePageRefusesBadRequests(t *testing.T) {
	f := newFixture(t)
	good, _ := url.Parse(f.provider.AuthCodeURL(params))
	cases := map[string]func(q url.Values){
		"unknown client":     func(q url.Values) { q.Set("client_id", "x") },
		"other redirect_uri": func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") },
		"implicit flow":      func(q url.Values) { q.Set("response_type", "token") },
		"no PKCE":            func(q url.Values) { q.Del("code_challenge") },
		"plain PKCE":         func(q url.Values) { q.Set("code_challenge_method", "plain") },
		"no state":           func(q url.Values) { q.Del("state") },
		"nonce too long":     func(q url.Values) { q.Set("nonce", strings.Repeat("n", 256)) },
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			u := *good
			q := u.Query()
			mod(q)
			u.RawQuery = q.Encode()
			resp, err := f.client.Get(u.String())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("status %d, Location %q; want 400 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
}

func TestDenyAndExpiredRequest(t *testing.T) {
	f := newFixture(t)
	q, err := devlogintest.Approve(f.client, f.provider.AuthCodeURL(params), "deny", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if q.Get("error") != "access_denied" || q.Get("state") != "st" || q.Has("code") {
		t.Errorf("deny redirect = %v", q)
	}
	resp, err := f.client.PostForm(publicURL+devlogin.Prefix+"/authorize", url.Values{"request": {"nope"}, "action": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown request: status %d, want 400", resp.StatusCode)
	}

	id := startLogin(t, f, f.client)
	f.now = f.now.Add(devlogin.RequestTTL + time.Second)
	if got := submit(t, f.client, id, "allow"); got.StatusCode != http.StatusBadRequest {
		t.Errorf("expired request: status %d, want 400", got.StatusCode)
	}
}

func TestPageSaysItIsForDevelopment(t *testing.T) {
	f := newFixture(t)
	resp, err := f.client.Get(f.provider.AuthCodeURL(params))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "never be used in production") {
		t.Error("the page does not warn that it is for development only")
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "form-action 'self' http://localhost:5173") {
		t.Errorf("CSP = %q", csp)
	}
}

var requestField = regexp.MustCompile(`name="request" value="([^"]+)"`)

// startLogin opens the authorize page with client and returns the id of
// the pending request it shows.
func startLogin(t *testing.T, f *fixture, client *http.Client) string {
	t.Helper()
	resp, page := get(t, client, f.provider.AuthCodeURL(params))
	m := requestField.FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("authorize page: HTTP %d: %s", resp.StatusCode, page)
	}
	return m[1]
}

// get fetches u with client and returns the answer and its body.
func get(t *testing.T, client *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// submit posts the authorize form of request id with action "allow" or
// "deny".
func submit(t *testing.T, client *http.Client, id, action string) *http.Response {
	t.Helper()
	resp, err := client.PostForm(publicURL+devlogin.Prefix+"/authorize", url.Values{"request": {id},
		"name": {"Ada"}, "email": {"ada@example.com"}, "action": {action}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
