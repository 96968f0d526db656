package oauth

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"golang.org/x/oauth2"
)

func TestInitRefusesIncompleteProviders(t *testing.T) {
	identity := func(context.Context, *http.Client, *oauth2.Token) (*gatehouse.Identity, error) { return nil, nil }
	good := func() *Provider {
		return &Provider{ClientID: "id", ClientSecret: "secret", Identity: identity,
			Endpoint: oauth2.Endpoint{AuthURL: "https://p/a", TokenURL: "https://p/t", AuthStyle: oauth2.AuthStyleInParams}}
	}
	cases := map[string]func(p *Provider){
		"no client id":         func(p *Provider) { p.ClientID = "" },
		"no client secret":     func(p *Provider) { p.ClientSecret = "" },
		"no token URL":         func(p *Provider) { p.Endpoint.TokenURL = "" },
		"auto-detected style":  func(p *Provider) { p.Endpoint.AuthStyle = oauth2.AuthStyleAutoDetect },
		"no identity function": func(p *Provider) { p.Identity = nil },
	}
	for name, mod := range cases {
		p := good()
		mod(p)
		if err := p.Init(); err == nil {
			t.Errorf("%s: Init succeeded", name)
		}
	}
	if err := good().Init(); err != nil {
		t.Errorf("good provider: %v", err)
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
