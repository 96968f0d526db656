package server

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/testclock"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/sqlite"
	"github.com/gatehouse/gatehouse/token"
)

func openStore(t *testing.T) gatehouse.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type nopProvider struct{}

func (nopProvider) AuthCodeURL(gatehouse.AuthParams) string {
	return "https://provider.example/authorize"
}
func (nopProvider) Exchange(context.Context, string, gatehouse.AuthParams) (*gatehouse.Identity, error) {
	return nil, gatehouse.Errorf(gatehouse.EInvalidGrant, "no")
}

// TestNewRefusesBadConfig: misconfiguration fails in New, never at request
// time.
func TestNewRefusesBadConfig(t *testing.T) {
	store := openStore(t)
	good := func() Config {
		return Config{PublicURL: "https://auth.example.com", Store: store,
			Providers: []Provider{{Name: "github", Provider: nopProvider{}}}}
	}
	// field is the Config field the error names, for what Check reports.
	cases := map[string]struct {
		mod   func(c *Config)
		field string
	}{
		"no store":                 {func(c *Config) { c.Store = nil }, ""},
		"no public URL":            {func(c *Config) { c.PublicURL = "" }, "PublicURL"},
		"relative public URL":      {func(c *Config) { c.PublicURL = "/auth" }, "PublicURL"},
		"public URL with query":    {func(c *Config) { c.PublicURL = "https://example.com?x=1" }, "PublicURL"},
		"plain http public":        {func(c *Config) { c.PublicURL = "http://auth.example.com" }, "PublicURL"},
		"plain http app":           {func(c *Config) { c.AppURL = "http://app.example.com" }, "AppURL"},
		"ftp app":                  {func(c *Config) { c.AppURL = "ftp://app.example.com" }, "AppURL"},
		"audience with spaces":     {func(c *Config) { c.Audience = " app " }, "Audience"},
		"TTL too short":            {func(c *Config) { c.AccessTokenTTL = time.Second }, "AccessTokenTTL"},
		"TTL too long":             {func(c *Config) { c.AccessTokenTTL = 2 * time.Hour }, "AccessTokenTTL"},
		"idle timeout too short":   {func(c *Config) { c.SessionIdleTimeout = time.Second }, "SessionIdleTimeout"},
		"max age below TTL":        {func(c *Config) { c.SessionMaxAge = 5 * time.Minute }, "SessionMaxAge"},
		"grace too long":           {func(c *Config) { c.RefreshGrace = time.Hour }, "RefreshGrace"},
		"unknown algorithm":        {func(c *Config) { c.Algorithm = "HS512" }, "Algorithm"},
		"HS256 without a secret":   {func(c *Config) { c.Algorithm = "HS256" }, "Algorithm"},
		"none algorithm":           {func(c *Config) { c.Algorithm = "none" }, "Algorithm"},
		"short key rotation":       {func(c *Config) { c.KeyRotation = time.Minute }, "KeyRotation"},
		"short encryption key":     {func(c *Config) { c.EncryptionKey = []byte("short") }, "EncryptionKey"},
		"short HMAC secret":        {func(c *Config) { c.HMACSecret = []byte("short") }, "HMACSecret"},
		"HMAC with ES256":          {func(c *Config) { c.HMACSecret = []byte("k7Qw9zXv2LmN4pRt6YbHc8JdFs0GaEe1"); c.Algorithm = token.ES256 }, "HMACSecret"},
		"CORS wildcard":            {func(c *Config) { c.CORSOrigins = []string{"*"} }, "CORSOrigins"},
		"email match merge":        {func(c *Config) { c.OnEmailMatch = "merge" }, "OnEmailMatch"},
		"upper-case provider name": {func(c *Config) { c.Providers[0].Name = "GitHub" }, ""},
		"provider name with slash": {func(c *Config) { c.Providers[0].Name = "git/hub" }, ""},
		"provider without impl":    {func(c *Config) { c.Providers[0].Provider = nil }, ""},
		"duplicate provider":       {func(c *Config) { c.Providers = append(c.Providers, c.Providers[0]) }, ""},
		"bad redirect URL":         {func(c *Config) { c.Providers[0].RedirectURL = "http://evil.example/cb" }, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := good()
			tc.mod(&c)
			s, err := New(context.Background(), c)
			if err == nil {
				s.Close()
				t.Fatal("New succeeded")
			}
			if tc.field == "" {
				return
			}
			ce, ok := errors.AsType[*gatehouse.ConfigError](err)
			if !ok || ce.Field != tc.field {
				t.Fatalf("New = %v, want a ConfigError for field %s", err, tc.field)
			}
			if err := c.Check(); err == nil {
				t.Fatal("Check passed what New refuses")
			}
		})
	}
	t.Run("good", func(t *testing.T) {
		s, err := New(context.Background(), good())
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	})
	t.Run("insecure http allowed explicitly", func(t *testing.T) {
		c := good()
		c.PublicURL = "http://auth.internal"
		c.InsecureAllowHTTP = true
		s, err := New(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	})
}

// TestSigningKeyCreatedOnceAndReused: the first start stores a key of the
// configured algorithm; later starts use it; a new algorithm adds a key,
// signs with it after the publication lead, and keeps the old one for
// verification.
func TestSigningKeyCreatedOnceAndReused(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	clock := testclock.New(time.Now().UTC().Truncate(time.Second))
	cfg := Config{PublicURL: "http://localhost:8080", Store: store, Now: clock.Now}
	s1, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s1.Close() })
	s2, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	if s1.keys.Signing().ID != s2.keys.Signing().ID {
		t.Fatalf("restart signs with %s, want the stored %s", s2.keys.Signing().ID, s1.keys.Signing().ID)
	}
	raw, _, err := s1.issuer.Mint("u1", "s1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Algorithm = token.EdDSA
	s3, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s3.Close() })
	// The new algorithm rolls over through a rotation: its key is
	// published first and signs once verifiers have had time to fetch it.
	if got := s3.keys.Signing().Algorithm; got != token.ES256 {
		t.Fatalf("signing algorithm right after the change = %s, want ES256 until the EdDSA key is published long enough", got)
	}
	clock.Advance(keys.PublishLead)
	if got := s3.keys.Signing().Algorithm; got != token.EdDSA {
		t.Fatalf("signing algorithm after the publication lead = %s, want EdDSA", got)
	}
	if _, err := s3.verifier.Verify(raw); err != nil {
		t.Fatalf("a token signed before the algorithm change no longer verifies: %v", err)
	}
	stored, err := store.SigningKeys(ctx)
	if err != nil || len(stored) != 2 {
		t.Fatalf("stored keys = %d (%v), want 2", len(stored), err)
	}
}

// TestHS256Mode: with a shared secret, tokens are HS256, /me accepts them,
// and the JWKS publishes nothing.
func TestHS256Mode(t *testing.T) {
	secret := []byte("k7Qw9zXv2LmN4pRt6YbHc8JdFs0GaEe1")
	e := newEnv(t, func(o *envOptions) { o.config = func(c *Config) { c.HMACSecret = secret } })
	raw := e.loginDev(e.browser, "a@example.com")["access_token"].(string)
	if !strings.HasPrefix(raw, "eyJhbGciOiJIUzI1NiIs") {
		t.Errorf("token header does not start with alg HS256: %s", raw[:20])
	}
	if r := e.get("/me", "Authorization", "Bearer "+raw); r.status != http.StatusOK {
		t.Fatalf("/me = %d %s", r.status, r.body)
	}
	if r := e.get("/.well-known/jwks.json"); strings.TrimSpace(string(r.body)) != `{"keys":[]}` {
		t.Errorf("JWKS = %s, want no keys", r.body)
	}
	// An ES256 token signed with the stored key is not accepted in HS256
	// mode: exactly one algorithm.
	if r := e.get("/me", "Authorization", "Bearer "+e.sign(e.header(), e.claims("x"))); r.status != http.StatusUnauthorized {
		t.Errorf("ES256 token in HS256 mode: /me = %d", r.status)
	}
}

func TestProvidersListing(t *testing.T) {
	e := newEnv(t)
	r := e.get("/auth/providers")
	if got, want := strings.TrimSpace(string(r.body)), `{"providers":[{"name":"dev","display_name":"Development login"}]}`; got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
}

func TestUnknownRoutesAreJSON404(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/nope", "/auth/dev", "/auth/dev/login/extra", "/.well-known/other"} {
		wantError(t, e.get(p), http.StatusNotFound, "not_found")
	}
	r := e.request(e.browser, http.MethodPost, "/me", nil)
	wantError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	if got := r.header.Get("Allow"); got != "GET, HEAD" {
		t.Errorf("Allow = %q", got)
	}
}
