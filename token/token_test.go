package token

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/jwstest"
)

const (
	testIssuer   = "https://auth.example.com"
	testAudience = "https://app.example.com"
	testTTL      = 15 * time.Minute
	testLeeway   = 30 * time.Second
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// fixture is a key set with one ES256 key whose private key the test holds,
// and a verifier at a fixed time.
type fixture struct {
	key      *Key
	priv     *ecdsa.PrivateKey
	keys     *KeySet
	issuer   *Issuer
	verifier *Verifier
	now      time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	sk, err := GenerateKey(ES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(sk.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := NewKeySet(k)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{key: k, priv: priv.(*ecdsa.PrivateKey), keys: keys, now: t0}
	clock := func() time.Time { return f.now }
	f.issuer = &Issuer{Issuer: testIssuer, Audience: testAudience, TTL: testTTL, Keys: keys, Now: clock}
	f.verifier = &Verifier{Issuer: testIssuer, Audience: testAudience, Keys: keys, Leeway: testLeeway, MaxTTL: testTTL, Now: clock}
	return f
}

func (f *fixture) header() map[string]any {
	return map[string]any{"alg": ES256, "kid": f.key.ID, "typ": Type}
}

func (f *fixture) claims() map[string]any {
	return map[string]any{
		"iss": testIssuer, "sub": "user-1", "sid": "session-1", "aud": testAudience,
		"iat": f.now.Unix(), "nbf": f.now.Unix(), "exp": f.now.Add(testTTL).Unix(), "jti": "j1",
	}
}

// sign signs header and claims with the fixture's real key.
func (f *fixture) sign(header, claims any) string {
	return jwstest.Sign(ES256, f.priv, header, claims)
}

func (f *fixture) mustReject(t *testing.T, raw string) {
	t.Helper()
	c, err := f.verifier.Verify(raw)
	if err == nil {
		t.Fatalf("Verify accepted the token, claims %+v", c)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Verify error %v does not wrap ErrInvalid", err)
	}
	if len(raw) > 20 && strings.Contains(err.Error(), raw) {
		t.Fatalf("Verify error contains the token")
	}
}

func TestCraftedValidTokenIsAccepted(t *testing.T) {
	// The attack tests below change one thing at a time; this makes sure
	// the unchanged token they start from is valid.
	f := newFixture(t)
	c, err := f.verifier.Verify(f.sign(f.header(), f.claims()))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got, want := c.Subject, "user-1"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
}

func TestMintVerifyRoundTrip(t *testing.T) {
	hmacKey, err := NewHMACKey([]byte("k7Qw9zXv2LmN4pRt6YbHc8JdFs0GaEe1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{ES256, EdDSA, RS256, HS256} {
		t.Run(alg, func(t *testing.T) {
			k := hmacKey
			if alg != HS256 {
				sk, err := GenerateKey(alg, t0)
				if err != nil {
					t.Fatal(err)
				}
				if k, err = ParseKey(sk); err != nil {
					t.Fatal(err)
				}
			}
			keys, err := NewKeySet(k)
			if err != nil {
				t.Fatal(err)
			}
			now := func() time.Time { return t0 }
			iss := &Issuer{Issuer: testIssuer, Audience: testAudience, TTL: testTTL, Keys: keys, Now: now}
			raw, minted, err := iss.Mint("user-42", "session-42")
			if err != nil {
				t.Fatal(err)
			}
			v := &Verifier{Issuer: testIssuer, Audience: testAudience, Keys: keys, Leeway: testLeeway, MaxTTL: testTTL, Now: now}
			got, err := v.Verify(raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Subject != "user-42" || got.SessionID != "session-42" || got.ID != minted.ID || !got.Expiry.Equal(minted.Expiry) {
				t.Errorf("claims = %+v, want %+v", got, minted)
			}
		})
	}
}

// TestSec61MintedTokenShape checks every token we mint: alg exactly the
// configured one, typ at+jwt, a kid listed in the JWKS, no other header,
// exp-iat equal to the TTL, iss and aud as configured, and unique jti.
func TestSec61MintedTokenShape(t *testing.T) {
	f := newFixture(t)
	var jwks struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(f.keys.JWKS(), &jwks); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := range 1000 {
		raw, _, err := f.issuer.Mint("user-1", "session-1")
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(raw, ".")
		var h map[string]any
		var c map[string]any
		decode(t, parts[0], &h)
		decode(t, parts[1], &c)
		if i == 0 {
			if len(h) != 3 || h["alg"] != ES256 || h["typ"] != Type {
				t.Fatalf("header = %v, want exactly alg ES256, kid, typ %s", h, Type)
			}
			if len(jwks.Keys) != 1 || h["kid"] != jwks.Keys[0].Kid {
				t.Fatalf("kid %v not in JWKS %s", h["kid"], f.keys.JWKS())
			}
			if c["iss"] != testIssuer || c["aud"] != testAudience || c["sub"] != "user-1" || c["sid"] != "session-1" {
				t.Fatalf("claims = %v", c)
			}
			if got := time.Duration(c["exp"].(float64)-c["iat"].(float64)) * time.Second; got != testTTL {
				t.Fatalf("exp-iat = %v, want %v", got, testTTL)
			}
			if c["nbf"] != c["iat"] {
				t.Fatalf("nbf %v != iat %v", c["nbf"], c["iat"])
			}
		}
		jti := c["jti"].(string)
		if seen[jti] {
			t.Fatalf("jti %q repeated after %d mints", jti, i)
		}
		seen[jti] = true
	}
}

func decode(t *testing.T, seg string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// TestSec49AlgorithmConfusion: alg none in any case, HS256 keyed with our
// public key, and other algorithms under our kid are all refused.
func TestSec49AlgorithmConfusion(t *testing.T) {
	f := newFixture(t)
	der, err := x509.MarshalPKIXPublicKey(&f.priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	rsaKey := rsaTestKey(t)
	with := func(alg string) map[string]any {
		h := f.header()
		h["alg"] = alg
		return h
	}
	cases := map[string]string{
		"none":             jwstest.Sign("none", nil, with("none"), f.claims()),
		"None":             jwstest.Sign("None", nil, with("None"), f.claims()),
		"NONE":             jwstest.Sign("NONE", nil, with("NONE"), f.claims()),
		"nOnE":             jwstest.Sign("nOnE", nil, with("nOnE"), f.claims()),
		"none with sig":    jwstest.Sign("none", nil, with("none"), f.claims()) + "AAAA",
		"none, no kid":     jwstest.Sign("none", nil, map[string]any{"alg": "none", "typ": Type}, f.claims()),
		"HS256 PEM key":    jwstest.Sign("HS256", pemKey, with("HS256"), f.claims()),
		"HS256 DER key":    jwstest.Sign("HS256", der, with("HS256"), f.claims()),
		"HS256 raw x||y":   jwstest.Sign("HS256", jwstest.RawPublicKey(&f.priv.PublicKey), with("HS256"), f.claims()),
		"HS512 PEM key":    jwstest.Sign("HS512", pemKey, with("HS512"), f.claims()),
		"RS256 same kid":   jwstest.Sign("RS256", rsaKey, with("RS256"), f.claims()),
		"PS256 same kid":   jwstest.Sign("PS256", rsaKey, with("PS256"), f.claims()),
		"ES256 header but": jwstest.Sign("HS256", der, f.header(), f.claims()),
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) { f.mustReject(t, raw) })
	}
}

// TestSec50Tampering: a flipped bit anywhere, a spliced header, or a
// non-canonical spelling of the signature is refused.
func TestSec50Tampering(t *testing.T) {
	f := newFixture(t)
	raw := f.sign(f.header(), f.claims())
	// ECDSA signatures are random: sign until the token has a character
	// that standard base64 spells differently, for "std base64 chars".
	for !strings.ContainsAny(raw, "-_") {
		raw = f.sign(f.header(), f.claims())
	}
	parts := strings.Split(raw, ".")
	flip := func(seg, bit int) string { return jwstest.FlipBit(raw, seg, bit) }
	other := newFixture(t)
	otherRaw := other.sign(other.header(), other.claims())
	// Another token of the same key, whose header differs from raw's.
	sameKeyHeader := f.header()
	sameKeyHeader["typ"] = "application/" + Type
	sameKey := strings.Split(f.sign(sameKeyHeader, f.claims()), ".")

	cases := map[string]string{
		"header bit":                  flip(0, 10),
		"payload bit (sub)":           flip(1, 8*strings.Index(mustDecode(t, parts[1]), "user-1")+1),
		"payload last bit":            flip(1, 8*len(mustDecode(t, parts[1]))-1),
		"signature bit 0":             flip(2, 0),
		"signature last bit":          flip(2, 511),
		"spliced header":              strings.Split(otherRaw, ".")[0] + "." + parts[1] + "." + parts[2],
		"spliced signature":           parts[0] + "." + parts[1] + "." + strings.Split(otherRaw, ".")[2],
		"spliced header, same key":    sameKey[0] + "." + parts[1] + "." + parts[2],
		"spliced signature, same key": parts[0] + "." + parts[1] + "." + sameKey[2],
		"non-canonical sig":           nonCanonical(parts[0] + "." + parts[1] + "." + parts[2]),
		"non-canonical payload":       parts[0] + "." + nonCanonicalSegment(parts[1]) + "." + parts[2],
		"padded signature":            raw + "==",
		"std base64 chars":            strings.NewReplacer("-", "+", "_", "/").Replace(raw),
		"truncated sig":               raw[:len(raw)-4],
		"empty signature":             parts[0] + "." + parts[1] + ".",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			if tok == raw {
				t.Fatal("test case did not change the token")
			}
			f.mustReject(t, tok)
		})
	}
}

func mustDecode(t *testing.T, seg string) string {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// nonCanonicalSegment respells a base64url segment whose length leaves
// unused bits in its last character, so that it decodes to the same bytes.
func nonCanonicalSegment(seg string) string {
	if len(seg)%4 == 0 {
		panic("segment has no unused bits; pick other claims")
	}
	return nonCanonical(seg)
}

// nonCanonical replaces the last base64url character of raw with another
// that decodes to the same bytes: a 64-byte signature is 86 characters,
// whose last carries 2 significant bits and 4 unused ones.
func nonCanonical(raw string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, raw[len(raw)-1])
	return raw[:len(raw)-1] + string(alphabet[last^1])
}

// TestSec51TimeClaims drives exp, nbf and iat around the leeway with a
// fixed clock, and feeds numeric dates of the wrong JSON shape.
func TestSec51TimeClaims(t *testing.T) {
	f := newFixture(t)
	now := f.now.Unix()
	L := int64(testLeeway / time.Second)
	type mod func(c map[string]any)
	set := func(k string, v any) mod { return func(c map[string]any) { c[k] = v } }
	window := func(exp int64) mod {
		return func(c map[string]any) { c["exp"], c["iat"], c["nbf"] = exp, exp-600, exp-600 }
	}
	cases := []struct {
		name string
		mod  mod
		ok   bool
	}{
		{"no exp", func(c map[string]any) { delete(c, "exp") }, false},
		{"no iat", func(c map[string]any) { delete(c, "iat") }, false},
		{"no nbf", func(c map[string]any) { delete(c, "nbf") }, false},
		{"exp = now-L-1", window(now - L - 1), false},
		{"exp = now-L", window(now - L), false},
		{"exp = now-L+1", window(now - L + 1), true},
		{"nbf = now+L+1", set("nbf", now+L+1), false},
		{"nbf = now+L", set("nbf", now+L), true},
		{"nbf = now+61", set("nbf", now+61), false},
		{"iat = now+L+60", func(c map[string]any) { c["iat"], c["nbf"], c["exp"] = now+L+60, now, now+L+120 }, false},
		{"exp as string", set("exp", "123"), false},
		{"exp 1e10", set("exp", json.RawMessage("1e10")), false},
		{"exp -1", set("exp", -1), false},
		{"exp max int64", set("exp", json.RawMessage("9223372036854775807")), false},
		{"exp 1.5", set("exp", json.RawMessage("1.5")), false},
		{"exp null", set("exp", nil), false},
		{"exp far beyond TTL", set("exp", now+86400), false},
		{"lifetime = TTL", set("exp", now+int64(testTTL/time.Second)), true},
		{"lifetime = TTL+1s", set("exp", now+int64(testTTL/time.Second)+1), false},
		{"exp float of a valid time", set("exp", json.RawMessage(strconv.FormatInt(now+600, 10)+".0")), false},
		{"exp before iat", func(c map[string]any) { c["exp"], c["iat"] = now+10, now+20 }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := f.claims()
			tc.mod(c)
			_, err := f.verifier.Verify(f.sign(f.header(), c))
			if got := err == nil; got != tc.ok {
				t.Fatalf("accepted = %v, want %v (err %v)", got, tc.ok, err)
			}
		})
	}
}

// TestSec52ClaimsConfusion: wrong issuer, audience or type, including an
// OpenID Connect ID token presented as an access token.
func TestSec52ClaimsConfusion(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name   string
		header func(h map[string]any)
		claims func(c map[string]any)
		ok     bool
	}{
		{"iss other", nil, func(c map[string]any) { c["iss"] = "https://evil.example" }, false},
		{"iss trailing slash", nil, func(c map[string]any) { c["iss"] = testIssuer + "/" }, false},
		{"iss missing", nil, func(c map[string]any) { delete(c, "iss") }, false},
		{"aud missing", nil, func(c map[string]any) { delete(c, "aud") }, false},
		{"aud wrong", nil, func(c map[string]any) { c["aud"] = "https://other.example" }, false},
		{"aud empty array", nil, func(c map[string]any) { c["aud"] = []string{} }, false},
		{"aud with number", nil, func(c map[string]any) { c["aud"] = []any{testAudience, 5} }, false},
		{"aud number", nil, func(c map[string]any) { c["aud"] = 5 }, false},
		{"aud array with ours", nil, func(c map[string]any) { c["aud"] = []string{"x", testAudience} }, true},
		{"sub missing", nil, func(c map[string]any) { delete(c, "sub") }, false},
		{"sub empty", nil, func(c map[string]any) { c["sub"] = "" }, false},
		{"sub number", nil, func(c map[string]any) { c["sub"] = 12345 }, false},
		{"sid missing", nil, func(c map[string]any) { delete(c, "sid") }, false},
		{"sid empty", nil, func(c map[string]any) { c["sid"] = "" }, false},
		{"sid number", nil, func(c map[string]any) { c["sid"] = 7 }, false},
		{"jti missing", nil, func(c map[string]any) { delete(c, "jti") }, false},
		{"typ absent", func(h map[string]any) { delete(h, "typ") }, nil, false},
		{"typ JWT", func(h map[string]any) { h["typ"] = "JWT" }, nil, false},
		{"typ id_token", func(h map[string]any) { h["typ"] = "id_token" }, nil, false},
		{"typ number", func(h map[string]any) { h["typ"] = 1 }, nil, false},
		// What an OpenID provider's ID token looks like, signed with our
		// key: no at+jwt type, a nonce, a provider's issuer.
		{"ID-token-like claims", func(h map[string]any) { h["typ"] = "JWT" }, func(c map[string]any) {
			c["nonce"], c["azp"], c["iss"] = "n-0S6_WzA2Mj", "gatehouse", "https://accounts.google.com"
		}, false},
		{"typ application/at+jwt", func(h map[string]any) { h["typ"] = "application/at+jwt" }, nil, true},
		{"claims not an object", nil, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, c := f.header(), f.claims()
			if tc.header != nil {
				tc.header(h)
			}
			var payload any = c
			if tc.claims != nil {
				tc.claims(c)
			} else if tc.header == nil {
				payload = `["not","an","object"]`
			}
			_, err := f.verifier.Verify(f.sign(h, payload))
			if got := err == nil; got != tc.ok {
				t.Fatalf("accepted = %v, want %v (err %v)", got, tc.ok, err)
			}
		})
	}
}

// TestSec53CriticalHeaders: validly signed tokens with crit are refused, as
// are the other header parameters we never set.
func TestSec53CriticalHeaders(t *testing.T) {
	f := newFixture(t)
	extra := map[string]map[string]any{
		`crit ["exp"]`:        {"crit": []string{"exp"}},
		`crit ["x"], x 1`:     {"crit": []string{"x"}, "x": 1},
		`crit ["b64"] b64 f`:  {"crit": []string{"b64"}, "b64": false},
		"jku":                 {"jku": "http://attacker.test/jwks"},
		"x5u":                 {"x5u": "http://attacker.test/cert"},
		"x5c":                 {"x5c": []string{"MIIB"}},
		"jwk":                 {"jwk": map[string]string{"kty": "EC"}},
		"cty":                 {"cty": "JWT"},
		"ALG upper-case name": {"ALG": "none"},
	}
	for name, add := range extra {
		t.Run(name, func(t *testing.T) {
			h := f.header()
			for k, v := range add {
				h[k] = v
			}
			f.mustReject(t, f.sign(h, f.claims()))
		})
	}
	// An attacker's own key, named by a kid we lack and a URL to fetch it
	// from.
	attacker := newFixture(t)
	for name, member := range map[string]string{"jku, other key and kid": "jku", "x5u, other key and kid": "x5u"} {
		t.Run(name, func(t *testing.T) {
			h := attacker.header()
			h["kid"], h[member] = "attacker", "http://attacker.test/keys"
			f.mustReject(t, attacker.sign(h, f.claims()))
		})
	}
}

// TestSec54KidInjection: odd, huge or unknown key ids, and the kid of a key
// that is no longer in the set, are refused without touching anything but
// the in-memory key set.
func TestSec54KidInjection(t *testing.T) {
	f := newFixture(t)
	retired := newFixture(t)
	kids := map[string]any{
		"path traversal":  "../../../../dev/null",
		"sql":             "' OR '1'='1",
		"10 KB":           strings.Repeat("k", 10<<10),
		"NUL":             "abc\u0000def",
		"unknown":         "QZ7YV3LX2JH5KQ4WMB6NDCPT0A",
		"empty":           "",
		"number":          42,
		"null":            nil,
		"retired key kid": retired.key.ID,
	}
	for name, kid := range kids {
		t.Run(name, func(t *testing.T) {
			h := f.header()
			h["kid"] = kid
			f.mustReject(t, f.sign(h, f.claims()))
		})
	}
	t.Run("retired key signature", func(t *testing.T) {
		f.mustReject(t, retired.sign(retired.header(), f.claims()))
	})
	t.Run("retired key signature, our kid", func(t *testing.T) {
		f.mustReject(t, retired.sign(f.header(), f.claims()))
	})
}

// TestSec55DenialOfServiceTokens: oversized and pathological tokens are
// refused by the size checks before any JSON is parsed.
func TestSec55DenialOfServiceTokens(t *testing.T) {
	f := newFixture(t)
	deep := strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)
	valid := f.sign(f.header(), f.claims())
	cases := map[string]string{
		"a million dots":  strings.Repeat(".", 1_000_000),
		"64 KB token":     f.sign(f.header(), map[string]any{"pad": strings.Repeat("A", 64<<10)}),
		"deep header":     jwstest.Sign(ES256, f.priv, deep, f.claims()),
		"deep payload":    f.sign(f.header(), deep),
		"huge header":     f.sign(map[string]any{"alg": ES256, "kid": f.key.ID, "typ": Type, "pad": strings.Repeat("x", 1000)}, f.claims()),
		"two segments":    valid[:strings.LastIndexByte(valid, '.')],
		"four segments":   valid + ".",
		"five-part JWE":   "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d",
		"JSON serialized": `{"payload":"e30","signatures":[{"protected":"e30","signature":"AA"}]}`,
		"empty":           "",
		"not a jwt":       "thisisnotajwt",
		"quote and brace": `ey"J{.a.b`,
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) { f.mustReject(t, raw) })
	}
}

// TestSec59JWKSPublicOnly: the JWKS of every key kind holds public members
// only, with kty, kid, alg and use "sig"; an HMAC secret is never published.
func TestSec59JWKSPublicOnly(t *testing.T) {
	var keys []*Key
	for _, alg := range []string{ES256, EdDSA, RS256} {
		sk, err := GenerateKey(alg, t0)
		if err != nil {
			t.Fatal(err)
		}
		k, err := ParseKey(sk)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	hk, err := NewHMACKey([]byte("k7Qw9zXv2LmN4pRt6YbHc8JdFs0GaEe1"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := NewKeySet(keys[0], keys[1], keys[2], hk)
	if err != nil {
		t.Fatal(err)
	}
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(set.JWKS(), &jwks); err != nil {
		t.Fatal(err)
	}
	if got, want := len(jwks.Keys), 3; got != want {
		t.Fatalf("JWKS has %d keys, want %d: %s", got, want, set.JWKS())
	}
	kids := map[any]bool{}
	for _, k := range jwks.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %v has private member %q", k["kid"], private)
			}
		}
		if k["kty"] == "oct" {
			t.Errorf("symmetric key published: %v", k)
		}
		for _, m := range []string{"kty", "kid", "alg"} {
			if k[m] == nil || k[m] == "" {
				t.Errorf("key %v lacks %q", k["kid"], m)
			}
		}
		if k["use"] != "sig" {
			t.Errorf("key %v use = %v, want sig", k["kid"], k["use"])
		}
		if kids[k["kid"]] {
			t.Errorf("kid %v repeated", k["kid"])
		}
		kids[k["kid"]] = true
	}

	hmacOnly, err := NewKeySet(hk)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(hmacOnly.JWKS()), `{"keys":[]}`; got != want {
		t.Errorf("JWKS of an HMAC-only set = %s, want %s", got, want)
	}
}

func TestParseKeyRejectsMismatchedAlgorithm(t *testing.T) {
	sk, err := GenerateKey(ES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{RS256, EdDSA, HS256, "ES384", ""} {
		bad := *sk
		bad.Algorithm = alg
		if _, err := ParseKey(&bad); err == nil {
			t.Errorf("ParseKey accepted an ECDSA key for %q", alg)
		}
	}
	if _, err := GenerateKey(HS256, t0); err == nil {
		t.Error("GenerateKey(HS256) succeeded; HMAC keys must come from the operator")
	}
}

func TestCheckHMACSecret(t *testing.T) {
	cases := []struct {
		secret string
		ok     bool
	}{
		{"short", false},
		{strings.Repeat("a", 64), false},
		{strings.Repeat("0123", 16), false},
		{"your-256-bit-secret", false},
		{"k7Qw9zXv2LmN4pRt6YbHc8JdFs0GaEe1", true},
		{"4f1c2e9a7b3d5c8e0f6a1b2c3d4e5f607182939a4b5c6d7e8f90a1b2c3d4e5f6", true},
	}
	for _, tc := range cases {
		if got := CheckHMACSecret([]byte(tc.secret)) == nil; got != tc.ok {
			t.Errorf("CheckHMACSecret(%q) ok = %v, want %v", tc.secret, got, tc.ok)
		}
	}
}

// TestMintBefore: a token never outlives the limit it is minted under, and
// a limit less than a second away is refused.
func TestMintBefore(t *testing.T) {
	f := newFixture(t)
	now := f.now.Truncate(time.Second)
	for _, tc := range []struct {
		limit time.Time
		want  time.Duration
	}{
		{time.Time{}, testTTL},
		{now.Add(testTTL + time.Hour), testTTL},
		{now.Add(90 * time.Second), 90 * time.Second},
		{now.Add(90*time.Second + 500*time.Millisecond), 90 * time.Second},
	} {
		raw, c, err := f.issuer.MintBefore("user-1", "session-1", tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Expiry.Sub(c.IssuedAt); got != tc.want {
			t.Errorf("limit %v: lifetime %v, want %v", tc.limit, got, tc.want)
		}
		if _, err := f.verifier.Verify(raw); err != nil {
			t.Errorf("limit %v: the token does not verify: %v", tc.limit, err)
		}
	}
	for _, limit := range []time.Time{now, now.Add(999 * time.Millisecond), now.Add(-time.Hour)} {
		if _, _, err := f.issuer.MintBefore("user-1", "session-1", limit); err == nil {
			t.Errorf("a limit %v from now was accepted", limit.Sub(now))
		}
	}
}
