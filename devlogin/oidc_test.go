package devlogin_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gatehouse/gatehouse/devlogin"
	"github.com/gatehouse/gatehouse/devlogin/devlogintest"
	"golang.org/x/oauth2"
)

// rp is a relying party of the dev login built only from its exported API
// and go-oidc, as Gatehouse's OpenID Connect provider is.
type rp struct {
	ctx      context.Context // carries the back-channel client
	provider *oidc.Provider
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// newRP discovers the dev login of f and returns a relying party that
// authenticates to the token endpoint with style.
func newRP(t *testing.T, f *fixture, style oauth2.AuthStyle) *rp {
	t.Helper()
	ctx := oidc.ClientContext(t.Context(), f.dev.HTTPClient())
	p, err := oidc.NewProvider(ctx, f.dev.Issuer())
	if err != nil {
		t.Fatalf("oidc.NewProvider(%q): %v", f.dev.Issuer(), err)
	}
	ep := p.Endpoint()
	ep.AuthStyle = style
	return &rp{
		ctx:      ctx,
		provider: p,
		conf: oauth2.Config{
			ClientID:     f.dev.ClientID(),
			ClientSecret: f.dev.ClientSecret(),
			Endpoint:     ep,
			RedirectURL:  f.dev.RedirectURI(),
			Scopes:       []string{oidc.ScopeOpenID, "profile", "email"},
		},
		verifier: p.Verifier(&oidc.Config{ClientID: f.dev.ClientID(), Now: func() time.Time { return f.now }}),
	}
}

// codeVerifier is the PKCE verifier of the relying party's logins.
var codeVerifier = oauth2.GenerateVerifier()

// login plays the browser: it opens the authorize URL with nonce (none if
// empty) and the S256 challenge of codeVerifier, approves as Ada, and
// returns the code.
func (c *rp) login(t *testing.T, f *fixture, nonce string) string {
	t.Helper()
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(codeVerifier)}
	if nonce != "" {
		opts = append(opts, oidc.Nonce(nonce))
	}
	q, err := devlogintest.Approve(f.client, c.conf.AuthCodeURL("st", opts...), "allow", "Ada Lovelace", "Ada@Example.com")
	if err != nil {
		t.Fatal(err)
	}
	if q.Get("code") == "" || q.Get("state") != "st" {
		t.Fatalf("redirect query: got %v, want a code and state st", q)
	}
	return q.Get("code")
}

// exchange trades code with the relying party's configuration and returns
// the raw ID token, if any, and the token.
func (c *rp) exchange(code string, opts ...oauth2.AuthCodeOption) (string, *oauth2.Token, error) {
	tok, err := c.conf.Exchange(c.ctx, code, opts...)
	if err != nil {
		return "", nil, err
	}
	raw, _ := tok.Extra("id_token").(string)
	return raw, tok, nil
}

// TestOIDCDiscovery: go-oidc accepts the discovery document (its issuer is
// the one configured), and the document says what the issuer does, with
// every endpoint but the browser's on the back-channel.
func TestOIDCDiscovery(t *testing.T) {
	f := newFixture(t)
	c := newRP(t, f, oauth2.AuthStyleInHeader)
	var got struct {
		Issuer                string   `json:"issuer"`
		AuthorizationEndpoint string   `json:"authorization_endpoint"`
		TokenEndpoint         string   `json:"token_endpoint"`
		UserinfoEndpoint      string   `json:"userinfo_endpoint"`
		JWKSURI               string   `json:"jwks_uri"`
		ResponseTypes         []string `json:"response_types_supported"`
		SubjectTypes          []string `json:"subject_types_supported"`
		SigningAlgs           []string `json:"id_token_signing_alg_values_supported"`
		Scopes                []string `json:"scopes_supported"`
		AuthMethods           []string `json:"token_endpoint_auth_methods_supported"`
		ChallengeMethods      []string `json:"code_challenge_methods_supported"`
		Claims                []string `json:"claims_supported"`
	}
	if err := c.provider.Claims(&got); err != nil {
		t.Fatal(err)
	}
	back := devlogin.BackchannelURL + devlogin.Prefix
	strs := []struct {
		name      string
		got, want string
	}{
		{"issuer", got.Issuer, back},
		{"authorization_endpoint", got.AuthorizationEndpoint, publicURL + devlogin.Prefix + "/authorize"},
		{"token_endpoint", got.TokenEndpoint, back + "/token"},
		{"userinfo_endpoint", got.UserinfoEndpoint, back + "/userinfo"},
		{"jwks_uri", got.JWKSURI, back + "/jwks"},
	}
	for _, s := range strs {
		if s.got != s.want {
			t.Errorf("%s: got %q, want %q", s.name, s.got, s.want)
		}
	}
	lists := []struct {
		name      string
		got, want []string
	}{
		{"response_types_supported", got.ResponseTypes, []string{"code"}},
		{"subject_types_supported", got.SubjectTypes, []string{"public"}},
		{"id_token_signing_alg_values_supported", got.SigningAlgs, []string{"ES256"}},
		{"scopes_supported", got.Scopes, []string{"openid", "profile", "email"}},
		{"token_endpoint_auth_methods_supported", got.AuthMethods, []string{"client_secret_basic", "client_secret_post"}},
		{"code_challenge_methods_supported", got.ChallengeMethods, []string{"S256"}},
		{"claims_supported", got.Claims, []string{"iss", "sub", "aud", "azp", "exp", "iat", "nonce",
			"name", "preferred_username", "email", "email_verified"}},
	}
	for _, l := range lists {
		if !slices.Equal(l.got, l.want) {
			t.Errorf("%s: got %q, want %q", l.name, l.got, l.want)
		}
	}
	if got := c.provider.UserInfoEndpoint(); got != back+"/userinfo" {
		t.Errorf("go-oidc's userinfo endpoint: got %q, want %q", got, back+"/userinfo")
	}
}

// TestOIDCLoginRoundTrip: a full login with go-oidc: its verifier accepts
// the ID token, which carries the nonce and the claims, and userinfo names
// the same subject.
func TestOIDCLoginRoundTrip(t *testing.T) {
	f := newFixture(t)
	c := newRP(t, f, oauth2.AuthStyleInHeader)
	const nonce = "n-0S6_WzA2Mj"
	raw, tok, err := c.exchange(c.login(t, f, nonce), oauth2.VerifierOption(codeVerifier))
	if err != nil {
		t.Fatal(err)
	}
	if raw == "" {
		t.Fatal("the token response has no id_token")
	}
	idt, err := c.verifier.Verify(c.ctx, raw)
	if err != nil {
		t.Fatalf("go-oidc Verify: %v", err)
	}
	if idt.Nonce != nonce {
		t.Errorf("nonce: got %q, want %q", idt.Nonce, nonce)
	}
	var claims struct {
		AZP               string `json:"azp"`
		Name              string `json:"name"`
		PreferredUsername string `json:"preferred_username"`
		Email             string `json:"email"`
		EmailVerified     any    `json:"email_verified"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"iss", idt.Issuer, f.dev.Issuer()},
		{"aud", strings.Join(idt.Audience, " "), f.dev.ClientID()},
		{"azp", claims.AZP, f.dev.ClientID()},
		{"iat", idt.IssuedAt.Unix(), f.now.Unix()},
		{"exp", idt.Expiry.Unix(), f.now.Add(5 * time.Minute).Unix()},
		{"sub has the dev prefix", strings.HasPrefix(idt.Subject, "dev-"), true},
		{"name", claims.Name, "Ada Lovelace"},
		{"preferred_username", claims.PreferredUsername, "ada"},
		{"email", claims.Email, "Ada@Example.com"},
		{"email_verified is a boolean true", claims.EmailVerified, true},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("ID token %s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}

	header := jwtHeader(t, raw)
	keys := fetchJWKS(t, f, c)
	if header["alg"] != "ES256" || header["typ"] != "JWT" {
		t.Errorf("ID token header: got %v, want alg ES256 and typ JWT", header)
	}
	if len(keys) != 1 || header["kid"] == nil || header["kid"] != keys[0]["kid"] {
		t.Errorf("ID token kid: got %v, want the kid of the only key in %v", header["kid"], keys)
	}

	ui, err := c.provider.UserInfo(c.ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("go-oidc UserInfo: %v", err)
	}
	var uc struct {
		Name              string `json:"name"`
		PreferredUsername string `json:"preferred_username"`
	}
	if err := ui.Claims(&uc); err != nil {
		t.Fatal(err)
	}
	if ui.Subject != idt.Subject || ui.Email != "Ada@Example.com" || !ui.EmailVerified || uc.Name != "Ada Lovelace" || uc.PreferredUsername != "ada" {
		t.Errorf("userinfo: got sub %q email %q verified %v name %q login %q, want sub %q and the ID token's claims",
			ui.Subject, ui.Email, ui.EmailVerified, uc.Name, uc.PreferredUsername, idt.Subject)
	}
	// The access token reads the userinfo once: a login reads it right
	// after the exchange, and the token then holds no place in memory.
	if _, err := c.provider.UserInfo(c.ctx, oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("a second UserInfo with the same access token succeeded; want it refused")
	}

	// The same token, five minutes later, is expired.
	f.now = f.now.Add(5*time.Minute + time.Second)
	var expired *oidc.TokenExpiredError
	if _, err := c.verifier.Verify(c.ctx, raw); !errors.As(err, &expired) {
		t.Errorf("Verify after 5 minutes: got %v, want a *oidc.TokenExpiredError", err)
	}
}

// TestIDTokenFollowsTheRequest: an ID token is issued when the openid
// scope is asked for, and carries the nonce exactly when one was sent.
func TestIDTokenFollowsTheRequest(t *testing.T) {
	cases := []struct {
		name   string
		scopes []string
		nonce  string
		wantID bool
	}{
		{"openid with a nonce", []string{"openid", "profile", "email"}, "abc", true},
		{"openid with the longest nonce", []string{"openid"}, strings.Repeat("n", 255), true},
		{"openid without a nonce", []string{"openid", "email"}, "", true},
		{"no openid", []string{"profile", "email"}, "abc", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			c := newRP(t, f, oauth2.AuthStyleInParams)
			c.conf.Scopes = tc.scopes
			raw, tok, err := c.exchange(c.login(t, f, tc.nonce), oauth2.VerifierOption(codeVerifier))
			if err != nil {
				t.Fatal(err)
			}
			if got := raw != ""; got != tc.wantID {
				t.Fatalf("id_token in the response: got %v, want %v", got, tc.wantID)
			}
			if tok.AccessToken == "" {
				t.Error("no access_token in the response")
			}
			if !tc.wantID {
				return
			}
			idt, err := c.verifier.Verify(c.ctx, raw)
			if err != nil {
				t.Fatalf("go-oidc Verify: %v", err)
			}
			if idt.Nonce != tc.nonce {
				t.Errorf("nonce: got %q, want %q", idt.Nonce, tc.nonce)
			}
		})
	}
}

// TestOIDCTokenEndpointRefuses: the token endpoint enforces PKCE and the
// client's authentication for an OpenID Connect client too.
func TestOIDCTokenEndpointRefuses(t *testing.T) {
	cases := []struct {
		name  string
		style oauth2.AuthStyle
		mod   func(c *oauth2.Config)
		opts  []oauth2.AuthCodeOption
		want  string
	}{
		{"wrong PKCE verifier", oauth2.AuthStyleInHeader, nil,
			[]oauth2.AuthCodeOption{oauth2.VerifierOption(oauth2.GenerateVerifier())}, "invalid_grant"},
		{"no PKCE verifier", oauth2.AuthStyleInHeader, nil, nil, "invalid_grant"},
		{"wrong secret, client_secret_basic", oauth2.AuthStyleInHeader, func(c *oauth2.Config) { c.ClientSecret = "guess" },
			[]oauth2.AuthCodeOption{oauth2.VerifierOption(codeVerifier)}, "invalid_client"},
		{"wrong secret, client_secret_post", oauth2.AuthStyleInParams, func(c *oauth2.Config) { c.ClientSecret = "guess" },
			[]oauth2.AuthCodeOption{oauth2.VerifierOption(codeVerifier)}, "invalid_client"},
		{"no secret", oauth2.AuthStyleInParams, func(c *oauth2.Config) { c.ClientSecret = "" },
			[]oauth2.AuthCodeOption{oauth2.VerifierOption(codeVerifier)}, "invalid_client"},
		{"other client", oauth2.AuthStyleInHeader, func(c *oauth2.Config) { c.ClientID = "other" },
			[]oauth2.AuthCodeOption{oauth2.VerifierOption(codeVerifier)}, "invalid_client"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			c := newRP(t, f, tc.style)
			code := c.login(t, f, "abc")
			if tc.mod != nil {
				tc.mod(&c.conf)
			}
			_, _, err := c.exchange(code, tc.opts...)
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != tc.want {
				t.Errorf("Exchange: got %v, want the error %s", err, tc.want)
			}
		})
	}
}

// TestOIDCAuthMethodsMatchTheTokenEndpoint: the token endpoint accepts a
// client authentication method exactly when the discovery document lists
// it.
func TestOIDCAuthMethodsMatchTheTokenEndpoint(t *testing.T) {
	styles := map[string]oauth2.AuthStyle{
		"client_secret_basic": oauth2.AuthStyleInHeader,
		"client_secret_post":  oauth2.AuthStyleInParams,
	}
	f := newFixture(t)
	var meta struct {
		Methods []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := newRP(t, f, oauth2.AuthStyleInHeader).provider.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	for _, m := range meta.Methods {
		if _, ok := styles[m]; !ok {
			t.Errorf("the discovery document lists %q, which this test cannot try", m)
		}
	}
	for method, style := range styles {
		t.Run(method, func(t *testing.T) {
			c := newRP(t, f, style)
			raw, _, err := c.exchange(c.login(t, f, "abc"), oauth2.VerifierOption(codeVerifier))
			if listed := slices.Contains(meta.Methods, method); (err == nil && raw != "") != listed {
				t.Errorf("exchange with %s: got error %v, want it to succeed exactly if listed (%v)", method, err, listed)
			}
		})
	}
}

// TestJWKSHasNoPrivateMembers: the published key set holds the public
// signing key only.
func TestJWKSHasNoPrivateMembers(t *testing.T) {
	f := newFixture(t)
	keys := fetchJWKS(t, f, newRP(t, f, oauth2.AuthStyleInHeader))
	if len(keys) != 1 {
		t.Fatalf("keys: got %d, want 1", len(keys))
	}
	for _, k := range keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %v has the private member %q", k["kid"], private)
			}
		}
		if k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["use"] != "sig" || k["kid"] == "" {
			t.Errorf("key: got %v, want an EC P-256 ES256 signing key with a kid", k)
		}
	}
}

// fetchJWKS returns the keys at the discovery document's jwks_uri, fetched
// through the back-channel.
func fetchJWKS(t *testing.T, f *fixture, c *rp) []map[string]any {
	t.Helper()
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := c.provider.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	resp, err := f.dev.HTTPClient().Get(meta.JWKSURI)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &set) != nil {
		t.Fatalf("GET %s: HTTP %d: %s", meta.JWKSURI, resp.StatusCode, body)
	}
	return set.Keys
}

// jwtHeader returns the decoded protected header of a compact JWS.
func jwtHeader(t *testing.T, raw string) map[string]any {
	t.Helper()
	head, _, ok := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if !ok || err != nil {
		t.Fatalf("ID token %q: not a compact JWS (%v)", raw, err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}
