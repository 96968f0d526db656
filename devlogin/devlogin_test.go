package devlogin_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/devlogin"
	"github.com/gatehouse/gatehouse/devlogin/devlogintest"
)

const redirect = "http://localhost:5173/auth/dev"

type fixture struct {
	ts       *httptest.Server
	dev      *devlogin.Server
	provider gatehouse.Provider
	client   *http.Client
	now      time.Time
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	var h http.Handler = http.NotFoundHandler()
	f.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(f.ts.Close)
	var err error
	f.dev, err = devlogin.New(devlogin.Config{PublicURL: f.ts.URL, RedirectURI: redirect, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	h = f.dev
	if f.provider, err = f.dev.Provider(); err != nil {
		t.Fatal(err)
	}
	f.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return f
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
		"expired code":       func(f *fixture, p *gatehouse.AuthParams) { f.now = f.now.Add(2 * time.Minute) },
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

func TestTokenEndpointNeedsTheClientSecret(t *testing.T) {
	f := newFixture(t)
	q, err := devlogintest.Approve(f.client, f.provider.AuthCodeURL(params), "allow", "A", "a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.PostForm(f.ts.URL+devlogin.Prefix+"/token", url.Values{"grant_type": {"authorization_code"},
		"code": {q.Get("code")}, "client_id": {"gatehouse-dev"}, "client_secret": {"guess"},
		"redirect_uri": {redirect}, "code_verifier": {params.CodeVerifier}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401", resp.StatusCode)
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
	resp, err := f.client.PostForm(f.ts.URL+devlogin.Prefix+"/authorize", url.Values{"request": {"nope"}, "action": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown request: status %d, want 400", resp.StatusCode)
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
