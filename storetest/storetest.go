// Package storetest is the conformance suite every gatehouse.Store must
// pass. Each backend's tests call Run with a function that opens a fresh,
// empty store and wraps it in a Harness (a row count, and a way to break a
// transaction midway); the suite is the same for all of them, so they
// behave alike. Bench measures the same operations on each.
//
// A new store method (sessions, say) adds its cases to the table in Run;
// the backends' test files do not change.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Harness is a store under test, with what the suite needs to look behind
// its interface and to break it.
type Harness struct {
	gatehouse.Store

	// Count returns the number of rows in a table: users, identities,
	// login_states, signing_keys, sessions, retired_refresh_tokens or
	// audit_events or admin_keys.
	Count func(t testing.TB, table string) int

	// Break arranges for the next UpsertIdentity of a new account to fail
	// in the middle of its transaction, after the user row is written and
	// before the identity row is, the way a lost connection or a crash
	// would. It returns a function that undoes the arrangement.
	Break func(t testing.TB) (undo func())
}

// Open returns a new, empty store for one test or benchmark. It should
// register its own cleanup with t.Cleanup.
type Open func(t testing.TB) *Harness

// Run runs the conformance suite against stores made by open. The subtests
// run in parallel, each on its own store.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s *Harness)
	}{
		{"UserNotFound", testUserNotFound},
		{"FirstLoginCreatesUserAndIdentity", testFirstLogin},
		{"RenamedAccountUpdatesSameUser", testRename},
		{"NullFieldsStayNull", testNullFields},
		{"IdentityKeyIsProviderAndSubject", testIdentityKey},
		{"NoLinkingByEmail", testNoLinkingByEmail},
		{"HostileProfileStrings", testHostileStrings},
		{"UnstorableTextRejected", testUnstorableText},
		{"UnstorableLookupsNotFound", testUnstorableLookups},
		{"TimesRoundTripExactly", testTimes},
		{"TimesTruncateToMicroseconds", testTimeTruncation},
		{"ExpiryComparesAcrossZones", testExpiryZones},
		{"LoginStateConsumedOnce", testLoginStateOnce},
		{"LoginStateWrongBindingNotConsumed", testLoginStateBinding},
		{"LoginStateDuplicateIsConflict", testLoginStateConflict},
		{"ExpiredLoginStatesDeleted", testLoginStateGC},
		{"ConcurrentConsumeHasOneWinner", testConcurrentConsume},
		{"ConcurrentFirstLoginsMakeOneUser", testConcurrentFirstLogin},
		{"ConcurrentReturningLogins", testConcurrentReturningLogins},
		{"SigningKeys", testSigningKeys},
		{"SigningKeysUpdateErrorWritesNothing", testSigningKeysError},
		{"ConcurrentSigningKeyCreation", testConcurrentKeyCreation},
		{"Ping", testPing},
		{"KilledUpsertLeavesNothing", testKilledUpsert},
		{"SessionRoundTrip", testSessionRoundTrip},
		{"SessionStatus", testSessionStatus},
		{"ConcurrentSessionStatus", testConcurrentSessionStatus},
		{"SessionRotation", testSessionRotation},
		{"SessionUpdateErrorWritesNothing", testSessionUpdateErrorWritesNothing},
		{"ConcurrentRotationRotatesOnce", testConcurrentRotation},
		{"RevokeSession", testRevokeSession},
		{"RevokeSessions", testRevokeSessions},
		{"DeleteEndedSessions", testDeleteEndedSessions},
		{"DisableUser", testDisableUser},
		{"RetiredTokensBounded", testRetiredTokensBounded},
		{"DisabledLoginWritesNothing", testDisabledLoginWritesNothing},
		{"LoginStateClientCap", testLoginStateClientCap},
		{"LoginStateReplacesBinding", testLoginStateReplacesBinding},
		{"LoginStateGCBatches", testLoginStateGCBatches},
		{"EmailMatch", testEmailMatch},
		{"UnverifiedEmailNeverMatches", testUnverifiedEmailNeverMatches},
		{"ConcurrentFirstLoginsOneEmail", testConcurrentFirstLoginsOneEmail},
		{"LinkIdentity", testLinkIdentity},
		{"ConcurrentLinksOneWinner", testConcurrentLinks},
		{"UnlinkIdentity", testUnlinkIdentity},
		{"ConcurrentUnlinksLeaveOne", testConcurrentUnlinks},
		{"LoginStateLinkUser", testLoginStateLinkUser},
		{"Count", testCount},
		{"AuditWithChanges", testAuditWithChanges},
		{"AuditAtomic", testAuditAtomic},
		{"AuditQuery", testAuditQuery},
		{"AuditRetention", testAuditRetention},
		{"AuditBounds", testAuditBounds},
		{"ListUsers", testListUsers},
		{"DeleteUser", testDeleteUser},
		{"AdminKeys", testAdminKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 123456000, time.UTC)

func str(s string) *string { return &s }

func identity(provider, subject, login string) *gatehouse.Identity {
	return &gatehouse.Identity{
		Provider: provider,
		Subject:  subject,
		Profile: gatehouse.Profile{
			Login:         str(login),
			Name:          str("Name of " + login),
			Email:         str(login + "@example.com"),
			EmailVerified: true,
			Picture:       str("https://avatars.example.com/u/" + subject),
		},
	}
}

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%q", *p)
}

func sameProfile(t *testing.T, got, want gatehouse.Profile) {
	t.Helper()
	pairs := []struct {
		field     string
		got, want *string
	}{
		{"Login", got.Login, want.Login}, {"Name", got.Name, want.Name}, {"Company", got.Company, want.Company},
		{"Location", got.Location, want.Location}, {"Email", got.Email, want.Email}, {"Picture", got.Picture, want.Picture},
	}
	for _, p := range pairs {
		if deref(p.got) != deref(p.want) {
			t.Errorf("%s = %s, want %s", p.field, deref(p.got), deref(p.want))
		}
	}
	if got.EmailVerified != want.EmailVerified {
		t.Errorf("EmailVerified = %v, want %v", got.EmailVerified, want.EmailVerified)
	}
}

func testUserNotFound(t *testing.T, s *Harness) {
	_, err := s.User(context.Background(), "01890a5d-ac96-774b-bcce-b302099a8057")
	if !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("User(missing) error = %v, want ErrNotFound", err)
	}
}

func testFirstLogin(t *testing.T, s *Harness) {
	ctx := context.Background()
	ident := identity("github", "583231", "octocat")
	u, err := s.UpsertIdentity(ctx, ident, t0, gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == "" {
		t.Fatal("new user has no id")
	}
	sameProfile(t, u.Profile, ident.Profile)
	got, err := s.User(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameProfile(t, got.Profile, ident.Profile)
	if !got.CreatedAt.Equal(t0) || !got.UpdatedAt.Equal(t0) {
		t.Errorf("times = %v, %v, want %v", got.CreatedAt, got.UpdatedAt, t0)
	}
}

func testRename(t *testing.T, s *Harness) {
	ctx := context.Background()
	first, err := s.UpsertIdentity(ctx, identity("github", "583231", "octocat"), t0, gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	renamed := identity("github", "583231", "monalisa")
	later := t0.Add(time.Hour)
	second, err := s.UpsertIdentity(ctx, renamed, later, gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	if second.ID != first.ID {
		t.Fatalf("renamed account got user %s, want the same user %s", second.ID, first.ID)
	}
	sameProfile(t, second.Profile, renamed.Profile)
	if !second.CreatedAt.Equal(t0) || !second.UpdatedAt.Equal(later) {
		t.Errorf("created, updated = %v, %v, want %v, %v", second.CreatedAt, second.UpdatedAt, t0, later)
	}
}

func testNullFields(t *testing.T, s *Harness) {
	ctx := context.Background()
	ident := &gatehouse.Identity{Provider: "github", Subject: "9007199254740993", Profile: gatehouse.Profile{Login: str("ghost")}}
	u, err := s.UpsertIdentity(ctx, ident, t0, gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.User(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameProfile(t, got.Profile, ident.Profile)
	// A login that brings a value where there was none, and then null
	// again, overwrites each time.
	withName := &gatehouse.Identity{Provider: "github", Subject: "9007199254740993", Profile: gatehouse.Profile{Login: str("ghost"), Company: str("Acme")}}
	if _, err := s.UpsertIdentity(ctx, withName, t0, gatehouse.EmailMatchNewAccount); err != nil {
		t.Fatal(err)
	}
	back, err := s.UpsertIdentity(ctx, ident, t0, gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	sameProfile(t, back.Profile, ident.Profile)
}

func testIdentityKey(t *testing.T, s *Harness) {
	ctx := context.Background()
	gh, err := s.UpsertIdentity(ctx, identity("github", "12345", "a"), t0, gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.UpsertIdentity(ctx, identity("google", "12345", "a"), t0, gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	if gh.ID == other.ID {
		t.Fatal("the same subject at two providers was merged into one user")
	}
	// Subjects compare exactly, as OpenID Connect's "sub" does: no case
	// folding and no trimming, on any store.
	upper, err := s.UpsertIdentity(ctx, identity("oidc", "AbC", "x"), t0, gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"abc", "ABC", "AbC ", " AbC"} {
		u, err := s.UpsertIdentity(ctx, identity("oidc", sub, "x"), t0, gatehouse.EmailMatchNewAccount)
		if err != nil {
			t.Fatal(err)
		}
		if u.ID == upper.ID {
			t.Errorf("subject %q was matched to the account with subject \"AbC\"", sub)
		}
	}
}

func testNoLinkingByEmail(t *testing.T, s *Harness) {
	ctx := context.Background()
	a := identity("github", "1", "alice")
	b := identity("github", "2", "alice-other")
	b.Email = a.Email
	ua, err := s.UpsertIdentity(ctx, a, t0, gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	ub, err := s.UpsertIdentity(ctx, b, t0, gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	if ua.ID == ub.ID {
		t.Fatal("two accounts with the same verified email were linked silently")
	}
}

// testHostileStrings stores normalized hostile profile values; they must
// come back exactly as the domain normalized them, on every backend.
func testHostileStrings(t *testing.T, s *Harness) {
	ctx := context.Background()
	values := []string{
		"nul\x00byte",
		"'); DROP TABLE users;--",
		"<img src=x onerror=alert(1)>",
		"right\u202eto-left",
		"invalid \xff\xfe utf-8",
		"emoji 🦫 and 漢字",
		string(make([]byte, 100<<10)) + "x",
	}
	for i, v := range values {
		ident := &gatehouse.Identity{Provider: "github", Subject: fmt.Sprint(1000 + i), Profile: gatehouse.Profile{
			Login: str(v), Name: str(v), Company: str(v), Location: str(v), Email: str(v), Picture: str(v),
		}}
		ident.Profile.Normalize()
		u, err := s.UpsertIdentity(ctx, ident, t0, gatehouse.EmailMatchNewAccount)
		if err != nil {
			t.Fatalf("value %d: %v", i, err)
		}
		got, err := s.User(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameProfile(t, got.Profile, ident.Profile)
	}
}

func testTimes(t *testing.T, s *Harness) {
	ctx := context.Background()
	// Microsecond precision, in a zone other than UTC.
	at := time.Date(2026, 6, 1, 23, 59, 59, 999999000, time.FixedZone("X", -7*3600))
	ls := &gatehouse.LoginState{StateHash: "s-times", BindingHash: "b", Provider: "github", RedirectURI: "https://app/cb",
		CodeVerifier: "v", Nonce: "n", CreatedAt: at, ExpiresAt: at.Add(10 * time.Minute)}
	if err := s.CreateLoginState(ctx, ls, "", 0); err != nil {
		t.Fatal(err)
	}
	got, err := s.ConsumeLoginState(ctx, "s-times", "b")
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(at) || !got.ExpiresAt.Equal(ls.ExpiresAt) {
		t.Errorf("times = %v, %v, want %v, %v", got.CreatedAt, got.ExpiresAt, at, ls.ExpiresAt)
	}
	if got.Provider != "github" || got.RedirectURI != "https://app/cb" || got.CodeVerifier != "v" || got.Nonce != "n" {
		t.Errorf("login state = %+v, want %+v", got, ls)
	}
}

func loginState(stateHash string, expires time.Time) *gatehouse.LoginState {
	return &gatehouse.LoginState{StateHash: stateHash, BindingHash: "binding-" + stateHash, Provider: "github",
		RedirectURI: "https://app.example.com/auth/github", CodeVerifier: "verifier", Nonce: "nonce",
		CreatedAt: expires.Add(-10 * time.Minute), ExpiresAt: expires}
}

func testLoginStateOnce(t *testing.T, s *Harness) {
	ctx := context.Background()
	if err := s.CreateLoginState(ctx, loginState("s1", t0), "", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeLoginState(ctx, "s1", "binding-s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeLoginState(ctx, "s1", "binding-s1"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("second consume error = %v, want ErrNotFound", err)
	}
}

func testLoginStateBinding(t *testing.T, s *Harness) {
	ctx := context.Background()
	if err := s.CreateLoginState(ctx, loginState("s1", t0), "", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeLoginState(ctx, "s1", "binding-other"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("consume with another browser's binding: error = %v, want ErrNotFound", err)
	}
	if _, err := s.ConsumeLoginState(ctx, "s1", "binding-s1"); err != nil {
		t.Fatalf("the rightful browser's consume after a mismatch: %v", err)
	}
}

func testLoginStateConflict(t *testing.T, s *Harness) {
	ctx := context.Background()
	if err := s.CreateLoginState(ctx, loginState("s1", t0), "", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLoginState(ctx, loginState("s1", t0), "", 0); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("duplicate create error = %v, want ErrConflict", err)
	}
}

func testLoginStateGC(t *testing.T, s *Harness) {
	ctx := context.Background()
	for i, exp := range []time.Time{t0.Add(-time.Second), t0.Add(-time.Microsecond), t0, t0.Add(time.Second)} {
		if err := s.CreateLoginState(ctx, loginState(fmt.Sprint("s", i), exp), "", 0); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DeleteExpiredLoginStates(ctx, t0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("deleted %d, want 2", n)
	}
	for i, want := range []bool{false, false, true, true} {
		_, err := s.ConsumeLoginState(ctx, fmt.Sprint("s", i), fmt.Sprint("binding-s", i))
		if got := err == nil; got != want {
			t.Errorf("state %d present = %v, want %v (err %v)", i, got, want, err)
		}
	}
}

func testConcurrentConsume(t *testing.T, s *Harness) {
	ctx := context.Background()
	if err := s.CreateLoginState(ctx, loginState("race", t0), "", 0); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	results := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := s.ConsumeLoginState(ctx, "race", "binding-race")
			results <- err
		})
	}
	wg.Wait()
	close(results)
	wins := 0
	for err := range results {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, gatehouse.ErrNotFound):
			t.Errorf("concurrent consume error = %v, want nil or ErrNotFound", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent consumes succeeded, want exactly 1", wins)
	}
}

// testConcurrentFirstLogin: 50 parallel first logins of one new account
// (SECURITY.md case 37) end with one user and one identity. Each call
// succeeds or fails retryably; none sees a driver error.
func testConcurrentFirstLogin(t *testing.T, s *Harness) {
	ctx := context.Background()
	const n = 50
	var wg sync.WaitGroup
	ids := make(chan string, n)
	for range n {
		wg.Go(func() {
			u, err := s.UpsertIdentity(ctx, identity("github", "777", "newcomer"), t0, gatehouse.EmailMatchNewAccount)
			switch {
			case err == nil:
				ids <- u.ID
			case errors.Is(err, gatehouse.ErrUnavailable):
				t.Logf("concurrent first login failed retryably: %v", err)
			default:
				t.Errorf("concurrent first login: %v", err)
			}
		})
	}
	wg.Wait()
	close(ids)
	distinct := map[string]bool{}
	for id := range ids {
		distinct[id] = true
	}
	if len(distinct) != 1 {
		t.Fatalf("%d parallel first logins of one identity made %d users, want 1", n, len(distinct))
	}
	if users, idents := s.Count(t, "users"), s.Count(t, "identities"); users != 1 || idents != 1 {
		t.Fatalf("after %d parallel first logins: %d users, %d identities; want 1 and 1", n, users, idents)
	}
}

// testConcurrentReturningLogins: parallel logins of an existing account
// all update the same user.
func testConcurrentReturningLogins(t *testing.T, s *Harness) {
	ctx := context.Background()
	first, err := s.UpsertIdentity(ctx, identity("github", "778", "regular"), t0, gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			u, err := s.UpsertIdentity(ctx, identity("github", "778", fmt.Sprint("regular-", i)), t0.Add(time.Duration(i)*time.Second), gatehouse.EmailMatchNewAccount)
			if err != nil {
				t.Errorf("returning login: %v", err)
				return
			}
			if u.ID != first.ID {
				t.Errorf("returning login got user %s, want %s", u.ID, first.ID)
			}
		})
	}
	wg.Wait()
	if users := s.Count(t, "users"); users != 1 {
		t.Fatalf("%d users, want 1", users)
	}
}

func testSigningKeys(t *testing.T, s *Harness) {
	ctx := context.Background()
	keys, err := s.SigningKeys(ctx)
	if err != nil || len(keys) != 0 {
		t.Fatalf("SigningKeys on an empty store = %v, %v; want none", keys, err)
	}
	k1 := &gatehouse.SigningKey{ID: "k1", Algorithm: "ES256", PrivateKey: []byte{1, 2, 3}, CreatedAt: t0}
	k2 := &gatehouse.SigningKey{ID: "k2", Algorithm: "EdDSA", PrivateKey: []byte{4, 5}, CreatedAt: t0.Add(time.Hour),
		ActivatesAt: t0.Add(2 * time.Hour), RetiresAt: t0.Add(3 * time.Hour), RevokedAt: t0.Add(4 * time.Hour)}
	if _, err := s.UpdateSigningKeys(ctx, func(old []*gatehouse.SigningKey) ([]*gatehouse.SigningKey, error) {
		return append(old, k2, k1), nil
	}); err != nil {
		t.Fatal(err)
	}
	keys, err = s.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != "k1" || keys[1].ID != "k2" {
		t.Fatalf("SigningKeys = %v, want k1 then k2 (oldest first)", keys)
	}
	if got := keys[1]; string(got.PrivateKey) != string(k2.PrivateKey) || got.Algorithm != "EdDSA" || !got.CreatedAt.Equal(k2.CreatedAt) ||
		!got.ActivatesAt.Equal(k2.ActivatesAt) || !got.RetiresAt.Equal(k2.RetiresAt) || !got.RevokedAt.Equal(k2.RevokedAt) {
		t.Errorf("key k2 = %+v, want %+v", got, k2)
	}
	// A key with no successor planned and not revoked keeps zero times.
	if got := keys[0]; !got.RetiresAt.IsZero() || !got.RevokedAt.IsZero() {
		t.Errorf("key k1 retires %v, revoked %v; want zero times", got.RetiresAt, got.RevokedAt)
	}
}

func testSigningKeysError(t *testing.T, s *Harness) {
	ctx := context.Background()
	boom := errors.New("boom")
	_, err := s.UpdateSigningKeys(ctx, func(old []*gatehouse.SigningKey) ([]*gatehouse.SigningKey, error) {
		return append(old, &gatehouse.SigningKey{ID: "k", Algorithm: "ES256", PrivateKey: []byte{1}, CreatedAt: t0}), boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateSigningKeys error = %v, want %v", err, boom)
	}
	if keys, err := s.SigningKeys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("after a failed update SigningKeys = %v, %v; want none", keys, err)
	}
}

func testConcurrentKeyCreation(t *testing.T, s *Harness) {
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			_, err := s.UpdateSigningKeys(ctx, func(old []*gatehouse.SigningKey) ([]*gatehouse.SigningKey, error) {
				if len(old) > 0 {
					return old, nil
				}
				return []*gatehouse.SigningKey{{ID: fmt.Sprint("k", i), Algorithm: "ES256", PrivateKey: []byte{1}, CreatedAt: t0}}, nil
			})
			if err != nil {
				t.Errorf("UpdateSigningKeys: %v", err)
			}
		})
	}
	wg.Wait()
	keys, err := s.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("10 nodes creating a first key made %d keys, want 1", len(keys))
	}
}

func testPing(t *testing.T, s *Harness) {
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// testKilledUpsert: a first login whose transaction dies between the user
// row and the identity row (SECURITY.md case 79) leaves neither row behind,
// and the next attempt succeeds.
func testKilledUpsert(t *testing.T, s *Harness) {
	ctx := context.Background()
	undo := s.Break(t)
	_, err := s.UpsertIdentity(ctx, identity("github", "79", "unlucky"), t0, gatehouse.EmailMatchNewAccount)
	undo()
	if err == nil {
		t.Fatal("UpsertIdentity succeeded through a broken transaction")
	}
	if users, idents := s.Count(t, "users"), s.Count(t, "identities"); users != 0 || idents != 0 {
		t.Fatalf("after a killed first login: %d users, %d identities; want none", users, idents)
	}
	u, err := s.UpsertIdentity(ctx, identity("github", "79", "unlucky"), t0, gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatalf("retrying the login: %v", err)
	}
	if users, idents := s.Count(t, "users"), s.Count(t, "identities"); users != 1 || idents != 1 {
		t.Fatalf("after the retry: %d users, %d identities; want 1 and 1", users, idents)
	}
	if got, err := s.User(ctx, u.ID); err != nil || got.ID != u.ID {
		t.Fatalf("User after the retry = %v, %v", got, err)
	}
}

// testUnstorableText: text no store can keep the same way (a NUL byte,
// invalid UTF-8) is refused with ErrInvalid in every field, before anything
// is written. The HTTP layer normalizes provider data first, so this is the
// store's own guard, the same on every backend.
func testUnstorableText(t *testing.T, s *Harness) {
	ctx := context.Background()
	for _, bad := range []string{"nul\x00byte", "invalid \xff utf-8", "\x00"} {
		fields := map[string]func(*gatehouse.Identity){
			"Provider": func(i *gatehouse.Identity) { i.Provider = bad },
			"Subject":  func(i *gatehouse.Identity) { i.Subject = bad },
			"Login":    func(i *gatehouse.Identity) { i.Login = str(bad) },
			"Name":     func(i *gatehouse.Identity) { i.Name = str(bad) },
			"Company":  func(i *gatehouse.Identity) { i.Company = str(bad) },
			"Location": func(i *gatehouse.Identity) { i.Location = str(bad) },
			"Email":    func(i *gatehouse.Identity) { i.Email = str(bad) },
			"Picture":  func(i *gatehouse.Identity) { i.Picture = str(bad) },
		}
		for field, set := range fields {
			ident := identity("github", "29", "hostile")
			set(ident)
			if _, err := s.UpsertIdentity(ctx, ident, t0, gatehouse.EmailMatchNewAccount); !errors.Is(err, gatehouse.ErrInvalid) {
				t.Errorf("UpsertIdentity with %q in %s: error = %v, want ErrInvalid", bad, field, err)
			}
		}
		ls := loginState("s-bad", t0)
		ls.RedirectURI = bad
		if err := s.CreateLoginState(ctx, ls, "", 0); !errors.Is(err, gatehouse.ErrInvalid) {
			t.Errorf("CreateLoginState with %q: error = %v, want ErrInvalid", bad, err)
		}
	}
	if users, idents, states := s.Count(t, "users"), s.Count(t, "identities"), s.Count(t, "login_states"); users+idents+states != 0 {
		t.Fatalf("refused writes left %d users, %d identities, %d login states", users, idents, states)
	}
}

// testUnstorableLookups: looking up a key that no stored row can hold is
// not found, not a driver error.
func testUnstorableLookups(t *testing.T, s *Harness) {
	ctx := context.Background()
	for _, bad := range []string{"\x00", "a\x00b", "\xff", "' OR 1=1--"} {
		if _, err := s.User(ctx, bad); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("User(%q) error = %v, want ErrNotFound", bad, err)
		}
		if _, err := s.ConsumeLoginState(ctx, bad, bad); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("ConsumeLoginState(%q) error = %v, want ErrNotFound", bad, err)
		}
	}
}

// testTimeTruncation: times keep microseconds and drop what is finer, the
// same way on every store.
func testTimeTruncation(t *testing.T, s *Harness) {
	ctx := context.Background()
	at := time.Date(2026, 6, 1, 12, 0, 0, 999_999_999, time.UTC)
	want := time.Date(2026, 6, 1, 12, 0, 0, 999_999_000, time.UTC)
	u, err := s.UpsertIdentity(ctx, identity("github", "14", "precise"), at, gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.User(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want %v in UTC", got.CreatedAt, want)
	}
	if !u.CreatedAt.Equal(want) {
		t.Errorf("returned CreatedAt = %v, want %v", u.CreatedAt, want)
	}
}

// testExpiryZones: an expiry compares by instant, whatever zone either time
// was written in, to the microsecond.
func testExpiryZones(t *testing.T, s *Harness) {
	ctx := context.Background()
	east := time.FixedZone("UTC+14", 14*3600)
	west := time.FixedZone("UTC-12", -12*3600)
	exp := t0.In(east)
	if err := s.CreateLoginState(ctx, loginState("zone", exp), "", 0); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteExpiredLoginStates(ctx, t0.In(west), 100); err != nil || n != 0 {
		t.Fatalf("GC at the expiry instant, in another zone, deleted %d (%v), want 0", n, err)
	}
	if n, err := s.DeleteExpiredLoginStates(ctx, t0.Add(time.Microsecond).In(west), 100); err != nil || n != 1 {
		t.Fatalf("GC one microsecond after expiry deleted %d (%v), want 1", n, err)
	}
}
