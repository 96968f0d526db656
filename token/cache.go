package token

import (
	"crypto/sha256"
	"slices"
	"sync"
	"time"
)

// Cache remembers the claims of tokens a Verifier has accepted, so that a
// token presented again skips the decoding and the signature check. It is
// keyed by the SHA-256 of the whole token, holds at most its size, and
// never answers for a token at or after its exp, nor for one whose key the
// Verifier's KeySource no longer has. When full it drops an expired entry
// if it finds one among a few, else an arbitrary one.
//
// A Cache belongs to one Verifier: the issuer, audience and lifetime checks
// were made with that Verifier's settings. It is safe for concurrent use.
type Cache struct {
	size int

	mu      sync.RWMutex
	entries map[[sha256.Size]byte]cacheEntry
}

type cacheEntry struct {
	claims Claims
	kid    string
}

// Bounds of a Cache's size, for the settings that choose it.
const (
	// DefaultCacheSize is how many verified tokens a Cache of default
	// size remembers: a few MB, and enough for the active users of most
	// deployments. An entry costs a few hundred bytes.
	DefaultCacheSize = 10_000
	// MaxCacheSize is the largest size a setting may ask for.
	MaxCacheSize = 1_000_000
)

// evictProbes is how many entries a full Cache looks at for an expired one
// before dropping whichever it saw first.
const evictProbes = 8

// NewCache returns an empty Cache of at most size tokens. It panics if size
// is not positive.
func NewCache(size int) *Cache {
	if size < 1 {
		panic("token: NewCache with a size below 1")
	}
	return &Cache{size: size, entries: make(map[[sha256.Size]byte]cacheEntry)}
}

// Size returns the most tokens the cache holds.
func (c *Cache) Size() int { return c.size }

// Len returns the number of tokens in the cache, expired ones included.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// get returns a copy of the claims cached under sum if they expire after
// now and keys still has the key that signed the token.
func (c *Cache) get(sum [sha256.Size]byte, now time.Time, keys KeySource) (*Claims, bool) {
	c.mu.RLock()
	e, ok := c.entries[sum]
	c.mu.RUnlock()
	if !ok || !now.Before(e.claims.Expiry) {
		return nil, false
	}
	if _, ok := keys.Key(e.kid); !ok {
		return nil, false
	}
	claims := e.claims
	claims.Audience = slices.Clone(claims.Audience)
	return &claims, true
}

// put caches a copy of claims under sum, unless they expire by now.
func (c *Cache) put(sum [sha256.Size]byte, claims *Claims, kid string, now time.Time) {
	if !now.Before(claims.Expiry) {
		return
	}
	e := cacheEntry{claims: *claims, kid: kid}
	e.claims.Audience = slices.Clone(claims.Audience)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[sum]; !ok && len(c.entries) >= c.size {
		c.evictLocked(now)
	}
	c.entries[sum] = e
}

func (c *Cache) evictLocked(now time.Time) {
	var victim [sha256.Size]byte
	n := 0
	// Map iteration starts at a random place, which makes the fallback
	// victim arbitrary.
	for k, e := range c.entries {
		if !now.Before(e.claims.Expiry) {
			victim = k
			break
		}
		if n == 0 {
			victim = k
		}
		if n++; n == evictProbes {
			break
		}
	}
	delete(c.entries, victim)
}
