package session

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// Refresh tokens are opaque to clients: the session's id, a dot, and 256
// bits, base64url-encoded. The first token of a session is random; each
// next one is the HMAC-SHA256 of the one before it, keyed by the session's
// secret, so that tabs refreshing with the same token at once all get the
// same successor without any token kept in the clear. The store keeps only
// SHA-256 hashes of tokens. The session id lets a node refuse a session's
// access tokens when it could not record the session's logout, without
// asking the database.

const (
	idLen     = 36 // gatehouse.NewID
	secretLen = 43 // 32 bytes, unpadded base64url
	tokenLen  = idLen + 1 + secretLen
)

func newToken(sid string) string {
	var b [32]byte
	rand.Read(b[:])
	return sid + "." + base64.RawURLEncoding.EncodeToString(b[:])
}

// successor is the refresh token that follows raw in its session.
func successor(secret []byte, raw string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(raw))
	return raw[:idLen+1] + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// WellFormed reports whether raw has the shape of a refresh token, so that
// anything else put in the cookie (an access token, a forged string) is
// refused before the store is asked.
func WellFormed(raw string) bool {
	_, ok := sessionID(raw)
	return ok
}

// sessionID returns the session id a well-formed token names.
func sessionID(raw string) (string, bool) {
	if len(raw) != tokenLen || raw[idLen] != '.' {
		return "", false
	}
	sid := raw[:idLen]
	for i := 0; i < idLen; i++ {
		c := sid[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return "", false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		default:
			return "", false
		}
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(raw[idLen+1:]); err != nil {
		return "", false
	}
	return sid, !strings.ContainsAny(raw[idLen+1:], "=")
}

// hash is how refresh tokens are kept in the store.
func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
