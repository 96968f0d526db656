package login

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// States, browser bindings, PKCE verifiers and nonces are 256 random bits,
// base64url-encoded. The store keeps states and bindings only as SHA-256
// hashes.

// randomToken returns 256 bits from crypto/rand, base64url-encoded: 43
// characters.
func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// isRandomToken reports whether s has the shape randomToken produces, so
// that nothing else (a huge or hostile value) reaches the store.
func isRandomToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// hash is how states and browser bindings are kept in the store.
func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
