package oidc

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/testclock"
	"github.com/gatehouse/gatehouse/oidc/oidctest"
)

func newClock() *testclock.Clock {
	return testclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

// fixture is a fake issuer and a provider configured for it, sharing a
// fake clock.
type fixture struct {
	s   *oidctest.Server
	p   *Provider
	clk *testclock.Clock
}

// setup starts a fake issuer with o and a provider for it; edit changes
// the provider's Config before New.
func setup(t *testing.T, o oidctest.Options, edit ...func(*Config)) *fixture {
	t.Helper()
	clk := newClock()
	o.Now = clk.Now
	s := oidctest.NewServer(t, o)
	c := Config{Issuer: s.Issuer(), ClientID: s.ClientID, ClientSecret: s.ClientSecret,
		HTTPClient: s.HTTPClient(5 * time.Second), Now: clk.Now}
	for _, e := range edit {
		e(&c)
	}
	p, err := New(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{s: s, p: p, clk: clk}
}

func params() gatehouse.AuthParams {
	return gatehouse.AuthParams{
		State:        rand.Text(),
		RedirectURI:  "https://app.example/auth/oidc",
		CodeVerifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
		Nonce:        rand.Text(),
	}
}

// login runs one whole login: the authorization URL, the user's approval
// at the fake, and the code exchange.
func (f *fixture) login(t *testing.T) (*gatehouse.Identity, error) {
	t.Helper()
	ap := params()
	if err := f.p.Prepare(context.Background()); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	code, err := f.s.Authorize(f.p.AuthCodeURL(ap))
	if err != nil {
		t.Fatalf("the fake refused the authorization URL: %v", err)
	}
	return f.p.Exchange(context.Background(), code, ap)
}

// errorCode returns the gatehouse error code of err and checks that no
// secret leaks into it.
func errorCode(t *testing.T, err error, secrets ...string) string {
	t.Helper()
	if err == nil {
		return ""
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains the secret %q", err, s)
		}
	}
	if _, ok := errors.AsType[*gatehouse.Error](err); !ok {
		t.Errorf("error %v is not a *gatehouse.Error", err)
	}
	return gatehouse.ErrorCode(err)
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
