// Package oidc logs users in with any OpenID Connect issuer: a Provider is
// configured with the issuer URL, a client id and secret, and scopes, and
// learns everything else from the issuer's discovery document. It runs on
// the oauth engine (PKCE S256, a JSON-only token endpoint, timeouts and
// size limits) and on github.com/coreos/go-oidc/v3 for the ID token's
// signature, issuer and audience, and adds the checks go-oidc leaves to its
// caller: the nonce, azp, iat, a leeway of at most a minute, and a JWKS
// cache that refetches on an unknown key id at a bounded pace.
//
// The identity is keyed on the ID token's sub. The profile comes from the
// ID token's claims and, when the issuer has a userinfo endpoint, from
// userinfo, whose sub must be the same. An email counts as verified only
// when the issuer says so with email_verified true (or the string "true").
//
// An issuer that cannot be reached when New runs does not stop Gatehouse:
// the Provider is returned anyway and reads the discovery document again
// on first use, at most once per DiscoveryRetryInterval; until then it
// answers EUnavailable (see Prepare).
//
// Google, GitLab and Microsoft return the Config of those issuers, with
// their quirks checked.
package oidc

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/oauth"
	"golang.org/x/oauth2"
)

// DefaultScopes ask for the ID token, the profile and the email address.
var DefaultScopes = []string{"openid", "profile", "email"}

// Bounds of the calls to the issuer.
const (
	// DiscoveryRetryInterval is the least time between two attempts to
	// read the discovery document while the issuer is unreachable.
	DiscoveryRetryInterval = 10 * time.Second
	// KeyRefetchInterval is the least time between two fetches of the
	// issuer's JWKS, so that tokens with made-up key ids cannot make
	// Gatehouse hammer the issuer.
	KeyRefetchInterval = 30 * time.Second
	// KeyCacheTTL is how long fetched keys are used before the JWKS is
	// read again, so that a key the issuer dropped stops verifying.
	KeyCacheTTL = time.Hour
	// Leeway is the clock skew allowed on exp, iat and nbf.
	Leeway = time.Minute
)

// SigningAlgorithms are the ID token algorithms Gatehouse accepts, of
// those the issuer advertises: asymmetric ones only, never none or an HMAC
// keyed with the client secret.
var SigningAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Config configures an OpenID Connect provider.
type Config struct {
	// Issuer is the issuer's URL exactly as its discovery document and its
	// ID tokens spell it (a trailing slash matters): https, or http on a
	// loopback host for development. The discovery document is read from
	// Issuer + "/.well-known/openid-configuration".
	Issuer       string
	ClientID     string
	ClientSecret string
	// Scopes default to DefaultScopes and must include openid.
	Scopes []string
	// AuthParams are extra parameters of the authorization URL, such as
	// prompt or login_hint. The parameters Gatehouse sets itself (state,
	// nonce, code_challenge*, redirect_uri, response_type, client_id,
	// scope) are refused.
	AuthParams map[string]string
	// HTTPClient, if set, makes every call to the issuer; it must have a
	// timeout. Nil means oauth.NewHTTPClient(oauth.DefaultTimeout).
	HTTPClient *http.Client
	// Now returns the current time, for the ID token's time claims and
	// the pace of retries; nil means time.Now.
	Now func() time.Time
	// InsecureAllowHTTP accepts a plain-http Issuer on any host. The
	// development login's issuer is one: everything but its authorization
	// endpoint is reached in-process, through HTTPClient. It MUST NOT be
	// set for an issuer reached over a network.
	InsecureAllowHTTP bool

	// The quirks of the presets (google.go, microsoft.go).
	hostedDomain string
	// tenantIssuer: the discovery document's issuer is a template with
	// {tenantid}, which each ID token's tid fills in.
	tenantIssuer bool
	tenants      []string
	// emailVerified, if set, replaces the email_verified rule.
	emailVerified func(claimSet) bool
	skipUserinfo  bool
	// configErr is a preset's own configuration error, which New returns.
	configErr error
}

// Provider is a gatehouse.Provider for an OpenID Connect issuer. It
// implements gatehouse.Preparer. It is safe for concurrent use.
type Provider struct {
	c      Config
	client *http.Client
	now    func() time.Time
	scopes []string
	params url.Values

	mu      sync.Mutex
	ready   *discovered
	lastTry time.Time
	lastErr error
	trying  chan struct{} // closed when the attempt in flight ends
}

// discovered is what the discovery document gives: the engine with the
// issuer's endpoints, and the ID token verifier.
type discovered struct {
	issuer   string // the document's issuer (a template for tenantIssuer)
	engine   *oauth.Provider
	verifier *oidc.IDTokenVerifier
	keys     *keySet
	userinfo string
}

// Check reports the first bad field of c as a *gatehouse.ConfigError,
// without reaching the issuer. New calls it; a command line calls it to
// refuse bad settings before it starts anything.
func (c Config) Check() error {
	if c.configErr != nil {
		return c.configErr
	}
	if err := checkIssuer(c.Issuer, c.InsecureAllowHTTP); err != nil {
		return gatehouse.ConfigErrorf("Issuer", "%v", err)
	}
	switch {
	case c.ClientID == "":
		return gatehouse.ConfigErrorf("ClientID", "is required")
	case c.ClientSecret == "":
		return gatehouse.ConfigErrorf("ClientSecret", "is required")
	case c.HTTPClient != nil && c.HTTPClient.Timeout <= 0:
		return gatehouse.ConfigErrorf("HTTPClient", "must have a timeout")
	}
	scopes := c.Scopes
	if scopes == nil {
		scopes = DefaultScopes
	}
	if !slices.Contains(scopes, "openid") {
		return gatehouse.ConfigErrorf("Scopes", "must include openid")
	}
	for _, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			return gatehouse.ConfigErrorf("Scopes", "%q is not a scope", oauth.Printable(s))
		}
	}
	for k := range c.AuthParams {
		if k == "" || oauth.IsReservedParam(k) {
			return gatehouse.ConfigErrorf("AuthParams", "cannot set %q: Gatehouse sets it", oauth.Printable(k))
		}
	}
	return nil
}

// New checks c and returns a provider. It reads the issuer's discovery
// document once; if that fails the provider is returned anyway, and
// Prepare reports the failure (the caller should log it) until a later
// attempt succeeds. The error, for a bad c only, is a
// *gatehouse.ConfigError naming the field.
func New(ctx context.Context, c Config) (*Provider, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	scopes := c.Scopes
	if scopes == nil {
		scopes = DefaultScopes
	}
	params := url.Values{}
	for _, k := range slices.Sorted(maps.Keys(c.AuthParams)) {
		params.Set(k, c.AuthParams[k])
	}
	p := &Provider{c: c, client: c.HTTPClient, now: c.Now, scopes: slices.Clone(scopes), params: params}
	if p.client == nil {
		p.client = oauth.NewHTTPClient(oauth.DefaultTimeout)
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.discover(ctx)
	return p, nil
}

// checkIssuer reports whether s can be an issuer: an absolute https URL (or
// http on a loopback host, or anywhere if insecure) without query, fragment
// or user info.
func checkIssuer(s string, insecure bool) error {
	u, err := url.Parse(s)
	if err != nil || s == "" {
		return fmt.Errorf("%q is not a URL", oauth.Printable(s))
	}
	if u.Host == "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q must be an absolute URL without query, fragment or user info", oauth.Printable(s))
	}
	if u.Scheme != "https" && (u.Scheme != "http" || !(insecure || isLoopback(u.Hostname()))) {
		return fmt.Errorf("%q must be https (http only on a loopback host)", oauth.Printable(s))
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Prepare reports whether a login can start now: nil once the issuer's
// discovery document has been read. Before that it reads the document, at
// most once per DiscoveryRetryInterval and with one attempt in flight
// (other callers wait for it); a failure is an EUnavailable *gatehouse.Error
// with RetryAfter, whose Err says why, for the operator's log.
func (p *Provider) Prepare(ctx context.Context) error {
	_, err := p.discover(ctx)
	return err
}

// AuthCodeURL returns the issuer's authorization URL for one login, with
// the nonce, the S256 challenge, the scopes and Config.AuthParams. It
// returns "" while the discovery document has not been read: callers call
// Prepare first.
func (p *Provider) AuthCodeURL(ap gatehouse.AuthParams) string {
	p.mu.Lock()
	d := p.ready
	p.mu.Unlock()
	if d == nil {
		return ""
	}
	return d.engine.AuthCodeURL(ap)
}

// Exchange trades code for tokens at the issuer's token endpoint, verifies
// the ID token completely (signature, iss, aud, azp, exp, iat, nbf, nonce)
// and returns the identity it names. ID token failures are EInvalidGrant;
// a misbehaving issuer is EUpstream.
func (p *Provider) Exchange(ctx context.Context, code string, ap gatehouse.AuthParams) (*gatehouse.Identity, error) {
	d, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	return d.engine.Exchange(ctx, code, ap)
}

// discover returns the discovered issuer, reading the document if it has
// not been read and the retry pace allows.
func (p *Provider) discover(ctx context.Context) (*discovered, error) {
	p.mu.Lock()
	if d := p.ready; d != nil {
		p.mu.Unlock()
		return d, nil
	}
	if ch := p.trying; ch != nil {
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, &gatehouse.Error{Code: gatehouse.EUnavailable, Message: "the provider is unreachable; try again later",
				RetryAfter: time.Second, Err: ctx.Err()}
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.ready != nil {
			return p.ready, nil
		}
		return nil, p.unavailable()
	}
	if !p.lastTry.IsZero() && p.now().Sub(p.lastTry) < DiscoveryRetryInterval {
		defer p.mu.Unlock()
		return nil, p.unavailable()
	}
	p.lastTry = p.now()
	ch := make(chan struct{})
	p.trying = ch
	p.mu.Unlock()

	// The attempt outlives a caller that gives up: others wait for it.
	// The client's timeout bounds it.
	d, err := p.readDiscovery(context.WithoutCancel(ctx))

	p.mu.Lock()
	defer p.mu.Unlock()
	p.trying = nil
	close(ch)
	if err != nil {
		p.lastErr = err
		return nil, p.unavailable()
	}
	p.ready = d
	return d, nil
}

// unavailable is the error of a provider whose discovery has failed; p.mu
// is held.
func (p *Provider) unavailable() error {
	wait := max(p.lastTry.Add(DiscoveryRetryInterval).Sub(p.now()), 0)
	return &gatehouse.Error{Code: gatehouse.EUnavailable, Message: "the provider is unreachable; try again later",
		RetryAfter: max(wait.Round(time.Second), time.Second), Err: fmt.Errorf("oidc: issuer %s: %w", p.c.Issuer, p.lastErr)}
}

// document is the part of the discovery document Gatehouse reads (OpenID
// Connect Discovery 1.0, section 3).
type document struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	UserinfoEndpoint      string   `json:"userinfo_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	SigningAlgs           []string `json:"id_token_signing_alg_values_supported"`
	// AuthMethods nil means the member is absent: client_secret_basic.
	AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
}

func (p *Provider) readDiscovery(ctx context.Context) (*discovered, error) {
	u := strings.TrimSuffix(p.c.Issuer, "/") + "/.well-known/openid-configuration"
	var doc document
	if err := getJSON(ctx, p.client, u, &doc); err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	if err := p.checkDocumentIssuer(doc.Issuer); err != nil {
		return nil, err
	}
	for name, e := range map[string]string{"authorization_endpoint": doc.AuthorizationEndpoint,
		"token_endpoint": doc.TokenEndpoint, "jwks_uri": doc.JWKSURI} {
		if err := checkIssuer(e, p.c.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("discovery: %s: %w", name, err)
		}
	}
	userinfo := doc.UserinfoEndpoint
	if userinfo != "" {
		if err := checkIssuer(userinfo, p.c.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("discovery: userinfo_endpoint: %w", err)
		}
	}
	if p.c.skipUserinfo {
		userinfo = ""
	}
	algs := signingAlgs(doc.SigningAlgs)
	if len(algs) == 0 {
		return nil, fmt.Errorf("discovery: the issuer signs ID tokens with none of %v", SigningAlgorithms)
	}
	style, err := authStyle(doc.AuthMethods)
	if err != nil {
		return nil, err
	}
	d := &discovered{issuer: doc.Issuer, userinfo: userinfo,
		keys: newKeySet(doc.JWKSURI, p.client, p.now, algs)}
	d.verifier = oidc.NewVerifier(doc.Issuer, d.keys, &oidc.Config{
		ClientID:             p.c.ClientID,
		SupportedSigningAlgs: algs,
		// exp and nbf are checked with our leeway, beside iat.
		SkipExpiryCheck: true,
		// A template issuer is checked against each token's tid
		// (checkTenantIssuer), never skipped.
		SkipIssuerCheck: p.c.tenantIssuer,
		Now:             p.now,
	})
	d.engine, err = oauth.New(oauth.Config{
		ClientID:     p.c.ClientID,
		ClientSecret: p.c.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   doc.AuthorizationEndpoint,
			TokenURL:  doc.TokenEndpoint,
			AuthStyle: style,
		},
		Scopes:        p.scopes,
		HTTPClient:    p.client,
		AuthURLParams: p.params,
		SendNonce:     true,
		Identity: func(ctx context.Context, client *http.Client, tok *oauth2.Token, ap gatehouse.AuthParams) (*gatehouse.Identity, error) {
			return p.identity(ctx, d, tok, ap)
		},
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// checkDocumentIssuer checks the discovery document's issuer: it must be
// Config.Issuer exactly (Discovery section 4.3), or for a multi-tenant
// Microsoft endpoint that issuer with its tenant segment replaced by
// {tenantid}.
func (p *Provider) checkDocumentIssuer(got string) error {
	if p.c.tenantIssuer {
		if !tenantIssuerMatches(p.c.Issuer, got) {
			return fmt.Errorf("discovery: the document's issuer %q is neither %q nor a tenant's", oauth.Printable(got), tenantTemplate(p.c.Issuer))
		}
		return nil
	}
	if got != p.c.Issuer {
		return fmt.Errorf("discovery: the document's issuer %q is not %q", oauth.Printable(got), p.c.Issuer)
	}
	return nil
}

// signingAlgs returns the algorithms of advertised that Gatehouse accepts.
// An issuer that advertises none (the member is required) is taken to use
// RS256, the one algorithm every issuer must support.
func signingAlgs(advertised []string) []string {
	if advertised == nil {
		return []string{"RS256"}
	}
	var algs []string
	for _, a := range advertised {
		if slices.Contains(SigningAlgorithms, a) && !slices.Contains(algs, a) {
			algs = append(algs, a)
		}
	}
	return algs
}

// authStyle picks the client authentication: client_secret_basic when the
// issuer lists it or lists nothing (the default of Discovery section 3),
// else client_secret_post.
func authStyle(methods []string) (oauth2.AuthStyle, error) {
	switch {
	case methods == nil || slices.Contains(methods, "client_secret_basic"):
		return oauth2.AuthStyleInHeader, nil
	case slices.Contains(methods, "client_secret_post"):
		return oauth2.AuthStyleInParams, nil
	}
	return 0, errors.New("discovery: the token endpoint supports neither client_secret_basic nor client_secret_post")
}

// getJSON reads a JSON document of at most oauth.MaxResponseSize bytes.
func getJSON(ctx context.Context, client *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Gatehouse")
	if err := oauth.GetJSON(client, req, v); err != nil {
		return oauth.APIError(err)
	}
	return nil
}

var _ gatehouse.Preparer = (*Provider)(nil)
