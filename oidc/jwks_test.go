package oidc

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/oidc/oidctest"
)

// TestSec45UnknownKidStorm: fifty ID tokens with made-up key ids, at once,
// cost at most two JWKS fetches, and are all refused; a real token still
// passes afterwards without another fetch.
func TestSec45UnknownKidStorm(t *testing.T) {
	f := setup(t, oidctest.Options{})
	key := oidctest.NewKey("RS256")
	f.s.SetIDToken(func(claims map[string]any) string {
		k := *key
		k.ID = rand.Text()
		return oidctest.SignWith(&k, nil, claims)
	})
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range errs {
		ap := params()
		code, err := f.s.Authorize(f.p.AuthCodeURL(ap))
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { _, errs[i] = f.p.Exchange(context.Background(), code, ap) })
	}
	wg.Wait()
	for i, err := range errs {
		if code := errorCode(t, err); code != gatehouse.EInvalidGrant {
			t.Errorf("token %d: got %q (%v), want %q", i, code, err, gatehouse.EInvalidGrant)
		}
	}
	if n := f.s.Count(oidctest.JWKSPath); n < 1 || n > 2 {
		t.Errorf("got %d JWKS fetches for 50 unknown kids, want 1 or 2", n)
	}
	before := f.s.Count(oidctest.JWKSPath)
	f.s.SetIDToken(nil)
	if _, err := f.login(t); err != nil {
		t.Fatalf("a real token after the storm: %v", err)
	}
	if n := f.s.Count(oidctest.JWKSPath); n != before {
		t.Errorf("got %d JWKS fetches after a known kid, want %d", n, before)
	}
}

// TestSec45KeyRotation: after the issuer rotates its signing key, the next
// login succeeds after one JWKS refetch; a key the issuer drops stops
// verifying once the cache has expired.
func TestSec45KeyRotation(t *testing.T) {
	f := setup(t, oidctest.Options{})
	if _, err := f.login(t); err != nil {
		t.Fatal(err)
	}
	if n := f.s.Count(oidctest.JWKSPath); n != 1 {
		t.Fatalf("got %d JWKS fetches, want 1", n)
	}
	old := f.s.SigningKey()
	f.s.Rotate()
	f.clk.Advance(KeyRefetchInterval)
	if _, err := f.login(t); err != nil {
		t.Fatalf("login after the rotation: %v", err)
	}
	if n := f.s.Count(oidctest.JWKSPath); n != 2 {
		t.Errorf("got %d JWKS fetches, want 2", n)
	}

	// The issuer drops the old key; a token it signed is refused once the
	// cache has expired.
	f.s.RemoveKey(old.ID)
	f.s.SetIDToken(func(claims map[string]any) string { return oidctest.SignWith(old, nil, claims) })
	f.clk.Advance(KeyCacheTTL)
	_, err := f.login(t)
	if code := errorCode(t, err); code != gatehouse.EInvalidGrant {
		t.Errorf("got %q (%v) for the dropped key, want %q", code, err, gatehouse.EInvalidGrant)
	}
}

// TestSec45RotationTooSoon: a key id seen less than KeyRefetchInterval
// after the last fetch is refused without a fetch; the same token's key is
// fetched once the interval has passed.
func TestSec45RotationTooSoon(t *testing.T) {
	f := setup(t, oidctest.Options{})
	if _, err := f.login(t); err != nil {
		t.Fatal(err)
	}
	f.s.Rotate()
	f.clk.Advance(KeyRefetchInterval - time.Second)
	if _, err := f.login(t); gatehouse.ErrorCode(err) != gatehouse.EInvalidGrant {
		t.Errorf("got %v, want invalid_grant", err)
	}
	if n := f.s.Count(oidctest.JWKSPath); n != 1 {
		t.Errorf("got %d JWKS fetches, want 1", n)
	}
	f.clk.Advance(time.Second)
	if _, err := f.login(t); err != nil {
		t.Errorf("got %v after the interval, want nil", err)
	}
}

// TestSec45KeyTypes: the algorithms the issuer signs with (ES256, EdDSA,
// PS256) verify; keys the JWKS lists that are unusable (unknown kty, a
// symmetric key, an encryption key) are ignored; several keys and no kid
// are accepted by trying each.
func TestSec45KeyTypes(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA", "PS256"} {
		t.Run(alg, func(t *testing.T) {
			f := setup(t, oidctest.Options{Algs: []string{alg}})
			if _, err := f.login(t); err != nil {
				t.Error(err)
			}
		})
	}
	t.Run("no kid, several keys", func(t *testing.T) {
		f := setup(t, oidctest.Options{Algs: []string{"ES256", "ES256"}})
		signer := f.s.SigningKey()
		f.s.UseKey(f.s.AddKey("ES256").ID)
		f.s.SetIDToken(func(claims map[string]any) string {
			return oidctest.SignWith(signer, map[string]any{"kid": nil}, claims)
		})
		if _, err := f.login(t); err != nil {
			t.Error(err)
		}
	})
	t.Run("unusable keys beside a good one", func(t *testing.T) {
		f := setup(t, oidctest.Options{})
		good := f.s.SigningKey().JWK()
		goodJSON, _ := json.Marshal(good)
		jwks := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"keys":[{"kty":"AKP","alg":"ML-DSA-44","kid":"pq","pub":"AAAA"},` +
				`{"kty":"oct","kid":"` + good.KeyID + `","k":"c2VjcmV0"},` +
				`{"kty":"made-up","kid":"x"},` + string(goodJSON) + `]}`))
		}))
		t.Cleanup(jwks.Close)
		k := newKeySet(jwks.URL, jwks.Client(), f.clk.Now, []string{"RS256"})
		k.client.Timeout = 5 * time.Second
		tok := f.s.Sign(map[string]any{"sub": "x"})
		if _, err := k.VerifySignature(context.Background(), tok); err != nil {
			t.Errorf("got %v, want the good key to verify", err)
		}
	})
}

// TestJWKSUnreachable: an issuer whose JWKS cannot be read fails the login
// as the issuer's fault (never invalid_grant), and the JWKS is not fetched
// again before KeyRefetchInterval.
func TestJWKSUnreachable(t *testing.T) {
	f := setup(t, oidctest.Options{})
	f.s.SetIDToken(func(claims map[string]any) string {
		tok := f.s.Sign(claims)
		f.s.SetDown(true) // from now on, the JWKS too
		return tok
	})
	_, err := f.login(t)
	if code := errorCode(t, err); code != gatehouse.EUnavailable && code != gatehouse.EUpstream {
		t.Errorf("got %q (%v), want temporarily_unavailable or upstream_error", code, err)
	}
	if n := f.s.Count(oidctest.JWKSPath); n != 1 {
		t.Errorf("got %d JWKS fetches, want 1", n)
	}
}
