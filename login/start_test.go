package login

import (
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// TestStart: a login state is stored, keyed by the hashes of the state and
// the binding, with the provider, the exact redirect URI, a fresh PKCE
// verifier and nonce, the client and its expiry; the provider URL carries
// the state and the challenge, never the verifier; every start gives fresh
// values. Security cases 1 and 16.
func TestStart(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s, func(c *Config) { c.TTL = 15 * time.Minute })
		ctx := context.Background()
		st, err := f.m.Start(ctx, "idp", "192.0.2.1", "")
		if err != nil {
			t.Fatal(err)
		}
		if st.Lifetime != 15*time.Minute {
			t.Errorf("Lifetime = %s, want the configured TTL", st.Lifetime)
		}
		u, err := url.Parse(st.URL)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		state := q.Get("state")
		if raw, err := base64.RawURLEncoding.Strict().DecodeString(state); err != nil || len(raw) < 16 {
			t.Errorf("state %q is not base64url of at least 128 bits", state)
		}
		if regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-`).MatchString(state) {
			t.Errorf("state %q looks like a UUID", state)
		}
		if !isRandomToken(st.Binding) || st.Binding == state {
			t.Errorf("binding %q is not a fresh random token", st.Binding)
		}
		if strings.Contains(st.URL, st.Binding) {
			t.Error("the provider URL carries the binding")
		}
		if f.count("login_states") != 1 {
			t.Fatalf("login_states = %d, want 1", f.count("login_states"))
		}
		// The store holds hashes: looking up the raw values finds nothing,
		// and a mismatched pair consumes nothing.
		if _, err := s.ConsumeLoginState(ctx, state, st.Binding); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Fatalf("lookup by the raw state and binding = %v, want ErrNotFound", err)
		}
		ls, err := s.ConsumeLoginState(ctx, hash(state), hash(st.Binding))
		if err != nil {
			t.Fatal(err)
		}
		sent := f.idp.requests[state]
		now := f.clock.Now()
		if ls.Provider != "idp" || ls.RedirectURI != redirectURL || ls.Client != "192.0.2.1" ||
			!ls.CreatedAt.Equal(now) || !ls.ExpiresAt.Equal(now.Add(15*time.Minute)) {
			t.Errorf("stored login state %+v", ls)
		}
		if !isRandomToken(ls.CodeVerifier) || !isRandomToken(ls.Nonce) || ls.CodeVerifier == ls.Nonce {
			t.Errorf("verifier %q, nonce %q: want two fresh random tokens", ls.CodeVerifier, ls.Nonce)
		}
		if sent != (gatehouse.AuthParams{State: state, RedirectURI: redirectURL, CodeVerifier: ls.CodeVerifier, Nonce: ls.Nonce}) {
			t.Errorf("the provider was asked for %+v, want the stored values", sent)
		}
		if strings.Contains(st.URL, ls.CodeVerifier) {
			t.Error("the provider URL carries the verifier")
		}

		st2, err := f.m.Start(ctx, "idp", "192.0.2.1", "")
		if err != nil {
			t.Fatal(err)
		}
		q2 := mustQuery(t, st2.URL)
		if q2.Get("state") == state || q2.Get("code_challenge") == q.Get("code_challenge") || st2.Binding == st.Binding {
			t.Error("two logins share a state, challenge or binding")
		}
	})
}

func mustQuery(t *testing.T, s string) url.Values {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// TestStartPendingCap: a client may have only MaxPendingPerClient logins in
// progress; past it Start answers rate_limited with a wait and stores
// nothing. Other clients are not affected, and expired logins no longer
// count. Zero sets no cap. Security case 6.
func TestStartPendingCap(t *testing.T) {
	t.Run("cap", func(t *testing.T) { each(t, testPendingCap) })
	t.Run("no cap", func(t *testing.T) {
		each(t, func(t *testing.T, s gatehouse.Store) {
			f := newFixture(t, s)
			for range 20 {
				if _, err := f.m.Start(context.Background(), "idp", "192.0.2.1", ""); err != nil {
					t.Fatalf("no cap: %v", err)
				}
			}
		})
	})
}

func testPendingCap(t *testing.T, s gatehouse.Store) {
	f := newFixture(t, s, func(c *Config) { c.MaxPendingPerClient = 3 })
	ctx := context.Background()
	for range 3 {
		if _, err := f.m.Start(ctx, "idp", "192.0.2.1", ""); err != nil {
			t.Fatal(err)
		}
	}
	_, err := f.m.Start(ctx, "idp", "192.0.2.1", "")
	wantCode(t, err, gatehouse.ERateLimited)
	if e, _ := errors.AsType[*gatehouse.Error](err); e.RetryAfter <= 0 {
		t.Fatalf("RetryAfter = %s, want a wait", e.RetryAfter)
	}
	if n := f.count("login_states"); n != 3 {
		t.Fatalf("login_states = %d, want 3", n)
	}
	if _, err := f.m.Start(ctx, "idp", "192.0.2.2", ""); err != nil {
		t.Fatalf("another client: %v", err)
	}
	// One second before they expire they still count; after, not.
	f.clock.Advance(DefaultTTL - time.Second)
	_, err = f.m.Start(ctx, "idp", "192.0.2.1", "")
	wantCode(t, err, gatehouse.ERateLimited)
	f.clock.Advance(2 * time.Second)
	if _, err := f.m.Start(ctx, "idp", "192.0.2.1", ""); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
}

// TestStartReplacesBrowsersLogin: a browser has one login in progress: a
// new login replaces the one whose binding it holds, which can no longer
// be finished, and so does not add to the client's pending logins. A
// previous binding of the wrong shape replaces nothing. Security case 6.
func TestStartReplacesBrowsersLogin(t *testing.T) {
	t.Run("one browser, many clicks", func(t *testing.T) { each(t, testManyClicks) })
	t.Run("malformed previous binding", func(t *testing.T) {
		each(t, func(t *testing.T, s gatehouse.Store) {
			f := newFixture(t, s)
			f.login("idp", "192.0.2.1", "", "1")
			for _, previous := range []string{"garbage", strings.Repeat("A", 10<<10), "' OR '1'='1"} {
				if _, err := f.m.Start(context.Background(), "idp", "192.0.2.1", previous); err != nil {
					t.Fatalf("previous %.10q: %v", previous, err)
				}
			}
			if n := f.count("login_states"); n != 4 {
				t.Fatalf("login_states = %d, want 4 (malformed bindings replace nothing)", n)
			}
		})
	})
}

func testManyClicks(t *testing.T, s gatehouse.Store) {
	// With a cap of one, five logins in a row succeed only if each
	// replaced the one before, which does not count against the cap.
	f := newFixture(t, s, func(c *Config) { c.MaxPendingPerClient = 1 })
	var clicks []*browser
	previous := ""
	for range 5 {
		b := f.login("idp", "192.0.2.1", previous, "1")
		clicks = append(clicks, b)
		previous = b.started.Binding
	}
	if n := f.count("login_states"); n != 1 {
		t.Fatalf("login_states = %d after five logins in one browser, want 1", n)
	}
	for i, b := range clicks[:4] {
		res, err := f.m.Finish(context.Background(), "idp", b.cb)
		wantCode(t, err, gatehouse.EInvalidState)
		if res.Consumed {
			t.Fatalf("replaced login %d was consumed", i)
		}
	}
	f.finish(clicks[4])
	if f.idp.exchanges() != 1 {
		t.Fatalf("exchanges = %d, want 1", f.idp.exchanges())
	}
}

// unprepared is a provider that cannot start a login yet, as an OpenID
// Connect issuer whose discovery document could not be read.
type unprepared struct {
	*idp
	err error
}

func (u unprepared) Prepare(context.Context) error { return u.err }

// TestStartUnpreparedProvider: a provider that is not ready refuses the
// start with its own error, and nothing is stored; once ready, the login
// starts.
func TestStartUnpreparedProvider(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		down := &gatehouse.Error{Code: gatehouse.EUnavailable, RetryAfter: 10 * time.Second, Message: "the provider cannot be reached"}
		p := &unprepared{idp: newIDP(), err: down}
		f := newFixture(t, s, func(c *Config) {
			c.Providers = append(c.Providers, Provider{Name: "oidc", RedirectURL: "https://app.example.com/auth/oidc", Provider: p})
		})
		_, err := f.m.Start(context.Background(), "oidc", "192.0.2.1", "")
		wantCode(t, err, gatehouse.EUnavailable)
		if n := f.count("login_states"); n != 0 {
			t.Fatalf("login_states = %d after a refused start, want 0", n)
		}
		p.err = nil
		if _, err := f.m.Start(context.Background(), "oidc", "192.0.2.1", ""); err != nil {
			t.Fatalf("once ready: %v", err)
		}
	})
}

// noURL is a provider that has no authorization URL to give.
type noURL struct{ *idp }

func (noURL) AuthCodeURL(gatehouse.AuthParams) string { return "" }

// TestStartWithoutURL: a provider that gives no URL to send the browser to
// refuses the start as unavailable, and nothing is stored.
func TestStartWithoutURL(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s, func(c *Config) {
			c.Providers = append(c.Providers, Provider{Name: "nourl", RedirectURL: "https://app.example.com/auth/nourl", Provider: noURL{newIDP()}})
		})
		_, err := f.m.Start(context.Background(), "nourl", "192.0.2.1", "")
		wantCode(t, err, gatehouse.EUnavailable)
		if n := f.count("login_states"); n != 0 {
			t.Fatalf("login_states = %d, want 0", n)
		}
	})
}
