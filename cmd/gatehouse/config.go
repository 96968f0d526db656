package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/devlogin"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/server"
)

// config is the configuration of `gatehouse serve`. Every setting is an
// environment variable and a flag of the same name; the flag wins.
type config struct {
	Addr                    string
	PublicURL               string
	AppURL                  string
	Audience                string
	DataDir                 string
	DatabaseURL             string
	GitHubClientID          string
	GitHubClientSecret      string
	GitHubRedirectURL       string
	GitHubURL               string
	GitHubAPIURL            string
	GoogleClientID          string
	GoogleClientSecret      string
	GoogleHostedDomain      string
	GitLabClientID          string
	GitLabClientSecret      string
	GitLabURL               string
	MicrosoftClientID       string
	MicrosoftClientSecret   string
	MicrosoftTenant         string
	MicrosoftAllowedTenants string
	OIDCProviders           string
	DevLogin                string
	AccessTokenTTL          time.Duration
	JWTAlg                  string
	JWTSecret               string
	KeyRotation             time.Duration
	EncryptionKey           string
	InsecureAllowHTTP       bool
	LogFormat               string
	SessionIdleTimeout      time.Duration
	SessionMaxAge           time.Duration
	AuditRetention          time.Duration
	RefreshGrace            time.Duration
	CORSOrigins             string
	TrustedProxies          string
	MaxConnections          string
	ShutdownTimeout         time.Duration
	RateLogin               ratelimit.Rate
	RateAuthorize           ratelimit.Rate
	RateRefresh             ratelimit.Rate
	RateLogout              ratelimit.Rate
	RateAdminAuth           ratelimit.Rate
	RateSession             ratelimit.Rate
	MaxPendingLogins        string
	TokenCacheSize          string
	OnEmailMatch            string
	MetricsAddr             string

	// Derived by check.
	corsOrigins    []string
	trustedProxies []netip.Prefix
	maxConnections int
	tokenCacheSize int
	generic        []genericOIDC
	oidc           []oidcProvider
	encryptionKey  []byte
	limits         server.Limits
	devLogin       bool
	db             database
	public         *url.URL
}

// database is where the store lives: an SQLite file, or a PostgreSQL URL.
type database struct {
	sqlitePath  string
	postgresURL string
}

// String names the database for logs and messages, without its password.
func (d database) String() string {
	if d.postgresURL == "" {
		return "sqlite " + d.sqlitePath
	}
	u, err := url.Parse(d.postgresURL)
	if err != nil {
		return "postgres"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	u.RawQuery = ""
	return "postgres " + u.String()
}

// setting describes one configuration setting.
type setting struct {
	env, flag, def, usage string
	target                any
}

func (c *config) settings() []setting {
	return append(c.staticSettings(), c.genericSettings()...)
}

func (c *config) staticSettings() []setting {
	return []setting{
		{"GATEHOUSE_ADDR", "addr", "localhost:8080", "address to listen on", &c.Addr},
		{"GATEHOUSE_PUBLIC_URL", "public-url", "http://localhost:8080", "URL Gatehouse is reached at; the token issuer", &c.PublicURL},
		{"GATEHOUSE_APP_URL", "app-url", "", "URL of the single-page app (default: the public URL)", &c.AppURL},
		{"GATEHOUSE_AUDIENCE", "audience", "", "the \"aud\" of access tokens (default: the app URL)", &c.Audience},
		{"GATEHOUSE_DATA_DIR", "data-dir", ".", "directory for the SQLite database", &c.DataDir},
		{"GATEHOUSE_DATABASE_URL", "database-url", "", "postgres://user:pass@host:5432/db?sslmode=… for PostgreSQL, or an SQLite file path (default: DATA_DIR/gatehouse.db; prefer the environment variable)", &c.DatabaseURL},
		{"GATEHOUSE_GITHUB_CLIENT_ID", "github-client-id", "", "GitHub OAuth app client id", &c.GitHubClientID},
		{"GATEHOUSE_GITHUB_CLIENT_SECRET", "github-client-secret", "", "GitHub OAuth app client secret (prefer the environment variable)", &c.GitHubClientSecret},
		{"GATEHOUSE_GITHUB_REDIRECT_URL", "github-redirect-url", "", "GitHub callback URL (default: APP_URL/auth/github)", &c.GitHubRedirectURL},
		{"GATEHOUSE_GITHUB_URL", "github-url", "https://github.com", "GitHub web URL (GitHub Enterprise Server: https://HOST)", &c.GitHubURL},
		{"GATEHOUSE_GITHUB_API_URL", "github-api-url", "https://api.github.com", "GitHub API URL (GitHub Enterprise Server: https://HOST/api/v3)", &c.GitHubAPIURL},
		{"GATEHOUSE_GOOGLE_CLIENT_ID", "google-client-id", "", "Google OAuth client id", &c.GoogleClientID},
		{"GATEHOUSE_GOOGLE_CLIENT_SECRET", "google-client-secret", "", "Google OAuth client secret (prefer the environment variable)", &c.GoogleClientSecret},
		{"GATEHOUSE_GOOGLE_HOSTED_DOMAIN", "google-hosted-domain", "", "admit only accounts of this Google Workspace domain (checked on the ID token's hd claim)", &c.GoogleHostedDomain},
		{"GATEHOUSE_GITLAB_CLIENT_ID", "gitlab-client-id", "", "GitLab application id", &c.GitLabClientID},
		{"GATEHOUSE_GITLAB_CLIENT_SECRET", "gitlab-client-secret", "", "GitLab application secret (prefer the environment variable)", &c.GitLabClientSecret},
		{"GATEHOUSE_GITLAB_URL", "gitlab-url", "https://gitlab.com", "GitLab instance URL, its OpenID Connect issuer", &c.GitLabURL},
		{"GATEHOUSE_MICROSOFT_CLIENT_ID", "microsoft-client-id", "", "Microsoft Entra ID application (client) id", &c.MicrosoftClientID},
		{"GATEHOUSE_MICROSOFT_CLIENT_SECRET", "microsoft-client-secret", "", "Microsoft Entra ID client secret (prefer the environment variable)", &c.MicrosoftClientSecret},
		{"GATEHOUSE_MICROSOFT_TENANT", "microsoft-tenant", "", "common, organizations, consumers or a tenant id", &c.MicrosoftTenant},
		{"GATEHOUSE_MICROSOFT_ALLOWED_TENANTS", "microsoft-allowed-tenants", "", "comma-separated tenant ids admitted with common, organizations or consumers (default: any)", &c.MicrosoftAllowedTenants},
		{"GATEHOUSE_OIDC_PROVIDERS", "oidc-providers", "", "comma-separated names of generic OpenID Connect providers, each configured with GATEHOUSE_OIDC_<NAME>_ISSUER, _CLIENT_ID, _CLIENT_SECRET, _SCOPES, _DISPLAY_NAME and _REDIRECT_URL", &c.OIDCProviders},
		{"GATEHOUSE_DEV_LOGIN", "dev-login", "", "enable the development login provider: true or false (default: on when no other provider is configured and both the public URL and the listen address are loopback)", &c.DevLogin},
		{"GATEHOUSE_ACCESS_TOKEN_TTL", "access-token-ttl", "15m", "access token lifetime, 1m to 1h", &c.AccessTokenTTL},
		{"GATEHOUSE_JWT_ALG", "jwt-alg", "", "signing algorithm: ES256 (default), EdDSA or RS256", &c.JWTAlg},
		{"GATEHOUSE_JWT_SECRET", "jwt-secret", "", "opt-in HS256 shared secret, at least 32 random bytes (prefer the environment variable)", &c.JWTSecret},
		{"GATEHOUSE_KEY_ROTATION", "key-rotation", "30d", "how long a signing key signs before the next one takes over (at least 1h); the next key is published 10m before", &c.KeyRotation},
		{"GATEHOUSE_ENCRYPTION_KEY", "encryption-key", "", "32 random bytes in base64 that encrypt the private signing keys in the database (`openssl rand -base64 32`; prefer the environment variable)", &c.EncryptionKey},
		{"GATEHOUSE_INSECURE_ALLOW_HTTP", "insecure-allow-http", "false", "allow plain-http public and app URLs on non-loopback hosts; MUST NOT be used in production", &c.InsecureAllowHTTP},
		{"GATEHOUSE_LOG_FORMAT", "log-format", "text", "log format: text or json", &c.LogFormat},
		{"GATEHOUSE_SESSION_IDLE_TIMEOUT", "session-idle-timeout", "7d", "end a session not refreshed for this long", &c.SessionIdleTimeout},
		{"GATEHOUSE_SESSION_MAX_AGE", "session-max-age", "30d", "end every session this long after its login, refreshed or not", &c.SessionMaxAge},
		{"GATEHOUSE_AUDIT_RETENTION", "audit-retention", "90d", "how long the audit log keeps an event, 1d to 3650d; older events are deleted in the background", &c.AuditRetention},
		{"GATEHOUSE_REFRESH_GRACE", "refresh-grace", "10s", "how long a rotated refresh token still gets its successor (tabs refreshing at once), 0 to 1m", &c.RefreshGrace},
		{"GATEHOUSE_CORS_ORIGINS", "cors-origins", "", "comma-separated browser origins allowed to call the API with credentials (default: the app URL's origin)", &c.CORSOrigins},
		{"GATEHOUSE_TRUSTED_PROXIES", "trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed (default: none)", &c.TrustedProxies},
		{"GATEHOUSE_MAX_CONNECTIONS", "max-connections", "1024", "most client connections open at once, 16 to 1048576; past it new connections wait, and above 90% of it keep-alives are turned off", &c.MaxConnections},
		{"GATEHOUSE_SHUTDOWN_TIMEOUT", "shutdown-timeout", "10s", "how long shutdown waits for requests in flight before cutting them, 0 to 10m", &c.ShutdownTimeout},
		{"GATEHOUSE_RATE_LIMIT_LOGIN", "rate-limit-login", server.DefaultLimits.Login.String(), "logins started per client address on this node: N/s, N/m, N/h or off", &c.RateLogin},
		{"GATEHOUSE_RATE_LIMIT_AUTHORIZE", "rate-limit-authorize", server.DefaultLimits.Authorize.String(), "logins finished per client address on this node", &c.RateAuthorize},
		{"GATEHOUSE_RATE_LIMIT_REFRESH", "rate-limit-refresh", server.DefaultLimits.Refresh.String(), "refreshes per client address on this node", &c.RateRefresh},
		{"GATEHOUSE_RATE_LIMIT_LOGOUT", "rate-limit-logout", server.DefaultLimits.Logout.String(), "logouts per client address on this node", &c.RateLogout},
		{"GATEHOUSE_RATE_LIMIT_ADMIN_AUTH", "rate-limit-admin-auth", server.DefaultLimits.AdminAuth.String(), "failed admin API authentications per client address on this node", &c.RateAdminAuth},
		{"GATEHOUSE_RATE_LIMIT_REFRESH_SESSION", "rate-limit-refresh-session", server.DefaultLimits.RefreshPerSession.String(), "refresh token rotations per session on this node", &c.RateSession},
		{"GATEHOUSE_ON_EMAIL_MATCH", "on-email-match", "refuse", "a first sign-in whose verified email another user has: refuse (409 account_exists; the person signs in and links the account) or new_account (a separate user)", &c.OnEmailMatch},
		{"GATEHOUSE_METRICS_ADDR", "metrics-addr", "", "address of a separate listener serving Prometheus metrics at /metrics, such as 127.0.0.1:9090 (default: none); bind it to a private address", &c.MetricsAddr},
		{"GATEHOUSE_MAX_PENDING_LOGINS", "max-pending-logins", strconv.Itoa(server.DefaultLimits.PendingLoginsPerClient), "logins one client address may have started and not finished, across all nodes, or off", &c.MaxPendingLogins},
		{"GATEHOUSE_TOKEN_CACHE_SIZE", "token-cache-size", strconv.Itoa(server.DefaultTokenCacheSize), "verified access tokens this node remembers, so that a token seen again skips its signature check (the session is still checked on every request), or off", &c.TokenCacheSize},
	}
}

// loadConfig reads the environment, then the flags in args, then checks the
// result. Errors name the setting at fault.
func loadConfig(args []string, getenv func(string) string, usage io.Writer) (*config, error) {
	c := &config{}
	var err error
	if c.generic, err = genericNames(args, getenv); err != nil {
		return nil, err
	}
	fs := flag.NewFlagSet("gatehouse serve", flag.ContinueOnError)
	fs.SetOutput(usage)
	if err := bind(fs, c.settings(), getenv); err != nil {
		return nil, err
	}
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	return c, c.check()
}

// loadDatabaseConfig is loadConfig for commands that need only the
// database settings, such as migrate, and the settings named in more;
// extra adds the command's own flags.
func loadDatabaseConfig(name string, args []string, getenv func(string) string, usage io.Writer, extra func(*flag.FlagSet), more ...string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(usage)
	var settings []setting
	for _, s := range c.settings() {
		if s.env == "GATEHOUSE_DATA_DIR" || s.env == "GATEHOUSE_DATABASE_URL" || slices.Contains(more, s.env) {
			settings = append(settings, s)
		}
	}
	if err := bind(fs, settings, getenv); err != nil {
		return nil, err
	}
	extra(fs)
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if err := c.checkEncryptionKey(); err != nil {
		return nil, err
	}
	return c, c.checkDatabase()
}

// checkEncryptionKey decodes GATEHOUSE_ENCRYPTION_KEY, if set.
func (c *config) checkEncryptionKey() error {
	if c.EncryptionKey == "" {
		return nil
	}
	k, err := keys.ParseEncryptionKey(c.EncryptionKey)
	if err != nil {
		// The message never repeats the value: it is a secret.
		return fmt.Errorf("GATEHOUSE_ENCRYPTION_KEY: %w", err)
	}
	c.encryptionKey = k
	return nil
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// bind defines a flag for each setting, defaulting to its environment
// variable, else to its default.
func bind(fs *flag.FlagSet, settings []setting, getenv func(string) string) error {
	for _, s := range settings {
		raw := s.def
		if v := getenv(s.env); v != "" {
			raw = v
		}
		usage := s.usage + " [$" + s.env + "]"
		switch t := s.target.(type) {
		case *string:
			fs.StringVar(t, s.flag, raw, usage)
		case *bool:
			b, err := strconv.ParseBool(raw)
			if err != nil {
				return fmt.Errorf("%s: %q is not true or false", s.env, raw)
			}
			fs.BoolVar(t, s.flag, b, usage)
		case *ratelimit.Rate:
			r, err := ratelimit.ParseRate(raw)
			if err != nil {
				return fmt.Errorf("%s: %w", s.env, err)
			}
			*t = r
			fs.Var((*rateValue)(t), s.flag, usage)
		case *time.Duration:
			d, err := parseDuration(raw)
			if err != nil {
				return fmt.Errorf("%s: %q is not a duration such as 15m or 7d", s.env, raw)
			}
			*t = d
			fs.Var((*durationValue)(t), s.flag, usage)
		}
	}
	return nil
}

// check validates the configuration and derives the rest, so that bad
// settings stop the server at startup rather than failing requests later.
func (c *config) check() error {
	var err error
	for _, p := range splitList(c.TrustedProxies) {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			a, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return fmt.Errorf("GATEHOUSE_TRUSTED_PROXIES: %q is not a CIDR such as 10.0.0.0/8 or an address", p)
			}
			prefix = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		c.trustedProxies = append(c.trustedProxies, prefix.Masked())
	}
	c.corsOrigins = splitList(c.CORSOrigins)
	if c.RefreshGrace < 0 {
		// 0s is how this setting says "none" (refreshGrace), so a
		// negative value means nothing.
		return fmt.Errorf("GATEHOUSE_REFRESH_GRACE: %s is negative; 0s turns the grace window off", c.RefreshGrace)
	}
	if err := c.checkEncryptionKey(); err != nil {
		return err
	}
	c.limits = server.Limits{Login: c.RateLogin, Authorize: c.RateAuthorize, Refresh: c.RateRefresh,
		Logout: c.RateLogout, AdminAuth: c.RateAdminAuth, RefreshPerSession: c.RateSession}
	switch n, err := strconv.Atoi(c.MaxPendingLogins); {
	case c.MaxPendingLogins == "off":
		c.limits.PendingLoginsPerClient = -1
	case err != nil || n < 1:
		return fmt.Errorf("GATEHOUSE_MAX_PENDING_LOGINS: %q is not a positive whole number or off", c.MaxPendingLogins)
	default:
		c.limits.PendingLoginsPerClient = n
	}
	switch n, err := strconv.Atoi(c.TokenCacheSize); {
	case c.TokenCacheSize == "off":
		c.tokenCacheSize = -1
	case err != nil || n < 1:
		return fmt.Errorf("GATEHOUSE_TOKEN_CACHE_SIZE: %q is not a positive whole number or off", c.TokenCacheSize)
	default:
		c.tokenCacheSize = n
	}
	// The server checks its own settings; the error names the Config
	// field, mapped back to the variable here.
	if err := c.serverConfig(nil, nil, nil).Check(); err != nil {
		return settingError(err)
	}
	// Checked above; parsed again for the development login's rule and
	// redirect URL, in the server's normal form (no trailing slash).
	if c.public, err = server.ParseBaseURL("GATEHOUSE_PUBLIC_URL", c.PublicURL, c.InsecureAllowHTTP); err != nil {
		return err
	}
	switch {
	case c.GitHubClientID != "" && c.GitHubClientSecret == "":
		return errors.New("GATEHOUSE_GITHUB_CLIENT_SECRET is required when GATEHOUSE_GITHUB_CLIENT_ID is set")
	case c.GitHubClientID == "" && c.GitHubClientSecret != "":
		return errors.New("GATEHOUSE_GITHUB_CLIENT_ID is required when GATEHOUSE_GITHUB_CLIENT_SECRET is set")
	}
	if c.GitHubRedirectURL != "" {
		if _, err := server.ParseBaseURL("GATEHOUSE_GITHUB_REDIRECT_URL", c.GitHubRedirectURL, c.InsecureAllowHTTP); err != nil {
			return err
		}
	}
	for name, v := range map[string]string{"GATEHOUSE_GITHUB_URL": c.GitHubURL, "GATEHOUSE_GITHUB_API_URL": c.GitHubAPIURL} {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("%s %q is not an http(s) URL", name, v)
		}
	}

	if c.oidc, err = c.oidcProviders(); err != nil {
		return err
	}
	otherProvider := c.GitHubClientID != "" || len(c.oidc) > 0

	// The development login lets anyone who reaches it sign in as anyone:
	// it needs both a loopback public URL and a loopback listen address
	// (devlogin.New checks the address actually bound, too).
	loopbackURL := server.IsLoopback(c.public)
	loopbackAddr := devlogin.LoopbackAddr(c.Addr)
	switch c.DevLogin {
	case "":
		c.devLogin = !otherProvider && loopbackURL && loopbackAddr
	default:
		if c.devLogin, err = strconv.ParseBool(c.DevLogin); err != nil {
			return fmt.Errorf("GATEHOUSE_DEV_LOGIN: %q is not true or false", c.DevLogin)
		}
		if c.devLogin && !loopbackURL {
			return fmt.Errorf("GATEHOUSE_DEV_LOGIN: the development login lets anyone sign in as anyone; it cannot be enabled with the non-loopback public URL %s", c.PublicURL)
		}
		if c.devLogin && !loopbackAddr {
			return fmt.Errorf("GATEHOUSE_ADDR %q is not a loopback address: GATEHOUSE_DEV_LOGIN=true needs one (such as localhost:8080 or 127.0.0.1:8080), because the development login lets anyone who can reach the port sign in as anyone", c.Addr)
		}
	}
	if !c.devLogin && !otherProvider {
		return errors.New("no login provider is configured: set the client id and secret of one (GATEHOUSE_GITHUB_CLIENT_ID and GATEHOUSE_GITHUB_CLIENT_SECRET, or GOOGLE, GITLAB, MICROSOFT, or GATEHOUSE_OIDC_PROVIDERS), or GATEHOUSE_DEV_LOGIN=true; the development login needs a loopback GATEHOUSE_ADDR (such as localhost:8080) and a loopback public URL")
	}

	if err := c.checkDatabase(); err != nil {
		return err
	}
	if c.MetricsAddr != "" {
		// A malformed address stops startup here, before the database
		// is opened; one already in use can only be found at listen time.
		_, port, err := net.SplitHostPort(c.MetricsAddr)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
			return fmt.Errorf("GATEHOUSE_METRICS_ADDR: %q is not host:port, such as 127.0.0.1:9090", c.MetricsAddr)
		}
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("GATEHOUSE_LOG_FORMAT: %q is not text or json", c.LogFormat)
	}
	if c.maxConnections, err = strconv.Atoi(c.MaxConnections); err != nil || c.maxConnections < minConnections || c.maxConnections > maxConnections {
		return fmt.Errorf("GATEHOUSE_MAX_CONNECTIONS: %q is not a whole number from %d to %d", c.MaxConnections, minConnections, maxConnections)
	}
	if c.ShutdownTimeout < 0 || c.ShutdownTimeout > maxShutdownTimeout {
		return fmt.Errorf("GATEHOUSE_SHUTDOWN_TIMEOUT: %s is outside 0 to %s", c.ShutdownTimeout, maxShutdownTimeout)
	}
	return nil
}

// serverFields maps server.Config's fields to the variables that set them.
var serverFields = map[string]string{
	"PublicURL":          "GATEHOUSE_PUBLIC_URL",
	"AppURL":             "GATEHOUSE_APP_URL",
	"Audience":           "GATEHOUSE_AUDIENCE",
	"AccessTokenTTL":     "GATEHOUSE_ACCESS_TOKEN_TTL",
	"Algorithm":          "GATEHOUSE_JWT_ALG",
	"HMACSecret":         "GATEHOUSE_JWT_SECRET",
	"KeyRotation":        "GATEHOUSE_KEY_ROTATION",
	"EncryptionKey":      "GATEHOUSE_ENCRYPTION_KEY",
	"SessionIdleTimeout": "GATEHOUSE_SESSION_IDLE_TIMEOUT",
	"SessionMaxAge":      "GATEHOUSE_SESSION_MAX_AGE",
	"RefreshGrace":       "GATEHOUSE_REFRESH_GRACE",
	"CORSOrigins":        "GATEHOUSE_CORS_ORIGINS",
	"TrustedProxies":     "GATEHOUSE_TRUSTED_PROXIES",
	"OnEmailMatch":       "GATEHOUSE_ON_EMAIL_MATCH",
	"AuditRetention":     "GATEHOUSE_AUDIT_RETENTION",
	"TokenCacheSize":     "GATEHOUSE_TOKEN_CACHE_SIZE",
}

// settingError names the variable behind a server.Config field in err.
func settingError(err error) error {
	if ce, ok := errors.AsType[*gatehouse.ConfigError](err); ok {
		if env, ok := serverFields[ce.Field]; ok {
			return fmt.Errorf("%s: %w", env, ce.Err)
		}
	}
	return err
}

// serverConfig is the server's configuration from these settings.
func (c *config) serverConfig(store gatehouse.Store, providers []server.Provider, log *slog.Logger) server.Config {
	var secret []byte
	if c.JWTSecret != "" {
		secret = []byte(c.JWTSecret)
	}
	return server.Config{
		PublicURL:          c.PublicURL,
		AppURL:             c.AppURL,
		Audience:           c.Audience,
		Store:              store,
		Providers:          providers,
		AccessTokenTTL:     c.AccessTokenTTL,
		Algorithm:          c.JWTAlg,
		KeyRotation:        c.KeyRotation,
		EncryptionKey:      c.encryptionKey,
		HMACSecret:         secret,
		Logger:             log,
		InsecureAllowHTTP:  c.InsecureAllowHTTP,
		SessionIdleTimeout: c.SessionIdleTimeout,
		SessionMaxAge:      c.SessionMaxAge,
		RefreshGrace:       refreshGrace(c.RefreshGrace),
		CORSOrigins:        c.corsOrigins,
		TrustedProxies:     c.trustedProxies,
		Limits:             c.limits,
		PendingLogoutsFile: pendingLogoutsFile(c),
		OnEmailMatch:       c.OnEmailMatch,
		AuditRetention:     c.AuditRetention,
		TokenCacheSize:     c.tokenCacheSize,
	}
}

// Bounds of the connection settings. Below minConnections, the gap between
// shedding keep-alives at 90% and restoring them at 75% is too small.
const (
	minConnections     = 16
	maxConnections     = 1 << 20
	maxShutdownTimeout = 10 * time.Minute
)

// checkDatabase picks the store from GATEHOUSE_DATABASE_URL: a postgres://
// or postgresql:// URL is PostgreSQL, anything else an SQLite file path.
func (c *config) checkDatabase() error {
	switch {
	case strings.HasPrefix(c.DatabaseURL, "postgres://"), strings.HasPrefix(c.DatabaseURL, "postgresql://"):
		// Errors here must not repeat the URL: it holds a password.
		if _, err := url.Parse(c.DatabaseURL); err != nil {
			return errors.New("GATEHOUSE_DATABASE_URL: not a valid postgres:// URL")
		}
		c.db.postgresURL = c.DatabaseURL
	case c.DatabaseURL == "":
		c.db.sqlitePath = filepath.Join(c.DataDir, "gatehouse.db")
	default:
		c.db.sqlitePath = strings.TrimPrefix(strings.TrimPrefix(c.DatabaseURL, "sqlite://"), "sqlite:")
		if strings.Contains(c.db.sqlitePath, "://") || c.db.sqlitePath == "" {
			return fmt.Errorf("GATEHOUSE_DATABASE_URL: %q is neither an SQLite file path nor a postgres:// URL", c.DatabaseURL)
		}
	}
	return nil
}

// splitList splits a comma-separated setting, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// parseDuration is time.ParseDuration that also takes whole days, "7d".
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 3650 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// rateValue is a flag.Value for ratelimit.ParseRate.
type rateValue ratelimit.Rate

func (r *rateValue) Set(s string) error {
	v, err := ratelimit.ParseRate(s)
	if err != nil {
		return err
	}
	*r = rateValue(v)
	return nil
}

func (r *rateValue) String() string { return ratelimit.Rate(*r).String() }

// durationValue is a flag.Value for parseDuration.
type durationValue time.Duration

func (d *durationValue) Set(s string) error {
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = durationValue(v)
	return nil
}

func (d *durationValue) String() string { return settingDuration(time.Duration(*d)) }

// settingDuration writes d the way the settings are written and read back
// by parseDuration: whole days as "7d", else Go's form without its zero
// units ("15m", "1h", "10s", "1m30s").
func settingDuration(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
