package oidc

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/oidc/oidctest"
)

func TestNewRefusesBadConfig(t *testing.T) {
	good := func() Config {
		return Config{Issuer: "https://issuer.example", ClientID: "id", ClientSecret: "secret",
			HTTPClient: &http.Client{Timeout: time.Millisecond, Transport: refuse{}}}
	}
	tests := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"no issuer", func(c *Config) { c.Issuer = "" }, "Issuer"},
		{"http issuer", func(c *Config) { c.Issuer = "http://issuer.example" }, "Issuer"},
		{"relative issuer", func(c *Config) { c.Issuer = "issuer.example" }, "Issuer"},
		{"issuer with a query", func(c *Config) { c.Issuer = "https://issuer.example?x=1" }, "Issuer"},
		{"issuer with a fragment", func(c *Config) { c.Issuer = "https://issuer.example#x" }, "Issuer"},
		{"issuer with user info", func(c *Config) { c.Issuer = "https://u:p@issuer.example" }, "Issuer"},
		{"no client id", func(c *Config) { c.ClientID = "" }, "ClientID"},
		{"no client secret", func(c *Config) { c.ClientSecret = "" }, "ClientSecret"},
		{"scopes without openid", func(c *Config) { c.Scopes = []string{"profile"} }, "Scopes"},
		{"scope with a space", func(c *Config) { c.Scopes = []string{"openid", "a b"} }, "Scopes"},
		{"client without timeout", func(c *Config) { c.HTTPClient = &http.Client{} }, "HTTPClient"},
		{"auth param state", func(c *Config) { c.AuthParams = map[string]string{"state": "x"} }, "AuthParams"},
		{"auth param nonce", func(c *Config) { c.AuthParams = map[string]string{"nonce": "x"} }, "AuthParams"},
		{"auth param code_challenge_method", func(c *Config) { c.AuthParams = map[string]string{"code_challenge_method": "plain"} }, "AuthParams"},
		{"auth param redirect_uri", func(c *Config) { c.AuthParams = map[string]string{"Redirect_URI": "https://evil.example"} }, "AuthParams"},
		{"auth param response_type", func(c *Config) { c.AuthParams = map[string]string{"response_type": "token"} }, "AuthParams"},
		{"auth param client_id", func(c *Config) { c.AuthParams = map[string]string{"client_id": "x"} }, "AuthParams"},
		{"auth param scope", func(c *Config) { c.AuthParams = map[string]string{"scope": "admin"} }, "AuthParams"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.edit(&c)
			p, err := New(context.Background(), c)
			if err == nil || p != nil {
				t.Fatalf("got %v, %v; want an error", p, err)
			}
			ce, ok := errors.AsType[*gatehouse.ConfigError](err)
			if !ok || ce.Field != tc.field {
				t.Errorf("got error %v, want a ConfigError for %s", err, tc.field)
			}
		})
	}
	t.Run("loopback http issuer", func(t *testing.T) {
		c := good()
		c.Issuer = "http://127.0.0.1:5556/dex"
		if _, err := New(context.Background(), c); err != nil {
			t.Errorf("got %v, want nil", err)
		}
	})
}

// refuse is a transport that reaches nothing.
type refuse struct{}

func (refuse) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("no network in this test")
}

// TestSec02AuthCodeURL: the login URL is the discovered authorization
// endpoint with our client, the exact redirect URI, scope openid profile
// email, the login's nonce and state, an S256 challenge, and the extra
// parameters; never the secret or the verifier.
func TestSec02AuthCodeURL(t *testing.T) {
	f := setup(t, oidctest.Options{}, func(c *Config) { c.AuthParams = map[string]string{"prompt": "select_account"} })
	ap := params()
	raw := f.p.AuthCodeURL(ap)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != f.s.Issuer()+oidctest.AuthorizePath {
		t.Errorf("got endpoint %s, want %s", got, f.s.Issuer()+oidctest.AuthorizePath)
	}
	want := url.Values{
		"response_type":         {"code"},
		"client_id":             {f.s.ClientID},
		"redirect_uri":          {ap.RedirectURI},
		"scope":                 {"openid profile email"},
		"state":                 {ap.State},
		"nonce":                 {ap.Nonce},
		"code_challenge":        {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
		"code_challenge_method": {"S256"},
		"prompt":                {"select_account"},
	}
	if got := u.Query(); !reflect.DeepEqual(got, want) {
		t.Errorf("got query %v, want %v", got, want)
	}
	for _, secret := range []string{f.s.ClientSecret, ap.CodeVerifier} {
		if strings.Contains(raw, secret) {
			t.Errorf("URL %s contains %q", raw, secret)
		}
	}
}

// TestExchangeTokenRequest: one token request with the code, the same
// redirect_uri and the PKCE verifier, the client authenticated the one way
// the discovery document calls for: client_secret_basic when it is listed
// or nothing is, client_secret_post when only that is.
func TestExchangeTokenRequest(t *testing.T) {
	tests := []struct {
		name    string
		methods []string
		want    string
	}{
		{"no methods listed", nil, "client_secret_basic"},
		{"basic only", []string{"client_secret_basic"}, "client_secret_basic"},
		{"post only", []string{"client_secret_post"}, "client_secret_post"},
		{"post listed first", []string{"private_key_jwt", "client_secret_post", "client_secret_basic"}, "client_secret_basic"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, oidctest.Options{AuthMethods: tc.methods, ClientSecret: "s3cret:with/odd+chars"})
			ident, err := f.login(t)
			if err != nil {
				t.Fatal(err)
			}
			if ident.Subject != oidctest.DefaultUser().Subject {
				t.Errorf("got subject %q, want %q", ident.Subject, oidctest.DefaultUser().Subject)
			}
			reqs := f.s.Requests(oidctest.TokenPath)
			if len(reqs) != 1 {
				t.Fatalf("got %d token requests, want 1", len(reqs))
			}
			r := reqs[0]
			_, _, basic := (&http.Request{Header: r.Header}).BasicAuth()
			if got := map[bool]string{true: "client_secret_basic", false: "client_secret_post"}[basic]; got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			if basic == r.Form.Has("client_secret") {
				t.Errorf("got Basic %v and client_secret in the body %v; want exactly one", basic, r.Form.Has("client_secret"))
			}
			for name, want := range map[string]string{"grant_type": "authorization_code", "redirect_uri": "https://app.example/auth/oidc",
				"code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"} {
				if got := r.Form.Get(name); got != want {
					t.Errorf("got %s=%q, want %q", name, got, want)
				}
			}
		})
	}
	t.Run("no usable method", func(t *testing.T) {
		f := setup(t, oidctest.Options{AuthMethods: []string{"private_key_jwt"}})
		if code := errorCode(t, f.p.Prepare(context.Background())); code != gatehouse.EUnavailable {
			t.Errorf("got %q, want %q", code, gatehouse.EUnavailable)
		}
	})
}

// TestExchangeIdentity: the identity is the ID token's sub, and the
// profile maps preferred_username, name, email, email_verified and picture.
func TestExchangeIdentity(t *testing.T) {
	f := setup(t, oidctest.Options{})
	ident, err := f.login(t)
	if err != nil {
		t.Fatal(err)
	}
	got := [...]string{ident.Subject, deref(ident.Login), deref(ident.Name), deref(ident.Email), deref(ident.Picture)}
	want := [...]string{"248289761001", "j.doe", "Jane Doe", "jane@example.com", "https://pictures.example/jane.png"}
	if got != want || !ident.EmailVerified {
		t.Errorf("got %v verified %v, want %v verified true", got, ident.EmailVerified, want)
	}
	if ident.Company != nil || ident.Location != nil {
		t.Errorf("got company %v, location %v; want nil", ident.Company, ident.Location)
	}
}

// TestDiscoveryDownAtStartup: an issuer that is down when New runs does
// not stop it; Prepare and Exchange answer EUnavailable with RetryAfter
// and do not ask the issuer again before DiscoveryRetryInterval; once the
// issuer is up, the first Prepare after the interval succeeds.
func TestDiscoveryDownAtStartup(t *testing.T) {
	clk := newClock()
	s := oidctest.NewServer(t, oidctest.Options{Now: clk.Now})
	s.SetDown(true)
	p, err := New(context.Background(), Config{Issuer: s.Issuer(), ClientID: s.ClientID, ClientSecret: s.ClientSecret,
		HTTPClient: s.HTTPClient(5 * time.Second), Now: clk.Now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx := context.Background()
	unavailable := func(err error, wantTries int) {
		t.Helper()
		e, ok := errors.AsType[*gatehouse.Error](err)
		if !ok || e.Code != gatehouse.EUnavailable || e.RetryAfter <= 0 || e.RetryAfter > DiscoveryRetryInterval {
			t.Errorf("got %v, want EUnavailable with a RetryAfter up to %s", err, DiscoveryRetryInterval)
		}
		if got := s.Count(oidctest.DiscoveryPath); got != wantTries {
			t.Errorf("got %d discovery requests, want %d", got, wantTries)
		}
	}
	unavailable(p.Prepare(ctx), 1)
	if u := p.AuthCodeURL(params()); u != "" {
		t.Errorf("got URL %q before discovery, want none", u)
	}
	_, err = p.Exchange(ctx, "code", params())
	unavailable(err, 1)

	s.SetDown(false)
	clk.Advance(DiscoveryRetryInterval - time.Second)
	unavailable(p.Prepare(ctx), 1)
	clk.Advance(time.Second)
	if err := p.Prepare(ctx); err != nil {
		t.Fatalf("Prepare after the retry interval: %v", err)
	}
	if got := s.Count(oidctest.DiscoveryPath); got != 2 {
		t.Errorf("got %d discovery requests, want 2", got)
	}
	f := &fixture{s: s, p: p, clk: clk}
	if _, err := f.login(t); err != nil {
		t.Errorf("login once the issuer is up: %v", err)
	}
	if got := s.Count(oidctest.DiscoveryPath); got != 2 {
		t.Errorf("got %d discovery requests after a login, want 2", got)
	}
}

// TestDiscoveryRefused: a document whose issuer is not the configured one
// (Discovery 4.3), or whose algorithms are all unacceptable, makes the
// provider unavailable rather than trusted.
func TestDiscoveryRefused(t *testing.T) {
	tests := []struct {
		name string
		doc  func(s *oidctest.Server, doc map[string]any)
	}{
		{"other issuer", func(s *oidctest.Server, doc map[string]any) { doc["issuer"] = "https://evil.example" }},
		{"issuer with a trailing slash", func(s *oidctest.Server, doc map[string]any) { doc["issuer"] = s.Issuer() + "/" }},
		{"only none and HS256", func(s *oidctest.Server, doc map[string]any) {
			doc["id_token_signing_alg_values_supported"] = []string{"none", "HS256"}
		}},
		{"no token endpoint", func(s *oidctest.Server, doc map[string]any) { delete(doc, "token_endpoint") }},
		{"plain http jwks_uri", func(s *oidctest.Server, doc map[string]any) { doc["jwks_uri"] = "http://keys.example/jwks" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			s := oidctest.NewServer(t, oidctest.Options{Now: clk.Now})
			s.SetDiscovery(func(doc map[string]any) { tc.doc(s, doc) })
			p, err := New(context.Background(), Config{Issuer: s.Issuer(), ClientID: s.ClientID, ClientSecret: s.ClientSecret,
				HTTPClient: s.HTTPClient(5 * time.Second), Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			if code := errorCode(t, p.Prepare(context.Background()), s.ClientSecret); code != gatehouse.EUnavailable {
				t.Errorf("got %q, want %q", code, gatehouse.EUnavailable)
			}
		})
	}
}

// TestSeveralProviders: two issuers at once, each with its own
// configuration; a token of one is refused by the other.
func TestSeveralProviders(t *testing.T) {
	a := setup(t, oidctest.Options{ClientID: "client-a"})
	b := setup(t, oidctest.Options{ClientID: "client-b", AuthMethods: []string{"client_secret_post"}}, func(c *Config) {
		c.Scopes = []string{"openid", "email"}
	})
	for name, f := range map[string]*fixture{"a": a, "b": b} {
		if _, err := f.login(t); err != nil {
			t.Errorf("login at %s: %v", name, err)
		}
	}
	// b's issuer hands out a token made by a's issuer.
	b.s.SetIDToken(func(claims map[string]any) string {
		claims["iss"], claims["aud"] = a.s.Issuer(), "client-a"
		return a.s.Sign(claims)
	})
	_, err := b.login(t)
	if code := errorCode(t, err); code != gatehouse.EInvalidGrant {
		t.Errorf("got %q (%v), want %q", code, err, gatehouse.EInvalidGrant)
	}
}
