package oidc

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/oidc/oidctest"
)

// flip flips one bit of the token's part (0 header, 1 payload, 2
// signature), in a character that stays valid base64url.
func flip(tok string, part int) string {
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[part])
	if err != nil {
		panic(err)
	}
	b[len(b)/2] ^= 0x01
	parts[part] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// TestIDTokenAttacks covers checklist cases 38 to 44 and 46: each ID token
// is refused with invalid_grant before userinfo is called, and the
// variants within the rules (leeway, azp equal to us, an ignored jku) are
// accepted.
func TestIDTokenAttacks(t *testing.T) {
	var attackerHits atomic.Int32
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attackerHits.Add(1)
	}))
	t.Cleanup(attacker.Close)
	attackerKey := oidctest.NewKey("RS256")
	now := newClock().Now() // the fixtures' clocks start here and do not move

	tests := []struct {
		name string
		// token makes the ID token from the claims the issuer would sign.
		token func(s *oidctest.Server, claims map[string]any) string
		want  string // "" for accepted
	}{
		// Case 41: the issuer.
		{"wrong iss", func(s *oidctest.Server, c map[string]any) string { c["iss"] = "https://evil.example"; return s.Sign(c) }, gatehouse.EInvalidGrant},
		{"iss with a trailing slash", func(s *oidctest.Server, c map[string]any) string { c["iss"] = s.Issuer() + "/"; return s.Sign(c) }, gatehouse.EInvalidGrant},
		{"iss over http", func(s *oidctest.Server, c map[string]any) string {
			c["iss"] = strings.Replace(s.Issuer(), "https://", "http://", 1)
			return s.Sign(c)
		}, gatehouse.EInvalidGrant},
		{"iss accounts.google.com at another issuer", func(s *oidctest.Server, c map[string]any) string {
			c["iss"] = "accounts.google.com"
			return s.Sign(c)
		}, gatehouse.EInvalidGrant},
		{"no iss", func(s *oidctest.Server, c map[string]any) string { delete(c, "iss"); return s.Sign(c) }, gatehouse.EInvalidGrant},
		// Case 42: the audience and azp.
		{"wrong aud", func(s *oidctest.Server, c map[string]any) string { c["aud"] = "other-client"; return s.Sign(c) }, gatehouse.EInvalidGrant},
		{"no aud", func(s *oidctest.Server, c map[string]any) string { delete(c, "aud"); return s.Sign(c) }, gatehouse.EInvalidGrant},
		{"extra audience without azp", func(s *oidctest.Server, c map[string]any) string {
			c["aud"] = []string{s.ClientID, "other"}
			return s.Sign(c)
		}, gatehouse.EInvalidGrant},
		{"extra audience with another azp", func(s *oidctest.Server, c map[string]any) string {
			c["aud"], c["azp"] = []string{s.ClientID, "other"}, "other"
			return s.Sign(c)
		}, gatehouse.EInvalidGrant},
		{"azp of another client", func(s *oidctest.Server, c map[string]any) string { c["azp"] = "other"; return s.Sign(c) }, gatehouse.EInvalidGrant},
		{"extra audience with our azp", func(s *oidctest.Server, c map[string]any) string {
			c["aud"], c["azp"] = []string{s.ClientID, "other"}, s.ClientID
			return s.Sign(c)
		}, ""},
		// Case 43: sub and the time claims.
		{"no sub", func(s *oidctest.Server, c map[string]any) string { delete(c, "sub"); return s.Sign(c) }, gatehouse.EInvalidGrant},
		{"empty sub", func(s *oidctest.Server, c map[string]any) string { c["sub"] = ""; return s.Sign(c) }, gatehouse.EInvalidGrant},
		{"expired beyond the leeway", func(s *oidctest.Server, c map[string]any) string {
			c["exp"] = now.Add(-Leeway - time.Second).Unix()
			return s.Sign(c)
		}, gatehouse.EInvalidGrant},
		{"expired within the leeway", func(s *oidctest.Server, c map[string]any) string {
			c["exp"] = now.Add(-Leeway + time.Second).Unix()
			return s.Sign(c)
		}, ""},
		{"no exp", func(s *oidctest.Server, c map[string]any) string { delete(c, "exp"); return s.Sign(c) }, gatehouse.EInvalidGrant},
		{"exp as a string", func(s *oidctest.Server, c map[string]any) string {
			c["exp"] = "9999999999"
			return s.Sign(c)
		}, gatehouse.EInvalidGrant},
		{"iat in the future beyond the leeway", func(s *oidctest.Server, c map[string]any) string {
			c["iat"] = now.Add(Leeway + time.Second).Unix()
			return s.Sign(c)
		}, gatehouse.EInvalidGrant},
		{"iat in the future within the leeway", func(s *oidctest.Server, c map[string]any) string {
			c["iat"] = now.Add(Leeway - time.Second).Unix()
			return s.Sign(c)
		}, ""},
		{"no iat", func(s *oidctest.Server, c map[string]any) string { delete(c, "iat"); return s.Sign(c) }, gatehouse.EInvalidGrant},
		{"nbf ten minutes ahead", func(s *oidctest.Server, c map[string]any) string {
			c["nbf"] = now.Add(10 * time.Minute).Unix()
			return s.Sign(c)
		}, gatehouse.EInvalidGrant},
		// Case 44: the nonce.
		{"no nonce", func(s *oidctest.Server, c map[string]any) string { delete(c, "nonce"); return s.Sign(c) }, gatehouse.EInvalidGrant},
		{"empty nonce", func(s *oidctest.Server, c map[string]any) string { c["nonce"] = ""; return s.Sign(c) }, gatehouse.EInvalidGrant},
		{"another login's nonce", func(s *oidctest.Server, c map[string]any) string { c["nonce"] = "another-login"; return s.Sign(c) }, gatehouse.EInvalidGrant},
		// Case 38: alg none in any case.
		{"alg none", func(s *oidctest.Server, c map[string]any) string { return oidctest.SignNone("none", c) }, gatehouse.EInvalidGrant},
		{"alg None", func(s *oidctest.Server, c map[string]any) string { return oidctest.SignNone("None", c) }, gatehouse.EInvalidGrant},
		{"alg NONE", func(s *oidctest.Server, c map[string]any) string { return oidctest.SignNone("NONE", c) }, gatehouse.EInvalidGrant},
		{"alg nOnE", func(s *oidctest.Server, c map[string]any) string { return oidctest.SignNone("nOnE", c) }, gatehouse.EInvalidGrant},
		// Case 39: HMAC keyed with the client secret or the public key.
		{"HS256 with the client secret", func(s *oidctest.Server, c map[string]any) string {
			return oidctest.SignHMAC([]byte(s.ClientSecret), map[string]any{"kid": s.SigningKey().ID}, c)
		}, gatehouse.EInvalidGrant},
		{"HS256 with the public key as DER", func(s *oidctest.Server, c map[string]any) string {
			der, _ := x509.MarshalPKIXPublicKey(s.SigningKey().Private.Public())
			return oidctest.SignHMAC(der, map[string]any{"kid": s.SigningKey().ID}, c)
		}, gatehouse.EInvalidGrant},
		{"HS256 with the public key as PEM", func(s *oidctest.Server, c map[string]any) string {
			der, _ := x509.MarshalPKIXPublicKey(s.SigningKey().Private.Public())
			return oidctest.SignHMAC(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), map[string]any{"kid": s.SigningKey().ID}, c)
		}, gatehouse.EInvalidGrant},
		// Case 40: one flipped bit.
		{"flipped bit in the signature", func(s *oidctest.Server, c map[string]any) string { return flip(s.Sign(c), 2) }, gatehouse.EInvalidGrant},
		{"flipped bit in the payload", func(s *oidctest.Server, c map[string]any) string { return flip(s.Sign(c), 1) }, gatehouse.EInvalidGrant},
		{"flipped bit in the header", func(s *oidctest.Server, c map[string]any) string { return flip(s.Sign(c), 0) }, gatehouse.EInvalidGrant},
		// Case 46: keys named by the token itself.
		{"attacker key named by jku", func(s *oidctest.Server, c map[string]any) string {
			return oidctest.SignWith(attackerKey, map[string]any{"kid": nil, "jku": attacker.URL + "/jwks"}, c)
		}, gatehouse.EInvalidGrant},
		{"attacker key named by x5u", func(s *oidctest.Server, c map[string]any) string {
			return oidctest.SignWith(attackerKey, map[string]any{"x5u": attacker.URL + "/cert.pem"}, c)
		}, gatehouse.EInvalidGrant},
		{"attacker key embedded as jwk", func(s *oidctest.Server, c map[string]any) string {
			return oidctest.SignWith(attackerKey, map[string]any{"kid": nil, "jwk": attackerKey.JWK()}, c)
		}, gatehouse.EInvalidGrant},
		{"issuer's token with a jku header", func(s *oidctest.Server, c map[string]any) string {
			return oidctest.SignWith(s.SigningKey(), map[string]any{"jku": attacker.URL + "/jwks"}, c)
		}, ""},
		{"no kid with the issuer's single key", func(s *oidctest.Server, c map[string]any) string {
			return oidctest.SignWith(s.SigningKey(), map[string]any{"kid": nil}, c)
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, oidctest.Options{})
			f.s.SetIDToken(func(claims map[string]any) string { return tc.token(f.s, claims) })
			ident, err := f.login(t)
			if code := errorCode(t, err, f.s.ClientSecret); code != tc.want {
				t.Fatalf("got %q (%v), want %q", code, err, tc.want)
			}
			if tc.want != "" {
				if ident != nil {
					t.Errorf("got identity %+v with the error", ident)
				}
				if n := f.s.Count(oidctest.UserinfoPath); n != 0 {
					t.Errorf("got %d userinfo requests after a refused ID token, want 0", n)
				}
			}
		})
	}
	if n := attackerHits.Load(); n != 0 {
		t.Errorf("the URLs named by jku, x5u got %d requests, want 0", n)
	}
}

// TestNoIDToken: a token response without an ID token is the issuer's
// fault.
func TestNoIDToken(t *testing.T) {
	f := setup(t, oidctest.Options{})
	f.s.SetIDToken(func(map[string]any) string { return "" })
	_, err := f.login(t)
	if code := errorCode(t, err); code != gatehouse.EUpstream {
		t.Errorf("got %q, want %q", code, gatehouse.EUpstream)
	}
}

// TestSec34EmailVerified: only the boolean true, or the string "true",
// marks the email verified.
func TestSec34EmailVerified(t *testing.T) {
	tests := []struct {
		name  string
		value any // nil: no email_verified claim
		want  bool
	}{
		{"boolean true", true, true},
		{"string true", "true", true},
		{"boolean false", false, false},
		{"string false", "false", false},
		{"number 1", 1, false},
		{"string TRUE", "TRUE", false},
		{"string yes", "yes", false},
		{"missing", nil, false},
	}
	for _, tc := range tests {
		for _, where := range []string{"ID token", "userinfo"} {
			t.Run(tc.name+" in "+where, func(t *testing.T) {
				f := setup(t, oidctest.Options{NoUserinfo: where == "ID token"})
				u := oidctest.DefaultUser()
				delete(u.Claims, "email_verified")
				if tc.value != nil {
					u.Claims["email_verified"] = tc.value
				}
				f.s.SetUser(u)
				ident, err := f.login(t)
				if err != nil {
					t.Fatal(err)
				}
				if ident.EmailVerified != tc.want {
					t.Errorf("got email_verified %v, want %v", ident.EmailVerified, tc.want)
				}
			})
		}
	}
	t.Run("verified in the token, unverified in userinfo", func(t *testing.T) {
		f := setup(t, oidctest.Options{})
		f.s.SetUserinfo(func(c map[string]any) { c["email"], c["email_verified"] = "other@example.com", false })
		ident, err := f.login(t)
		if err != nil {
			t.Fatal(err)
		}
		if deref(ident.Email) != "other@example.com" || ident.EmailVerified {
			t.Errorf("got %s verified %v, want other@example.com unverified", deref(ident.Email), ident.EmailVerified)
		}
	})
}

// TestUserinfo: userinfo's claims replace the token's; a userinfo about
// another sub fails the login; a failing userinfo endpoint is the issuer's
// fault.
func TestUserinfo(t *testing.T) {
	t.Run("claims replace the token's", func(t *testing.T) {
		f := setup(t, oidctest.Options{})
		f.s.SetUserinfo(func(c map[string]any) { c["name"] = "Jane Q. Doe"; delete(c, "picture") })
		ident, err := f.login(t)
		if err != nil {
			t.Fatal(err)
		}
		if deref(ident.Name) != "Jane Q. Doe" || deref(ident.Picture) != "https://pictures.example/jane.png" {
			t.Errorf("got name %s picture %s; want userinfo's name and the token's picture", deref(ident.Name), deref(ident.Picture))
		}
	})
	tests := []struct {
		name string
		edit func(c map[string]any)
		want string
	}{
		{"another sub", func(c map[string]any) { c["sub"] = "someone-else" }, gatehouse.EUpstream},
		{"no sub", func(c map[string]any) { delete(c, "sub") }, gatehouse.EUpstream},
		{"numeric sub", func(c map[string]any) { c["sub"] = 248289761001 }, gatehouse.EUpstream},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, oidctest.Options{})
			f.s.SetUserinfo(tc.edit)
			ident, err := f.login(t)
			if code := errorCode(t, err); code != tc.want {
				t.Errorf("got %q (%v, %+v), want %q", code, err, ident, tc.want)
			}
		})
	}
	t.Run("endpoint answers 404", func(t *testing.T) {
		clk := newClock()
		s := oidctest.NewServer(t, oidctest.Options{Now: clk.Now})
		s.SetDiscovery(func(doc map[string]any) { doc["userinfo_endpoint"] = s.Issuer() + "/gone" })
		p, err := New(context.Background(), Config{Issuer: s.Issuer(), ClientID: s.ClientID, ClientSecret: s.ClientSecret,
			HTTPClient: s.HTTPClient(5 * time.Second), Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		_, err = (&fixture{s: s, p: p, clk: clk}).login(t)
		if code := errorCode(t, err); code != gatehouse.EUpstream {
			t.Errorf("got %q, want %q", code, gatehouse.EUpstream)
		}
	})
}
