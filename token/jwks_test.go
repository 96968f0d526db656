package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"
)

// publishedJWK returns the JWK that a KeySet publishes for a new key of
// alg, as a map the test can change, and the key.
func publishedJWK(t testing.TB, alg string) (map[string]any, *Key) {
	t.Helper()
	sk, err := GenerateKey(alg, t0)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	set, err := NewKeySet(k)
	if err != nil {
		t.Fatal(err)
	}
	var jwks struct{ Keys []map[string]any }
	if err := json.Unmarshal(set.JWKS(), &jwks); err != nil {
		t.Fatal(err)
	}
	return jwks.Keys[0], k
}

func jwksOf(keys ...map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		panic(err)
	}
	return b
}

// TestParseJWKSRoundTrip: what a KeySet publishes parses into keys that
// verify the set's tokens, for every published algorithm, and the keys
// cannot sign.
func TestParseJWKSRoundTrip(t *testing.T) {
	var signing []*Key
	for _, alg := range []string{ES256, EdDSA, RS256} {
		sk, err := GenerateKey(alg, t0)
		if err != nil {
			t.Fatal(err)
		}
		k, err := ParseKey(sk)
		if err != nil {
			t.Fatal(err)
		}
		signing = append(signing, k)
	}
	hk, err := NewHMACKey([]byte("k7Qw9zXv2LmN4pRt6YbHc8JdFs0GaEe1"))
	if err != nil {
		t.Fatal(err)
	}
	all, err := NewKeySet(signing[0], signing[1], signing[2], hk)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ParseJWKS(all.JWKS())
	if err != nil {
		t.Fatalf("ParseJWKS: %v", err)
	}
	if got, want := len(keys), 3; got != want {
		t.Fatalf("%d keys, want %d", got, want)
	}
	remote := mapKeys{}
	for _, k := range keys {
		remote[k.ID] = k
	}
	now := func() time.Time { return t0 }
	for _, k := range signing {
		t.Run(k.Algorithm, func(t *testing.T) {
			set, err := NewKeySet(k)
			if err != nil {
				t.Fatal(err)
			}
			raw, _, err := (&Issuer{Issuer: testIssuer, Audience: testAudience, TTL: testTTL, Keys: set, Now: now}).Mint("user-1", "session-1")
			if err != nil {
				t.Fatal(err)
			}
			v := &Verifier{Issuer: testIssuer, Audience: testAudience, Keys: remote, Leeway: testLeeway, Now: now}
			if _, err := v.Verify(raw); err != nil {
				t.Fatalf("Verify with the published key: %v", err)
			}
			if got := remote[k.ID].Algorithm; got != k.Algorithm {
				t.Errorf("Algorithm = %q, want %q", got, k.Algorithm)
			}
			if _, err := NewKeySet(remote[k.ID]); err == nil {
				t.Error("NewKeySet accepted a public key as its signing key")
			}
		})
	}
}

// mapKeys is the simplest KeySource.
type mapKeys map[string]*Key

func (m mapKeys) Key(kid string) (*Key, bool) {
	k, ok := m[kid]
	return k, ok
}

func TestParseJWKSRefuses(t *testing.T) {
	ec, _ := publishedJWK(t, ES256)
	ed, _ := publishedJWK(t, EdDSA)
	rs, _ := publishedJWK(t, RS256)
	with := func(base map[string]any, mod func(k map[string]any)) map[string]any {
		k := map[string]any{}
		for n, v := range base {
			k[n] = v
		}
		mod(k)
		return k
	}
	set := func(name string, v any) func(map[string]any) { return func(k map[string]any) { k[name] = v } }
	drop := func(name string) func(map[string]any) { return func(k map[string]any) { delete(k, name) } }
	b64 := base64.RawURLEncoding.EncodeToString
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384b, _ := p384.PublicKey.Bytes()
	ecx, _ := base64.RawURLEncoding.DecodeString(ec["x"].(string))

	cases := map[string][]byte{
		"EC private d":          jwksOf(with(ec, set("d", b64(make([]byte, 32))))),
		"RSA private p":         jwksOf(with(rs, set("p", "AQAB"))),
		"RSA private d":         jwksOf(with(rs, set("d", "AQAB"))),
		"OKP private d":         jwksOf(with(ed, set("d", ed["x"]))),
		"oct":                   jwksOf(map[string]any{"kty": "oct", "kid": "h", "alg": "HS256", "k": b64([]byte("k7Qw9zXv2LmN4pRt6YbHc8JdFs0GaEe1"))}),
		"oct without k":         jwksOf(map[string]any{"kty": "oct", "kid": "h", "alg": "HS256"}),
		"alg missing":           jwksOf(with(ec, drop("alg"))),
		"alg HS256 on EC":       jwksOf(with(ec, set("alg", "HS256"))),
		"alg RS256 on EC":       jwksOf(with(ec, set("alg", RS256))),
		"alg ES256 on RSA":      jwksOf(with(rs, set("alg", ES256))),
		"alg PS256 on RSA":      jwksOf(with(rs, set("alg", "PS256"))),
		"alg ES256 on OKP":      jwksOf(with(ed, set("alg", ES256))),
		"alg none":              jwksOf(with(ec, set("alg", "none"))),
		"alg number":            jwksOf(with(ec, set("alg", 256))),
		"use enc":               jwksOf(with(ec, set("use", "enc"))),
		"use empty":             jwksOf(with(ec, set("use", ""))),
		"key_ops sign":          jwksOf(with(ec, set("key_ops", []string{"sign", "verify"}))),
		"kid missing":           jwksOf(with(ec, drop("kid"))),
		"kid empty":             jwksOf(with(ec, set("kid", ""))),
		"kid too long":          jwksOf(with(ec, set("kid", strings.Repeat("k", MaxKeyIDLen+1)))),
		"kid number":            jwksOf(with(ec, set("kid", 7))),
		"duplicate kid":         jwksOf(ec, with(ed, set("kid", ec["kid"]))),
		"duplicate key":         jwksOf(ec, ec),
		"EC P-384 curve":        jwksOf(with(ec, func(k map[string]any) { k["crv"], k["x"], k["y"] = "P-384", b64(p384b[1:49]), b64(p384b[49:]) })),
		"EC P-384 point as 256": jwksOf(with(ec, func(k map[string]any) { k["x"], k["y"] = b64(p384b[1:49]), b64(p384b[49:]) })),
		"EC point off curve":    jwksOf(with(ec, set("y", ec["x"]))),
		"EC x short":            jwksOf(with(ec, set("x", b64(ecx[1:])))),
		"EC x padded":           jwksOf(with(ec, set("x", base64.URLEncoding.EncodeToString(ecx)))),
		"EC x std alphabet":     jwksOf(with(ec, set("x", base64.RawStdEncoding.EncodeToString(append([]byte{0xfb, 0xff}, ecx[2:]...))))),
		"EC y missing":          jwksOf(with(ec, drop("y"))),
		"EC crv missing":        jwksOf(with(ec, drop("crv"))),
		"OKP X25519":            jwksOf(with(ed, set("crv", "X25519"))),
		"OKP short":             jwksOf(with(ed, set("x", b64(make([]byte, 31))))),
		"RSA 1024 bits":         jwksOf(with(rs, set("n", b64(rsa1024.N.Bytes())))),
		"RSA 16384 bits":        jwksOf(with(rs, set("n", b64(append([]byte{0xff}, make([]byte, 2047)...))))),
		"RSA n leading zero": jwksOf(with(rs, func(k map[string]any) {
			n, _ := base64.RawURLEncoding.DecodeString(k["n"].(string))
			k["n"] = b64(append([]byte{0}, n...))
		})),
		"RSA e even":            jwksOf(with(rs, set("e", b64([]byte{1, 0, 0})))),
		"RSA e 1":               jwksOf(with(rs, set("e", b64([]byte{1})))),
		"RSA e huge":            jwksOf(with(rs, set("e", b64(big.NewInt(1<<40+1).Bytes())))),
		"RSA e missing":         jwksOf(with(rs, drop("e"))),
		"kty missing":           jwksOf(with(ec, drop("kty"))),
		"kty unknown":           jwksOf(with(ec, set("kty", "EC2"))),
		"key not an object":     []byte(`{"keys":["x"]}`),
		"key null":              []byte(`{"keys":[null]}`),
		"keys missing":          []byte(`{}`),
		"keys null":             []byte(`{"keys":null}`),
		"keys an object":        []byte(`{"keys":{}}`),
		"not JSON":              []byte(`<html>`),
		"empty":                 nil,
		"trailing data":         append(jwksOf(ec), []byte(` {}`)...),
		"too many keys":         jwksOf(manyKeys(t, ec, MaxJWKSKeys+1)...),
		"too large":             append(jwksOf(ec)[:len(jwksOf(ec))-1], []byte(`,"pad":"`+strings.Repeat("x", MaxJWKSSize)+`"}`)...),
		"one good, one private": jwksOf(ec, with(ed, set("d", ed["x"]))),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if keys, err := ParseJWKS(b); err == nil {
				t.Fatalf("ParseJWKS accepted %d keys from %.300s", len(keys), b)
			}
		})
	}

	for name, b := range map[string][]byte{
		"use absent":       jwksOf(with(ec, drop("use"))),
		"key_ops verify":   jwksOf(with(ec, set("key_ops", []string{"verify"}))),
		"unknown member":   jwksOf(with(ec, set("x5t", "abc"))),
		"empty set":        []byte(`{"keys":[]}`),
		"MaxJWKSKeys keys": jwksOf(manyKeys(t, ec, MaxJWKSKeys)...),
		"three kinds":      jwksOf(ec, ed, rs),
	} {
		t.Run("accepts "+name, func(t *testing.T) {
			if _, err := ParseJWKS(b); err != nil {
				t.Fatalf("ParseJWKS: %v", err)
			}
		})
	}
}

// manyKeys returns n copies of jwk with distinct kids.
func manyKeys(t testing.TB, jwk map[string]any, n int) []map[string]any {
	keys := make([]map[string]any, n)
	for i := range keys {
		k := map[string]any{}
		for name, v := range jwk {
			k[name] = v
		}
		k["kid"] = fmt.Sprintf("k%d", i)
		keys[i] = k
	}
	return keys
}

func TestPublicKey(t *testing.T) {
	ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaPriv := rsaTestKey(t)
	cases := []struct {
		name     string
		kid, alg string
		pub      any
		ok       bool
	}{
		{"ES256", "k", ES256, &ecPriv.PublicKey, true},
		{"EdDSA", "k", EdDSA, edPub, true},
		{"RS256", "k", RS256, &rsaPriv.PublicKey, true},
		{"ECDSA private", "k", ES256, ecPriv, false},
		{"Ed25519 private", "k", EdDSA, edPriv, false},
		{"RSA private", "k", RS256, rsaPriv, false},
		{"HMAC secret", "k", HS256, []byte("k7Qw9zXv2LmN4pRt6YbHc8JdFs0GaEe1"), false},
		{"ECDSA as RS256", "k", RS256, &ecPriv.PublicKey, false},
		{"RSA as PS256", "k", "PS256", &rsaPriv.PublicKey, false},
		{"Ed25519 as ES256", "k", ES256, edPub, false},
		{"empty kid", "", ES256, &ecPriv.PublicKey, false},
		{"nil", "k", ES256, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PublicKey(tc.kid, tc.alg, tc.pub)
			if got := err == nil; got != tc.ok {
				t.Fatalf("ok = %v, want %v (err %v)", got, tc.ok, err)
			}
		})
	}
}

// FuzzParseJWKS feeds arbitrary bytes to ParseJWKS. It must never panic,
// and every key it returns must be a verification-only key of a supported
// algorithm with a unique kid.
func FuzzParseJWKS(f *testing.F) {
	ec, _ := publishedJWK(f, ES256)
	ed, _ := publishedJWK(f, EdDSA)
	rs, _ := publishedJWK(f, RS256)
	for _, seed := range [][]byte{
		jwksOf(ec, ed, rs),
		jwksOf(ec),
		jwksOf(ec, ec),
		[]byte(`{"keys":[]}`),
		[]byte(`{"keys":[{"kty":"oct","kid":"h","alg":"HS256","k":"c2VjcmV0"}]}`),
		[]byte(`{"keys":[{"kty":"EC","kid":"a","alg":"ES256","crv":"P-256","x":"","y":""}]}`),
		[]byte(`{"keys":[{"kty":"RSA","kid":"r","alg":"RS256","n":"AQAB","e":"AQAB"}]}`),
		[]byte(`{"keys":[{"kty":"OKP","kid":"o","alg":"EdDSA","crv":"Ed25519","x":"AAAA","d":"AAAA"}]}`),
		[]byte(`{"keys":null}`),
		[]byte(`[]`),
		[]byte(`{"keys":[null,1,"x",[]]}`),
		[]byte(`{"keys":[{}]} trailing`),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := ParseJWKS(b)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if k.signer != nil || k.public == nil {
				t.Fatalf("key %q is not verification-only", k.ID)
			}
			if k.Algorithm != ES256 && k.Algorithm != EdDSA && k.Algorithm != RS256 {
				t.Fatalf("key %q has algorithm %q", k.ID, k.Algorithm)
			}
			if k.ID == "" || seen[k.ID] {
				t.Fatalf("kid %q empty or repeated", k.ID)
			}
			seen[k.ID] = true
		}
	})
}
