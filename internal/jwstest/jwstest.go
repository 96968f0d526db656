// Package jwstest crafts JWS compact serializations with any header and
// payload, correctly signed or not, for tests that attack token
// verification. It is deliberately permissive: it signs whatever it is
// given.
package jwstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// Encode returns the base64url (unpadded) encoding of v, JSON-encoding it
// first unless it is a string or []byte, which are taken as raw JSON.
func Encode(v any) string {
	var b []byte
	switch x := v.(type) {
	case string:
		b = []byte(x)
	case []byte:
		b = x
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			panic(err)
		}
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Sign returns header.payload.signature, signing with alg and key: ES256
// with *ecdsa.PrivateKey (always with the low s, s ≤ n/2), EdDSA with
// ed25519.PrivateKey, RS256 or PS256 with *rsa.PrivateKey, HS256 or HS512
// with []byte, and "none" (any case) with an empty signature. The header
// and payload are used exactly as given (see Encode); the header's own
// "alg" is not checked against alg.
func Sign(alg string, key any, header, payload any) string {
	input := Encode(header) + "." + Encode(payload)
	sig, err := signature(alg, key, []byte(input))
	if err != nil {
		panic(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func signature(alg string, key any, input []byte) ([]byte, error) {
	switch alg {
	case "ES256":
		k := key.(*ecdsa.PrivateKey)
		h := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
		if err != nil {
			return nil, err
		}
		// (r, n−s) verifies too; token.Verifier accepts only the low s.
		n := k.Curve.Params().N
		if s.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
			s.Sub(n, s)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out, nil
	case "EdDSA":
		return ed25519.Sign(key.(ed25519.PrivateKey), input), nil
	case "RS256":
		h := sha256.Sum256(input)
		return rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, h[:])
	case "PS256":
		h := sha256.Sum256(input)
		return rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, h[:], nil)
	case "HS256":
		m := hmac.New(sha256.New, key.([]byte))
		m.Write(input)
		return m.Sum(nil), nil
	case "HS512":
		m := hmac.New(sha512.New, key.([]byte))
		m.Write(input)
		return m.Sum(nil), nil
	}
	if len(alg) == 4 && (alg[0]|0x20) == 'n' && (alg[1]|0x20) == 'o' && (alg[2]|0x20) == 'n' && (alg[3]|0x20) == 'e' {
		return nil, nil
	}
	return nil, fmt.Errorf("jwstest: unknown alg %q", alg)
}

// RawPublicKey returns the uncompressed x||y bytes of an ECDSA public key,
// as a JWK carries them, for key-confusion attacks.
func RawPublicKey(k *ecdsa.PublicKey) []byte {
	b, err := k.Bytes()
	if err != nil {
		panic(err)
	}
	return b[1:]
}

// FlipBit returns token with one bit flipped in the decoded bytes of its
// segment seg (0 header, 1 payload, 2 signature), re-encoded canonically.
func FlipBit(token string, seg, bit int) string {
	parts := strings.Split(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[seg])
	if err != nil {
		panic(err)
	}
	b[bit/8] ^= 1 << (bit % 8)
	parts[seg] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}
