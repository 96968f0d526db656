package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"
)

var (
	testN     = elliptic.P256().Params().N
	testHalfN = new(big.Int).Rsh(testN, 1)
)

// splitES256 returns the signing input of raw and the r and s of its
// ES256 signature.
func splitES256(t testing.TB, raw string) (input string, r, s *big.Int) {
	t.Helper()
	i := strings.LastIndexByte(raw, '.')
	sig, err := base64.RawURLEncoding.DecodeString(raw[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(sig), 64; got != want {
		t.Fatalf("signature length = %v, want %v", got, want)
	}
	return raw[:i], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
}

// withSignature returns the signing input followed by sig, canonically
// encoded.
func withSignature(input string, sig []byte) string {
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// rs returns the 64-byte r||s encoding of r and s, which must fit.
func rs(r, s *big.Int) []byte {
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return sig
}

// highS returns raw with its signature's s replaced by n−s: the other
// spelling of the same ECDSA signature.
func highS(t testing.TB, raw string) string {
	t.Helper()
	input, r, s := splitES256(t, raw)
	return withSignature(input, rs(r, new(big.Int).Sub(testN, s)))
}

// TestMintedES256SignaturesHaveLowS mints enough tokens that, if half of
// the signatures had a high s as ecdsa.Sign gives them, missing one would
// take odds of 2^-300.
func TestMintedES256SignaturesHaveLowS(t *testing.T) {
	f := newFixture(t)
	for i := range 300 {
		raw, _, err := f.issuer.Mint("user-1", "session-1")
		if err != nil {
			t.Fatal(err)
		}
		_, _, s := splitES256(t, raw)
		if got, want := s.Cmp(testHalfN) <= 0, true; got != want {
			t.Fatalf("token %d: s <= n/2 = %v, want %v", i, got, want)
		}
		if _, err := f.verifier.Verify(raw); err != nil {
			t.Fatalf("token %d: Verify: %v", i, err)
		}
	}
}

// TestHighSIsRefused re-spells minted tokens with n−s. The new signature is
// mathematically valid, as ecdsa.Verify confirms, so the refusal can only be
// the low-s rule.
func TestHighSIsRefused(t *testing.T) {
	f := newFixture(t)
	for i := range 20 {
		raw, _, err := f.issuer.Mint("user-1", "session-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.verifier.Verify(raw); err != nil {
			t.Fatalf("token %d: Verify of the minted token: %v", i, err)
		}
		flipped := highS(t, raw)
		if flipped == raw {
			t.Fatal("the flipped token is the minted one")
		}
		input, r, s := splitES256(t, flipped)
		h := sha256.Sum256([]byte(input))
		if got, want := ecdsa.Verify(&f.priv.PublicKey, h[:], r, s), true; got != want {
			t.Fatalf("token %d: ecdsa.Verify of (r, n-s) = %v, want %v", i, got, want)
		}
		f.mustReject(t, flipped)
	}
}

// TestES256SignatureRange: r and s outside 1..n-1, s above n/2, and
// signatures of the wrong length are refused before the signature check.
func TestES256SignatureRange(t *testing.T) {
	f := newFixture(t)
	raw, _, err := f.issuer.Mint("user-1", "session-1")
	if err != nil {
		t.Fatal(err)
	}
	input, r, s := splitES256(t, raw)
	zero := new(big.Int)
	one := big.NewInt(1)
	cases := []struct {
		name string
		sig  []byte
		ok   bool
	}{
		{"as minted", rs(r, s), true},
		{"r = 0", rs(zero, s), false},
		{"r = n", rs(testN, s), false},
		{"s = 0", rs(r, zero), false},
		{"s = n", rs(r, testN), false},
		{"s = n-s", rs(r, new(big.Int).Sub(testN, s)), false},
		{"s = n/2+1", rs(r, new(big.Int).Add(testHalfN, one)), false},
		{"s = n-1", rs(r, new(big.Int).Sub(testN, one)), false},
		{"63 bytes", rs(r, s)[1:], false},
		{"65 bytes, leading zero", append([]byte{0}, rs(r, s)...), false},
		{"65 bytes, trailing zero", append(rs(r, s), 0), false},
		{"r||s as 2x33 bytes", append(append([]byte{0}, rs(r, s)[:32]...), append([]byte{0}, rs(r, s)[32:]...)...), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := withSignature(input, tc.sig)
			if !tc.ok {
				f.mustReject(t, tok)
				return
			}
			if _, err := f.verifier.Verify(tok); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

// TestLowSRuleIsES256Only: EdDSA and RS256 signatures are not r||s, and
// the low-s rule must not be applied to them. Half of Ed25519 signatures
// read as r||s would have a "high s", so 50 mints would catch it.
func TestLowSRuleIsES256Only(t *testing.T) {
	for _, alg := range []string{EdDSA, RS256} {
		t.Run(alg, func(t *testing.T) {
			sk, err := GenerateKey(alg, t0)
			if err != nil {
				t.Fatal(err)
			}
			k, err := ParseKey(sk)
			if err != nil {
				t.Fatal(err)
			}
			keys, err := NewKeySet(k)
			if err != nil {
				t.Fatal(err)
			}
			now := func() time.Time { return t0 }
			iss := &Issuer{Issuer: testIssuer, Audience: testAudience, TTL: testTTL, Keys: keys, Now: now}
			v := &Verifier{Issuer: testIssuer, Audience: testAudience, Keys: keys, Leeway: testLeeway, MaxTTL: testTTL, Now: now}
			for i := range 50 {
				raw, _, err := iss.Mint("user-1", "session-1")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := v.Verify(raw); err != nil {
					t.Fatalf("token %d: Verify: %v", i, err)
				}
			}
		})
	}
}
