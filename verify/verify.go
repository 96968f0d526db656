// Package verify checks Gatehouse access tokens in any Go service, without
// Gatehouse's database: it reads the issuer's discovery document and JSON
// Web Key Set over HTTP, keeps the keys fresh, and applies the same checks
// as Gatehouse itself (token.Verifier).
//
// It checks signatures and claims only. A token whose session was revoked
// keeps verifying here until it expires (the access-token TTL, 15 minutes
// by default); Gatehouse's own server.Require, which asks the database on
// every request, is the one to use where revocation must take effect at
// once.
package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/token"
)

// Defaults of the options.
const (
	// DefaultLeeway is the clock skew allowed on exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// DefaultCacheSize is how many verified tokens are remembered. The
	// cache costs a few hundred bytes a token and saves a signature check
	// per request; WithCacheSize(0) turns it off.
	DefaultCacheSize = token.DefaultCacheSize
	// DefaultMaxTTL is the longest token lifetime accepted: Gatehouse's
	// own maximum access-token TTL.
	DefaultMaxTTL = time.Hour
	// DefaultTimeout bounds each request to Gatehouse.
	DefaultTimeout = 10 * time.Second
)

// maxDiscoverySize caps the discovery document, in bytes.
const maxDiscoverySize = 64 << 10

// Verifier checks Gatehouse access tokens for one issuer and audience. It
// is safe for concurrent use.
type Verifier struct {
	v     token.Verifier
	keys  *remoteKeys
	realm string
}

type config struct {
	client    *http.Client
	now       func() time.Time
	leeway    time.Duration
	maxTTL    time.Duration
	cacheSize int
	realm     string
	log       *slog.Logger
}

// An Option changes a default of New.
type Option func(*config)

// WithHTTPClient makes New and the key refreshes use c instead of a client
// with a DefaultTimeout timeout. Redirects are never followed, whatever c's
// CheckRedirect says.
func WithHTTPClient(c *http.Client) Option { return func(cfg *config) { cfg.client = c } }

// WithClock makes the Verifier read the time from now instead of time.Now.
func WithClock(now func() time.Time) Option { return func(cfg *config) { cfg.now = now } }

// WithLeeway sets the clock skew allowed on exp, nbf and iat, at most
// token.MaxLeeway; the default is DefaultLeeway.
func WithLeeway(d time.Duration) Option { return func(cfg *config) { cfg.leeway = d } }

// WithMaxTTL sets the longest token lifetime (exp − iat) accepted; the
// default is DefaultMaxTTL.
func WithMaxTTL(d time.Duration) Option { return func(cfg *config) { cfg.maxTTL = d } }

// WithCacheSize sets how many verified tokens are remembered (see
// token.Cache); 0 turns the cache off. The default is DefaultCacheSize.
func WithCacheSize(n int) Option { return func(cfg *config) { cfg.cacheSize = n } }

// WithRealm sets the realm of Require's WWW-Authenticate challenges; the
// default is the audience.
func WithRealm(realm string) Option { return func(cfg *config) { cfg.realm = realm } }

// WithLogger sets where failed key refreshes are logged; the default is
// slog.Default(). Nothing logged contains a token.
func WithLogger(l *slog.Logger) Option { return func(cfg *config) { cfg.log = l } }

// New returns a Verifier of tokens that issuer minted for audience. It reads
// {issuer}/.well-known/openid-configuration, whose "issuer" must equal
// issuer exactly, and then the key set at its "jwks_uri"; it fails if either
// is unavailable or unfit.
func New(ctx context.Context, issuer, audience string, opts ...Option) (*Verifier, error) {
	cfg := config{
		leeway:    DefaultLeeway,
		maxTTL:    DefaultMaxTTL,
		cacheSize: DefaultCacheSize,
		realm:     audience,
		now:       time.Now,
		log:       slog.Default(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	if err := checkURL(issuer); err != nil {
		return nil, fmt.Errorf("verify: issuer: %w", err)
	}
	switch {
	case audience == "":
		return nil, errors.New("verify: audience is empty")
	case cfg.leeway < 0 || cfg.leeway > token.MaxLeeway:
		return nil, fmt.Errorf("verify: leeway %s is not between 0 and %s", cfg.leeway, token.MaxLeeway)
	case cfg.maxTTL <= 0:
		return nil, fmt.Errorf("verify: max TTL %s is not positive", cfg.maxTTL)
	case cfg.cacheSize < 0:
		return nil, fmt.Errorf("verify: cache size %d is negative", cfg.cacheSize)
	case cfg.now == nil:
		return nil, errors.New("verify: clock is nil")
	case cfg.log == nil:
		return nil, errors.New("verify: logger is nil")
	case !validRealm(cfg.realm):
		return nil, fmt.Errorf("verify: realm %q is empty or has characters a challenge cannot carry", cfg.realm)
	}
	client := &http.Client{Timeout: DefaultTimeout}
	if cfg.client != nil {
		c := *cfg.client
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	jwksURL, err := discover(ctx, client, issuer)
	if err != nil {
		return nil, err
	}
	keys := &remoteKeys{url: jwksURL, client: client, now: cfg.now, log: cfg.log, minInterval: MinRefetchInterval}
	if err := keys.init(ctx); err != nil {
		return nil, err
	}
	v := &Verifier{
		v: token.Verifier{
			Issuer:   issuer,
			Audience: audience,
			Leeway:   cfg.leeway,
			MaxTTL:   cfg.maxTTL,
			Now:      cfg.now,
		},
		keys:  keys,
		realm: cfg.realm,
	}
	if cfg.cacheSize > 0 {
		v.v.Cache = token.NewCache(cfg.cacheSize)
	}
	return v, nil
}

// Close stops the Verifier's background fetches of the key set and waits
// for the one in flight, if any. The Verifier still verifies with the keys
// it has; a token naming a key it does not know fails.
func (v *Verifier) Close() error {
	v.keys.close()
	return nil
}

// Verify checks raw and returns its claims. A token signed by a key the
// Verifier does not know yet makes it fetch the key set again (see
// MinRefetchInterval); ctx bounds the wait for that fetch. Errors for a bad
// token wrap token.ErrInvalid and never contain the token.
func (v *Verifier) Verify(ctx context.Context, raw string) (*token.Claims, error) {
	tv := v.v
	tv.Keys = keysFor{v.keys, ctx}
	c, err := tv.Verify(raw)
	if err != nil && ctx.Err() != nil {
		return nil, errors.Join(err, ctx.Err())
	}
	return c, err
}

// checkURL accepts an absolute http or https URL with a host and no query,
// fragment or user information.
func checkURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%q is not an http or https URL", s)
	case u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return fmt.Errorf("%q must be a plain URL with a host", s)
	}
	return nil
}

// validRealm reports whether realm can be a quoted-string in a challenge
// without escapes.
func validRealm(realm string) bool {
	if realm == "" {
		return false
	}
	for i := 0; i < len(realm); i++ {
		if c := realm[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// discover reads the issuer's discovery document and returns its jwks_uri.
func discover(ctx context.Context, client *http.Client, issuer string) (string, error) {
	where := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	body, _, err := get(ctx, client, where, maxDiscoverySize)
	if err != nil {
		return "", fmt.Errorf("verify: discovery: %w", err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("verify: discovery: %s is not a JSON object: %w", where, err)
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("verify: discovery: %s names issuer %q, want %q", where, doc.Issuer, issuer)
	}
	if err := checkURL(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("verify: discovery: jwks_uri: %w", err)
	}
	if strings.HasPrefix(issuer, "https:") && !strings.HasPrefix(doc.JWKSURI, "https:") {
		return "", fmt.Errorf("verify: discovery: jwks_uri %q is not https", doc.JWKSURI)
	}
	return doc.JWKSURI, nil
}

// get fetches url and returns its body, of at most limit bytes, if the answer
// is a 200.
func get(ctx context.Context, client *http.Client, url string, limit int64) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if int64(len(body)) > limit {
		return nil, nil, fmt.Errorf("GET %s: body larger than %d bytes", url, limit)
	}
	return body, resp.Header, nil
}
