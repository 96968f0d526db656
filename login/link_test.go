package login

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// loginAs starts a login at provider (linking it to linkUser unless that
// is "") and has the provider approve it for the account ident.
func (f *fixture) loginAs(provider, linkUser string, ident gatehouse.Identity) *browser {
	f.t.Helper()
	var st *Started
	var err error
	if linkUser == "" {
		st, err = f.m.Start(context.Background(), provider, "192.0.2.1", "")
	} else {
		st, err = f.m.StartLink(context.Background(), linkUser, provider, "192.0.2.1", "")
	}
	if err != nil {
		f.t.Fatalf("Start: %v", err)
	}
	p := f.idp
	if provider == "other" {
		p = f.other
	}
	state, code := p.approve(f.t, st.URL, ident)
	return &browser{started: st, cb: Callback{State: state, Binding: st.Binding, Code: code}}
}

// finishAt finishes b's login at provider.
func (f *fixture) finishAt(provider string, b *browser) (*Result, error) {
	return f.m.Finish(context.Background(), provider, b.cb)
}

// person is a provider account with the given email, vouched for or not.
func person(subject, email string, verified bool) gatehouse.Identity {
	ident := account(subject)
	ident.Email, ident.EmailVerified = &email, verified
	return ident
}

// TestFinishLink: a login started by a signed-in user attaches the
// account to them without signing anyone in: a new account is linked, the
// same account again is a success that refreshes it, another user's is
// identity_in_use with nothing changed, and a user disabled meanwhile
// links nothing. Every one of them spends the login.
func TestFinishLink(t *testing.T) {
	tests := []struct {
		name string
		// account is the account linked at "other", after "taken" (an
		// account of another user) and "mine" (linked to the user
		// before) exist.
		account  string
		disable  bool
		wantCode string
		// identities the user has afterwards.
		wantIdentities int
	}{
		{"new account", "new", false, "", 3},
		{"account linked already", "mine", false, "", 2},
		{"another user's account", "taken", false, gatehouse.EIdentityInUse, 2},
		{"disabled user", "new", true, gatehouse.EAccessDenied, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			each(t, func(t *testing.T, s gatehouse.Store) {
				f := newFixture(t, s)
				ctx := context.Background()
				me := f.finish(f.login("idp", "192.0.2.1", "", "me")).User
				if _, err := s.UpsertIdentity(ctx, &gatehouse.Identity{Provider: "other", Subject: "taken"}, f.clock.Now(), ""); err != nil {
					t.Fatal(err)
				}
				if res, err := f.finishAt("other", f.loginAs("other", me.ID, account("mine"))); err != nil || !res.Linked {
					t.Fatalf("linking the first account: %+v, %v", res, err)
				}
				f.wantCounts(0, 2, 3)
				if tc.disable {
					if err := s.SetUserDisabled(ctx, me.ID, true, f.clock.Now()); err != nil {
						t.Fatal(err)
					}
				}

				res, err := f.finishAt("other", f.loginAs("other", me.ID, account(tc.account)))
				if !res.Consumed {
					t.Fatal("the link did not spend the login")
				}
				if tc.wantCode != "" {
					wantCode(t, err, tc.wantCode)
					if res.User != nil || res.Linked {
						t.Fatalf("refused link result %+v", res)
					}
				} else {
					if err != nil {
						t.Fatal(err)
					}
					if !res.Linked || res.User.ID != me.ID || res.Identity.Subject != tc.account {
						t.Fatalf("result %+v (user %v), want %s linked to %s", res, res.User, tc.account, me.ID)
					}
				}
				idents, err := f.m.Identities(ctx, me.ID)
				if err != nil {
					t.Fatal(err)
				}
				if len(idents) != tc.wantIdentities {
					t.Fatalf("%d identities, want %d", len(idents), tc.wantIdentities)
				}
				if users := f.count("users"); users != 2 {
					t.Fatalf("%d users, want 2: a link never makes a user", users)
				}
			})
		})
	}
}

// TestFinishLinkedSignsIn: once linked, the account signs in as the user
// who linked it, and the listing names each provider by its display name.
func TestFinishLinkedSignsIn(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		ctx := context.Background()
		first, err := f.finishAt("other", f.loginAs("other", "", account("me-other")))
		if err != nil {
			t.Fatal(err)
		}
		me := first.User
		f.clock.Advance(time.Minute)
		if _, err := f.finishAt("idp", f.loginAs("idp", me.ID, account("me-idp"))); err != nil {
			t.Fatal(err)
		}
		res, err := f.finishAt("idp", f.loginAs("idp", "", account("me-idp")))
		if err != nil {
			t.Fatal(err)
		}
		if res.Linked || res.User.ID != me.ID {
			t.Fatalf("sign-in with the linked account: linked %v, user %s; want a sign-in as %s", res.Linked, res.User.ID, me.ID)
		}
		idents, err := f.m.Identities(ctx, me.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, i := range idents {
			got = append(got, i.Provider+"/"+i.Subject+"="+i.DisplayName)
		}
		if want := []string{"other/me-other=other", "idp/me-idp=The IdP"}; !slices.Equal(got, want) {
			t.Fatalf("identities %v, want %v", got, want)
		}
	})
}

// TestStartLinkNeedsUser: a link with no user is refused before anything
// is stored.
func TestStartLinkNeedsUser(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		_, err := f.m.StartLink(context.Background(), "", "idp", "192.0.2.1", "")
		wantCode(t, err, gatehouse.EUnauthorized)
		f.wantCounts(0, 0, 0)
	})
}

// TestFinishEmailMatch: a first sign-in whose verified email is another
// user's verified email is account_exists, naming the providers that user
// signs in with, and writes nothing; with OnEmailMatch new_account it
// makes a separate user. An address either provider did not vouch for
// matches nothing: an unverified address never reaches an existing
// account (SECURITY.md case 32).
func TestFinishEmailMatch(t *testing.T) {
	tests := []struct {
		name               string
		rule               gatehouse.EmailMatch
		existing, newcomer bool // verified
		existingEmail      string
		wantCode           string
	}{
		{"refused by default", "", true, true, "victim@x.example", gatehouse.EAccountExists},
		{"refused whatever the case", gatehouse.EmailMatchRefuse, true, true, "Victim@X.Example", gatehouse.EAccountExists},
		{"new account", gatehouse.EmailMatchNewAccount, true, true, "victim@x.example", ""},
		{"existing address unverified (pre-account takeover)", "", false, true, "victim@x.example", ""},
		{"newcomer's address unverified", "", true, false, "victim@x.example", ""},
		{"another address", "", true, true, "someone@x.example", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			each(t, func(t *testing.T, s gatehouse.Store) {
				f := newFixture(t, s, func(c *Config) { c.OnEmailMatch = tc.rule })
				old, err := f.finishAt("other", f.loginAs("other", "", person("old", tc.existingEmail, tc.existing)))
				if err != nil {
					t.Fatal(err)
				}
				res, err := f.finishAt("idp", f.loginAs("idp", "", person("new", "victim@x.example", tc.newcomer)))
				if !res.Consumed {
					t.Fatal("the login was not spent")
				}
				if tc.wantCode != "" {
					wantCode(t, err, tc.wantCode)
					e, _ := err.(*gatehouse.Error)
					if got, _ := e.Details["providers"].([]string); !slices.Equal(got, []string{"other"}) {
						t.Errorf("providers = %v, want [other]", e.Details["providers"])
					}
					if res.User != nil {
						t.Fatalf("refused sign-in has user %v", res.User)
					}
					f.wantCounts(0, 1, 1)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if res.User.ID == old.User.ID {
					t.Fatal("the newcomer landed in the existing user")
				}
				f.wantCounts(0, 2, 2)
			})
		})
	}
}

// TestNewRefusesEmailMatch: an unknown OnEmailMatch is a configuration
// error.
func TestNewRefusesEmailMatch(t *testing.T) {
	_, err := New(Config{Store: teststoreless{}, OnEmailMatch: "merge"})
	if err == nil {
		t.Fatal("OnEmailMatch \"merge\" was accepted")
	}
}

// teststoreless is a Store that New only checks for presence.
type teststoreless struct{ gatehouse.Store }

// TestUnlink: a user unlinks one of their accounts by provider, or by
// provider and subject when a provider is linked twice, but never their
// last one nor somebody else's.
func TestUnlink(t *testing.T) {
	tests := []struct {
		name              string
		provider, subject string
		wantCode          string
		wantLeft          int
	}{
		{"by provider", "other", "", "", 2},
		{"by provider linked twice", "idp", "", gatehouse.EInvalidRequest, 3},
		{"by provider and subject", "idp", "b", "", 2},
		{"unknown provider", "gitlab", "", gatehouse.ENotFound, 3},
		{"unknown subject", "idp", "zzz", gatehouse.ENotFound, 3},
		{"another user's", "idp", "stranger", gatehouse.ENotFound, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			each(t, func(t *testing.T, s gatehouse.Store) {
				f := newFixture(t, s)
				ctx := context.Background()
				me := f.finish(f.login("idp", "192.0.2.1", "", "a")).User
				f.finish(f.login("idp", "192.0.2.1", "", "stranger"))
				for _, l := range []struct{ provider, subject string }{{"idp", "b"}, {"other", "c"}} {
					if _, err := f.finishAt(l.provider, f.loginAs(l.provider, me.ID, account(l.subject))); err != nil {
						t.Fatal(err)
					}
				}
				err := f.m.Unlink(ctx, me.ID, tc.provider, tc.subject)
				if tc.wantCode != "" {
					wantCode(t, err, tc.wantCode)
				} else if err != nil {
					t.Fatal(err)
				}
				if idents, _ := f.m.Identities(ctx, me.ID); len(idents) != tc.wantLeft {
					t.Fatalf("%d identities left, want %d", len(idents), tc.wantLeft)
				}
			})
		})
	}
}

// TestUnlinkLast: the last identity stays.
func TestUnlinkLast(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		ctx := context.Background()
		me := f.finish(f.login("idp", "192.0.2.1", "", "a")).User
		if _, err := f.finishAt("other", f.loginAs("other", me.ID, account("b"))); err != nil {
			t.Fatal(err)
		}
		if err := f.m.Unlink(ctx, me.ID, "idp", "a"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, f.m.Unlink(ctx, me.ID, "other", ""), gatehouse.ELastIdentity)
		f.wantCounts(0, 1, 1)
	})
}
