package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// testCount checks that Count counts what the rules call live: a login
// state until its ExpiresAt (login.Finish refuses it from then on), and a
// session while Session.Active.
func testCount(t *testing.T, s *Harness) {
	ctx := context.Background()
	c, ok := s.Store.(gatehouse.Counter)
	if !ok {
		t.Fatal("the store is not a gatehouse.Counter")
	}
	for i, exp := range []time.Time{t0.Add(-time.Second), t0, t0.Add(time.Microsecond), t0.Add(time.Hour)} {
		if err := s.CreateLoginState(ctx, loginState("s"+string(rune('a'+i)), exp), "", 0); err != nil {
			t.Fatal(err)
		}
	}
	u, _ := newSession(t, s, "1", "live")
	ended := []*gatehouse.Session{
		{ID: "expired", ExpiresAt: t0, IdleExpiresAt: t0.Add(time.Hour)},
		{ID: "idle", ExpiresAt: t0.Add(time.Hour), IdleExpiresAt: t0},
		{ID: "revoked", ExpiresAt: t0.Add(time.Hour), IdleExpiresAt: t0.Add(time.Hour), RevokedAt: new(t0.Add(-time.Minute))},
		{ID: "live2", ExpiresAt: t0.Add(time.Hour), IdleExpiresAt: t0.Add(time.Microsecond)},
	}
	for _, sess := range ended {
		sess.UserID, sess.Secret, sess.CurrentHash, sess.CreatedAt, sess.LastUsedAt = u.ID, []byte{1}, "rt-"+sess.ID, t0, t0
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.Count(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if want := (gatehouse.Counts{LoginStates: 2, Sessions: 2}); got != want {
		t.Errorf("Count = %+v, want %+v", got, want)
	}
	empty, err := c.Count(ctx, t0.Add(8*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if empty != (gatehouse.Counts{}) {
		t.Errorf("Count eight days later = %+v, want none", empty)
	}
}
