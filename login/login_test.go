package login

import (
	"context"
	"go/build"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// TestNewRefusesBadConfig: misconfiguration fails in New, and the error
// names the field.
func TestNewRefusesBadConfig(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		cases := []struct {
			name  string
			mod   func(c *Config)
			field string
		}{
			{"no store", func(c *Config) { c.Store = nil }, "Config.Store"},
			{"TTL too short", func(c *Config) { c.TTL = MinTTL - time.Second }, "Config.TTL"},
			{"TTL negative", func(c *Config) { c.TTL = -time.Minute }, "Config.TTL"},
			{"TTL too long", func(c *Config) { c.TTL = MaxTTL + time.Second }, "Config.TTL"},
			{"negative pending cap", func(c *Config) { c.MaxPendingPerClient = -1 }, "Config.MaxPendingPerClient"},
			{"negative exchange timeout", func(c *Config) { c.ExchangeTimeout = -time.Second }, "Config.ExchangeTimeout"},
			{"upper-case provider name", func(c *Config) { c.Providers[0].Name = "GitHub" }, "Config.Providers"},
			{"provider name with slash", func(c *Config) { c.Providers[0].Name = "git/hub" }, "Config.Providers"},
			{"empty provider name", func(c *Config) { c.Providers[0].Name = "" }, "Config.Providers"},
			{"provider name starting with a hyphen", func(c *Config) { c.Providers[0].Name = "-idp" }, "Config.Providers"},
			{"provider name of 33 characters", func(c *Config) { c.Providers[0].Name = strings.Repeat("a", 33) }, "Config.Providers"},
			{"reserved name providers", func(c *Config) { c.Providers[0].Name = "providers" }, "Config.Providers"},
			{"reserved name refresh", func(c *Config) { c.Providers[0].Name = "refresh" }, "Config.Providers"},
			{"reserved name logout", func(c *Config) { c.Providers[0].Name = "logout" }, "Config.Providers"},
			{"reserved name sessions", func(c *Config) { c.Providers[0].Name = "sessions" }, "Config.Providers"},
			{"provider without implementation", func(c *Config) { c.Providers[0].Provider = nil }, "Config.Providers"},
			{"duplicate provider", func(c *Config) { c.Providers[1].Name = c.Providers[0].Name }, "Config.Providers"},
			{"provider without redirect URL", func(c *Config) { c.Providers[0].RedirectURL = "" }, "Config.Providers"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := f.cfg
				c.Providers = append([]Provider(nil), f.cfg.Providers...)
				tc.mod(&c)
				_, err := New(c)
				if err == nil || !strings.Contains(err.Error(), tc.field) {
					t.Fatalf("New = %v, want an error naming %s", err, tc.field)
				}
			})
		}
	})
}

// TestNewDefaults: zero fields take their defaults, and the registry keeps
// the configured order.
func TestNewDefaults(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		ps := f.m.Providers()
		if len(ps) != 2 || ps[0].Name != "idp" || ps[0].DisplayName != "The IdP" || ps[1].Name != "other" || ps[1].DisplayName != "other" {
			t.Fatalf("Providers() = %+v, want idp (The IdP), then other (display name defaulted)", ps)
		}
		st, err := f.m.Start(context.Background(), "idp", "client", "")
		if err != nil {
			t.Fatal(err)
		}
		if st.Lifetime != DefaultTTL || DefaultTTL != 10*time.Minute {
			t.Fatalf("Lifetime = %s, want the default %s (10m)", st.Lifetime, DefaultTTL)
		}
		if f.m.timeout != DefaultExchangeTimeout {
			t.Fatalf("exchange timeout = %s, want %s", f.m.timeout, DefaultExchangeTimeout)
		}
	})
}

// TestProviderNamesAreExact: names match exactly; any other is
// unsupported_provider, for Start and Finish alike, and stores nothing.
func TestProviderNamesAreExact(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		b := f.login("idp", "client", "", "1")
		for _, name := range []string{"unknown", "IDP", "Idp", "idp\x00", "idp ", "../idp", ""} {
			if _, err := f.m.Provider(name); gatehouse.ErrorCode(err) != gatehouse.EUnsupportedProvider {
				t.Errorf("Provider(%q) = %v, want %s", name, err, gatehouse.EUnsupportedProvider)
			}
			_, err := f.m.Start(context.Background(), name, "client", "")
			wantCode(t, err, gatehouse.EUnsupportedProvider)
			res, err := f.m.Finish(context.Background(), name, b.cb)
			wantCode(t, err, gatehouse.EUnsupportedProvider)
			if res.Consumed {
				t.Fatalf("Finish at %q consumed the login", name)
			}
		}
		f.wantCounts(1, 0, 0)
		f.finish(b)
	})
}

// TestNoHTTP: the login rules do not depend on net/http, even indirectly.
func TestNoHTTP(t *testing.T) {
	out, err := exec.Command(filepath.Join(build.Default.GOROOT, "bin", "go"), "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "net/http" || strings.HasPrefix(dep, "net/http/") {
			t.Fatalf("package login depends on %s", dep)
		}
	}
}
