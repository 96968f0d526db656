package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/server"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestDefaultConfig(t *testing.T) {
	c, err := loadConfig(nil, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "localhost:8080" || c.public.String() != "http://localhost:8080" || !c.devLogin ||
		c.db.sqlitePath != "gatehouse.db" || c.AccessTokenTTL != 15*time.Minute {
		t.Errorf("defaults = %+v", c)
	}
}

func TestFlagOverridesEnvironment(t *testing.T) {
	c, err := loadConfig([]string{"--addr", "127.0.0.1:9999", "--access-token-ttl", "5m"},
		env("GATEHOUSE_ADDR", "127.0.0.1:7777", "GATEHOUSE_ACCESS_TOKEN_TTL", "10m", "GATEHOUSE_DATA_DIR", "/var/lib/gh"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9999" || c.AccessTokenTTL != 5*time.Minute || c.db.sqlitePath != "/var/lib/gh/gatehouse.db" {
		t.Errorf("config = %+v", c)
	}
}

func TestGitHubTurnsOffDevLoginByDefault(t *testing.T) {
	c, err := loadConfig(nil, env("GATEHOUSE_GITHUB_CLIENT_ID", "id", "GATEHOUSE_GITHUB_CLIENT_SECRET", "s"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.devLogin {
		t.Error("dev login on with GitHub configured")
	}
	c, err = loadConfig(nil, env("GATEHOUSE_GITHUB_CLIENT_ID", "id", "GATEHOUSE_GITHUB_CLIENT_SECRET", "s", "GATEHOUSE_DEV_LOGIN", "true"), io.Discard)
	if err != nil || !c.devLogin {
		t.Errorf("explicit dev login with GitHub: devLogin %v, err %v", c != nil && c.devLogin, err)
	}
}

// TestBadConfigNamesTheSetting: every bad setting stops startup with a
// message naming it.
func TestBadConfigNamesTheSetting(t *testing.T) {
	const https = "https://auth.example.com"
	gh := []string{"GATEHOUSE_GITHUB_CLIENT_ID", "id", "GATEHOUSE_GITHUB_CLIENT_SECRET", "secret"}
	cases := []struct {
		name    string
		env     []string
		setting string
	}{
		{"client id without secret", []string{"GATEHOUSE_GITHUB_CLIENT_ID", "id"}, "GATEHOUSE_GITHUB_CLIENT_SECRET"},
		{"secret without client id", []string{"GATEHOUSE_GITHUB_CLIENT_SECRET", "s"}, "GATEHOUSE_GITHUB_CLIENT_ID"},
		{"dev login on a public host", []string{"GATEHOUSE_PUBLIC_URL", https, "GATEHOUSE_DEV_LOGIN", "true"}, "GATEHOUSE_DEV_LOGIN"},
		{"no provider on a public host", []string{"GATEHOUSE_PUBLIC_URL", https}, "GATEHOUSE_GITHUB_CLIENT_ID"},
		{"dev login not a boolean", []string{"GATEHOUSE_DEV_LOGIN", "maybe"}, "GATEHOUSE_DEV_LOGIN"},
		{"plain http public URL", append([]string{"GATEHOUSE_PUBLIC_URL", "http://auth.example.com"}, gh...), "GATEHOUSE_PUBLIC_URL"},
		{"public URL not a URL", []string{"GATEHOUSE_PUBLIC_URL", "localhost:8080"}, "GATEHOUSE_PUBLIC_URL"},
		{"plain http app URL", []string{"GATEHOUSE_APP_URL", "http://app.example.com"}, "GATEHOUSE_APP_URL"},
		{"bad redirect URL", append([]string{"GATEHOUSE_GITHUB_REDIRECT_URL", "javascript:alert(1)"}, gh...), "GATEHOUSE_GITHUB_REDIRECT_URL"},
		{"bad GitHub URL", append([]string{"GATEHOUSE_GITHUB_URL", "github.com"}, gh...), "GATEHOUSE_GITHUB_URL"},
		{"bad GitHub API URL", append([]string{"GATEHOUSE_GITHUB_API_URL", "ftp://x"}, gh...), "GATEHOUSE_GITHUB_API_URL"},
		{"TTL not a duration", []string{"GATEHOUSE_ACCESS_TOKEN_TTL", "15"}, "GATEHOUSE_ACCESS_TOKEN_TTL"},
		{"TTL too short", []string{"GATEHOUSE_ACCESS_TOKEN_TTL", "10s"}, "GATEHOUSE_ACCESS_TOKEN_TTL"},
		{"TTL too long", []string{"GATEHOUSE_ACCESS_TOKEN_TTL", "24h"}, "GATEHOUSE_ACCESS_TOKEN_TTL"},
		{"unknown algorithm", []string{"GATEHOUSE_JWT_ALG", "HS512"}, "GATEHOUSE_JWT_ALG"},
		{"alg none", []string{"GATEHOUSE_JWT_ALG", "none"}, "GATEHOUSE_JWT_ALG"},
		{"HS256 without secret", []string{"GATEHOUSE_JWT_ALG", "HS256"}, "GATEHOUSE_JWT_ALG"},
		{"short secret", []string{"GATEHOUSE_JWT_SECRET", "secret"}, "GATEHOUSE_JWT_SECRET"},
		{"repetitive secret", []string{"GATEHOUSE_JWT_SECRET", strings.Repeat("ab", 20)}, "GATEHOUSE_JWT_SECRET"},
		{"secret with ES256", []string{"GATEHOUSE_JWT_SECRET", "k7Qw9zXv2LmN4pRt6YbHc8JdFs0GaEe1", "GATEHOUSE_JWT_ALG", "ES256"}, "GATEHOUSE_JWT_SECRET"},
		{"bad PostgreSQL URL", []string{"GATEHOUSE_DATABASE_URL", "postgres://u:pw@local host/db"}, "GATEHOUSE_DATABASE_URL"},
		{"other database URL", []string{"GATEHOUSE_DATABASE_URL", "mysql://u@localhost/db"}, "GATEHOUSE_DATABASE_URL"},
		{"insecure flag not a boolean", []string{"GATEHOUSE_INSECURE_ALLOW_HTTP", "yes please"}, "GATEHOUSE_INSECURE_ALLOW_HTTP"},
		{"log format", []string{"GATEHOUSE_LOG_FORMAT", "xml"}, "GATEHOUSE_LOG_FORMAT"},
		{"idle timeout", []string{"GATEHOUSE_SESSION_IDLE_TIMEOUT", "10s"}, "GATEHOUSE_SESSION_IDLE_TIMEOUT"},
		{"idle timeout garbage", []string{"GATEHOUSE_SESSION_IDLE_TIMEOUT", "a week"}, "GATEHOUSE_SESSION_IDLE_TIMEOUT"},
		{"max age below TTL", []string{"GATEHOUSE_SESSION_MAX_AGE", "5m"}, "GATEHOUSE_SESSION_MAX_AGE"},
		{"grace too long", []string{"GATEHOUSE_REFRESH_GRACE", "5m"}, "GATEHOUSE_REFRESH_GRACE"},
		{"grace negative", []string{"GATEHOUSE_REFRESH_GRACE", "-1s"}, "GATEHOUSE_REFRESH_GRACE"},
		{"audit retention too short", []string{"GATEHOUSE_AUDIT_RETENTION", "1h"}, "GATEHOUSE_AUDIT_RETENTION"},
		{"CORS wildcard", []string{"GATEHOUSE_CORS_ORIGINS", "*"}, "GATEHOUSE_CORS_ORIGINS"},
		{"CORS null", []string{"GATEHOUSE_CORS_ORIGINS", "null"}, "GATEHOUSE_CORS_ORIGINS"},
		{"CORS with path", []string{"GATEHOUSE_CORS_ORIGINS", "https://app.example.com/x"}, "GATEHOUSE_CORS_ORIGINS"},
		{"CORS plain http", []string{"GATEHOUSE_CORS_ORIGINS", "http://app.example.com"}, "GATEHOUSE_CORS_ORIGINS"},
		{"trusted proxy garbage", []string{"GATEHOUSE_TRUSTED_PROXIES", "10.0.0.0/33"}, "GATEHOUSE_TRUSTED_PROXIES"},
		{"email match merge", []string{"GATEHOUSE_ON_EMAIL_MATCH", "merge"}, "GATEHOUSE_ON_EMAIL_MATCH"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(nil, env(tc.env...), io.Discard)
			if err == nil {
				t.Fatal("loadConfig succeeded")
			}
			if !strings.Contains(err.Error(), tc.setting) {
				t.Fatalf("error %q does not name %s", err, tc.setting)
			}
		})
	}
}

func TestGoodConfigVariants(t *testing.T) {
	cases := map[string][]string{
		"HS256 secret":         {"GATEHOUSE_JWT_SECRET", "k7Qw9zXv2LmN4pRt6YbHc8JdFs0GaEe1"},
		"EdDSA":                {"GATEHOUSE_JWT_ALG", "EdDSA"},
		"sqlite URL":           {"GATEHOUSE_DATABASE_URL", "sqlite:/tmp/x.db"},
		"PostgreSQL":           {"GATEHOUSE_DATABASE_URL", "postgres://u:pw@db.internal:5432/gh?sslmode=verify-full"},
		"postgresql scheme":    {"GATEHOUSE_DATABASE_URL", "postgresql://u@db.internal/gh"},
		"insecure http opt-in": {"GATEHOUSE_PUBLIC_URL", "http://auth.internal", "GATEHOUSE_INSECURE_ALLOW_HTTP", "true", "GATEHOUSE_GITHUB_CLIENT_ID", "i", "GATEHOUSE_GITHUB_CLIENT_SECRET", "s"},
		"GitHub Enterprise":    {"GATEHOUSE_GITHUB_URL", "https://ghe.example.com", "GATEHOUSE_GITHUB_API_URL", "https://ghe.example.com/api/v3", "GATEHOUSE_GITHUB_CLIENT_ID", "i", "GATEHOUSE_GITHUB_CLIENT_SECRET", "s"},
		"127.0.0.1 public URL": {"GATEHOUSE_PUBLIC_URL", "http://127.0.0.1:9000"},
		"session settings":     {"GATEHOUSE_SESSION_IDLE_TIMEOUT", "12h", "GATEHOUSE_SESSION_MAX_AGE", "8h", "GATEHOUSE_REFRESH_GRACE", "0s"},
	}
	for name, kv := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := loadConfig(nil, env(kv...), io.Discard); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDatabaseChoice: a postgres:// URL selects PostgreSQL, and the name
// logged for it leaves out the password and the parameters.
func TestDatabaseChoice(t *testing.T) {
	c, err := loadConfig(nil, env("GATEHOUSE_DATABASE_URL", "postgres://gh:s3cret@db.internal:5432/gh?sslmode=require&password=other"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.db.postgresURL == "" || c.db.sqlitePath != "" {
		t.Fatalf("db = %+v, want PostgreSQL", c.db)
	}
	if got, want := c.db.String(), "postgres postgres://gh@db.internal:5432/gh"; got != want {
		t.Fatalf("db.String() = %q, want %q", got, want)
	}
	_, err = loadConfig(nil, env("GATEHOUSE_DATABASE_URL", "postgres://u:s3cret@local host/db"), io.Discard)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("bad URL error = %v; want one without the password", err)
	}
}

// TestSessionAndProxySettings: days are accepted, lists are split, single
// addresses become one-address networks.
func TestSessionAndProxySettings(t *testing.T) {
	c, err := loadConfig([]string{"--session-max-age", "2d"}, env(
		"GATEHOUSE_SESSION_IDLE_TIMEOUT", "1d",
		"GATEHOUSE_CORS_ORIGINS", "https://app.example.com, http://localhost:5173",
		"GATEHOUSE_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7, ::1",
	), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.SessionIdleTimeout != 24*time.Hour || c.SessionMaxAge != 48*time.Hour || c.RefreshGrace != 10*time.Second {
		t.Errorf("durations = %v, %v, %v", c.SessionIdleTimeout, c.SessionMaxAge, c.RefreshGrace)
	}
	if len(c.corsOrigins) != 2 || c.corsOrigins[1] != "http://localhost:5173" {
		t.Errorf("corsOrigins = %q", c.corsOrigins)
	}
	if len(c.trustedProxies) != 3 || c.trustedProxies[1].String() != "192.0.2.7/32" || c.trustedProxies[2].String() != "::1/128" {
		t.Errorf("trustedProxies = %v", c.trustedProxies)
	}
	d, err := loadConfig(nil, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if d.SessionIdleTimeout != 7*24*time.Hour || d.SessionMaxAge != 30*24*time.Hour || d.corsOrigins != nil || d.trustedProxies != nil {
		t.Errorf("defaults = %v, %v, %q, %v", d.SessionIdleTimeout, d.SessionMaxAge, d.corsOrigins, d.trustedProxies)
	}
}

// TestLimitSettings: the rate limits and the pending-login cap default to
// the server's, read N/UNIT or off, and a bad value names its setting.
func TestLimitSettings(t *testing.T) {
	c, err := loadConfig(nil, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.limits != server.DefaultLimits {
		t.Errorf("default limits = %+v, want %+v", c.limits, server.DefaultLimits)
	}
	c, err = loadConfig([]string{"--rate-limit-refresh", "5/10s"}, env("GATEHOUSE_RATE_LIMIT_LOGIN", "off",
		"GATEHOUSE_RATE_LIMIT_REFRESH_SESSION", "30/m", "GATEHOUSE_MAX_PENDING_LOGINS", "off"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := server.DefaultLimits
	want.Login, want.Refresh = ratelimit.Unlimited, ratelimit.Rate{N: 5, Per: 10 * time.Second}
	want.RefreshPerSession, want.PendingLoginsPerClient = ratelimit.Rate{N: 30, Per: time.Minute}, -1
	if c.limits != want {
		t.Errorf("limits = %+v, want %+v", c.limits, want)
	}
	for _, bad := range [][2]string{
		{"GATEHOUSE_RATE_LIMIT_LOGIN", "lots"},
		{"GATEHOUSE_RATE_LIMIT_AUTHORIZE", "0/m"},
		{"GATEHOUSE_RATE_LIMIT_REFRESH", "10/d"},
		{"GATEHOUSE_RATE_LIMIT_LOGOUT", "-1/s"},
		{"GATEHOUSE_RATE_LIMIT_REFRESH_SESSION", "12"},
		{"GATEHOUSE_MAX_PENDING_LOGINS", "0"},
		{"GATEHOUSE_MAX_PENDING_LOGINS", "many"},
	} {
		if _, err := loadConfig(nil, env(bad[0], bad[1]), io.Discard); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%s=%s: error %v, want one naming the setting", bad[0], bad[1], err)
		}
	}
}

// TestTokenCacheSetting: the token cache size defaults to the server's,
// reads a number or off, and a bad value names its setting.
func TestTokenCacheSetting(t *testing.T) {
	for v, want := range map[string]int{"": server.DefaultTokenCacheSize, "500": 500, "off": -1} {
		vars := env()
		if v != "" {
			vars = env("GATEHOUSE_TOKEN_CACHE_SIZE", v)
		}
		c, err := loadConfig(nil, vars, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.serverConfig(nil, nil, nil).TokenCacheSize; got != want {
			t.Errorf("GATEHOUSE_TOKEN_CACHE_SIZE=%q: TokenCacheSize %d, want %d", v, got, want)
		}
	}
	for _, bad := range []string{"0", "-5", "lots", "1000001"} {
		if _, err := loadConfig(nil, env("GATEHOUSE_TOKEN_CACHE_SIZE", bad), io.Discard); err == nil ||
			!strings.Contains(err.Error(), "GATEHOUSE_TOKEN_CACHE_SIZE") {
			t.Errorf("GATEHOUSE_TOKEN_CACHE_SIZE=%s: error %v, want one naming the setting", bad, err)
		}
	}
}

// TestSettingDuration: durations are shown as the settings write them, and
// read back to the same value.
func TestSettingDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		7 * 24 * time.Hour: "7d", 30 * 24 * time.Hour: "30d", 15 * time.Minute: "15m", time.Hour: "1h",
		10 * time.Second: "10s", 90 * time.Second: "1m30s", 0: "0s", 25 * time.Hour: "25h",
	} {
		got := settingDuration(d)
		if got != want {
			t.Errorf("settingDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := parseDuration(got); err != nil || back != d {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", got, back, err, d)
		}
	}
}
