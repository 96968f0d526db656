package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// newSession stores a user (for the account subject) and a session of
// theirs starting at t0, with refresh token hash "rt-"+id.
func newSession(t *testing.T, s *Harness, subject, id string) (*gatehouse.User, *gatehouse.Session) {
	t.Helper()
	u, err := s.UpsertIdentity(context.Background(), identity("github", subject, "user"+subject), t0, gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	sess := &gatehouse.Session{
		ID: id, UserID: u.ID, Secret: []byte("secret-" + id), CurrentHash: "rt-" + id,
		CreatedAt: t0, LastUsedAt: t0, IdleExpiresAt: t0.Add(7 * 24 * time.Hour), ExpiresAt: t0.Add(30 * 24 * time.Hour),
		UserAgent: "Mozilla/5.0 🦫", IP: "203.0.113.7",
	}
	if err := s.CreateSession(context.Background(), sess); err != nil {
		t.Fatal(err)
	}
	return u, sess
}

func sameSession(t *testing.T, got, want *gatehouse.Session) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || string(got.Secret) != string(want.Secret) ||
		got.CurrentHash != want.CurrentHash || got.UserAgent != want.UserAgent || got.IP != want.IP ||
		got.RevokeReason != want.RevokeReason {
		t.Errorf("session = %+v, want %+v", got, want)
	}
	times := []struct {
		name      string
		got, want time.Time
	}{
		{"CreatedAt", got.CreatedAt, want.CreatedAt}, {"LastUsedAt", got.LastUsedAt, want.LastUsedAt},
		{"IdleExpiresAt", got.IdleExpiresAt, want.IdleExpiresAt}, {"ExpiresAt", got.ExpiresAt, want.ExpiresAt},
	}
	for _, tt := range times {
		if !tt.got.Equal(tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if (got.RevokedAt == nil) != (want.RevokedAt == nil) || (got.RevokedAt != nil && !got.RevokedAt.Equal(*want.RevokedAt)) {
		t.Errorf("RevokedAt = %v, want %v", got.RevokedAt, want.RevokedAt)
	}
}

func testSessionRoundTrip(t *testing.T, s *Harness) {
	ctx := context.Background()
	u, sess := newSession(t, s, "1", "s1")
	gotS, gotU, err := s.SessionUser(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	sameSession(t, gotS, sess)
	if gotU.ID != u.ID || gotU.DisabledAt != nil {
		t.Errorf("user = %+v, want %+v", gotU, u)
	}
	for _, id := range []string{"nope", "", "\x00", "' OR 1=1--"} {
		if _, _, err := s.SessionUser(ctx, id); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("SessionUser(%q) error = %v, want ErrNotFound", id, err)
		}
	}
	dup := *sess
	dup.CurrentHash = "other"
	if err := s.CreateSession(ctx, &dup); !errors.Is(err, gatehouse.ErrConflict) {
		t.Errorf("a second session with the same id: %v, want ErrConflict", err)
	}
	dup = *sess
	dup.ID = "s2"
	if err := s.CreateSession(ctx, &dup); !errors.Is(err, gatehouse.ErrConflict) {
		t.Errorf("a second session with the same refresh token hash: %v, want ErrConflict", err)
	}
	bad := *sess
	bad.ID, bad.CurrentHash, bad.UserAgent = "s3", "rt-s3", "nul\x00"
	if err := s.CreateSession(ctx, &bad); !errors.Is(err, gatehouse.ErrInvalid) {
		t.Errorf("a session with a NUL in its user agent: %v, want ErrInvalid", err)
	}
}

// testSessionStatus: the lookup of every authenticated request reads the
// session's status and its user as stored now: a revocation, a disabled or
// deleted user show at the next call.
func testSessionStatus(t *testing.T, s *Harness) {
	ctx := context.Background()
	u, sess := newSession(t, s, "1", "s1")
	check := func(what string, wantRevoked, wantDisabled bool) {
		t.Helper()
		got, gotU, err := s.SessionStatus(ctx, "s1")
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		want := sess.Status()
		if got.ID != want.ID || got.UserID != want.UserID || !got.IdleExpiresAt.Equal(want.IdleExpiresAt) ||
			!got.ExpiresAt.Equal(want.ExpiresAt) || (got.RevokedAt != nil) != wantRevoked {
			t.Errorf("%s: status = %+v, want %+v (revoked %v)", what, got, want, wantRevoked)
		}
		if wantRevoked && !got.RevokedAt.Equal(t0) {
			t.Errorf("%s: RevokedAt = %v, want %v", what, got.RevokedAt, t0)
		}
		full, err := s.User(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotU, full) || (gotU.DisabledAt != nil) != wantDisabled {
			t.Errorf("%s: user = %+v, want %+v (disabled %v)", what, gotU, full, wantDisabled)
		}
	}
	check("a new session", false, false)
	for _, id := range []string{"nope", "", "\x00", "' OR 1=1--"} {
		if _, _, err := s.SessionStatus(ctx, id); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("SessionStatus(%q) error = %v, want ErrNotFound", id, err)
		}
	}
	if err := s.SetUserDisabled(ctx, u.ID, true, t0); err != nil {
		t.Fatal(err)
	}
	check("after disabling the user", true, true)
	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SessionStatus(ctx, "s1"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("SessionStatus after deleting the user = %v, want ErrNotFound", err)
	}
}

// testConcurrentSessionStatus: many checks at once, which the stores may
// read together in one query (sqlite and postgres do), each get the answer
// of their own session, a revoked one revoked, an unknown one ErrNotFound,
// and the same session asked by many at once its own copy.
func testConcurrentSessionStatus(t *testing.T, s *Harness) {
	ctx := context.Background()
	const sessions = 8
	type want struct {
		user    string
		revoked bool
	}
	wants := make(map[string]want) // by session id
	var ids []string
	for i := range sessions {
		id := fmt.Sprintf("s%d \"'<&>\u2028\\", i) // odd characters, to be quoted right in a batch
		u, _ := newSession(t, s, fmt.Sprint(i), id)
		w := want{u.ID, i%2 == 1}
		if w.revoked {
			if err := s.RevokeSession(ctx, u.ID, id, t0, "test"); err != nil {
				t.Fatal(err)
			}
		}
		wants[id] = w
		ids = append(ids, id)
	}
	ids = append(ids, "nope", "s0") // unknown; "s0" is a prefix of a session's id
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 40 {
				id := ids[(g+i)%len(ids)]
				st, u, err := s.SessionStatus(ctx, id)
				w, ok := wants[id]
				switch {
				case !ok:
					if !errors.Is(err, gatehouse.ErrNotFound) {
						t.Errorf("SessionStatus(%q) error = %v, want ErrNotFound", id, err)
					}
				case err != nil:
					t.Errorf("SessionStatus(%q): %v", id, err)
				case st.ID != id || st.UserID != w.user || u.ID != w.user:
					t.Errorf("SessionStatus(%q) = session %q of %q, user %q; want user %q", id, st.ID, st.UserID, u.ID, w.user)
				case (st.RevokedAt != nil) != w.revoked:
					t.Errorf("SessionStatus(%q) RevokedAt = %v, want revoked %v", id, st.RevokedAt, w.revoked)
				default:
					// Each answer is the caller's own to change.
					st.ID, u.ID = "changed", "changed"
				}
			}
		})
	}
	wg.Wait()
}

// rotate returns an update that gives the session the new token hash if
// the presented token is the live one, and changes nothing otherwise.
func rotate(next string, at time.Time, sawRetired *atomic.Int32) func(*gatehouse.Session, *gatehouse.User, *time.Time) (*gatehouse.Session, error) {
	return func(s *gatehouse.Session, _ *gatehouse.User, retiredAt *time.Time) (*gatehouse.Session, error) {
		if retiredAt != nil {
			if sawRetired != nil {
				sawRetired.Add(1)
			}
			return s, nil
		}
		s.CurrentHash = next
		s.LastUsedAt = at
		s.IdleExpiresAt = at.Add(time.Hour)
		return s, nil
	}
}

func testSessionRotation(t *testing.T, s *Harness) {
	ctx := context.Background()
	_, sess := newSession(t, s, "1", "s1")
	t1 := t0.Add(time.Minute)
	got, gotU, err := s.UpdateSessionByToken(ctx, "rt-s1", t1, rotate("rt-s1-2", t1, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got.CurrentHash != "rt-s1-2" {
		t.Fatalf("CurrentHash = %q after rotation", got.CurrentHash)
	}
	if gotU == nil || gotU.ID != sess.UserID || deref(gotU.Login) != `"user1"` {
		t.Fatalf("the user read with the rotation = %+v, want the session's user", gotU)
	}
	stored, _, err := s.SessionUser(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	want := *sess
	want.CurrentHash, want.LastUsedAt, want.IdleExpiresAt = "rt-s1-2", t1, t1.Add(time.Hour)
	sameSession(t, stored, &want)

	// The old token now finds the session as retired, at the rotation time.
	t2 := t1.Add(time.Second)
	var retired *time.Time
	var sawUser *gatehouse.User
	if _, _, err := s.UpdateSessionByToken(ctx, "rt-s1", t2, func(s *gatehouse.Session, u *gatehouse.User, at *time.Time) (*gatehouse.Session, error) {
		retired, sawUser = at, u
		return s, nil
	}); err != nil {
		t.Fatal(err)
	}
	if retired == nil || !retired.Equal(t1) {
		t.Fatalf("retired at %v, want %v", retired, t1)
	}
	if sawUser == nil || sawUser.ID != sess.UserID {
		t.Fatalf("update saw user %+v for a retired token, want the session's user", sawUser)
	}
	if n := s.Count(t, "retired_refresh_tokens"); n != 1 {
		t.Fatalf("retired_refresh_tokens = %d, want 1", n)
	}
	if _, _, err := s.UpdateSessionByToken(ctx, "rt-unknown", t2, rotate("x", t2, nil)); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("unknown token: %v, want ErrNotFound", err)
	}
	if _, _, err := s.UpdateSessionByToken(ctx, "\x00", t2, rotate("x", t2, nil)); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("NUL token: %v, want ErrNotFound", err)
	}
}

func testSessionUpdateErrorWritesNothing(t *testing.T, s *Harness) {
	ctx := context.Background()
	_, sess := newSession(t, s, "1", "s1")
	boom := errors.New("boom")
	_, _, err := s.UpdateSessionByToken(ctx, "rt-s1", t0, func(s *gatehouse.Session, _ *gatehouse.User, _ *time.Time) (*gatehouse.Session, error) {
		s.CurrentHash = "changed"
		return s, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want %v", err, boom)
	}
	got, _, err := s.SessionUser(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	sameSession(t, got, sess)
	if n := s.Count(t, "retired_refresh_tokens"); n != 0 {
		t.Fatalf("retired_refresh_tokens = %d, want 0", n)
	}
}

// testConcurrentRotation: many refreshes with one token at once rotate it
// exactly once; every other call sees the token as retired.
func testConcurrentRotation(t *testing.T, s *Harness) {
	ctx := context.Background()
	newSession(t, s, "1", "s1")
	const n = 30
	var retired atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, _, err := s.UpdateSessionByToken(ctx, "rt-s1", t0, rotate("rt-s1-2", t0, &retired)); err != nil {
				t.Errorf("concurrent rotation: %v", err)
			}
		})
	}
	wg.Wait()
	if got := retired.Load(); got != n-1 {
		t.Fatalf("%d of %d calls saw the token retired, want %d", got, n, n-1)
	}
	got, _, err := s.SessionUser(ctx, "s1")
	if err != nil || got.CurrentHash != "rt-s1-2" {
		t.Fatalf("after the race: %+v, %v", got, err)
	}
	if c := s.Count(t, "retired_refresh_tokens"); c != 1 {
		t.Fatalf("retired_refresh_tokens = %d, want 1", c)
	}
}

func testRevokeSession(t *testing.T, s *Harness) {
	ctx := context.Background()
	u, _ := newSession(t, s, "1", "s1")
	other, _ := newSession(t, s, "2", "s2")
	if err := s.RevokeSession(ctx, other.ID, "s1", t0, "logout"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("revoking another user's session: %v, want ErrNotFound", err)
	}
	if err := s.RevokeSession(ctx, u.ID, "nope", t0, "logout"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("revoking an unknown session: %v, want ErrNotFound", err)
	}
	if err := s.RevokeSession(ctx, u.ID, "s1", t0, "logout"); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(ctx, u.ID, "s1", t0.Add(time.Hour), "again"); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	got, _, err := s.SessionUser(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if got.RevokedAt == nil || !got.RevokedAt.Equal(t0) || got.RevokeReason != "logout" || got.Active(t0) {
		t.Fatalf("revoked session = %+v, want revoked at %v for logout", got, t0)
	}
	if list, err := s.Sessions(ctx, u.ID); err != nil || len(list) != 0 {
		t.Fatalf("Sessions after revoking = %v, %v; want none", list, err)
	}
	if list, err := s.Sessions(ctx, other.ID); err != nil || len(list) != 1 {
		t.Fatalf("the other user's sessions = %v, %v; want 1", list, err)
	}
}

func testRevokeSessions(t *testing.T, s *Harness) {
	ctx := context.Background()
	u, _ := newSession(t, s, "1", "s1")
	for i := 2; i <= 3; i++ {
		sess := &gatehouse.Session{ID: fmt.Sprint("s", i), UserID: u.ID, Secret: []byte{1}, CurrentHash: fmt.Sprint("rt-s", i),
			CreatedAt: t0.Add(time.Duration(i) * time.Minute), LastUsedAt: t0, IdleExpiresAt: t0.Add(time.Hour), ExpiresAt: t0.Add(time.Hour)}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.Sessions(ctx, u.ID)
	if err != nil || len(list) != 3 || list[0].ID != "s3" || list[2].ID != "s1" {
		t.Fatalf("Sessions = %v, %v; want s3, s2, s1", list, err)
	}
	if err := s.RevokeSession(ctx, u.ID, "s2", t0, "logout"); err != nil {
		t.Fatal(err)
	}
	n, err := s.RevokeSessions(ctx, u.ID, t0, "logout everywhere")
	if err != nil || n != 2 {
		t.Fatalf("RevokeSessions = %d, %v; want 2", n, err)
	}
	if list, err := s.Sessions(ctx, u.ID); err != nil || len(list) != 0 {
		t.Fatalf("Sessions after RevokeSessions = %v, %v", list, err)
	}
}

func testDeleteEndedSessions(t *testing.T, s *Harness) {
	ctx := context.Background()
	u, _ := newSession(t, s, "1", "live")
	ended := []*gatehouse.Session{
		{ID: "expired", ExpiresAt: t0.Add(-time.Microsecond), IdleExpiresAt: t0.Add(time.Hour)},
		{ID: "idle", ExpiresAt: t0.Add(time.Hour), IdleExpiresAt: t0.Add(-time.Second)},
		{ID: "revoked", ExpiresAt: t0.Add(time.Hour), IdleExpiresAt: t0.Add(time.Hour), RevokedAt: new(t0.Add(-time.Minute))},
	}
	for _, sess := range ended {
		sess.UserID, sess.Secret, sess.CurrentHash, sess.CreatedAt, sess.LastUsedAt = u.ID, []byte{1}, "rt-"+sess.ID, t0, t0
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.UpdateSessionByToken(ctx, "rt-revoked", t0, rotate("rt-revoked-2", t0, nil)); err != nil {
		t.Fatal(err)
	}
	// In batches: two, then the one left, then none.
	for _, want := range []int64{2, 1, 0} {
		n, err := s.DeleteEndedSessions(ctx, t0, 2)
		if err != nil || n != want {
			t.Fatalf("DeleteEndedSessions(limit 2) = %d, %v; want %d", n, err, want)
		}
	}
	if c, r := s.Count(t, "sessions"), s.Count(t, "retired_refresh_tokens"); c != 1 || r != 0 {
		t.Fatalf("left %d sessions and %d retired tokens, want 1 and 0", c, r)
	}
}

func testDisableUser(t *testing.T, s *Harness) {
	ctx := context.Background()
	u, _ := newSession(t, s, "1", "s1")
	if err := s.SetUserDisabled(ctx, u.ID, true, t0); err != nil {
		t.Fatal(err)
	}
	sess, got, err := s.SessionUser(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if got.DisabledAt == nil || !got.DisabledAt.Equal(t0) || sess.RevokedAt == nil {
		t.Fatalf("after disabling: user %+v, session %+v; want disabled and revoked", got, sess)
	}
	if err := s.SetUserDisabled(ctx, u.ID, false, t0); err != nil {
		t.Fatal(err)
	}
	if got, err := s.User(ctx, u.ID); err != nil || got.DisabledAt != nil {
		t.Fatalf("after enabling: %+v, %v", got, err)
	}
	if err := s.SetUserDisabled(ctx, "nope", true, t0); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("disabling an unknown user: %v, want ErrNotFound", err)
	}
}
