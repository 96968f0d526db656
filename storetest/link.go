package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// The email rule of first sign-ins, and linking: LinkIdentity,
// Identities, UnlinkIdentity, and the linking user of a login state.

// withEmail returns ident with the email set and vouched for or not.
func withEmail(ident *gatehouse.Identity, email string, verified bool) *gatehouse.Identity {
	ident.Email = str(email)
	ident.EmailVerified = verified
	return ident
}

// mustUpsert signs ident in with the given email rule and requires success.
func mustUpsert(t *testing.T, s *Harness, ident *gatehouse.Identity, rule gatehouse.EmailMatch) *gatehouse.User {
	t.Helper()
	u, err := s.UpsertIdentity(context.Background(), ident, t0, rule)
	if err != nil {
		t.Fatalf("UpsertIdentity(%s/%s): %v", ident.Provider, ident.Subject, err)
	}
	return u
}

// wantRows checks the number of users and identities.
func wantRows(t *testing.T, s *Harness, users, identities int) {
	t.Helper()
	if u, i := s.Count(t, "users"), s.Count(t, "identities"); u != users || i != identities {
		t.Fatalf("%d users, %d identities; want %d and %d", u, i, users, identities)
	}
}

// testEmailMatch: a first sign-in whose verified email is a verified email
// of another user's identity is refused under EmailMatchRefuse (naming
// that user's providers, writing nothing), whatever the case of its ASCII
// letters, and makes a separate user under EmailMatchNewAccount. A
// returning sign-in is never refused.
func testEmailMatch(t *testing.T, s *Harness) {
	ctx := context.Background()
	first := mustUpsert(t, s, withEmail(identity("github", "1", "octo"), "Octo@Example.com", true), gatehouse.EmailMatchRefuse)
	tests := []struct {
		name  string
		email string
	}{
		{"same address", "Octo@Example.com"},
		{"lower case", "octo@example.com"},
		{"upper case", "OCTO@EXAMPLE.COM"},
	}
	for _, tc := range tests {
		_, err := s.UpsertIdentity(ctx, withEmail(identity("google", "g-1", "octo"), tc.email, true), t0, gatehouse.EmailMatchRefuse)
		ae, ok := errors.AsType[*gatehouse.AccountExistsError](err)
		if !ok || !errors.Is(err, gatehouse.ErrAccountExists) {
			t.Fatalf("%s: error = %v, want an *AccountExistsError", tc.name, err)
		}
		if !slices.Equal(ae.Providers, []string{"github"}) {
			t.Errorf("%s: providers = %v, want [github]", tc.name, ae.Providers)
		}
		wantRows(t, s, 1, 1)
	}
	// Another address is no match; nor is a non-ASCII look-alike.
	for _, email := range []string{"octo@example.org", "ocτo@example.com"} {
		mustUpsert(t, s, withEmail(identity("google", "g-"+email, "x"), email, true), gatehouse.EmailMatchRefuse)
	}
	wantRows(t, s, 3, 3)

	other := mustUpsert(t, s, withEmail(identity("google", "g-1", "octo"), "octo@example.com", true), gatehouse.EmailMatchNewAccount)
	if other.ID == first.ID {
		t.Fatal("new_account linked the sign-in to the existing user")
	}
	wantRows(t, s, 4, 4)
	// Both identities exist now; each signs in again as its own user.
	for _, tc := range []struct {
		ident *gatehouse.Identity
		want  string
	}{
		{withEmail(identity("github", "1", "octo"), "octo@example.com", true), first.ID},
		{withEmail(identity("google", "g-1", "octo"), "octo@example.com", true), other.ID},
	} {
		if got := mustUpsert(t, s, tc.ident, gatehouse.EmailMatchRefuse); got.ID != tc.want {
			t.Errorf("returning sign-in of %s got user %s, want %s", tc.ident.Provider, got.ID, tc.want)
		}
	}
	// A third sign-in with the address names the providers of both users.
	_, err := s.UpsertIdentity(ctx, withEmail(identity("oidc", "o-1", "octo"), "octo@example.com", true), t0, "")
	if ae, ok := errors.AsType[*gatehouse.AccountExistsError](err); !ok || !slices.Equal(ae.Providers, []string{"github", "google"}) {
		t.Fatalf("error = %v, want account_exists naming github and google (the zero EmailMatch refuses)", err)
	}
}

// testUnverifiedEmailNeverMatches: an address that either side's provider
// did not vouch for matches nothing, so an unverified address at one
// provider never reaches an account (SECURITY.md case 32), nor blocks
// one.
func testUnverifiedEmailNeverMatches(t *testing.T, s *Harness) {
	tests := []struct {
		name               string
		existing, newcomer bool // whether each side's provider vouched for the address
	}{
		{"existing unverified, newcomer verified", false, true},
		{"existing verified, newcomer unverified", true, false},
		{"both unverified", false, false},
	}
	for i, tc := range tests {
		p := string(rune('a' + i))
		email := "victim-" + p + "@x.example"
		old := mustUpsert(t, s, withEmail(identity("github", p+"-old", "old"), email, tc.existing), gatehouse.EmailMatchRefuse)
		u := mustUpsert(t, s, withEmail(identity("google", p+"-new", "new"), email, tc.newcomer), gatehouse.EmailMatchRefuse)
		if u.ID == old.ID {
			t.Fatalf("%s: the newcomer landed in the existing user", tc.name)
		}
	}
	wantRows(t, s, 6, 6)
}

// testConcurrentFirstLoginsOneEmail: first sign-ins of several new
// accounts with one verified email, at once, under EmailMatchRefuse: one
// makes a user, every other is refused, and no refused one leaves a row.
// Several rounds, each with its own address, so that the later ones run on
// a warm connection pool.
func testConcurrentFirstLoginsOneEmail(t *testing.T, s *Harness) {
	ctx := context.Background()
	const n, rounds = 8, 5
	for round := range rounds {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var ok, refused int
		start := make(chan struct{})
		email := fmt.Sprintf("same-%d@example.com", round)
		for i := range n {
			wg.Go(func() {
				<-start
				ident := withEmail(identity(fmt.Sprint("p", i), fmt.Sprint(round), "same"), email, true)
				_, err := s.UpsertIdentity(ctx, ident, t0, gatehouse.EmailMatchRefuse)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, gatehouse.ErrAccountExists):
					refused++
				case errors.Is(err, gatehouse.ErrUnavailable):
					t.Logf("concurrent first sign-in failed retryably: %v", err)
				default:
					t.Errorf("concurrent first sign-in: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if ok != 1 {
			t.Fatalf("round %d: %d of %d concurrent first sign-ins with one verified email made a user (%d refused), want 1", round, ok, n, refused)
		}
		wantRows(t, s, round+1, round+1)
	}
}

// testLinkIdentity: a user links a new identity and can then sign in with
// it; linking it again refreshes it; another user's identity is refused;
// an unknown or disabled user links nothing.
func testLinkIdentity(t *testing.T, s *Harness) {
	ctx := context.Background()
	gh := identity("github", "1", "octo")
	u := mustUpsert(t, s, gh, gatehouse.EmailMatchRefuse)
	google := withEmail(identity("google", "g-1", "octo-g"), "octo@gmail.example", true)
	later := t0.Add(time.Hour)
	linked, err := s.LinkIdentity(ctx, u.ID, google, later)
	if err != nil {
		t.Fatal(err)
	}
	if linked.ID != u.ID {
		t.Fatalf("LinkIdentity returned user %s, want %s", linked.ID, u.ID)
	}
	// The user's profile is the one they signed in with.
	sameProfile(t, linked.Profile, gh.Profile)
	if got, err := s.User(ctx, u.ID); err != nil || !got.UpdatedAt.Equal(t0) {
		t.Fatalf("User after a link = %+v, %v; want it unchanged", got, err)
	}
	wantRows(t, s, 1, 2)
	if got := mustUpsert(t, s, google, gatehouse.EmailMatchRefuse); got.ID != u.ID {
		t.Fatalf("signing in with the linked identity got user %s, want %s", got.ID, u.ID)
	}

	// Linked again, with a new login: a success that refreshes it.
	renamed := withEmail(identity("google", "g-1", "octo-renamed"), "octo@gmail.example", true)
	again := t0.Add(2 * time.Hour)
	if _, err := s.LinkIdentity(ctx, u.ID, renamed, again); err != nil {
		t.Fatalf("linking an identity the user has: %v", err)
	}
	idents, err := s.Identities(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(idents) != 2 {
		t.Fatalf("%d identities, want 2", len(idents))
	}
	g := idents[1]
	if g.Provider != "google" || g.Subject != "g-1" || g.UserID != u.ID || deref(g.Login) != `"octo-renamed"` ||
		deref(g.Email) != `"octo@gmail.example"` || !g.EmailVerified || !g.CreatedAt.Equal(later) || !g.UpdatedAt.Equal(again) {
		t.Errorf("linked identity = %+v (login %s), want google/g-1, renamed, created %v, updated %v", g, deref(g.Login), later, again)
	}
	if idents[0].Provider != "github" || !idents[0].CreatedAt.Equal(t0) {
		t.Errorf("first identity = %+v, want github created %v", idents[0], t0)
	}

	other := mustUpsert(t, s, identity("github", "2", "other"), gatehouse.EmailMatchRefuse)
	for _, tc := range []struct {
		name   string
		userID string
		ident  *gatehouse.Identity
		want   error
	}{
		{"another user's identity", other.ID, identity("google", "g-1", "thief"), gatehouse.ErrIdentityInUse},
		{"another user's first identity", u.ID, identity("github", "2", "other"), gatehouse.ErrIdentityInUse},
		{"unknown user", "01890a5d-ac96-774b-bcce-b302099a8057", identity("gitlab", "9", "x"), gatehouse.ErrNotFound},
		{"unstorable user id", "a\x00b", identity("gitlab", "9", "x"), gatehouse.ErrNotFound},
		{"unstorable subject", u.ID, identity("gitlab", "a\x00b", "x"), gatehouse.ErrInvalid},
	} {
		if _, err := s.LinkIdentity(ctx, tc.userID, tc.ident, again); !errors.Is(err, tc.want) {
			t.Errorf("%s: error = %v, want %v", tc.name, err, tc.want)
		}
	}
	wantRows(t, s, 2, 3)
	if idents, _ := s.Identities(ctx, u.ID); deref(idents[1].Login) != `"octo-renamed"` {
		t.Error("a refused link changed the identity")
	}

	if err := s.SetUserDisabled(ctx, other.ID, true, again); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LinkIdentity(ctx, other.ID, identity("gitlab", "9", "x"), again); !errors.Is(err, gatehouse.ErrDisabled) {
		t.Fatalf("link to a disabled user: error = %v, want ErrDisabled", err)
	}
	wantRows(t, s, 2, 3)
	if idents, err := s.Identities(ctx, "01890a5d-ac96-774b-bcce-b302099a8057"); err != nil || len(idents) != 0 {
		t.Fatalf("Identities of an unknown user = %v, %v; want none", idents, err)
	}
}

// testConcurrentLinks: one identity linked to two users at once: one user
// gets it, every link to the other is ErrIdentityInUse, and no partial row
// is left.
func testConcurrentLinks(t *testing.T, s *Harness) {
	ctx := context.Background()
	a := mustUpsert(t, s, identity("github", "1", "a"), gatehouse.EmailMatchRefuse)
	b := mustUpsert(t, s, identity("github", "2", "b"), gatehouse.EmailMatchRefuse)
	const n = 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := map[string]int{}
	inUse := map[string]int{}
	start := make(chan struct{})
	for i := range n {
		userID := a.ID
		if i%2 == 1 {
			userID = b.ID
		}
		wg.Go(func() {
			<-start
			_, err := s.LinkIdentity(ctx, userID, identity("google", "shared", "s"), t0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won[userID]++
			case errors.Is(err, gatehouse.ErrIdentityInUse):
				inUse[userID]++
			case errors.Is(err, gatehouse.ErrUnavailable):
				t.Logf("concurrent link failed retryably: %v", err)
			default:
				t.Errorf("concurrent link: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("links succeeded for %d users (%v), want exactly 1", len(won), won)
	}
	for winner := range won {
		if inUse[winner] != 0 {
			t.Errorf("the winner's own links were refused %d times", inUse[winner])
		}
	}
	wantRows(t, s, 2, 3)
}

// testUnlinkIdentity: a user unlinks an identity of theirs but not their
// last one, nor one that is not theirs.
func testUnlinkIdentity(t *testing.T, s *Harness) {
	ctx := context.Background()
	u := mustUpsert(t, s, identity("github", "1", "octo"), gatehouse.EmailMatchRefuse)
	other := mustUpsert(t, s, identity("github", "2", "other"), gatehouse.EmailMatchRefuse)
	if _, err := s.LinkIdentity(ctx, u.ID, identity("google", "g-1", "octo"), t0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name                  string
		userID, provider, sub string
		want                  error
	}{
		{"unknown identity", u.ID, "google", "g-2", gatehouse.ErrNotFound},
		{"another user's identity", u.ID, "github", "2", gatehouse.ErrNotFound},
		{"unknown user", "01890a5d-ac96-774b-bcce-b302099a8057", "github", "1", gatehouse.ErrNotFound},
		{"unstorable subject", u.ID, "github", "\xff", gatehouse.ErrNotFound},
		{"the other user's last identity", other.ID, "github", "2", gatehouse.ErrLastIdentity},
		{"one of two", u.ID, "google", "g-1", nil},
		{"now the last", u.ID, "github", "1", gatehouse.ErrLastIdentity},
		{"already unlinked", u.ID, "google", "g-1", gatehouse.ErrNotFound},
	} {
		if err := s.UnlinkIdentity(ctx, tc.userID, tc.provider, tc.sub); !errors.Is(err, tc.want) {
			t.Errorf("%s: error = %v, want %v", tc.name, err, tc.want)
		}
	}
	wantRows(t, s, 2, 2)
}

// testConcurrentUnlinks: a user's identities unlinked all at once leave
// exactly one.
func testConcurrentUnlinks(t *testing.T, s *Harness) {
	ctx := context.Background()
	for i, n := range []int{2, 3, 2, 3, 2, 3} {
		round := fmt.Sprint(i)
		u := mustUpsert(t, s, identity("github", round, "u"+round), gatehouse.EmailMatchRefuse)
		type key struct{ provider, subject string }
		keys := []key{{"github", round}}
		for i := 1; i < n; i++ {
			k := key{"google", round + "-" + string(rune('a'+i))}
			if _, err := s.LinkIdentity(ctx, u.ID, identity(k.provider, k.subject, "u"+round), t0); err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k)
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i, k := range keys {
			wg.Go(func() {
				<-start
				errs[i] = s.UnlinkIdentity(ctx, u.ID, k.provider, k.subject)
			})
		}
		close(start)
		wg.Wait()
		var ok, last int
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, gatehouse.ErrLastIdentity):
				last++
			default:
				t.Errorf("concurrent unlink: %v", err)
			}
		}
		idents, err := s.Identities(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ok != n-1 || last != 1 || len(idents) != 1 {
			t.Fatalf("%d concurrent unlinks: %d succeeded, %d refused as the last, %d identities left; want %d, 1, 1",
				n, ok, last, len(idents), n-1)
		}
	}
}

// testLoginStateLinkUser: a login state keeps the user who started it to
// link an account, and one that signs in keeps none.
func testLoginStateLinkUser(t *testing.T, s *Harness) {
	ctx := context.Background()
	u := mustUpsert(t, s, identity("github", "1", "octo"), gatehouse.EmailMatchRefuse)
	link := loginState("link", t0)
	link.LinkUserID = u.ID
	for _, ls := range []*gatehouse.LoginState{link, loginState("plain", t0)} {
		if err := s.CreateLoginState(ctx, ls, "", 0); err != nil {
			t.Fatal(err)
		}
		got, err := s.ConsumeLoginState(ctx, ls.StateHash, ls.BindingHash)
		if err != nil {
			t.Fatal(err)
		}
		if got.LinkUserID != ls.LinkUserID {
			t.Errorf("LinkUserID = %q, want %q", got.LinkUserID, ls.LinkUserID)
		}
	}
	bad := loginState("bad", t0)
	bad.LinkUserID = "a\x00b"
	if err := s.CreateLoginState(ctx, bad, "", 0); !errors.Is(err, gatehouse.ErrInvalid) {
		t.Fatalf("CreateLoginState with an unstorable LinkUserID: error = %v, want ErrInvalid", err)
	}
}
