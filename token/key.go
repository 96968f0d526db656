// Package token mints and verifies Gatehouse access tokens: JWS compact
// serializations with "typ":"at+jwt" (RFC 9068), signed with one key of a
// KeySet and verified as RFC 8725 and SECURITY.md section F require.
//
// A token has exactly one spelling that verifies: Verify refuses
// non-canonical base64, and, because an ECDSA signature (r, s) has a twin
// (r, n−s) that verifies as well, ES256 tokens are signed and accepted only
// with the low s (s ≤ n/2).
package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse"
	jose "github.com/go-jose/go-jose/v4"
)

// Signing algorithms Gatehouse supports. HS256 is only for a shared secret
// that the operator supplies; it is never generated or published.
const (
	ES256 = "ES256"
	EdDSA = "EdDSA"
	RS256 = "RS256"
	HS256 = "HS256"
)

// MinHMACSecretLen is the shortest HS256 secret Gatehouse accepts, in bytes.
const MinHMACSecretLen = 32

// Key is a parsed key, bound to exactly one algorithm. A Key from ParseKey
// or NewHMACKey signs and verifies; one from PublicKey or ParseJWKS only
// verifies.
type Key struct {
	ID        string
	Algorithm string
	CreatedAt time.Time

	// signer is nil for a verification-only key.
	signer jose.Signer
	// verify is what go-jose verifies with: a public key, or the HMAC
	// secret.
	verify any
	// public is nil for HMAC keys, which are never published.
	public crypto.PublicKey
}

// GenerateKey creates a new private key for alg (ES256, EdDSA or RS256) in
// its stored form, with a random key id.
func GenerateKey(alg string, now time.Time) (*gatehouse.SigningKey, error) {
	var priv any
	var err error
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return nil, fmt.Errorf("token: cannot generate a key for algorithm %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("token: generating %s key: %w", alg, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("token: encoding %s key: %w", alg, err)
	}
	return &gatehouse.SigningKey{
		ID:         rand.Text(),
		Algorithm:  alg,
		PrivateKey: der,
		CreatedAt:  now.UTC().Truncate(time.Second),
	}, nil
}

// ParseKey turns a stored signing key into a Key, checking that the private
// key is of the kind its algorithm needs.
func ParseKey(sk *gatehouse.SigningKey) (*Key, error) {
	priv, err := x509.ParsePKCS8PrivateKey(sk.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("token: key %q: %w", sk.ID, err)
	}
	var pub crypto.PublicKey
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		if sk.Algorithm != ES256 || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("token: key %q: an ECDSA key cannot be used with %q", sk.ID, sk.Algorithm)
		}
		pub = k.Public()
	case ed25519.PrivateKey:
		if sk.Algorithm != EdDSA {
			return nil, fmt.Errorf("token: key %q: an Ed25519 key cannot be used with %q", sk.ID, sk.Algorithm)
		}
		pub = k.Public()
	case *rsa.PrivateKey:
		if sk.Algorithm != RS256 || k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("token: key %q: an RSA key cannot be used with %q", sk.ID, sk.Algorithm)
		}
		pub = k.Public()
	default:
		return nil, fmt.Errorf("token: key %q: unsupported key type %T", sk.ID, priv)
	}
	if sk.ID == "" {
		return nil, errors.New("token: key has no id")
	}
	signer, err := newSigner(sk.Algorithm, sk.ID, priv)
	if err != nil {
		return nil, err
	}
	return &Key{ID: sk.ID, Algorithm: sk.Algorithm, CreatedAt: sk.CreatedAt, signer: signer, verify: pub, public: pub}, nil
}

// NewHMACKey returns an HS256 key for a shared secret of at least
// MinHMACSecretLen bytes. Anyone who can verify tokens made with it can also
// mint them, which is why it is opt-in.
func NewHMACKey(secret []byte) (*Key, error) {
	if err := CheckHMACSecret(secret); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte("gatehouse hs256 kid\x00"), secret...))
	kid := "hs256-" + base64.RawURLEncoding.EncodeToString(sum[:9])
	secret = slices.Clone(secret)
	signer, err := newSigner(HS256, kid, secret)
	if err != nil {
		return nil, err
	}
	return &Key{ID: kid, Algorithm: HS256, signer: signer, verify: secret}, nil
}

// CheckHMACSecret reports why secret is unfit to be an HS256 key: shorter
// than MinHMACSecretLen bytes, or made of so few distinct bytes (a repeated
// character, "0123" over and over) that it cannot be random.
func CheckHMACSecret(secret []byte) error {
	if len(secret) < MinHMACSecretLen {
		return fmt.Errorf("the HS256 secret must be at least %d bytes, got %d", MinHMACSecretLen, len(secret))
	}
	var seen [256]bool
	distinct := 0
	for _, b := range secret {
		if !seen[b] {
			seen[b] = true
			distinct++
		}
	}
	if distinct < 10 {
		return fmt.Errorf("the HS256 secret has only %d distinct bytes; generate one with `openssl rand -base64 32`", distinct)
	}
	return nil
}

func newSigner(alg, kid string, key any) (jose.Signer, error) {
	// The kid is set as a header of its own: go-jose derives it from a
	// JSONWebKey only for asymmetric keys.
	opts := (&jose.SignerOptions{}).WithType(Type).WithHeader("kid", kid)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key}, opts)
	if err != nil {
		return nil, fmt.Errorf("token: key %q: %w", kid, err)
	}
	return s, nil
}

// KeySet is an immutable set of keys: Signing signs new tokens, and every key
// in the set verifies.
type KeySet struct {
	signing *Key
	byID    map[string]*Key
	jwks    []byte
}

// NewKeySet returns a set that signs with signing and also verifies with
// others. Key ids must be unique.
func NewKeySet(signing *Key, others ...*Key) (*KeySet, error) {
	if signing == nil {
		return nil, errors.New("token: a key set needs a signing key")
	}
	if signing.signer == nil {
		return nil, fmt.Errorf("token: key %q is a public key and cannot sign", signing.ID)
	}
	s := &KeySet{signing: signing, byID: map[string]*Key{}}
	var published jose.JSONWebKeySet
	for _, k := range append([]*Key{signing}, others...) {
		if _, dup := s.byID[k.ID]; dup {
			return nil, fmt.Errorf("token: duplicate key id %q", k.ID)
		}
		s.byID[k.ID] = k
		if k.public != nil {
			published.Keys = append(published.Keys, jose.JSONWebKey{Key: k.public, KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"})
		}
	}
	if published.Keys == nil {
		published.Keys = []jose.JSONWebKey{}
	}
	jwks, err := json.Marshal(published)
	if err != nil {
		return nil, fmt.Errorf("token: encoding JWKS: %w", err)
	}
	s.jwks = jwks
	return s, nil
}

// Signing returns the key that signs new tokens.
func (s *KeySet) Signing() *Key { return s.signing }

// Key returns the key with the given id.
func (s *KeySet) Key(kid string) (*Key, bool) {
	k, ok := s.byID[kid]
	return k, ok
}

// JWKS returns the JSON Web Key Set of the set's public keys. It never
// contains private or symmetric key material.
func (s *KeySet) JWKS() []byte { return s.jwks }
