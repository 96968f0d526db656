package server

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/cleanup"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/token"
)

// Check reports the first bad field of cfg as a *gatehouse.ConfigError
// naming the Config field, leaving aside what only New can check: the
// Store and the providers. New calls it; a command line calls it to refuse
// bad settings before it opens the database. Each bound is checked by the
// package that owns it (session, keys, token) and reported under this
// Config's name for it.
func (cfg Config) Check() error {
	_, err := cfg.resolve()
	return err
}

// resolved is a checked Config with its defaults applied.
type resolved struct {
	Config
	pub, app *url.URL
	cors     map[string]bool
}

func (cfg Config) resolve() (*resolved, error) {
	r := &resolved{Config: cfg, cors: map[string]bool{}}
	var err error
	if r.pub, err = ParseBaseURL("the URL", cfg.PublicURL, cfg.InsecureAllowHTTP); err != nil {
		return nil, &gatehouse.ConfigError{Field: "PublicURL", Err: err}
	}
	if r.AppURL == "" {
		r.AppURL = cfg.PublicURL
	}
	if r.app, err = ParseBaseURL("the URL", r.AppURL, cfg.InsecureAllowHTTP); err != nil {
		return nil, &gatehouse.ConfigError{Field: "AppURL", Err: err}
	}
	if strings.TrimSpace(r.Audience) != r.Audience {
		return nil, gatehouse.ConfigErrorf("Audience", "must not have surrounding spaces")
	}
	if r.Audience == "" {
		r.Audience = r.app.String()
	}
	if r.AccessTokenTTL == 0 {
		r.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if r.AccessTokenTTL < MinAccessTokenTTL || r.AccessTokenTTL > MaxAccessTokenTTL {
		return nil, gatehouse.ConfigErrorf("AccessTokenTTL", "must be between %s and %s, got %s", MinAccessTokenTTL, MaxAccessTokenTTL, r.AccessTokenTTL)
	}
	if err := (session.Config{IdleTimeout: cfg.SessionIdleTimeout, MaxAge: cfg.SessionMaxAge, Grace: cfg.RefreshGrace}).Check(); err != nil {
		return nil, rename(err, map[string]string{"IdleTimeout": "SessionIdleTimeout", "MaxAge": "SessionMaxAge", "Grace": "RefreshGrace"})
	}
	if r.SessionMaxAge == 0 {
		r.SessionMaxAge = DefaultSessionMaxAge
	}
	if r.SessionMaxAge < r.AccessTokenTTL {
		return nil, gatehouse.ConfigErrorf("SessionMaxAge", "%s is shorter than the access token TTL %s", r.SessionMaxAge, r.AccessTokenTTL)
	}
	if len(cfg.HMACSecret) > 0 {
		switch {
		case cfg.Algorithm != "" && cfg.Algorithm != token.HS256:
			return nil, gatehouse.ConfigErrorf("HMACSecret", "signs with HS256, which conflicts with Algorithm %s", cfg.Algorithm)
		case cfg.EncryptionKey != nil:
			return nil, gatehouse.ConfigErrorf("EncryptionKey", "seals stored signing keys; with HMACSecret none is stored")
		}
		if err := token.CheckHMACSecret(cfg.HMACSecret); err != nil {
			return nil, &gatehouse.ConfigError{Field: "HMACSecret", Err: err}
		}
	} else {
		if cfg.Algorithm == token.HS256 {
			return nil, gatehouse.ConfigErrorf("Algorithm", "HS256 signs with a shared secret, and HMACSecret is empty")
		}
		kc := keys.Config{Algorithm: cfg.Algorithm, Rotation: cfg.KeyRotation, Retain: KeyRetention, EncryptionKey: cfg.EncryptionKey}
		if err := kc.Check(); err != nil {
			return nil, rename(err, map[string]string{"Algorithm": "Algorithm", "Rotation": "KeyRotation", "EncryptionKey": "EncryptionKey"})
		}
	}
	if r.OnEmailMatch == "" {
		r.OnEmailMatch = string(gatehouse.EmailMatchRefuse)
	}
	if !gatehouse.EmailMatch(r.OnEmailMatch).Valid() {
		return nil, gatehouse.ConfigErrorf("OnEmailMatch", "must be %s or %s, got %q",
			gatehouse.EmailMatchRefuse, gatehouse.EmailMatchNewAccount, cfg.OnEmailMatch)
	}
	if err := (cleanup.Config{AuditRetention: cfg.AuditRetention}).Check(); err != nil {
		return nil, err // the field has the same name here
	}
	switch {
	case r.TokenCacheSize == 0:
		r.TokenCacheSize = DefaultTokenCacheSize
	case r.TokenCacheSize > token.MaxCacheSize:
		return nil, gatehouse.ConfigErrorf("TokenCacheSize", "must be at most %d, got %d", token.MaxCacheSize, r.TokenCacheSize)
	}
	if r.CORSOrigins == nil {
		r.CORSOrigins = []string{origin(r.app)}
	}
	for _, o := range r.CORSOrigins {
		if err := checkOrigin(o, cfg.InsecureAllowHTTP); err != nil {
			return nil, &gatehouse.ConfigError{Field: "CORSOrigins", Err: err}
		}
		r.cors[o] = true
	}
	return r, nil
}

// rename reports a field of a package's Config under this Config's name.
func rename(err error, names map[string]string) error {
	ce, ok := errors.AsType[*gatehouse.ConfigError](err)
	if !ok {
		return err
	}
	name, ok := names[ce.Field]
	if !ok {
		return fmt.Errorf("server: %w", err)
	}
	return &gatehouse.ConfigError{Field: name, Err: ce.Err}
}

// MinAccessTokenTTL is the shortest access token lifetime allowed.
const MinAccessTokenTTL = time.Minute
