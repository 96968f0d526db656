package token

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// Limits on a JWKS that ParseJWKS reads: it comes over the network, from a
// server that may be misconfigured or impersonated.
const (
	// MaxJWKSSize caps the encoded key set, in bytes.
	MaxJWKSSize = 256 << 10
	// MaxJWKSKeys caps the number of keys in a set.
	MaxJWKSKeys = 100
	// MaxKeyIDLen caps a key id, in bytes.
	MaxKeyIDLen = 256
	// maxRSABits bounds the modulus, so that a hostile key cannot make
	// every verification slow.
	maxRSABits = 8192
)

// PublicKey returns a verification-only Key for pub, bound to alg: ES256
// needs a P-256 *ecdsa.PublicKey, EdDSA an ed25519.PublicKey, and RS256 an
// *rsa.PublicKey of 2048 to 8192 bits. Private keys and HMAC secrets are
// refused. The Key verifies tokens; a KeySet cannot sign with it.
func PublicKey(kid, alg string, pub crypto.PublicKey) (*Key, error) {
	if kid == "" || len(kid) > MaxKeyIDLen {
		return nil, fmt.Errorf("token: key id of %d bytes, want 1 to %d", len(kid), MaxKeyIDLen)
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if alg != ES256 || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("token: key %q: an ECDSA key cannot be used with %q", kid, alg)
		}
	case ed25519.PublicKey:
		if alg != EdDSA || len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("token: key %q: an Ed25519 key cannot be used with %q", kid, alg)
		}
	case *rsa.PublicKey:
		if alg != RS256 || k.N.BitLen() < 2048 || k.N.BitLen() > maxRSABits {
			return nil, fmt.Errorf("token: key %q: an RSA key of %d bits cannot be used with %q", kid, k.N.BitLen(), alg)
		}
	default:
		return nil, fmt.Errorf("token: key %q: %T is not a supported public key", kid, pub)
	}
	return &Key{ID: kid, Algorithm: alg, verify: pub, public: pub}, nil
}

// ParseJWKS parses a JSON Web Key Set (RFC 7517) of verification keys, such
// as the one Gatehouse publishes at /.well-known/jwks.json. Every key must
// have a unique kid, an alg of ES256, EdDSA or RS256 that matches its kty
// and curve, and a use of "sig" or none; PublicKey's limits apply. The whole
// set is refused if any key is private (has "d" or another private member),
// symmetric (kty "oct"), or otherwise unfit, or if the input is larger than
// MaxJWKSSize or holds more than MaxJWKSKeys keys: a set is either trusted
// whole or not at all.
func ParseJWKS(b []byte) ([]*Key, error) {
	if len(b) > MaxJWKSSize {
		return nil, fmt.Errorf("token: JWKS of %d bytes, more than %d", len(b), MaxJWKSSize)
	}
	var set struct {
		Keys []map[string]json.RawMessage `json:"keys"`
	}
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&set); err != nil {
		return nil, fmt.Errorf("token: JWKS is not a JSON object with a keys array: %w", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("token: JWKS has data after its object")
	}
	if set.Keys == nil {
		return nil, errors.New("token: JWKS has no keys array")
	}
	if len(set.Keys) > MaxJWKSKeys {
		return nil, fmt.Errorf("token: JWKS has %d keys, more than %d", len(set.Keys), MaxJWKSKeys)
	}
	keys := make([]*Key, 0, len(set.Keys))
	seen := make(map[string]bool, len(set.Keys))
	for i, m := range set.Keys {
		k, err := parseJWK(m)
		if err != nil {
			return nil, fmt.Errorf("token: JWKS key %d: %w", i, err)
		}
		if seen[k.ID] {
			return nil, fmt.Errorf("token: JWKS key %d: duplicate key id %q", i, k.ID)
		}
		seen[k.ID] = true
		keys = append(keys, k)
	}
	return keys, nil
}

// privateMembers are the JWK members of private and symmetric keys (RFC 7518
// section 6): a published key with any of them leaks a secret, and its
// publisher cannot be trusted with ours.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

func parseJWK(m map[string]json.RawMessage) (*Key, error) {
	if m == nil {
		return nil, errors.New("not a JSON object")
	}
	for _, name := range privateMembers {
		if _, ok := m[name]; ok {
			return nil, fmt.Errorf("has private member %q", name)
		}
	}
	var err error
	str := func(name string, required bool) string {
		raw, ok := m[name]
		if err != nil || !ok && !required {
			return ""
		}
		var s string
		if !ok {
			err = fmt.Errorf("lacks %q", name)
		} else if json.Unmarshal(raw, &s) != nil || s == "" {
			err = fmt.Errorf("%q is not a non-empty string", name)
		}
		return s
	}
	b64member := func(name string) []byte {
		s := str(name, true)
		if err != nil {
			return nil
		}
		v, e := b64.DecodeString(s)
		if e != nil || !isBase64URL(s) {
			err = fmt.Errorf("%q is not canonical unpadded base64url", name)
		}
		return v
	}
	kty, kid, alg, use := str("kty", true), str("kid", true), str("alg", true), str("use", false)
	if err != nil {
		return nil, err
	}
	if use != "" && use != "sig" {
		return nil, fmt.Errorf("key %q: use %q, want sig", kid, use)
	}
	if raw, ok := m["key_ops"]; ok {
		var ops []string
		if json.Unmarshal(raw, &ops) != nil || len(ops) != 1 || ops[0] != "verify" {
			return nil, fmt.Errorf("key %q: key_ops must be [\"verify\"]", kid)
		}
	}
	var pub crypto.PublicKey
	switch kty {
	case "EC":
		if crv := str("crv", true); err == nil && crv != "P-256" {
			return nil, fmt.Errorf("key %q: curve %q, want P-256", kid, crv)
		}
		x, y := b64member("x"), b64member("y")
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", kid, err)
		}
		if len(x) != 32 || len(y) != 32 {
			return nil, fmt.Errorf("key %q: P-256 coordinates must be 32 bytes", kid)
		}
		k, e := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if e != nil {
			return nil, fmt.Errorf("key %q: %w", kid, e)
		}
		pub = k
	case "OKP":
		if crv := str("crv", true); err == nil && crv != "Ed25519" {
			return nil, fmt.Errorf("key %q: curve %q, want Ed25519", kid, crv)
		}
		x := b64member("x")
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", kid, err)
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("key %q: an Ed25519 key must be %d bytes", kid, ed25519.PublicKeySize)
		}
		pub = ed25519.PublicKey(x)
	case "RSA":
		n, e := b64member("n"), b64member("e")
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", kid, err)
		}
		// RFC 7518 section 6.3.1: minimal big-endian integers, so that a
		// key has one spelling; the exponent fits an int and is odd.
		if len(n) == 0 || n[0] == 0 || len(e) == 0 || e[0] == 0 || len(e) > 4 {
			return nil, fmt.Errorf("key %q: malformed RSA modulus or exponent", kid)
		}
		exp := int(new(big.Int).SetBytes(e).Int64())
		if exp < 3 || exp%2 == 0 {
			return nil, fmt.Errorf("key %q: RSA exponent %d", kid, exp)
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}
	case "oct":
		return nil, fmt.Errorf("key %q: symmetric keys are never published", kid)
	default:
		return nil, fmt.Errorf("key %q: unsupported kty %q", kid, kty)
	}
	return PublicKey(kid, alg, pub)
}
