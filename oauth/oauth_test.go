package oauth

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"golang.org/x/oauth2"
)

func TestNewRefusesIncompleteConfig(t *testing.T) {
	good := func() Config {
		return Config{ClientID: "id", ClientSecret: "secret",
			Identity: func(context.Context, *http.Client, *oauth2.Token) (*gatehouse.Identity, error) { return nil, nil },
			Endpoint: oauth2.Endpoint{AuthURL: "https://p/a", TokenURL: "https://p/t", AuthStyle: oauth2.AuthStyleInParams}}
	}
	tests := []struct {
		name  string
		edit  func(c *Config)
		field string // the field the error must name
	}{
		{"no client id", func(c *Config) { c.ClientID = "" }, "ClientID"},
		{"no client secret", func(c *Config) { c.ClientSecret = "" }, "ClientSecret"},
		{"no auth URL", func(c *Config) { c.Endpoint.AuthURL = "" }, "Endpoint"},
		{"no token URL", func(c *Config) { c.Endpoint.TokenURL = "" }, "Endpoint"},
		{"auto-detected style", func(c *Config) { c.Endpoint.AuthStyle = oauth2.AuthStyleAutoDetect }, "AuthStyle"},
		{"no identity function", func(c *Config) { c.Identity = nil }, "Identity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.edit(&c)
			p, err := New(c)
			if err == nil || p != nil {
				t.Fatalf("got %v, %v; want an error", p, err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("got error %q, want it to name %s", err, tc.field)
			}
		})
	}
	if _, err := New(good()); err != nil {
		t.Errorf("got %v for a complete config, want nil", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	cases := []struct {
		header http.Header
		want   time.Duration
	}{
		{http.Header{"Retry-After": {"60"}}, time.Minute},
		{http.Header{"X-Ratelimit-Reset": {"1000120"}}, 2 * time.Minute},
		{http.Header{"X-Ratelimit-Reset": {"999000"}}, 0},
		{http.Header{"Retry-After": {"999999"}}, time.Hour},
		{http.Header{"Retry-After": {"Wed, 21 Oct 2015 07:28:00 GMT"}}, 0},
		{nil, 0},
	}
	for _, tc := range cases {
		if got := retryAfter(tc.header, now); got != tc.want {
			t.Errorf("retryAfter(%v) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestIsJSON(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json":                  true,
		"application/json; charset=utf-8":   true,
		"application/vnd.github+json":       true,
		"application/x-www-form-urlencoded": false,
		"text/html":                         false,
		"":                                  false,
	} {
		if got := isJSON(ct); got != want {
			t.Errorf("isJSON(%q) = %v, want %v", ct, got, want)
		}
	}
}

func TestPrintable(t *testing.T) {
	if got := Printable("bad\x00\ncode\u202e" + string(make([]byte, 100))); got != "badcode" {
		t.Errorf("Printable = %q, want %q", got, "badcode")
	}
}
