package login

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// TestFinish: a finished login exchanges the code with the values the
// login was started with, cleans the profile, creates the user and the
// identity, and uses the login up; the same account again is the same
// user, its profile updated.
func TestFinish(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		b := f.login("idp", "192.0.2.1", "", "583231")
		ls := f.idp.requests[b.cb.State]
		res := f.finish(b)
		if !res.Consumed || res.User == nil || res.Identity == nil {
			t.Fatalf("result %+v, want consumed, with a user and an identity", res)
		}
		if res.Identity.Provider != "idp" || res.Identity.Subject != "583231" {
			t.Errorf("identity %s/%s, want idp/583231", res.Identity.Provider, res.Identity.Subject)
		}
		if got := f.idp.lastExchange(t); got.code != b.cb.Code || got.params != ls {
			t.Errorf("exchange of %q with %+v, want %q with %+v", got.code, got.params, b.cb.Code, ls)
		}
		if res.User.Name == nil || *res.User.Name != "Person 583231" || !res.User.EmailVerified {
			t.Errorf("user profile %+v", res.User.Profile)
		}
		f.wantCounts(0, 1, 1)

		// Again, with a hostile name: the same user, the profile cleaned.
		again := f.login("idp", "192.0.2.1", "", "583231")
		f.idp.mu.Lock()
		g := f.idp.codes[again.cb.Code]
		hostile := "  Ada\u202e\x00 Lovelace\u200b  "
		g.ident.Name = &hostile
		f.idp.codes[again.cb.Code] = g
		f.idp.mu.Unlock()
		res2 := f.finish(again)
		if res2.User.ID != res.User.ID {
			t.Fatalf("second login made user %s, want %s", res2.User.ID, res.User.ID)
		}
		if got := *res2.User.Name; got != "Ada Lovelace" {
			t.Errorf("name = %q, want the cleaned %q", got, "Ada Lovelace")
		}
		if stored, err := s.User(context.Background(), res.User.ID); err != nil || *stored.Name != "Ada Lovelace" {
			t.Errorf("stored user %+v, %v; want the cleaned name", stored, err)
		}
		f.wantCounts(0, 1, 1)
	})
}

// TestFinishRefusesState: a state or binding that matches no login is
// invalid_state before the provider is called; it consumes nothing and
// stores nothing, and the rightful browser can still finish. Security
// cases 8, 9 and 11.
func TestFinishRefusesState(t *testing.T) {
	tests := []struct {
		name string
		mod  func(cb *Callback)
	}{
		{"no binding (another browser replaying the callback)", func(cb *Callback) { cb.Binding = "" }},
		{"malformed binding", func(cb *Callback) { cb.Binding = "not-a-binding" }},
		{"a well-formed binding of no login", func(cb *Callback) { cb.Binding = randomToken() }},
		{"random well-formed state", func(cb *Callback) { cb.State = strings.Repeat("A", 43) }},
		{"SQL state", func(cb *Callback) { cb.State = "' OR '1'='1' --" }},
		{"10 KB state", func(cb *Callback) { cb.State = strings.Repeat("s", 10<<10) }},
		{"non-ASCII state", func(cb *Callback) { cb.State = "état" }},
		{"empty state", func(cb *Callback) { cb.State = "" }},
		{"blank state", func(cb *Callback) { cb.State = "  \t " }},
		{"state with a NUL byte", func(cb *Callback) { cb.State = cb.State[:42] + "\x00" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			each(t, func(t *testing.T, s gatehouse.Store) {
				f := newFixture(t, s)
				b := f.login("idp", "192.0.2.1", "", "1")
				cb := b.cb
				tc.mod(&cb)
				res, err := f.m.Finish(context.Background(), "idp", cb)
				wantCode(t, err, gatehouse.EInvalidState)
				if res.Consumed || res.Identity != nil || res.User != nil {
					t.Fatalf("result %+v, want nothing consumed or learnt", res)
				}
				if n := f.idp.exchanges(); n != 0 {
					t.Fatalf("provider exchanges = %d, want 0", n)
				}
				f.wantCounts(1, 0, 0)
				f.finish(b)
			})
		})
	}
}

// TestFinishSwappedBindings: browser B finishing with browser A's state
// fails, and so does A with B's; neither login is used up. Security case
// 10.
func TestFinishSwappedBindings(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		a, b := f.login("idp", "192.0.2.1", "", "a"), f.login("idp", "192.0.2.2", "", "b")
		for _, cb := range []Callback{
			{State: a.cb.State, Code: a.cb.Code, Binding: b.cb.Binding},
			{State: b.cb.State, Code: b.cb.Code, Binding: a.cb.Binding},
		} {
			res, err := f.m.Finish(context.Background(), "idp", cb)
			wantCode(t, err, gatehouse.EInvalidState)
			if res.Consumed {
				t.Fatal("a swapped binding consumed a login")
			}
		}
		if n := f.idp.exchanges(); n != 0 {
			t.Fatalf("provider exchanges = %d, want 0", n)
		}
		f.wantCounts(2, 0, 0)
		f.finish(a)
		f.finish(b)
	})
}

// TestFinishIncompleteCallback: a callback with neither a code nor a
// provider error is invalid_request; the provider is not called, nothing
// is consumed or stored, and the login can still be finished. Security
// case 8.
func TestFinishIncompleteCallback(t *testing.T) {
	for name, code := range map[string]string{"empty code": "", "blank code": "   ", "tab code": "\t"} {
		t.Run(name, func(t *testing.T) {
			each(t, func(t *testing.T, s gatehouse.Store) {
				f := newFixture(t, s)
				b := f.login("idp", "192.0.2.1", "", "1")
				cb := b.cb
				cb.Code = code
				res, err := f.m.Finish(context.Background(), "idp", cb)
				wantCode(t, err, gatehouse.EInvalidRequest)
				if res.Consumed {
					t.Fatal("an incomplete callback consumed the login")
				}
				if n := f.idp.exchanges(); n != 0 {
					t.Fatalf("provider exchanges = %d, want 0", n)
				}
				f.wantCounts(1, 0, 0)
				f.finish(b)
			})
		})
	}
}

// TestFinishReplay: a successful callback works once; replayed with the
// same binding it is invalid_state, and the provider was asked once.
// Security case 12.
func TestFinishReplay(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		b := f.login("idp", "192.0.2.1", "", "1")
		f.finish(b)
		res, err := f.m.Finish(context.Background(), "idp", b.cb)
		wantCode(t, err, gatehouse.EInvalidState)
		if res.Consumed || res.User != nil {
			t.Fatalf("replay result %+v", res)
		}
		if n := f.idp.exchanges(); n != 1 {
			t.Fatalf("provider exchanges = %d, want 1", n)
		}
		f.wantCounts(0, 1, 1)
	})
}

// TestFinishConcurrent: identical callbacks at the same moment (React
// StrictMode's double effect): exactly one wins, the others are
// invalid_state, and the provider is asked once. Security case 13.
func TestFinishConcurrent(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		b := f.login("idp", "192.0.2.1", "", "1")
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				_, errs[i] = f.m.Finish(context.Background(), "idp", b.cb)
			})
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			wantCode(t, err, gatehouse.EInvalidState)
		}
		if ok != 1 {
			t.Fatalf("%d finishes succeeded, want exactly 1", ok)
		}
		if got := f.idp.exchanges(); got != 1 {
			t.Fatalf("provider exchanges = %d, want 1", got)
		}
		f.wantCounts(0, 1, 1)
	})
}

// TestFinishExpiry: a login finished at or after its TTL is consumed and
// refused before the provider is called; a second earlier, it works.
// Security case 14.
func TestFinishExpiry(t *testing.T) {
	for _, tc := range []struct {
		after time.Duration
		ok    bool
	}{{DefaultTTL - time.Second, true}, {DefaultTTL, false}, {11 * time.Minute, false}} {
		t.Run(tc.after.String(), func(t *testing.T) {
			each(t, func(t *testing.T, s gatehouse.Store) {
				f := newFixture(t, s)
				b := f.login("idp", "192.0.2.1", "", "1")
				f.clock.Advance(tc.after)
				res, err := f.m.Finish(context.Background(), "idp", b.cb)
				if tc.ok {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				wantCode(t, err, gatehouse.EInvalidState)
				if !res.Consumed {
					t.Fatal("an expired login was not consumed")
				}
				if n := f.idp.exchanges(); n != 0 {
					t.Fatalf("provider exchanges = %d, want 0", n)
				}
				f.wantCounts(0, 0, 0)
			})
		})
	}
}

// TestFinishOtherProvider: a login started at one provider cannot be
// finished at another: it is consumed and refused, and no provider is
// called. Security case 16.
func TestFinishOtherProvider(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		b := f.login("other", "192.0.2.1", "", "1")
		res, err := f.m.Finish(context.Background(), "idp", b.cb)
		wantCode(t, err, gatehouse.EInvalidState)
		if !res.Consumed {
			t.Fatal("the mixed-up login was not consumed")
		}
		if f.idp.exchanges() != 0 || f.other.exchanges() != 0 {
			t.Fatalf("exchanges idp %d other %d, want 0", f.idp.exchanges(), f.other.exchanges())
		}
		f.wantCounts(0, 0, 0)
	})
}

// TestFinishCodeInjection: an attacker finishes their own login with the
// victim's code. Gatehouse sends the attacker's verifier, so the provider
// refuses (PKCE): invalid_grant, no user, the attacker's login spent, the
// victim's untouched. Security case 15.
func TestFinishCodeInjection(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		victim := f.login("idp", "192.0.2.1", "", "victim")
		attacker := f.login("idp", "198.51.100.1", "", "mallory")
		cb := attacker.cb
		cb.Code = victim.cb.Code
		res, err := f.m.Finish(context.Background(), "idp", cb)
		wantCode(t, err, gatehouse.EInvalidGrant)
		if !res.Consumed || res.User != nil {
			t.Fatalf("result %+v, want the attacker's login spent and no user", res)
		}
		f.wantCounts(1, 0, 0)
		if got := f.finish(victim).Identity.Subject; got != "victim" {
			t.Fatalf("the victim's login signed in %q", got)
		}
	})
}

// TestFinishProviderError: an error the provider sent back instead of a
// code uses the login up without calling the provider: access_denied (the
// person cancelled) is provider_denied, anything else invalid_request.
// The provider's text is never taken. Security case 18.
func TestFinishProviderError(t *testing.T) {
	for _, tc := range []struct{ sent, want string }{
		{"access_denied", gatehouse.EProviderDenied},
		{"server_error", gatehouse.EInvalidRequest},
		{"temporarily_unavailable", gatehouse.EInvalidRequest},
		{"invalid_scope", gatehouse.EInvalidRequest},
	} {
		t.Run(tc.sent, func(t *testing.T) {
			each(t, func(t *testing.T, s gatehouse.Store) {
				f := newFixture(t, s)
				b := f.login("idp", "192.0.2.1", "", "1")
				res, err := f.m.Finish(context.Background(), "idp", Callback{State: b.cb.State, Binding: b.cb.Binding, Error: tc.sent})
				wantCode(t, err, tc.want)
				if strings.Contains(err.Error(), tc.sent) {
					t.Errorf("error %q repeats what the provider sent", err)
				}
				if !res.Consumed {
					t.Fatal("the refused login was not consumed")
				}
				if n := f.idp.exchanges(); n != 0 {
					t.Fatalf("provider exchanges = %d, want 0", n)
				}
				f.wantCounts(0, 0, 0)
			})
		})
	}
}

// TestFinishExchange: the exchange runs within the exchange timeout, and
// the provider's failures come back as the provider reported them, with
// the login spent and nothing stored.
func TestFinishExchange(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s, func(c *Config) { c.ExchangeTimeout = 7 * time.Second })
		b := f.login("idp", "192.0.2.1", "", "1")
		before := time.Now()
		f.finish(b)
		after := time.Now()
		// The timeout is the network's, on the wall clock.
		d := f.idp.lastExchange(t).deadline
		if d.Before(before.Add(7*time.Second)) || d.After(after.Add(7*time.Second)) {
			t.Fatalf("exchange deadline %v, want 7s after the call (%v…%v)", d, before, after)
		}
		for _, fail := range []*gatehouse.Error{
			gatehouse.Errorf(gatehouse.EInvalidGrant, "bad code"),
			gatehouse.Errorf(gatehouse.EAccessDenied, "unverified email"),
			gatehouse.Errorf(gatehouse.EUpstream, "garbage"),
			gatehouse.Errorf(gatehouse.EUpstreamTimeout, "no answer"),
			{Code: gatehouse.EUnavailable, Message: "rate limited", RetryAfter: time.Minute},
		} {
			b := f.login("idp", "192.0.2.1", "", "2")
			f.idp.mu.Lock()
			f.idp.fail = fail
			f.idp.mu.Unlock()
			res, err := f.m.Finish(context.Background(), "idp", b.cb)
			if err != fail {
				t.Fatalf("Finish = %v, want the provider's %v", err, fail)
			}
			if !res.Consumed || res.Identity != nil || res.User != nil {
				t.Fatalf("result %+v, want the login spent and no account", res)
			}
		}
		f.wantCounts(0, 1, 1)
	})
}

// TestFinishUnstorableSubject: an account id with a NUL byte or invalid
// UTF-8, which is a key and is not cleaned, fails the login as the
// provider's fault (upstream_error), the same on both stores, and stores
// nothing. The result still names the subject for the audit line.
// Security case 29.
func TestFinishUnstorableSubject(t *testing.T) {
	for _, sub := range []string{"a\x00b", "\xff"} {
		t.Run(strings.ToValidUTF8(strings.ReplaceAll(sub, "\x00", "NUL"), "invalid"), func(t *testing.T) {
			each(t, func(t *testing.T, s gatehouse.Store) {
				f := newFixture(t, s)
				b := f.login("idp", "192.0.2.1", "", sub)
				res, err := f.m.Finish(context.Background(), "idp", b.cb)
				wantCode(t, err, gatehouse.EUpstream)
				if res.User != nil || res.Identity == nil || res.Identity.Subject != sub {
					t.Fatalf("result %+v, want no user and the subject", res)
				}
				f.wantCounts(0, 0, 0)
			})
		})
	}
}

// TestFinishDisabledUser: a disabled user's login is access_denied and
// writes nothing (the profile stays as it was); enabled again, they log
// in. Security case 71.
func TestFinishDisabledUser(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		ctx := context.Background()
		u := f.finish(f.login("idp", "192.0.2.1", "", "1")).User
		if err := s.SetUserDisabled(ctx, u.ID, true, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		b := f.login("idp", "192.0.2.1", "", "1")
		f.idp.mu.Lock()
		g := f.idp.codes[b.cb.Code]
		renamed := "Renamed"
		g.ident.Name = &renamed
		f.idp.codes[b.cb.Code] = g
		f.idp.mu.Unlock()
		res, err := f.m.Finish(ctx, "idp", b.cb)
		wantCode(t, err, gatehouse.EAccessDenied)
		if res.User != nil || res.Identity == nil || res.Identity.Subject != "1" {
			t.Fatalf("result %+v, want no user and the subject", res)
		}
		if stored, err := s.User(ctx, u.ID); err != nil || *stored.Name != "Person 1" {
			t.Fatalf("a refused login rewrote the profile: %+v, %v", stored, err)
		}
		if err := s.SetUserDisabled(ctx, u.ID, false, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if got := f.finish(f.login("idp", "192.0.2.1", "", "1")).User.ID; got != u.ID {
			t.Fatalf("enabled again, the login made user %s, want %s", got, u.ID)
		}
		f.wantCounts(0, 1, 1)
	})
}
