package server

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/oidc"
	"github.com/gatehouse/gatehouse/oidc/oidctest"
)

// These tests run each OpenID Connect preset through a real Server over
// HTTP, against a fake issuer: the login, the code exchange, the profile
// /me shows, and once per preset the answer its quirk maps to. The checks
// themselves are tested in package oidc.

// Microsoft tenants: msTenant is on the allow-list, msOtherTenant is not.
const (
	msTenant      = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	msOtherTenant = "0b8d8f4e-1b5e-4c6a-9d2e-3f4a5b6c7d8e"
)

// issuer is a fake OpenID Connect issuer and the provider a preset builds
// for it.
type issuer struct {
	name string // the provider's name
	path string // where the issuer lives on the fake
	// config returns the preset's Config, pointed at s.
	config func(s *oidctest.Server, now func() time.Time) oidc.Config
	// down makes the issuer unreachable when the server starts.
	down bool
	// fake is the issuer, once newEnv has started it.
	fake *oidctest.Server
}

func googleIssuer(hd string) *issuer {
	return &issuer{name: "google", config: func(s *oidctest.Server, now func() time.Time) oidc.Config {
		c := oidc.Google(oidc.GoogleConfig{ClientID: s.ClientID, ClientSecret: s.ClientSecret, HostedDomain: hd,
			HTTPClient: s.HTTPClient(5 * time.Second), Now: now})
		c.Issuer = s.Issuer()
		return c
	}}
}

func gitLabIssuer() *issuer {
	return &issuer{name: "gitlab", config: func(s *oidctest.Server, now func() time.Time) oidc.Config {
		return oidc.GitLab(oidc.GitLabConfig{URL: s.URL, ClientID: s.ClientID, ClientSecret: s.ClientSecret,
			HTTPClient: s.HTTPClient(5 * time.Second), Now: now})
	}}
}

// microsoftIssuer is Entra ID's organizations endpoint, whose discovery
// document names the {tenantid} template, admitting msTenant only.
func microsoftIssuer() *issuer {
	return &issuer{name: "microsoft", path: "/organizations/v2.0", config: func(s *oidctest.Server, now func() time.Time) oidc.Config {
		s.SetDiscovery(func(doc map[string]any) { doc["issuer"] = s.URL + "/{tenantid}/v2.0" })
		return oidc.Microsoft(oidc.MicrosoftConfig{Tenant: "organizations", Tenants: []string{msTenant}, Authority: s.URL,
			ClientID: s.ClientID, ClientSecret: s.ClientSecret, HTTPClient: s.HTTPClient(5 * time.Second), Now: now})
	}}
}

func genericIssuer() *issuer {
	return &issuer{name: "acme", path: "/realms/acme", config: func(s *oidctest.Server, now func() time.Time) oidc.Config {
		return oidc.Config{Issuer: s.Issuer(), ClientID: s.ClientID, ClientSecret: s.ClientSecret,
			HTTPClient: s.HTTPClient(5 * time.Second), Now: now}
	}}
}

// msAccount is a work account of tenant tid whose ID tokens say they come
// from tenant iss, with extra claims.
func msAccount(s *oidctest.Server, tid, iss string, extra map[string]any) oidctest.User {
	u := oidctest.User{Subject: "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", Claims: map[string]any{
		"tid": tid, "iss": s.URL + "/" + iss + "/v2.0", "name": "Megan Bowen",
		"preferred_username": "megan@contoso.example", "email": "megan@contoso.example", "email_verified": true,
	}}
	for k, v := range extra {
		u.Claims[k] = v
	}
	return u
}

// withIssuers makes the server's providers those of issuers, each with a
// fake issuer on the env's clock that accepts only the provider's
// redirect_uri.
func withIssuers(issuers ...*issuer) func(*envOptions) {
	return func(o *envOptions) {
		o.providers = func(e *env) []Provider {
			var ps []Provider
			for _, is := range issuers {
				is.fake = oidctest.NewServer(e.t, oidctest.Options{Path: is.path, Now: e.clock.Now,
					RedirectURI: e.ts.URL + "/auth/" + is.name})
				is.fake.SetDown(is.down)
				p, err := oidc.New(context.Background(), is.config(is.fake, e.clock.Now))
				if err != nil {
					e.t.Fatal(err)
				}
				ps = append(ps, Provider{Name: is.name, Provider: p})
			}
			return ps
		}
	}
}

// oidcFinish plays the user approving authURL at is and posts the code
// and state from browser b, as the app would.
func (e *env) oidcFinish(b *http.Client, is *issuer, authURL string) *response {
	e.t.Helper()
	code, err := is.fake.Authorize(authURL)
	if err != nil {
		e.t.Fatalf("the fake issuer refused the authorization URL: %v", err)
	}
	return e.authorize(b, is.name, map[string]string{"code": code, "state": mustURL(e.t, authURL).Query().Get("state")})
}

// oidcLogin runs a whole sign-in at is in browser b.
func (e *env) oidcLogin(b *http.Client, is *issuer) *response {
	e.t.Helper()
	return e.oidcFinish(b, is, e.startLogin(b, is.name).String())
}

// TestOIDCPresets: each preset signs in over HTTP through a real server,
// and /me shows the profile its rules map; each preset's quirk refuses
// (or demotes) what it should, with the right status, storing nothing.
func TestOIDCPresets(t *testing.T) {
	jane := map[string]any{"name": "Jane Doe", "login": "j.doe", "email": "jane@example.com",
		"email_verified": true, "picture": "https://pictures.example/jane.png"}
	megan := func(verified bool) map[string]any {
		return map[string]any{"name": "Megan Bowen", "login": "megan@contoso.example",
			"email": "megan@contoso.example", "email_verified": verified}
	}
	withHD := func(hd string) func(*oidctest.Server) oidctest.User {
		return func(*oidctest.Server) oidctest.User {
			u := oidctest.DefaultUser()
			u.Claims["hd"] = hd
			return u
		}
	}
	tests := []struct {
		name   string
		issuer *issuer
		// user is the account that signs in; nil is oidctest.DefaultUser.
		user func(s *oidctest.Server) oidctest.User
		// idToken and userinfo, if set, edit the claims the fake sends.
		idToken  func(s *oidctest.Server, claims map[string]any)
		userinfo func(claims map[string]any)
		status   int
		code     string         // of a refusal
		cause    string         // in the refusal's audit line
		me       map[string]any // members of /me after a sign-in
	}{
		{name: "google", issuer: googleIssuer("example.com"), user: withHD("example.com"), status: 200, me: jane},
		{name: "google hd of another domain", issuer: googleIssuer("example.com"), user: withHD("other.com"),
			status: 403, code: gatehouse.EAccessDenied, cause: `hd \"other.com\" is not \"example.com\"`},
		{name: "gitlab", issuer: gitLabIssuer(), status: 200, me: jane},
		{name: "microsoft", issuer: microsoftIssuer(), user: func(s *oidctest.Server) oidctest.User {
			return msAccount(s, msTenant, msTenant, map[string]any{"xms_edov": true})
		}, status: 200, me: megan(true)},
		{name: "microsoft email without xms_edov", issuer: microsoftIssuer(), user: func(s *oidctest.Server) oidctest.User {
			return msAccount(s, msTenant, msTenant, nil)
		}, status: 200, me: megan(false)},
		{name: "microsoft tenant not on the allow-list", issuer: microsoftIssuer(), user: func(s *oidctest.Server) oidctest.User {
			return msAccount(s, msOtherTenant, msOtherTenant, map[string]any{"xms_edov": true})
		}, status: 403, code: gatehouse.EAccessDenied, cause: "is not allowed"},
		{name: "microsoft iss of another tenant than tid", issuer: microsoftIssuer(), user: func(s *oidctest.Server) oidctest.User {
			return msAccount(s, msTenant, msOtherTenant, map[string]any{"xms_edov": true})
		}, status: 400, code: gatehouse.EInvalidGrant, cause: "ID token: issued by"},
		{name: "microsoft azp of another client", issuer: microsoftIssuer(), user: func(s *oidctest.Server) oidctest.User {
			return msAccount(s, msTenant, msTenant, map[string]any{"xms_edov": true})
		}, idToken: func(s *oidctest.Server, c map[string]any) {
			c["aud"], c["azp"] = []string{s.ClientID, "other-client"}, "other-client"
		}, status: 400, code: gatehouse.EInvalidGrant, cause: "is not our client id"},
		{name: "generic, the profile from userinfo", issuer: genericIssuer(), userinfo: func(c map[string]any) {
			c["name"] = "Jane Q. Doe"
		}, status: 200, me: map[string]any{"name": "Jane Q. Doe", "login": "j.doe", "email": "jane@example.com", "email_verified": true}},
		{name: "generic nonce of another login", issuer: genericIssuer(), idToken: func(_ *oidctest.Server, c map[string]any) {
			c["nonce"] = randomToken()
		}, status: 400, code: gatehouse.EInvalidGrant, cause: "the nonce is missing or not this login's"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, withIssuers(tc.issuer))
			s := tc.issuer.fake
			u := oidctest.DefaultUser()
			if tc.user != nil {
				u = tc.user(s)
			}
			s.SetUser(u)
			if tc.idToken != nil {
				s.SetIDToken(func(c map[string]any) string {
					tc.idToken(s, c)
					return s.Sign(c)
				})
			}
			s.SetUserinfo(tc.userinfo)
			r := e.oidcLogin(e.browser, tc.issuer)
			if tc.code != "" {
				wantError(t, r, tc.status, tc.code)
				if logs := e.logs.String(); !strings.Contains(logs, "result=failure reason="+tc.code) || !strings.Contains(logs, tc.cause) {
					t.Errorf("no audit line of the refusal with %q in:\n%s", tc.cause, logs)
				}
				if e.count("users") != 0 || e.count("identities") != 0 || e.count("sessions") != 0 {
					t.Errorf("users %d identities %d sessions %d, want none", e.count("users"), e.count("identities"), e.count("sessions"))
				}
				return
			}
			if r.status != tc.status {
				t.Fatalf("authorize = %d %s, want %d", r.status, r.body, tc.status)
			}
			me := e.me(r.json(t)["access_token"].(string))
			if me.status != http.StatusOK {
				t.Fatalf("GET /me = %d %s", me.status, me.body)
			}
			got := me.json(t)
			for k, want := range tc.me {
				if got[k] != want {
					t.Errorf("/me %s = %v, want %v", k, got[k], want)
				}
			}
			if id, want := e.query(`SELECT provider || ' ' || subject FROM identities`), tc.issuer.name+" "+u.Subject; id != want {
				t.Errorf("identity = %q, want %q", id, want)
			}
			if n := s.Count(oidctest.TokenPath); n != 1 {
				t.Errorf("token requests = %d, want 1", n)
			}
		})
	}
}

// TestOIDCIssuerDownAtStart: an issuer unreachable when the server starts
// makes its logins 503 temporarily_unavailable with Retry-After, storing
// nothing and asking the issuer nothing more until the retry interval has
// passed; then the login works.
func TestOIDCIssuerDownAtStart(t *testing.T) {
	is := genericIssuer()
	is.down = true
	e := newEnv(t, withIssuers(is))
	r := e.get("/auth/acme/login")
	wantError(t, r, http.StatusServiceUnavailable, gatehouse.EUnavailable)
	if got, want := r.header.Get("Retry-After"), "10"; got != want {
		t.Errorf("Retry-After = %q, want %q", got, want)
	}
	if n := e.count("login_states"); n != 0 {
		t.Errorf("login_states = %d, want 0", n)
	}
	if n := is.fake.Count(oidctest.DiscoveryPath); n != 1 {
		t.Errorf("discovery requests = %d, want 1 (at startup only)", n)
	}

	is.fake.SetDown(false)
	e.clock.Advance(oidc.DiscoveryRetryInterval)
	if r := e.oidcLogin(e.browser, is); r.status != http.StatusOK {
		t.Fatalf("authorize after the issuer came back = %d %s", r.status, r.body)
	}
}

// TestOIDCLinkTwoIssuers: a user signed in through one OpenID Connect
// issuer links an account at another; the same sub at both is two
// identities of the one user.
func TestOIDCLinkTwoIssuers(t *testing.T) {
	acme, google := genericIssuer(), googleIssuer("")
	e := newEnv(t, withIssuers(acme, google))
	r := e.oidcLogin(e.browser, acme)
	if r.status != http.StatusOK {
		t.Fatalf("sign-in = %d %s", r.status, r.body)
	}
	body := r.json(t)
	at, userID := body["access_token"].(string), body["user"].(map[string]any)["id"]

	start := e.startLink(e.browser, "google", at)
	if start.status != http.StatusOK {
		t.Fatalf("link login = %d %s", start.status, start.body)
	}
	r = e.oidcFinish(e.browser, google, start.json(t)["url"].(string))
	if r.status != http.StatusOK || r.json(t)["user"].(map[string]any)["id"] != userID {
		t.Fatalf("link = %d %s, want user %v", r.status, r.body, userID)
	}
	var got []string
	for _, x := range e.identities(at) {
		i := x.(map[string]any)
		got = append(got, i["provider"].(string)+" "+i["subject"].(string))
	}
	sub := oidctest.DefaultUser().Subject
	if want := []string{"acme " + sub, "google " + sub}; !slices.Equal(got, want) {
		t.Errorf("identities %v, want %v", got, want)
	}
	if e.count("users") != 1 {
		t.Errorf("users = %d, want 1", e.count("users"))
	}
}
