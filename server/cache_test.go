package server

import (
	"errors"
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/token"
)

// TestTokenCache: a token seen again is served from the verified-token
// cache, and the session is still checked on every request: a logout ends
// the cached token at its next request.
func TestTokenCache(t *testing.T) {
	e := newEnv(t)
	cache := e.srv.verifier.Cache
	if cache == nil {
		t.Fatal("the server has no token cache by default")
	}
	_, _, at, rt := e.signIn("cache@example.com")
	before := cache.Len()
	for range 3 {
		if r := e.me(at); r.status != http.StatusOK {
			t.Fatalf("/me = %d %s", r.status, r.body)
		}
	}
	if got := cache.Len(); got != before+1 {
		t.Fatalf("cache holds %d tokens after three requests with one new token, want %d", got, before+1)
	}
	if r := e.logoutWith(rt, ""); r.status != http.StatusNoContent && r.status != http.StatusOK {
		t.Fatalf("logout = %d %s", r.status, r.body)
	}
	wantInvalidToken(t, e.me(at))
}

func TestTokenCacheSize(t *testing.T) {
	for _, tt := range []struct {
		size int
		want int // 0: no cache
	}{
		{0, DefaultTokenCacheSize},
		{1, 1},
		{-1, 0},
		{token.MaxCacheSize, token.MaxCacheSize},
	} {
		e := newEnv(t, func(o *envOptions) { o.config = func(c *Config) { c.TokenCacheSize = tt.size } })
		switch c := e.srv.verifier.Cache; {
		case tt.want == 0 && c != nil:
			t.Errorf("TokenCacheSize %d: a cache, want none", tt.size)
		case tt.want != 0 && (c == nil || c.Size() != tt.want):
			t.Errorf("TokenCacheSize %d: cache %v, want one of %d", tt.size, c, tt.want)
		}
	}
	cfg := Config{PublicURL: "http://127.0.0.1", TokenCacheSize: token.MaxCacheSize + 1}
	var ce *gatehouse.ConfigError
	if err := cfg.Check(); !errors.As(err, &ce) || ce.Field != "TokenCacheSize" {
		t.Errorf("TokenCacheSize above the maximum: %v, want a ConfigError on TokenCacheSize", err)
	}
}
