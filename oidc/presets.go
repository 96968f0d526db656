package oidc

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

// The presets below are Configs for well-known issuers: the issuer URL and
// the quirks each needs checked. Pass the result to New; a preset's own
// bad field comes back from New as a *gatehouse.ConfigError naming it.

// GoogleIssuer is Google's issuer. Its ID tokens sometimes say
// "accounts.google.com" without the scheme, which go-oidc accepts for this
// issuer only.
const GoogleIssuer = "https://accounts.google.com"

// GoogleConfig configures Sign in with Google.
type GoogleConfig struct {
	ClientID     string
	ClientSecret string
	// HostedDomain, if set, admits only accounts of that Google Workspace
	// domain: the ID token's hd claim must equal it. It is also sent as
	// the hd parameter, which only preselects accounts at Google and is
	// no check by itself.
	HostedDomain string
	Scopes       []string
	AuthParams   map[string]string
	HTTPClient   *http.Client
	Now          func() time.Time
}

var domainName = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)

// Google returns the Config of Google's issuer.
func Google(g GoogleConfig) Config {
	c := Config{Issuer: GoogleIssuer, ClientID: g.ClientID, ClientSecret: g.ClientSecret,
		Scopes: g.Scopes, AuthParams: g.AuthParams, HTTPClient: g.HTTPClient, Now: g.Now}
	if g.HostedDomain != "" {
		hd := strings.ToLower(g.HostedDomain)
		if !domainName.MatchString(hd) {
			c.configErr = gatehouse.ConfigErrorf("HostedDomain", "%q is not a domain name", g.HostedDomain)
		}
		c.hostedDomain = hd
		c.AuthParams = cloneWith(g.AuthParams, "hd", hd)
	}
	return c
}

// GitLabURL is gitlab.com, the default GitLabConfig.URL.
const GitLabURL = "https://gitlab.com"

// GitLabConfig configures GitLab (gitlab.com or a self-managed instance)
// as an OpenID Connect issuer.
type GitLabConfig struct {
	// URL is the instance's address, which is its issuer; it defaults to
	// GitLabURL.
	URL          string
	ClientID     string
	ClientSecret string
	// Scopes default to openid profile email.
	Scopes     []string
	AuthParams map[string]string
	HTTPClient *http.Client
	Now        func() time.Time
}

// GitLab returns the Config of a GitLab instance.
func GitLab(g GitLabConfig) Config {
	issuer := strings.TrimSuffix(g.URL, "/")
	if issuer == "" {
		issuer = GitLabURL
	}
	return Config{Issuer: issuer, ClientID: g.ClientID, ClientSecret: g.ClientSecret,
		Scopes: g.Scopes, AuthParams: g.AuthParams, HTTPClient: g.HTTPClient, Now: g.Now}
}

// MicrosoftAuthority is the address of Microsoft Entra ID's global cloud,
// the default MicrosoftConfig.Authority.
const MicrosoftAuthority = "https://login.microsoftonline.com"

// MicrosoftConfig configures Microsoft Entra ID (work, school and personal
// Microsoft accounts) through its v2.0 endpoints.
type MicrosoftConfig struct {
	ClientID     string
	ClientSecret string
	// Tenant is required: "common" (any organization and personal
	// accounts), "organizations", "consumers" (personal accounts), or a
	// tenant id (a GUID) for that organization only.
	Tenant string
	// Tenants, for the first three, admits only tokens whose tid is one
	// of these tenant ids.
	Tenants []string
	// Authority defaults to MicrosoftAuthority; set it for a national
	// cloud.
	Authority  string
	Scopes     []string
	AuthParams map[string]string
	HTTPClient *http.Client
	Now        func() time.Time
}

// Microsoft returns the Config of Microsoft Entra ID. The issuer is
// {Authority}/{Tenant}/v2.0. For common, organizations and consumers the
// discovery document's issuer is the template {Authority}/{tenantid}/v2.0
// (or a fixed tenant's issuer): each ID token's iss must be that template
// filled with the token's own tid, exactly.
//
// Microsoft's email claim is not verified for many accounts (any tenant
// admin can set it, the "nOAuth" attack), so the email counts as verified
// only when the token carries the optional claim xms_edov as true, which
// the app registration must request. The userinfo endpoint, which knows
// no xms_edov, is not used: the ID token has the same claims.
func Microsoft(m MicrosoftConfig) Config {
	authority := strings.TrimSuffix(m.Authority, "/")
	if authority == "" {
		authority = MicrosoftAuthority
	}
	tenant := strings.ToLower(m.Tenant)
	c := Config{Issuer: authority + "/" + tenant + "/v2.0", ClientID: m.ClientID, ClientSecret: m.ClientSecret,
		Scopes: m.Scopes, AuthParams: m.AuthParams, HTTPClient: m.HTTPClient, Now: m.Now,
		emailVerified: func(c claimSet) bool { return c.isTrue("xms_edov", false) },
		skipUserinfo:  true}
	multi := slices.Contains([]string{"common", "organizations", "consumers"}, tenant)
	switch {
	case !multi && !tenantID.MatchString(tenant):
		c.configErr = gatehouse.ConfigErrorf("Tenant", "%q is not common, organizations, consumers or a tenant id", m.Tenant)
	case !multi && len(m.Tenants) > 0:
		c.configErr = gatehouse.ConfigErrorf("Tenants", "applies to common, organizations and consumers only")
	}
	for _, t := range m.Tenants {
		if !tenantID.MatchString(strings.ToLower(t)) {
			c.configErr = gatehouse.ConfigErrorf("Tenants", "%q is not a tenant id", t)
		}
		c.tenants = append(c.tenants, strings.ToLower(t))
	}
	c.tenantIssuer = multi
	return c
}

func cloneWith(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for mk, mv := range m {
		if mk != k {
			out[mk] = mv
		}
	}
	return out
}
