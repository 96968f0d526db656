package oidc

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/testclock"
	"github.com/gatehouse/gatehouse/oidc/oidctest"
)

// preset starts a fake issuer with o and a provider from the preset's
// Config, pointed at the fake when retarget is set.
func preset(t *testing.T, o oidctest.Options, c func(s *oidctest.Server, clk *testclock.Clock) Config, retarget bool) *fixture {
	t.Helper()
	clk := newClock()
	o.Now = clk.Now
	s := oidctest.NewServer(t, o)
	cfg := c(s, clk)
	if retarget {
		cfg.Issuer = s.Issuer()
	}
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{s: s, p: p, clk: clk}
}

// TestSec36GoogleHostedDomain: with HostedDomain set, only an ID token
// whose hd is that domain logs in, whatever its email says; hd is sent as
// a hint.
func TestSec36GoogleHostedDomain(t *testing.T) {
	google := func(hd string) func(*oidctest.Server, *testclock.Clock) Config {
		return func(s *oidctest.Server, clk *testclock.Clock) Config {
			return Google(GoogleConfig{ClientID: s.ClientID, ClientSecret: s.ClientSecret, HostedDomain: hd,
				HTTPClient: s.HTTPClient(5 * time.Second), Now: clk.Now})
		}
	}
	tests := []struct {
		name, configured string
		hd               any // nil: no hd claim
		want             string
	}{
		{"matching hd", "Example.com", "example.com", ""},
		{"no hd", "example.com", nil, gatehouse.EAccessDenied},
		{"other hd with an example.com email", "example.com", "other.com", gatehouse.EAccessDenied},
		{"hd of a subdomain", "example.com", "sub.example.com", gatehouse.EAccessDenied},
		{"hd not a string", "example.com", true, gatehouse.EAccessDenied},
		{"no restriction, no hd", "", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := preset(t, oidctest.Options{}, google(tc.configured), true)
			u := oidctest.DefaultUser()
			u.Claims["email"] = "jane@example.com"
			if tc.hd != nil {
				u.Claims["hd"] = tc.hd
			}
			f.s.SetUser(u)
			ap := params()
			q, _ := url.Parse(f.p.AuthCodeURL(ap))
			if got, want := q.Query().Get("hd"), map[bool]string{true: "example.com"}[tc.configured != ""]; got != want {
				t.Errorf("got hd parameter %q, want %q", got, want)
			}
			_, err := f.login(t)
			if code := errorCode(t, err); code != tc.want {
				t.Errorf("got %q (%v), want %q", code, err, tc.want)
			}
		})
	}
	t.Run("bad domain", func(t *testing.T) {
		_, err := New(context.Background(), Google(GoogleConfig{ClientID: "id", ClientSecret: "s", HostedDomain: "a@example.com"}))
		if ce, ok := errors.AsType[*gatehouse.ConfigError](err); !ok || ce.Field != "HostedDomain" {
			t.Errorf("got %v, want a ConfigError for HostedDomain", err)
		}
	})
	if c := Google(GoogleConfig{}); c.Issuer != "https://accounts.google.com" {
		t.Errorf("got issuer %q", c.Issuer)
	}
}

// TestGitLab: a self-managed instance's URL is its issuer (a trailing
// slash dropped), with openid profile email.
func TestGitLab(t *testing.T) {
	f := preset(t, oidctest.Options{}, func(s *oidctest.Server, clk *testclock.Clock) Config {
		return GitLab(GitLabConfig{URL: s.URL + "/", ClientID: s.ClientID, ClientSecret: s.ClientSecret,
			HTTPClient: s.HTTPClient(5 * time.Second), Now: clk.Now})
	}, false)
	u, _ := url.Parse(f.p.AuthCodeURL(params()))
	if got := u.Query().Get("scope"); got != "openid profile email" {
		t.Errorf("got scope %q", got)
	}
	ident, err := f.login(t)
	if err != nil {
		t.Fatal(err)
	}
	if deref(ident.Login) != "j.doe" || !ident.EmailVerified {
		t.Errorf("got login %s verified %v", deref(ident.Login), ident.EmailVerified)
	}
	if c := GitLab(GitLabConfig{}); c.Issuer != "https://gitlab.com" {
		t.Errorf("got issuer %q", c.Issuer)
	}
}

const (
	tenantA   = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	tenantB   = "0b8d8f4e-1b5e-4c6a-9d2e-3f4a5b6c7d8e"
	consumers = "9188040d-6c67-4c5b-b112-36a304b66dad"
)

// microsoft starts a fake Entra ID endpoint for tenant, whose discovery
// document's issuer is docIssuer (with {base} for the server's URL).
func microsoft(t *testing.T, tenant string, allow []string, docIssuer string) *fixture {
	t.Helper()
	return preset(t, oidctest.Options{Path: "/" + tenant + "/v2.0"}, func(s *oidctest.Server, clk *testclock.Clock) Config {
		if docIssuer != "" {
			s.SetDiscovery(func(doc map[string]any) { doc["issuer"] = s.URL + docIssuer })
		}
		return Microsoft(MicrosoftConfig{Tenant: tenant, Tenants: allow, Authority: s.URL, ClientID: s.ClientID,
			ClientSecret: s.ClientSecret, HTTPClient: s.HTTPClient(5 * time.Second), Now: clk.Now})
	}, false)
}

// msUser is an account of tenant tid whose tokens say iss.
func msUser(f *fixture, tid, iss string, extra map[string]any) oidctest.User {
	u := oidctest.User{Subject: "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", Claims: map[string]any{
		"tid": tid, "iss": f.s.URL + iss, "name": "Megan Bowen", "preferred_username": "megan@contoso.example",
		"email": "megan@contoso.example", "email_verified": true,
	}}
	for k, v := range extra {
		u.Claims[k] = v
	}
	return u
}

// TestMicrosoftTenantIssuer: for common and organizations the discovery
// issuer is the {tenantid} template, and each token's iss must be that
// template filled with the token's own tid; consumers answers a fixed
// tenant's issuer; the allow-list admits only its tenants.
func TestMicrosoftTenantIssuer(t *testing.T) {
	tests := []struct {
		name      string
		tenant    string
		allow     []string
		docIssuer string
		tid, iss  string
		want      string
	}{
		{"common, the token's own tenant", "common", nil, "/{tenantid}/v2.0", tenantA, "/" + tenantA + "/v2.0", ""},
		{"organizations, the token's own tenant", "organizations", nil, "/{tenantid}/v2.0", tenantB, "/" + tenantB + "/v2.0", ""},
		{"iss of another tenant than tid", "common", nil, "/{tenantid}/v2.0", tenantA, "/" + tenantB + "/v2.0", gatehouse.EInvalidGrant},
		{"iss is the template itself", "common", nil, "/{tenantid}/v2.0", "{tenantid}", "/{tenantid}/v2.0", gatehouse.EInvalidGrant},
		{"no tid", "common", nil, "/{tenantid}/v2.0", "", "/" + tenantA + "/v2.0", gatehouse.EInvalidGrant},
		{"tid not a tenant id", "common", nil, "/{tenantid}/v2.0", "common", "/common/v2.0", gatehouse.EInvalidGrant},
		{"iss with a v1 path", "common", nil, "/{tenantid}/v2.0", tenantA, "/" + tenantA + "/", gatehouse.EInvalidGrant},
		{"allowed tenant", "organizations", []string{tenantA}, "/{tenantid}/v2.0", tenantA, "/" + tenantA + "/v2.0", ""},
		{"tenant not on the allow-list", "organizations", []string{tenantA}, "/{tenantid}/v2.0", tenantB, "/" + tenantB + "/v2.0", gatehouse.EAccessDenied},
		{"consumers", "consumers", nil, "/" + consumers + "/v2.0", consumers, "/" + consumers + "/v2.0", ""},
		{"one tenant", tenantA, nil, "", tenantA, "/" + tenantA + "/v2.0", ""},
		{"one tenant, token of another", tenantA, nil, "", tenantB, "/" + tenantB + "/v2.0", gatehouse.EInvalidGrant},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := microsoft(t, tc.tenant, tc.allow, tc.docIssuer)
			u := msUser(f, tc.tid, tc.iss, nil)
			if tc.tid == "" {
				delete(u.Claims, "tid")
			}
			f.s.SetUser(u)
			_, err := f.login(t)
			if code := errorCode(t, err); code != tc.want {
				t.Errorf("got %q (%v), want %q", code, err, tc.want)
			}
		})
	}
	t.Run("discovery issuer of another host", func(t *testing.T) {
		clk := newClock()
		s := oidctest.NewServer(t, oidctest.Options{Path: "/common/v2.0", Now: clk.Now})
		s.SetDiscovery(func(doc map[string]any) { doc["issuer"] = "https://evil.example/{tenantid}/v2.0" })
		p, err := New(context.Background(), Microsoft(MicrosoftConfig{Tenant: "common", Authority: s.URL, ClientID: s.ClientID,
			ClientSecret: s.ClientSecret, HTTPClient: s.HTTPClient(5 * time.Second), Now: clk.Now}))
		if err != nil {
			t.Fatal(err)
		}
		if code := errorCode(t, p.Prepare(context.Background())); code != gatehouse.EUnavailable {
			t.Errorf("got %q, want %q", code, gatehouse.EUnavailable)
		}
	})
}

// TestMicrosoftEmailVerified: Microsoft's email counts as verified only
// with xms_edov true, whatever email_verified says (nOAuth).
func TestMicrosoftEmailVerified(t *testing.T) {
	tests := []struct {
		name  string
		extra map[string]any
		want  bool
	}{
		{"no xms_edov", nil, false},
		{"xms_edov true", map[string]any{"xms_edov": true}, true},
		{"xms_edov false", map[string]any{"xms_edov": false}, false},
		{"xms_edov string", map[string]any{"xms_edov": "true"}, false},
		{"xms_edov 1", map[string]any{"xms_edov": 1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := microsoft(t, "common", nil, "/{tenantid}/v2.0")
			f.s.SetUser(msUser(f, tenantA, "/"+tenantA+"/v2.0", tc.extra))
			ident, err := f.login(t)
			if err != nil {
				t.Fatal(err)
			}
			if ident.EmailVerified != tc.want {
				t.Errorf("got email_verified %v, want %v", ident.EmailVerified, tc.want)
			}
			if n := f.s.Count(oidctest.UserinfoPath); n != 0 {
				t.Errorf("got %d userinfo requests, want 0", n)
			}
		})
	}
}

func TestMicrosoftRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name  string
		c     MicrosoftConfig
		field string
	}{
		{"no tenant", MicrosoftConfig{}, "Tenant"},
		{"tenant as a domain name", MicrosoftConfig{Tenant: "contoso.onmicrosoft.com"}, "Tenant"},
		{"allow-list with one tenant", MicrosoftConfig{Tenant: tenantA, Tenants: []string{tenantA}}, "Tenants"},
		{"allow-list entry not a tenant id", MicrosoftConfig{Tenant: "common", Tenants: []string{"contoso"}}, "Tenants"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.ClientID, tc.c.ClientSecret = "id", "secret"
			_, err := New(context.Background(), Microsoft(tc.c))
			if ce, ok := errors.AsType[*gatehouse.ConfigError](err); !ok || ce.Field != tc.field {
				t.Errorf("got %v, want a ConfigError for %s", err, tc.field)
			}
		})
	}
}
