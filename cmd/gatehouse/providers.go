package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/devlogin"
	"github.com/gatehouse/gatehouse/github"
	"github.com/gatehouse/gatehouse/login"
	"github.com/gatehouse/gatehouse/metrics"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/oidc"
	"github.com/gatehouse/gatehouse/server"
)

// The login providers, in the order GET /auth/providers lists them:
// GitHub, Google, GitLab, Microsoft, then the generic OpenID Connect
// providers in the order GATEHOUSE_OIDC_PROVIDERS names them, then the
// development login.

// builtinNames are the names of the built-in providers, which a generic
// provider cannot take.
var builtinNames = []string{"github", "google", "gitlab", "microsoft", "dev"}

// genericOIDC holds the settings of one provider of GATEHOUSE_OIDC_PROVIDERS.
type genericOIDC struct {
	Name         string
	Issuer       string
	ClientID     string
	ClientSecret string
	Scopes       string
	DisplayName  string
	RedirectURL  string
}

// genericEnv is the variable of one setting of the generic provider name:
// GATEHOUSE_OIDC_<NAME>_<SETTING>, with the name upper-cased and its
// hyphens as underscores.
func genericEnv(name, setting string) string {
	return "GATEHOUSE_OIDC_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_" + setting
}

// genericSettings are the settings of the generic providers in c.generic.
func (c *config) genericSettings() []setting {
	var out []setting
	for i := range c.generic {
		g := &c.generic[i]
		flag := func(s string) string { return "oidc-" + g.Name + "-" + s }
		out = append(out,
			setting{genericEnv(g.Name, "ISSUER"), flag("issuer"), "", "issuer URL of the OpenID Connect provider " + g.Name, &g.Issuer},
			setting{genericEnv(g.Name, "CLIENT_ID"), flag("client-id"), "", "client id at " + g.Name, &g.ClientID},
			setting{genericEnv(g.Name, "CLIENT_SECRET"), flag("client-secret"), "", "client secret at " + g.Name + " (prefer the environment variable)", &g.ClientSecret},
			setting{genericEnv(g.Name, "SCOPES"), flag("scopes"), "openid profile email", "space- or comma-separated scopes asked of " + g.Name, &g.Scopes},
			setting{genericEnv(g.Name, "DISPLAY_NAME"), flag("display-name"), g.Name, "name of " + g.Name + " on login buttons", &g.DisplayName},
			setting{genericEnv(g.Name, "REDIRECT_URL"), flag("redirect-url"), "", "callback URL registered at " + g.Name + " (default: APP_URL/auth/" + g.Name + ")", &g.RedirectURL},
		)
	}
	return out
}

var genericName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// genericNames reads the list of generic providers from the
// --oidc-providers flag in args if there is one, else from
// GATEHOUSE_OIDC_PROVIDERS: it decides which other settings exist, so it is
// read before the rest.
func genericNames(args []string, getenv func(string) string) ([]genericOIDC, error) {
	raw := getenv("GATEHOUSE_OIDC_PROVIDERS")
	for i, a := range args {
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "oidc-providers" {
			continue
		}
		if !hasVal && i+1 < len(args) {
			val = args[i+1]
		}
		raw = val
	}
	var out []genericOIDC
	for _, n := range splitList(raw) {
		switch {
		case !genericName.MatchString(n):
			return nil, fmt.Errorf("GATEHOUSE_OIDC_PROVIDERS: %q is not a provider name (lower-case letters, digits and hyphens)", n)
		case slices.Contains(builtinNames, n) || slices.Contains(login.ReservedNames, n):
			return nil, fmt.Errorf("GATEHOUSE_OIDC_PROVIDERS: %q is taken by a built-in provider or route", n)
		case slices.ContainsFunc(out, func(g genericOIDC) bool { return g.Name == n }):
			return nil, fmt.Errorf("GATEHOUSE_OIDC_PROVIDERS: %q is listed twice", n)
		}
		out = append(out, genericOIDC{Name: n})
	}
	return out, nil
}

// oidcProvider is an OpenID Connect provider as the settings describe it,
// checked but not yet discovered.
type oidcProvider struct {
	name, displayName, redirectURL string
	cfg                            oidc.Config
	// env maps the oidc.Config fields to the variables that set them.
	env map[string]string
}

// oidcProviders builds and checks the OpenID Connect providers the
// settings configure, in listing order. A provider is configured when its
// client id or secret is set; both are then required.
func (c *config) oidcProviders() ([]oidcProvider, error) {
	var out []oidcProvider
	add := func(p oidcProvider, idEnv, secretEnv string) error {
		switch {
		case p.cfg.ClientID == "" && p.cfg.ClientSecret == "":
			return nil
		case p.cfg.ClientSecret == "":
			return fmt.Errorf("%s is required when %s is set", secretEnv, idEnv)
		case p.cfg.ClientID == "":
			return fmt.Errorf("%s is required when %s is set", idEnv, secretEnv)
		}
		p.env["ClientID"], p.env["ClientSecret"] = idEnv, secretEnv
		if err := p.cfg.Check(); err != nil {
			return providerError(err, p.env)
		}
		out = append(out, p)
		return nil
	}
	if err := add(oidcProvider{name: "google", displayName: "Google", cfg: oidc.Google(oidc.GoogleConfig{
		ClientID: c.GoogleClientID, ClientSecret: c.GoogleClientSecret, HostedDomain: c.GoogleHostedDomain,
	}), env: map[string]string{"HostedDomain": "GATEHOUSE_GOOGLE_HOSTED_DOMAIN"}},
		"GATEHOUSE_GOOGLE_CLIENT_ID", "GATEHOUSE_GOOGLE_CLIENT_SECRET"); err != nil {
		return nil, err
	}
	if err := add(oidcProvider{name: "gitlab", displayName: "GitLab", cfg: oidc.GitLab(oidc.GitLabConfig{
		URL: c.GitLabURL, ClientID: c.GitLabClientID, ClientSecret: c.GitLabClientSecret,
	}), env: map[string]string{"Issuer": "GATEHOUSE_GITLAB_URL"}},
		"GATEHOUSE_GITLAB_CLIENT_ID", "GATEHOUSE_GITLAB_CLIENT_SECRET"); err != nil {
		return nil, err
	}
	if c.MicrosoftClientID != "" && c.MicrosoftTenant == "" {
		return nil, errors.New("GATEHOUSE_MICROSOFT_TENANT is required with GATEHOUSE_MICROSOFT_CLIENT_ID: common, organizations, consumers or your tenant id")
	}
	if err := add(oidcProvider{name: "microsoft", displayName: "Microsoft", cfg: oidc.Microsoft(oidc.MicrosoftConfig{
		ClientID: c.MicrosoftClientID, ClientSecret: c.MicrosoftClientSecret,
		Tenant: c.MicrosoftTenant, Tenants: splitList(c.MicrosoftAllowedTenants),
	}), env: map[string]string{"Tenant": "GATEHOUSE_MICROSOFT_TENANT", "Tenants": "GATEHOUSE_MICROSOFT_ALLOWED_TENANTS"}},
		"GATEHOUSE_MICROSOFT_CLIENT_ID", "GATEHOUSE_MICROSOFT_CLIENT_SECRET"); err != nil {
		return nil, err
	}
	for _, g := range c.generic {
		if g.Issuer == "" {
			return nil, fmt.Errorf("%s is required: %s is in GATEHOUSE_OIDC_PROVIDERS", genericEnv(g.Name, "ISSUER"), g.Name)
		}
		if g.RedirectURL != "" {
			if _, err := server.ParseBaseURL(genericEnv(g.Name, "REDIRECT_URL"), g.RedirectURL, c.InsecureAllowHTTP); err != nil {
				return nil, err
			}
		}
		idEnv, secretEnv := genericEnv(g.Name, "CLIENT_ID"), genericEnv(g.Name, "CLIENT_SECRET")
		if g.ClientID == "" && g.ClientSecret == "" {
			return nil, fmt.Errorf("%s and %s are required: %s is in GATEHOUSE_OIDC_PROVIDERS", idEnv, secretEnv, g.Name)
		}
		p := oidcProvider{name: g.Name, displayName: g.DisplayName, redirectURL: g.RedirectURL,
			cfg: oidc.Config{Issuer: g.Issuer, ClientID: g.ClientID, ClientSecret: g.ClientSecret,
				Scopes: strings.FieldsFunc(g.Scopes, func(r rune) bool { return r == ' ' || r == ',' })},
			env: map[string]string{"Issuer": genericEnv(g.Name, "ISSUER"), "Scopes": genericEnv(g.Name, "SCOPES")}}
		if err := add(p, idEnv, secretEnv); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// providerError names the variable behind a provider Config field in err.
func providerError(err error, env map[string]string) error {
	if ce, ok := errors.AsType[*gatehouse.ConfigError](err); ok {
		if name, ok := env[ce.Field]; ok {
			return fmt.Errorf("%s: %w", name, ce.Err)
		}
	}
	return err
}

// discoveryTimeout bounds the reading of each OpenID Connect provider's
// discovery document at startup; a provider not reached by then is
// retried on its first login.
const discoveryTimeout = 5 * time.Second

// loginProviders builds the providers users can log in with, and mounts
// the development login's pages on mux when it is enabled.
func (c *config) loginProviders(ctx context.Context, ln net.Listener, mux *http.ServeMux, m *metrics.Metrics, log *slog.Logger) ([]server.Provider, error) {
	var providers []server.Provider
	if c.GitHubClientID != "" {
		gh, err := github.New(github.Config{
			ClientID:     c.GitHubClientID,
			ClientSecret: c.GitHubClientSecret,
			URL:          c.GitHubURL,
			APIURL:       c.GitHubAPIURL,
			HTTPClient:   providerClient(m, "github", nil),
		})
		if err != nil {
			return nil, err
		}
		providers = append(providers, server.Provider{Name: "github", DisplayName: "GitHub", RedirectURL: c.GitHubRedirectURL, Provider: gh})
	}
	for _, op := range c.oidc {
		op.cfg.HTTPClient = providerClient(m, op.name, op.cfg.HTTPClient)
		p, err := discover(ctx, op.cfg)
		if err != nil {
			return nil, providerError(err, op.env)
		}
		if err := p.Prepare(ctx); err != nil {
			log.Warn("an OpenID Connect provider could not be reached; its logins answer 503 until it can", "provider", op.name, "issuer", op.cfg.Issuer, "err", err)
		}
		providers = append(providers, server.Provider{Name: op.name, DisplayName: op.displayName, RedirectURL: op.redirectURL, Provider: p})
	}
	if c.devLogin {
		p, dev, err := c.devProvider(ctx, ln, m)
		if err != nil {
			return nil, err
		}
		providers = append(providers, p)
		mux.Handle(devlogin.Prefix+"/", dev)
		log.Warn("the development login provider is enabled: anyone on this machine can sign in as anyone; it refuses every other client")
	}
	return providers, nil
}

// discover returns the provider of cfg, reading its discovery document
// within discoveryTimeout.
func discover(ctx context.Context, cfg oidc.Config) (*oidc.Provider, error) {
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	return oidc.New(ctx, cfg)
}

// devProvider starts the development login and returns the provider that
// signs into it, and the development login's server. The development login is an OpenID Connect issuer, and
// Gatehouse reaches it through the generic OpenID Connect provider like any
// other: discovery, the token endpoint, the JWKS and userinfo through its
// in-process client, never through ln; only its authorize page is on the
// listener, for this machine's browsers (under the same proxy rule as the
// server's).
func (c *config) devProvider(ctx context.Context, ln net.Listener, m *metrics.Metrics) (server.Provider, *devlogin.Server, error) {
	appURL := c.AppURL
	if appURL == "" {
		appURL = c.public.String()
	}
	redirect := strings.TrimSuffix(appURL, "/") + "/auth/dev"
	dev, err := devlogin.New(devlogin.Config{
		PublicURL:      c.public.String(),
		RedirectURI:    redirect,
		Listener:       ln.Addr(),
		TrustedProxies: c.trustedProxies,
	})
	if err != nil {
		return server.Provider{}, nil, err
	}
	p, err := discover(ctx, oidc.Config{
		Issuer:            dev.Issuer(),
		ClientID:          dev.ClientID(),
		ClientSecret:      dev.ClientSecret(),
		HTTPClient:        providerClient(m, "dev", dev.HTTPClient()),
		InsecureAllowHTTP: true,
	})
	if err != nil {
		return server.Provider{}, nil, err
	}
	if err := p.Prepare(ctx); err != nil {
		return server.Provider{}, nil, fmt.Errorf("the development login: %w", err)
	}
	// The OpenID Connect provider knows nothing of the loopback rule; the
	// wrapper tells the server to apply it.
	return server.Provider{Name: "dev", DisplayName: "Development login", RedirectURL: redirect,
		Provider: devlogin.LoopbackOnly(p)}, dev, nil
}

// providerClient returns the HTTP client of the provider name: base, or
// nil for the default one, with its calls measured when m is set.
func providerClient(m *metrics.Metrics, name string, base *http.Client) *http.Client {
	if m == nil {
		return base
	}
	if base == nil {
		base = oauth.NewHTTPClient(oauth.DefaultTimeout)
	}
	c := *base
	c.Transport = m.Transport(name, c.Transport)
	return &c
}
