package token

import (
	"testing"
	"time"
)

// TestCacheHitsNeverOutliveExp: a cached token is answered from the cache
// until just before its exp, and after that only the full check decides
// (which allows the leeway, and then refuses).
func TestCacheHitsNeverOutliveExp(t *testing.T) {
	f := newFixture(t)
	f.verifier.Cache = NewCache(10)
	raw, _, err := f.issuer.Mint("user-1", "session-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.verifier.Verify(raw); err != nil {
		t.Fatal(err)
	}
	if got, want := f.verifier.Cache.Len(), 1; got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
	// From here on the key under the token's kid is another one: the full
	// check fails, so a token that verifies came from the cache.
	real := f.verifier.Keys
	f.verifier.Keys = impostor(t, f)

	f.now = t0.Add(testTTL - time.Second)
	c, err := f.verifier.Verify(raw)
	if err != nil {
		t.Fatalf("Verify 1 s before exp: %v", err)
	}
	if c.Subject != "user-1" {
		t.Errorf("Subject = %q, want user-1", c.Subject)
	}
	c.Audience[0] = "changed by the caller"
	c.Subject = "changed by the caller"

	// At exp the cache no longer answers; the full check does, within
	// the leeway.
	f.now = t0.Add(testTTL)
	if _, err := f.verifier.Verify(raw); err == nil {
		t.Fatal("the cache answered at exp")
	}
	f.verifier.Keys = real
	c, err = f.verifier.Verify(raw)
	if err != nil {
		t.Fatalf("Verify at exp, within the leeway: %v", err)
	}
	if c.Subject != "user-1" || c.Audience[0] != testAudience {
		t.Errorf("claims = %+v: the caller's change reached the cache", c)
	}
	f.now = t0.Add(testTTL + testLeeway)
	if _, err := f.verifier.Verify(raw); err == nil {
		t.Fatal("a cached token verified after exp + leeway")
	}
}

// impostor returns a key source that has, under the fixture's kid, another
// ES256 key.
func impostor(t *testing.T, f *fixture) KeySource {
	t.Helper()
	other := newFixture(t)
	k, err := PublicKey(f.key.ID, ES256, &other.priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return mapKeys{f.key.ID: k}
}

// TestCacheForgetsRemovedKeys: a cached token stops verifying as soon as its
// key leaves the key source.
func TestCacheForgetsRemovedKeys(t *testing.T) {
	f := newFixture(t)
	f.verifier.Cache = NewCache(10)
	raw, _, err := f.issuer.Mint("user-1", "session-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.verifier.Verify(raw); err != nil {
		t.Fatal(err)
	}
	f.verifier.Keys = mapKeys{}
	if _, err := f.verifier.Verify(raw); err == nil {
		t.Fatal("a cached token verified after its key was removed")
	}
}

// TestCacheBounded: the cache never holds more than its size, prefers to
// drop expired entries, and still verifies everything.
func TestCacheBounded(t *testing.T) {
	f := newFixture(t)
	const size = 5
	f.verifier.Cache = NewCache(size)
	var tokens []string
	for range 3 * size {
		raw, _, err := f.issuer.Mint("user-1", "session-1")
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, raw)
		if _, err := f.verifier.Verify(raw); err != nil {
			t.Fatal(err)
		}
		if n := f.verifier.Cache.Len(); n > size {
			t.Fatalf("Len = %d, more than %d", n, size)
		}
	}
	for _, raw := range tokens {
		if _, err := f.verifier.Verify(raw); err != nil {
			t.Fatalf("Verify after eviction: %v", err)
		}
	}

	// Fill the cache with tokens that expire soon, then add one when they
	// have: an expired entry goes, never the live ones.
	c := NewCache(2)
	f.verifier.Cache = c
	short := &Issuer{Issuer: testIssuer, Audience: testAudience, TTL: time.Minute, Keys: f.keys, Now: f.issuer.Now}
	old, _, _ := short.Mint("user-1", "session-1")
	f.now = t0.Add(30 * time.Second)
	live, _, _ := f.issuer.Mint("user-2", "session-2")
	for _, raw := range []string{old, live} {
		if _, err := f.verifier.Verify(raw); err != nil {
			t.Fatal(err)
		}
	}
	f.now = t0.Add(2 * time.Minute)
	fresh, _, _ := f.issuer.Mint("user-3", "session-3")
	if _, err := f.verifier.Verify(fresh); err != nil {
		t.Fatal(err)
	}
	f.verifier.Keys = impostor(t, f)
	for _, raw := range []string{live, fresh} {
		if _, err := f.verifier.Verify(raw); err != nil {
			t.Errorf("a live entry was evicted before the expired one: %v", err)
		}
	}
}

func TestNewCachePanicsOnZeroSize(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewCache(0) did not panic")
		}
	}()
	NewCache(0)
}
