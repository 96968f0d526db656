package session

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// TestAuthenticate: a request's access token works while its session is
// live and its user exists and is enabled, as stored at that moment; the
// edges of the lifetimes are exact.
func TestAuthenticate(t *testing.T) {
	const idle, maxAge = time.Hour, 2 * time.Hour
	tests := []struct {
		name  string
		setup func(f *fixture, sess *gatehouse.Session) (sid, sub string)
		live  bool
	}{
		{"live", func(f *fixture, s *gatehouse.Session) (string, string) { return s.ID, s.UserID }, true},
		{"another user's session", func(f *fixture, s *gatehouse.Session) (string, string) { return s.ID, f.user("2").ID }, false},
		{"unknown session", func(f *fixture, s *gatehouse.Session) (string, string) {
			return gatehouse.NewID(f.clock.Now()), s.UserID
		}, false},
		{"a nanosecond before the idle end", func(f *fixture, s *gatehouse.Session) (string, string) {
			f.clock.Advance(idle - time.Nanosecond)
			return s.ID, s.UserID
		}, true},
		{"at the idle end", func(f *fixture, s *gatehouse.Session) (string, string) {
			f.clock.Advance(idle)
			return s.ID, s.UserID
		}, false},
		{"at the absolute end", func(f *fixture, s *gatehouse.Session) (string, string) {
			for range 3 {
				f.clock.Advance(idle / 2)
				f.live[s.ID] = f.refresh(f.live[s.ID]).Token
			}
			f.clock.Advance(maxAge - 3*idle/2)
			return s.ID, s.UserID
		}, false},
		{"logged out", func(f *fixture, s *gatehouse.Session) (string, string) {
			if _, err := f.m.End(context.Background(), f.live[s.ID], "", false); err != nil {
				f.t.Fatal(err)
			}
			return s.ID, s.UserID
		}, false},
		{"user disabled", func(f *fixture, s *gatehouse.Session) (string, string) {
			// Disabling revokes too; bring the session back to see that
			// the user check alone refuses.
			if err := f.store.SetUserDisabled(context.Background(), s.UserID, true, f.clock.Now()); err != nil {
				f.t.Fatal(err)
			}
			f.unrevoke(s.ID)
			return s.ID, s.UserID
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			each(t, func(t *testing.T, s gatehouse.Store) {
				f := newFixture(t, s, func(c *Config) { c.IdleTimeout, c.MaxAge = idle, maxAge })
				u := f.user("1")
				sess, _ := f.start(u)
				sid, sub := tc.setup(f, sess)
				gotSess, gotUser, err := f.m.Authenticate(context.Background(), sid, sub)
				if !tc.live {
					wantCode(t, err, gatehouse.EInvalidToken)
					return
				}
				if err != nil || gotSess.ID != sess.ID || gotUser.ID != u.ID {
					t.Fatalf("got %v, %v, %v; want session %s of user %s", gotSess, gotUser, err, sess.ID, u.ID)
				}
			})
		})
	}
}
