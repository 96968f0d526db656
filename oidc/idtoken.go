package oidc

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/oauth"
	"golang.org/x/oauth2"
)

// identity verifies the ID token of a token response, reads userinfo if
// the issuer has it, and returns the identity.
func (p *Provider) identity(ctx context.Context, d *discovered, tok *oauth2.Token, ap gatehouse.AuthParams) (*gatehouse.Identity, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, &gatehouse.Error{Code: gatehouse.EUpstream, Message: "the provider sent no ID token",
			Err: errors.New("token response without id_token")}
	}
	claims, err := p.verify(ctx, d, raw, ap.Nonce)
	if err != nil {
		return nil, err
	}
	verified := p.c.emailVerified
	if verified == nil {
		verified = emailVerified
	}
	sub, _ := claims.str("sub")
	prof := profile(claims, verified)
	if d.userinfo != "" {
		info, err := p.userinfo(ctx, d.userinfo, tok.AccessToken)
		if err != nil {
			return nil, err
		}
		if got, ok := info.str("sub"); !ok || got != sub {
			return nil, &gatehouse.Error{Code: gatehouse.EUpstream, Message: "the provider's userinfo names another user",
				Err: errors.New("userinfo sub differs from the ID token's")}
		}
		merge(&prof, profile(info, verified), info)
	}
	return &gatehouse.Identity{Subject: sub, Profile: prof}, nil
}

// keysError classifies a failure to read the issuer's JWKS.
func keysError(err error) error {
	if _, ok := errors.AsType[*gatehouse.Error](err); ok {
		return err
	}
	if errors.Is(err, errTooSoon) {
		return &gatehouse.Error{Code: gatehouse.EUnavailable, Message: "the provider's keys cannot be read; try again later",
			RetryAfter: KeyRefetchInterval, Err: err}
	}
	return &gatehouse.Error{Code: gatehouse.EUpstream, Message: "the provider's keys cannot be read", Err: err}
}

// invalidToken is the error of an ID token that fails a check.
func invalidToken(format string, args ...any) error {
	return &gatehouse.Error{Code: gatehouse.EInvalidGrant, Message: "the provider's ID token is invalid",
		Err: fmt.Errorf("ID token: "+format, args...)}
}

// verify checks raw completely and returns its claims: the signature
// against the issuer's keys with an advertised asymmetric algorithm, iss,
// aud and azp, exp, iat and nbf within Leeway, sub, the nonce, and the
// preset's own rules.
func (p *Provider) verify(ctx context.Context, d *discovered, raw, nonce string) (claimSet, error) {
	failure := new(fetchFailure)
	tok, err := d.verifier.Verify(withFetchFailure(ctx, failure), raw)
	if failure.err != nil {
		// The issuer's JWKS could not be read: not the token's fault.
		return nil, keysError(failure.err)
	}
	if err != nil {
		return nil, invalidToken("%v", err)
	}
	var claims claimSet
	if err := tok.Claims(&claims); err != nil {
		return nil, invalidToken("%v", err)
	}
	if p.c.tenantIssuer {
		if err := checkTenantIssuer(d.issuer, tok.Issuer, claims); err != nil {
			return nil, err
		}
	}
	if len(p.c.tenants) > 0 {
		tid, _ := claims.str("tid")
		if !slices.Contains(p.c.tenants, strings.ToLower(tid)) {
			return nil, &gatehouse.Error{Code: gatehouse.EAccessDenied, Message: "this organization may not sign in here",
				Err: fmt.Errorf("tenant %q is not allowed", oauth.Printable(tid))}
		}
	}
	// go-oidc checked that aud contains our client id; azp it leaves to us
	// (Core section 3.1.3.7, items 4 and 5).
	azp, hasAzp := claims.str("azp")
	if hasAzp && azp != p.c.ClientID {
		return nil, invalidToken("azp %q is not our client id", oauth.Printable(azp))
	}
	if len(tok.Audience) > 1 && !hasAzp {
		return nil, invalidToken("several audiences and no azp")
	}
	if sub, ok := claims.str("sub"); !ok || sub == "" {
		return nil, invalidToken("no sub")
	}
	now := p.now()
	exp, err := claims.time("exp", true)
	if err != nil {
		return nil, err
	}
	if now.After(exp.Add(Leeway)) {
		return nil, invalidToken("expired at %s", exp.UTC().Format(time.RFC3339))
	}
	iat, err := claims.time("iat", true)
	if err != nil {
		return nil, err
	}
	if iat.After(now.Add(Leeway)) {
		return nil, invalidToken("issued in the future, at %s", iat.UTC().Format(time.RFC3339))
	}
	if nbf, err := claims.time("nbf", false); err != nil {
		return nil, err
	} else if nbf.After(now.Add(Leeway)) {
		return nil, invalidToken("not valid before %s", nbf.UTC().Format(time.RFC3339))
	}
	if nonce == "" || subtle.ConstantTimeCompare([]byte(tok.Nonce), []byte(nonce)) != 1 {
		return nil, invalidToken("the nonce is missing or not this login's")
	}
	if p.c.hostedDomain != "" {
		hd, _ := claims.str("hd")
		if hd != p.c.hostedDomain {
			return nil, &gatehouse.Error{Code: gatehouse.EAccessDenied, Message: "this account is not in the allowed domain",
				Err: fmt.Errorf("hd %q is not %q", oauth.Printable(hd), p.c.hostedDomain)}
		}
	}
	return claims, nil
}

// tenantID is the shape of a Microsoft Entra tenant id.
var tenantID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// checkTenantIssuer checks the iss of a token from a multi-tenant issuer
// whose discovery issuer is the template tmpl: it must be tmpl with
// {tenantid} replaced by the token's own tid, exactly.
func checkTenantIssuer(tmpl, iss string, claims claimSet) error {
	tid, _ := claims.str("tid")
	if !tenantID.MatchString(tid) {
		return invalidToken("tid %q is not a tenant id", oauth.Printable(tid))
	}
	if want := strings.Replace(tmpl, "{tenantid}", tid, 1); iss != want {
		return invalidToken("issued by %q, not %q", oauth.Printable(iss), want)
	}
	return nil
}

// tenantTemplate returns issuer with its first path segment (the tenant)
// replaced by {tenantid}.
func tenantTemplate(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil {
		return ""
	}
	seg := strings.SplitN(strings.TrimPrefix(u.Path, "/"), "/", 2)
	if len(seg) != 2 {
		return ""
	}
	return u.Scheme + "://" + u.Host + "/{tenantid}/" + seg[1]
}

// tenantIssuerMatches reports whether got, a multi-tenant discovery
// document's issuer, is the template of issuer, or issuer for one tenant
// id (what the consumers endpoint answers).
func tenantIssuerMatches(issuer, got string) bool {
	tmpl := tenantTemplate(issuer)
	if tmpl == "" {
		return false
	}
	if got == tmpl {
		return true
	}
	prefix, suffix, _ := strings.Cut(tmpl, "{tenantid}")
	tid, ok := strings.CutPrefix(got, prefix)
	if !ok {
		return false
	}
	tid, ok = strings.CutSuffix(tid, suffix)
	return ok && tenantID.MatchString(tid)
}

// claimSet is a JSON object of claims, each kept raw so that a claim of an
// unexpected type is read as absent rather than failing the whole set.
type claimSet map[string]json.RawMessage

// str returns the claim name if it is a JSON string.
func (c claimSet) str(name string) (string, bool) {
	var s string
	if raw, ok := c[name]; !ok || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// ptr returns the claim name as a *string, nil unless it is a JSON string.
func (c claimSet) ptr(name string) *string {
	if s, ok := c.str(name); ok {
		return &s
	}
	return nil
}

// isTrue reports whether the claim name is the boolean true or, when
// orString is set, the string "true".
func (c claimSet) isTrue(name string, orString bool) bool {
	raw := strings.TrimSpace(string(c[name]))
	return raw == "true" || orString && raw == `"true"`
}

// time returns the claim name as a NumericDate: a JSON number, never a
// string. A required claim that is absent is an error.
func (c claimSet) time(name string, required bool) (time.Time, error) {
	raw, ok := c[name]
	if !ok {
		if required {
			return time.Time{}, invalidToken("no %s", name)
		}
		return time.Time{}, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil || strings.HasPrefix(strings.TrimSpace(string(raw)), `"`) {
		return time.Time{}, invalidToken("%s is not a number", name)
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 1<<40 {
		return time.Time{}, invalidToken("%s is out of range", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// emailVerified is the default rule: the issuer vouches for the email only
// with email_verified true, or the string "true" that some issuers send.
func emailVerified(c claimSet) bool { return c.isTrue("email_verified", true) }

// profile maps standard claims to a profile.
func profile(c claimSet, verified func(claimSet) bool) gatehouse.Profile {
	p := gatehouse.Profile{
		Login:   c.ptr("preferred_username"),
		Name:    c.ptr("name"),
		Email:   c.ptr("email"),
		Picture: c.ptr("picture"),
	}
	p.EmailVerified = p.Email != nil && verified(c)
	return p
}

// merge lays the userinfo profile over the ID token's: a claim userinfo
// has replaces the token's, and the email comes with its own verification
// from the same source.
func merge(p *gatehouse.Profile, info gatehouse.Profile, raw claimSet) {
	if info.Login != nil {
		p.Login = info.Login
	}
	if info.Name != nil {
		p.Name = info.Name
	}
	if info.Picture != nil {
		p.Picture = info.Picture
	}
	if _, ok := raw["email"]; ok {
		p.Email, p.EmailVerified = info.Email, info.EmailVerified
	}
}

// userinfo reads the userinfo endpoint with the access token.
func (p *Provider) userinfo(ctx context.Context, u, accessToken string) (claimSet, error) {
	req, err := oauth.NewRequest(ctx, u, accessToken)
	if err != nil {
		return nil, err
	}
	var info claimSet
	if err := oauth.GetJSON(p.client, req, &info); err != nil {
		return nil, oauth.APIError(err)
	}
	return info, nil
}
