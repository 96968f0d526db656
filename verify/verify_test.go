package verify_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/jwstest"
	"github.com/gatehouse/gatehouse/token"
	"github.com/gatehouse/gatehouse/verify"
)

func TestVerifyGoodToken(t *testing.T) {
	g := newGatehouse(t)
	v := g.verifier()
	c := mustVerify(t, v, g.mint())
	if c.Subject != "user-1" || c.SessionID != "session-1" || c.Issuer != g.srv.URL {
		t.Errorf("claims = %+v", c)
	}
	if got, want := g.fetches.Load(), int32(1); got != want {
		t.Errorf("JWKS fetches = %d, want %d", got, want)
	}
}

// TestVerifyRejects shows one token of each kind of rejection; the full
// attack tables are token's (token/token_test.go), whose Verifier this is.
func TestVerifyRejects(t *testing.T) {
	g := newGatehouse(t)
	k, priv := newKey(t)
	g.setKeys(k)
	v := g.verifier()
	header := func() map[string]any { return map[string]any{"alg": token.ES256, "kid": k.ID, "typ": token.Type} }
	claims := func() map[string]any {
		now := g.clock.Now().Unix()
		return map[string]any{"iss": g.srv.URL, "sub": "user-1", "sid": "session-1", "aud": audience,
			"iat": now, "nbf": now, "exp": now + 900, "jti": "j1"}
	}
	with := func(m map[string]any, k string, val any) map[string]any {
		if val == nil {
			delete(m, k)
		} else {
			m[k] = val
		}
		return m
	}
	valid := jwstest.Sign(token.ES256, priv, header(), claims())
	mustVerify(t, v, valid)
	_, stranger := newKey(t)
	now := g.clock.Now().Unix()

	cases := map[string]string{
		"alg none":          jwstest.Sign("none", nil, with(header(), "alg", "none"), claims()),
		"tampered":          jwstest.FlipBit(valid, 1, 8),
		"other key":         jwstest.Sign(token.ES256, stranger, header(), claims()),
		"expired":           jwstest.Sign(token.ES256, priv, header(), with(with(claims(), "exp", now-60), "iat", now-960)),
		"not yet valid":     jwstest.Sign(token.ES256, priv, header(), with(claims(), "nbf", now+120)),
		"wrong issuer":      jwstest.Sign(token.ES256, priv, header(), with(claims(), "iss", "https://evil.example")),
		"wrong audience":    jwstest.Sign(token.ES256, priv, header(), with(claims(), "aud", "https://other.example")),
		"typ JWT":           jwstest.Sign(token.ES256, priv, with(header(), "typ", "JWT"), claims()),
		"crit header":       jwstest.Sign(token.ES256, priv, with(header(), "crit", []string{"exp"}), claims()),
		"jku header":        jwstest.Sign(token.ES256, priv, with(header(), "jku", g.srv.URL+"/.well-known/jwks.json"), claims()),
		"lifetime too long": jwstest.Sign(token.ES256, priv, header(), with(claims(), "exp", now+int64(verify.DefaultMaxTTL/time.Second)+1)),
		"too large":         strings.Repeat("a", token.MaxTokenLen+1),
		"not a JWS":         "thisisnotajwt",
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), raw)
			if !errors.Is(err, token.ErrInvalid) {
				t.Fatalf("err = %v, want one wrapping token.ErrInvalid", err)
			}
			if len(raw) > 20 && strings.Contains(err.Error(), raw) {
				t.Error("the error contains the token")
			}
		})
	}
}

// TestUnknownKidRefetches: a token from a key published after the last
// fetch makes the Verifier fetch the key set once, and verifies.
func TestUnknownKidRefetches(t *testing.T) {
	g := newGatehouse(t)
	v := g.verifier()
	g.clock.Advance(verify.MinRefetchInterval)
	next, _ := newKey(t)
	g.setKeys(next)
	mustVerify(t, v, g.mint())
	if got, want := g.fetches.Load(), int32(2); got != want {
		t.Errorf("JWKS fetches = %d, want %d", got, want)
	}
}

// TestConcurrentUnknownKidsOneFetch: requests that find an unknown key
// while a fetch runs wait for that fetch instead of starting their own,
// even with no minimum interval between fetches.
func TestConcurrentUnknownKidsOneFetch(t *testing.T) {
	g := newGatehouse(t)
	v := g.verifier()
	v.SetMinRefetchInterval(0)
	next, _ := newKey(t)
	g.setKeys(next)
	raw := g.mint()
	gate := make(chan struct{})
	g.set(func(g *gatehouse) { g.gate = gate })

	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), raw)
			errs <- err
		})
	}
	for v.Waiters() < n {
		// Wait for every request to be waiting for the one fetch.
		runtimeGosched()
	}
	g.set(func(g *gatehouse) { g.gate = nil })
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
	if got, want := g.fetches.Load(), int32(2); got != want {
		t.Errorf("JWKS fetches = %d, want %d", got, want)
	}
}

// TestRandomKidsRateLimited: made-up key ids cause at most one fetch per
// MinRefetchInterval.
func TestRandomKidsRateLimited(t *testing.T) {
	g := newGatehouse(t)
	v := g.verifier()
	_, stranger := newKey(t)
	random := func(i int) string {
		now := g.clock.Now().Unix()
		return jwstest.Sign(token.ES256, stranger, map[string]any{"alg": token.ES256, "kid": fmt.Sprintf("made-up-%d", i), "typ": token.Type},
			map[string]any{"iss": g.srv.URL, "sub": "u", "sid": "s", "aud": audience, "iat": now, "nbf": now, "exp": now + 60, "jti": "j"})
	}
	for i := range 100 {
		mustReject(t, v, random(i))
	}
	if got, want := g.fetches.Load(), int32(1); got != want {
		t.Fatalf("JWKS fetches within the interval after New = %d, want %d", got, want)
	}
	g.clock.Advance(verify.MinRefetchInterval)
	for i := range 100 {
		mustReject(t, v, random(100+i))
	}
	if got, want := g.fetches.Load(), int32(2); got != want {
		t.Fatalf("JWKS fetches = %d, want %d", got, want)
	}
	g.clock.Advance(verify.MinRefetchInterval - time.Second)
	mustReject(t, v, random(300))
	if got, want := g.fetches.Load(), int32(2); got != want {
		t.Fatalf("JWKS fetches 1 s before the interval = %d, want %d", got, want)
	}
	mustVerify(t, v, g.mint())
}

func TestKeysAge(t *testing.T) {
	for _, tc := range []struct {
		cc   string
		want time.Duration
	}{
		{"public, max-age=300", 5 * time.Minute},
		{"", verify.DefaultKeysAge},
		{"public", verify.DefaultKeysAge},
		{"max-age=7200", 2 * time.Hour},
		{"max-age=10", verify.MinKeysAge},
		{"max-age=0", verify.MinKeysAge},
		{"max-age=99999999", verify.MaxKeysAge},
		{"max-age=99999999999999999999", verify.DefaultKeysAge},
		{"max-age=-5", verify.DefaultKeysAge},
		{"max-age=abc", verify.DefaultKeysAge},
		{`MAX-AGE="600"`, 10 * time.Minute},
		{"no-store", verify.MinKeysAge},
		{"max-age=3600, no-cache", verify.MinKeysAge},
	} {
		if got := verify.KeysAge(tc.cc); got != tc.want {
			t.Errorf("keysAge(%q) = %v, want %v", tc.cc, got, tc.want)
		}
	}
}

// TestCacheControlHonoured: the keys are used for the JWKS answer's
// max-age, clamped, and then fetched again in the background while the
// known keys keep verifying.
func TestCacheControlHonoured(t *testing.T) {
	for _, tc := range []struct {
		cc   string
		want time.Duration
	}{
		{"public, max-age=300", 5 * time.Minute},
		{"", verify.DefaultKeysAge},
		{"max-age=5", verify.MinKeysAge},
		{"max-age=31536000", verify.MaxKeysAge},
	} {
		t.Run("Cache-Control "+tc.cc, func(t *testing.T) {
			g := newGatehouse(t)
			g.set(func(g *gatehouse) { g.cacheControl = tc.cc })
			v := g.verifier(verify.WithCacheSize(0))
			if got, want := v.KeysFreshUntil(), t0.Add(tc.want); !got.Equal(want) {
				t.Fatalf("keys fresh until %v, want %v", got, want)
			}
			g.clock.Advance(tc.want - time.Second)
			mustVerify(t, v, g.mint())
			v.WaitIdle()
			if got, want := g.fetches.Load(), int32(1); got != want {
				t.Fatalf("JWKS fetches before max-age = %d, want %d", got, want)
			}
			g.clock.Advance(time.Second)
			mustVerify(t, v, g.mint())
			v.WaitIdle()
			if got, want := g.fetches.Load(), int32(2); got != want {
				t.Fatalf("JWKS fetches at max-age = %d, want %d", got, want)
			}
		})
	}
}

// TestGatehouseDown: when Gatehouse is unreachable, fails or answers
// garbage, the last good keys keep verifying, and it is asked again no
// more than once per MinRefetchInterval.
func TestGatehouseDown(t *testing.T) {
	_, priv := newKey(t)
	bad := map[string]func(g *gatehouse){
		"503":           func(g *gatehouse) { g.status = http.StatusServiceUnavailable },
		"HTML":          func(g *gatehouse) { g.body = []byte("<html>oops</html>") },
		"empty key set": func(g *gatehouse) { g.body = []byte(`{"keys":[]}`) },
		"private key":   func(g *gatehouse) { g.body = privateJWKS(t, priv) },
		"huge": func(g *gatehouse) {
			g.body = []byte(`{"keys":[],"pad":"` + strings.Repeat("x", token.MaxJWKSSize) + `"}`)
		},
		"redirect":         func(g *gatehouse) { g.status, g.location = http.StatusFound, g.srv.URL+"/.well-known/jwks.json?good" },
		"server shut down": func(g *gatehouse) { g.srv.CloseClientConnections(); g.srv.Listener.Close() },
	}
	for name, breakIt := range bad {
		t.Run(name, func(t *testing.T) {
			g := newGatehouse(t)
			v := g.verifier(verify.WithCacheSize(0))
			raw := g.mint()
			g.set(breakIt)
			fetches := g.fetches.Load()
			for range 3 {
				g.clock.Advance(verify.DefaultKeysAge)
				mustVerify(t, v, raw)
				v.WaitIdle()
				// Every request in between asks for no fetch.
				mustVerify(t, v, raw)
				v.WaitIdle()
			}
			if name != "server shut down" {
				if got, want := g.fetches.Load()-fetches, int32(3); got != want {
					t.Errorf("JWKS fetches while broken = %d, want %d", got, want)
				}
			}
		})
	}
}

// privateJWKS returns a JWKS that publishes priv's private part.
func privateJWKS(t *testing.T, priv *ecdsa.PrivateKey) []byte {
	t.Helper()
	b, err := priv.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := priv.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return []byte(fmt.Sprintf(`{"keys":[{"kty":"EC","kid":"k","alg":"ES256","crv":"P-256","x":%q,"y":%q,"d":%q}]}`,
		b64(pub[1:33]), b64(pub[33:]), b64(b)))
}

// TestNewRefuses: New fails unless discovery names the configured issuer
// exactly and the key set is fit, and for bad options.
func TestNewRefuses(t *testing.T) {
	cases := map[string]struct {
		mod  func(g *gatehouse)
		opts []verify.Option
	}{
		"issuer with slash":   {mod: func(g *gatehouse) { g.issuer = g.srv.URL + "/" }},
		"other issuer":        {mod: func(g *gatehouse) { g.issuer = "https://evil.example" }},
		"issuer in uppercase": {mod: func(g *gatehouse) { g.issuer = strings.ToUpper(g.srv.URL) }},
		"JWKS 500":            {mod: func(g *gatehouse) { g.status = http.StatusInternalServerError }},
		"JWKS garbage":        {mod: func(g *gatehouse) { g.body = []byte("{") }},
		"JWKS empty":          {mod: func(g *gatehouse) { g.body = []byte(`{"keys":[]}`) }},
		"negative leeway":     {opts: []verify.Option{verify.WithLeeway(-time.Second)}},
		"leeway too large":    {opts: []verify.Option{verify.WithLeeway(token.MaxLeeway + time.Second)}},
		"negative cache":      {opts: []verify.Option{verify.WithCacheSize(-1)}},
		"zero max TTL":        {opts: []verify.Option{verify.WithMaxTTL(0)}},
		"nil clock":           {opts: []verify.Option{verify.WithClock(nil)}},
		"quote in realm":      {opts: []verify.Option{verify.WithRealm(`a"b`)}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := newGatehouse(t)
			if tc.mod != nil {
				g.set(tc.mod)
			}
			opts := append([]verify.Option{verify.WithClock(g.clock.Now), verify.WithHTTPClient(g.srv.Client())}, tc.opts...)
			if _, err := verify.New(context.Background(), g.srv.URL, audience, opts...); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
	for name, issuer := range map[string]string{
		"empty":     "",
		"relative":  "/auth",
		"ftp":       "ftp://auth.example.com",
		"query":     "https://auth.example.com?x=1",
		"user info": "https://u:p@auth.example.com",
	} {
		t.Run("issuer "+name, func(t *testing.T) {
			if _, err := verify.New(context.Background(), issuer, audience); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
	t.Run("empty audience", func(t *testing.T) {
		g := newGatehouse(t)
		if _, err := verify.New(context.Background(), g.srv.URL, "", verify.WithHTTPClient(g.srv.Client())); err == nil {
			t.Fatal("New succeeded")
		}
	})
}

// TestRotation follows a key rotation as Gatehouse does it: the next key is
// published before it signs, the old one stays published while its tokens
// live, then goes. No request fails on the way, and tokens of the removed
// key stop verifying after the next refresh.
func TestRotation(t *testing.T) {
	g := newGatehouse(t)
	old, _ := newKey(t)
	next, _ := newKey(t)
	g.setKeys(old)
	v := g.verifier()
	oldTok := g.mint()
	check := func(step string, toks ...string) {
		t.Helper()
		for _, raw := range toks {
			if _, err := v.Verify(context.Background(), raw); err != nil {
				t.Fatalf("%s: Verify: %v", step, err)
			}
		}
		v.WaitIdle()
	}
	check("start", oldTok)

	// 1. The next key is published; the old one still signs. The
	//    Verifier learns of it at its next refresh, in the background.
	g.setKeys(old, next)
	g.clock.Advance(verify.DefaultKeysAge)
	check("next key published", oldTok, g.mint())
	fetches := g.fetches.Load()

	// 2. The next key signs: the Verifier knows it already.
	g.setKeys(next, old)
	newTok := g.mint()
	check("next key signs", oldTok, newTok)
	if got := g.fetches.Load(); got != fetches {
		t.Errorf("JWKS fetches = %d, want %d: the next key was not known before it signed", got, fetches)
	}

	// 3. Keys due for a refresh: known keys still verify while it runs.
	g.clock.Advance(verify.DefaultKeysAge)
	check("refresh", oldTok, newTok, g.mint())

	// 4. The old key is retired once its last token has expired; until the
	//    Verifier refreshes, nothing changes for the new tokens.
	g.clock.Advance(ttl - verify.DefaultKeysAge)
	g.setKeys(next)
	check("old key retired", newTok, g.mint())

	// 5. After the next refresh, a token of the old key fails (an old
	//    token whose lifetime somehow ran on, here re-minted with the old
	//    key at the current time).
	oldSet, err := token.NewKeySet(old)
	if err != nil {
		t.Fatal(err)
	}
	late, _, err := (&token.Issuer{Issuer: g.srv.URL, Audience: audience, TTL: ttl, Keys: oldSet, Now: g.clock.Now}).Mint("user-1", "session-1")
	if err != nil {
		t.Fatal(err)
	}
	g.clock.Advance(verify.DefaultKeysAge)
	check("refresh after retirement", g.mint())
	mustReject(t, v, late)
	check("end", g.mint())
}

// TestVerifyCache: the cache is on by default, bounded by WithCacheSize,
// and a cached token is not accepted at or after its exp.
func TestVerifyCache(t *testing.T) {
	g := newGatehouse(t)
	if got, want := g.verifier().CacheLen(), 0; got != want {
		t.Fatalf("default cache length = %d, want %d", got, want)
	}
	if got, want := g.verifier(verify.WithCacheSize(0)).CacheLen(), -1; got != want {
		t.Fatalf("WithCacheSize(0) cache length = %d, want %d (no cache)", got, want)
	}
	v := g.verifier(verify.WithCacheSize(3), verify.WithLeeway(0))
	first := g.mint()
	mustVerify(t, v, first)
	for range 10 {
		mustVerify(t, v, g.mint())
		if n := v.CacheLen(); n > 3 {
			t.Fatalf("cache length = %d, more than 3", n)
		}
	}
	raw := g.mint()
	mustVerify(t, v, raw)
	g.clock.Advance(ttl - time.Second)
	mustVerify(t, v, raw)
	g.clock.Advance(time.Second)
	mustReject(t, v, raw)
}

// TestVerifyContextBoundsTheWait: a request waiting for a key fetch gives up
// when its context ends; the fetch goes on for the others.
func TestVerifyContextBoundsTheWait(t *testing.T) {
	g := newGatehouse(t)
	v := g.verifier()
	g.clock.Advance(verify.MinRefetchInterval)
	next, _ := newKey(t)
	g.setKeys(next)
	raw := g.mint()
	gate := make(chan struct{})
	g.set(func(g *gatehouse) { g.gate = gate })
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := v.Verify(ctx, raw)
		errc <- err
	}()
	for v.Waiters() < 1 {
		runtimeGosched()
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	g.set(func(g *gatehouse) { g.gate = nil })
	close(gate)
	v.WaitIdle()
	mustVerify(t, v, raw)
}

// TestClose: after Close no fetch starts, and the keys the Verifier has
// still verify.
func TestClose(t *testing.T) {
	g := newGatehouse(t)
	v := g.verifier()
	raw := g.mint()
	fetches := g.fetches.Load()
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), raw); err != nil {
		t.Fatalf("a known key's token after Close: %v", err)
	}
	g.clock.Advance(verify.MaxKeysAge)
	next, _ := newKey(t)
	g.setKeys(next)
	if _, err := v.Verify(context.Background(), g.mint()); err == nil {
		t.Fatal("an unknown key's token verified after Close")
	}
	if got := g.fetches.Load(); got != fetches {
		t.Fatalf("JWKS fetches after Close = %d, want %d", got, fetches)
	}
}
