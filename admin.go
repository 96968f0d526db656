package gatehouse

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"
)

// AdminKeyPrefix starts every admin API key, so that a key found in a log
// or a repository is recognised for what it is.
const AdminKeyPrefix = "gha_"

// AdminKey is a stored admin API key. The key itself is shown once, when
// it is made; the store keeps only its hash.
type AdminKey struct {
	// Name is the operator's name for the key, unique; audit lines carry
	// it.
	Name string
	// Hash is HashAdminKey of the key.
	Hash       string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	// RevokedAt is when the key was revoked, or nil while it is live.
	RevokedAt *time.Time
}

// NewAdminKey returns a new random admin key, AdminKeyPrefix followed by
// 32 random bytes in base64url, and its hash.
func NewAdminKey() (key, hash string) {
	b := make([]byte, 32)
	rand.Read(b)
	key = AdminKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	return key, HashAdminKey(key)
}

// HashAdminKey is how admin keys are stored and looked up: SHA-256,
// base64url, like every other token Gatehouse keeps. The key has 256
// random bits, so a fast hash is enough.
func HashAdminKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// IsAdminKey reports whether s has the shape of an admin key.
func IsAdminKey(s string) bool {
	return strings.HasPrefix(s, AdminKeyPrefix) && len(s) == len(AdminKeyPrefix)+43
}

// Bounds of UserQuery.Limit.
const (
	DefaultUserListLimit = 50
	MaxUserListLimit     = 200
)

// UserQuery selects a page of users for Store.ListUsers.
type UserQuery struct {
	// After is the id of the last user of the previous page; "" starts at
	// the first.
	After string
	// Search, if not empty, keeps the users whose email or login starts
	// with it, ignoring ASCII case (an exact match is a prefix too).
	Search string
	// Limit is the most users returned; it must be positive.
	Limit int
}
