package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// These cases cover the bounds on what a stranger can make a store keep:
// retired refresh tokens per session, pending logins per client and per
// browser, batched cleanup, and a refused login that writes nothing.

// testRetiredTokensBounded: a session rotated many times keeps the newest
// KeptRetiredRefreshTokens retired hashes and prunes the older ones every
// RetiredPruneEvery rotations, even when every rotation happens at the
// same instant; a grace answer (no rotation) counts for nothing.
func testRetiredTokensBounded(t *testing.T, s *Harness) {
	ctx := context.Background()
	const kept, every = gatehouse.KeptRetiredRefreshTokens, gatehouse.RetiredPruneEvery
	newSession(t, s, "1", "s1")
	tokens := []string{"rt-s1"}
	rotate1 := func() {
		t.Helper()
		next := fmt.Sprint("rt-s1-", len(tokens))
		if _, _, err := s.UpdateSessionByToken(ctx, tokens[len(tokens)-1], t0, rotate(next, t0, nil)); err != nil {
			t.Fatalf("rotation %d: %v", len(tokens), err)
		}
		tokens = append(tokens, next)
	}
	retiredCount := func() int { t.Helper(); return s.Count(t, "retired_refresh_tokens") }
	for range kept + every - 1 {
		rotate1()
		// A retired token looked up without rotating is no rotation.
		if _, _, err := s.UpdateSessionByToken(ctx, tokens[len(tokens)-2], t0, rotate("x", t0, nil)); err != nil {
			t.Fatal(err)
		}
	}
	// kept+every-1 rotations: pruned once, at rotation every, when fewer
	// than kept had been retired.
	if n := retiredCount(); n != kept+every-1 {
		t.Fatalf("retired = %d after %d rotations, want %d", n, kept+every-1, kept+every-1)
	}
	rotate1() // rotation kept+every: prunes to kept
	if n := retiredCount(); n != kept {
		t.Fatalf("retired = %d after a pruning rotation, want %d", n, kept)
	}
	for range 3 * every {
		rotate1()
		if n := retiredCount(); n < kept || n > kept+every-1 {
			t.Fatalf("retired = %d, want %d to %d", n, kept, kept+every-1)
		}
	}
	// The newest kept retired tokens are known as retired; older ones are
	// forgotten.
	live := len(tokens) - 1
	for i := live - kept; i < live; i++ {
		var retired *time.Time
		if _, _, err := s.UpdateSessionByToken(ctx, tokens[i], t0, func(s *gatehouse.Session, _ *gatehouse.User, at *time.Time) (*gatehouse.Session, error) {
			retired = at
			return s, nil
		}); err != nil || retired == nil {
			t.Fatalf("token %d of %d: retired at %v, err %v; want it found as retired", i, live, retired, err)
		}
	}
	for _, i := range []int{0, 1, live - kept - every} {
		if _, _, err := s.UpdateSessionByToken(ctx, tokens[i], t0, rotate("x", t0, nil)); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("token %d of %d: error = %v, want ErrNotFound (forgotten)", i, live, err)
		}
	}
	// Another session's retired tokens are not touched.
	before := retiredCount()
	newSession(t, s, "2", "s2")
	if _, _, err := s.UpdateSessionByToken(ctx, "rt-s2", t0, rotate("rt-s2-1", t0, nil)); err != nil {
		t.Fatal(err)
	}
	if n := retiredCount(); n != before+1 {
		t.Fatalf("retired = %d, want %d", n, before+1)
	}
}

// testDisabledLoginWritesNothing: a login of a disabled user changes
// neither the user nor the identity.
func testDisabledLoginWritesNothing(t *testing.T, s *Harness) {
	ctx := context.Background()
	first := identity("github", "7", "before")
	u, err := s.UpsertIdentity(ctx, first, t0, gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetUserDisabled(ctx, u.ID, true, t0); err != nil {
		t.Fatal(err)
	}
	changed := identity("github", "7", "after")
	if _, err := s.UpsertIdentity(ctx, changed, t0.Add(time.Hour), gatehouse.EmailMatchNewAccount); !errors.Is(err, gatehouse.ErrDisabled) {
		t.Fatalf("UpsertIdentity of a disabled user: error = %v, want ErrDisabled", err)
	}
	got, err := s.User(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameProfile(t, got.Profile, first.Profile)
	if !got.UpdatedAt.Equal(u.UpdatedAt) {
		t.Errorf("UpdatedAt = %v, want %v (untouched)", got.UpdatedAt, u.UpdatedAt)
	}
	if n := s.Count(t, "users"); n != 1 {
		t.Errorf("users = %d, want 1", n)
	}
	// Enabled again, the same login goes through and updates the profile.
	if err := s.SetUserDisabled(ctx, u.ID, false, t0); err != nil {
		t.Fatal(err)
	}
	again, err := s.UpsertIdentity(ctx, changed, t0.Add(2*time.Hour), gatehouse.EmailMatchNewAccount)
	if err != nil || again.ID != u.ID || deref(again.Login) != `"after"` {
		t.Fatalf("login after enabling = %+v, %v; want the same user, updated", again, err)
	}
}

func pendingLogin(stateHash, binding, client string, created time.Time) *gatehouse.LoginState {
	ls := loginState(stateHash, created.Add(10*time.Minute))
	ls.BindingHash, ls.Client = binding, client
	return ls
}

// testLoginStateClientCap: a client with maxPerClient unexpired logins
// cannot start another; expired ones and other clients do not count, and a
// refused call stores nothing, not even the replacement's deletion.
func testLoginStateClientCap(t *testing.T, s *Harness) {
	ctx := context.Background()
	const limit = 3
	// Two logins of client A that have expired by t0 do not count.
	for i := range 2 {
		if err := s.CreateLoginState(ctx, pendingLogin(fmt.Sprint("old", i), fmt.Sprint("bo", i), "A", t0.Add(-11*time.Minute)), "", limit); err != nil {
			t.Fatal(err)
		}
	}
	for i := range limit {
		if err := s.CreateLoginState(ctx, pendingLogin(fmt.Sprint("a", i), fmt.Sprint("ba", i), "A", t0), "", limit); err != nil {
			t.Fatalf("login %d of client A: %v", i, err)
		}
	}
	if err := s.CreateLoginState(ctx, pendingLogin("a-over", "ba-over", "A", t0), "", limit); !errors.Is(err, gatehouse.ErrTooMany) {
		t.Fatalf("login over the cap: error = %v, want ErrTooMany", err)
	}
	if n := s.Count(t, "login_states"); n != limit+2 {
		t.Fatalf("login_states = %d after a refused login, want %d", n, limit+2)
	}
	// A browser at the cap restarting its own login replaces it: the
	// replaced login does not count.
	if err := s.CreateLoginState(ctx, pendingLogin("a0b", "ba0b", "A", t0), "ba0", limit); err != nil {
		t.Fatalf("a browser at the cap restarting its login: %v", err)
	}
	if n := s.Count(t, "login_states"); n != limit+2 {
		t.Fatalf("login_states = %d after a replacing login, want %d", n, limit+2)
	}
	if _, err := s.ConsumeLoginState(ctx, "a0", "ba0"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("the replaced login: %v, want ErrNotFound", err)
	}
	if _, err := s.ConsumeLoginState(ctx, "a0b", "ba0b"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLoginState(ctx, pendingLogin("b0", "bb0", "B", t0), "", limit); err != nil {
		t.Fatalf("another client: %v", err)
	}
	// With a slot free again (a0b consumed), A may start one more; no cap
	// (0) means none.
	if err := s.CreateLoginState(ctx, pendingLogin("a3", "ba3", "A", t0), "", limit); err != nil {
		t.Fatalf("after a login finished: %v", err)
	}
	if err := s.CreateLoginState(ctx, pendingLogin("a4", "ba4", "A", t0), "", 0); err != nil {
		t.Fatalf("without a cap: %v", err)
	}
	got, err := s.ConsumeLoginState(ctx, "a4", "ba4")
	if err != nil || got.Client != "A" {
		t.Fatalf("Client = %+v, %v; want A stored", got, err)
	}
}

// testLoginStateReplacesBinding: a browser's new login deletes the login
// its cookie replaces, and only that one.
func testLoginStateReplacesBinding(t *testing.T, s *Harness) {
	ctx := context.Background()
	if err := s.CreateLoginState(ctx, pendingLogin("first", "browser-1", "A", t0), "", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLoginState(ctx, pendingLogin("other", "browser-2", "A", t0), "", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLoginState(ctx, pendingLogin("second", "browser-1b", "A", t0), "browser-1", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeLoginState(ctx, "first", "browser-1"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("the replaced login: error = %v, want ErrNotFound", err)
	}
	for _, st := range []struct{ state, binding string }{{"other", "browser-2"}, {"second", "browser-1b"}} {
		if _, err := s.ConsumeLoginState(ctx, st.state, st.binding); err != nil {
			t.Errorf("login %s: %v, want it kept", st.state, err)
		}
	}
}

// testLoginStateGCBatches: expired login states are deleted at most limit
// at a time.
func testLoginStateGCBatches(t *testing.T, s *Harness) {
	ctx := context.Background()
	for i := range 5 {
		if err := s.CreateLoginState(ctx, loginState(fmt.Sprint("x", i), t0.Add(-time.Second)), "", 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateLoginState(ctx, loginState("live", t0.Add(time.Second)), "", 0); err != nil {
		t.Fatal(err)
	}
	for _, want := range []int64{2, 2, 1, 0} {
		if n, err := s.DeleteExpiredLoginStates(ctx, t0, 2); err != nil || n != want {
			t.Fatalf("DeleteExpiredLoginStates(limit 2) = %d, %v; want %d", n, err, want)
		}
	}
	if n := s.Count(t, "login_states"); n != 1 {
		t.Fatalf("login_states = %d, want the live one", n)
	}
}
