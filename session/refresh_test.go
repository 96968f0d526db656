package session

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/ratelimit"
)

func TestRefreshRotates(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		u := f.user("1")
		sess, rt1 := f.start(u)
		f.clock.Advance(time.Minute)
		res := f.refresh(rt1)
		if res.Token == rt1 || !WellFormed(res.Token) {
			t.Fatalf("next token %q, want a new well-formed one", res.Token)
		}
		if res.Session.ID != sess.ID || res.User.ID != u.ID {
			t.Fatalf("refreshed session %s of user %s, want %s of %s", res.Session.ID, res.User.ID, sess.ID, u.ID)
		}
		stored := f.stored(sess.ID)
		if stored.CurrentHash != hash(res.Token) || !stored.LastUsedAt.Equal(f.clock.Now()) {
			t.Fatalf("stored session %+v, want the new token live, used now", stored)
		}
		if want := f.clock.Now().Add(f.m.IdleTimeout()); !stored.IdleExpiresAt.Equal(want) {
			t.Fatalf("IdleExpiresAt = %v, want %v", stored.IdleExpiresAt, want)
		}
		// The next token carries the session's id; a different session's
		// token does not follow from it.
		if sid, _ := sessionID(res.Token); sid != sess.ID {
			t.Fatalf("token names session %q, want %q", sid, sess.ID)
		}
	})
}

// TestRefreshGrace: a token retired within the grace window gets the live
// successor, at the exact edge too; a nanosecond later it is reuse, which
// ends the session: its live refresh token and its access tokens too.
func TestRefreshGrace(t *testing.T) {
	tests := []struct {
		name    string
		after   time.Duration // since the rotation that retired it
		behind  int           // rotations behind the live token
		reuse   bool
		sameAns bool
	}{
		{"at once", 0, 1, false, true},
		{"a nanosecond before the edge", DefaultGrace - time.Nanosecond, 1, false, true},
		{"at the edge", DefaultGrace, 1, false, true},
		{"a nanosecond late", DefaultGrace + time.Nanosecond, 1, true, false},
		{"a second late", DefaultGrace + time.Second, 1, true, false},
		{"two rotations behind", time.Second, 2, false, true},
		{"further than the chain is followed", 0, maxSuccessorChain + 1, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			each(t, func(t *testing.T, s gatehouse.Store) {
				f := newFixture(t, s)
				sess, rt := f.start(f.user("1"))
				old := rt
				for range tc.behind {
					rt = f.refresh(rt).Token
				}
				f.clock.Advance(tc.after)
				res, err := f.m.Refresh(context.Background(), old, "")
				if tc.reuse {
					wantCode(t, err, gatehouse.ERefreshReused)
					if reuse, ok := errors.AsType[*ReuseError](err); !ok || reuse.SessionID != sess.ID {
						t.Fatalf("error %v does not name the session's reuse", err)
					}
					if st := f.stored(sess.ID); st.RevokedAt == nil || st.RevokeReason != "refresh token reuse" {
						t.Fatalf("session after reuse = %+v, want revoked for reuse", st)
					}
					_, err := f.m.Refresh(context.Background(), rt, "")
					wantCode(t, err, gatehouse.ERefreshRefused)
					_, _, err = f.m.Authenticate(context.Background(), sess.ID, sess.UserID)
					wantCode(t, err, gatehouse.EInvalidToken)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if res.Token != rt {
					t.Fatalf("grace answer is not the live token")
				}
				if st := f.stored(sess.ID); st.CurrentHash != hash(rt) {
					t.Fatal("a grace answer rotated the token")
				}
			})
		})
	}
}

// TestRefreshRefusesWritingNothing: a session that has ended, is about to,
// or whose user is disabled refuses, and nothing is written.
func TestRefreshRefusesWritingNothing(t *testing.T) {
	tests := []struct {
		name  string
		cfg   func(c *Config)
		setup func(f *fixture, sess *gatehouse.Session)
	}{
		{"revoked", nil, func(f *fixture, sess *gatehouse.Session) {
			if err := f.store.RevokeSession(context.Background(), sess.UserID, sess.ID, f.clock.Now(), "test"); err != nil {
				f.t.Fatal(err)
			}
		}},
		{"idle", nil, func(f *fixture, sess *gatehouse.Session) { f.clock.Advance(DefaultIdleTimeout) }},
		{"less than a second left", func(c *Config) { c.MaxAge = time.Hour }, func(f *fixture, sess *gatehouse.Session) {
			f.clock.Advance(time.Hour - time.Second + time.Microsecond)
		}},
		{"user disabled", nil, func(f *fixture, sess *gatehouse.Session) {
			// Disabling revokes too; bring the session back to see
			// that the user check alone refuses.
			if err := f.store.SetUserDisabled(context.Background(), sess.UserID, true, f.clock.Now()); err != nil {
				f.t.Fatal(err)
			}
			f.unrevoke(sess.ID)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			each(t, func(t *testing.T, s gatehouse.Store) {
				var opts []func(*Config)
				if tc.cfg != nil {
					opts = append(opts, tc.cfg)
				}
				f := newFixture(t, s, opts...)
				sess, _ := f.start(f.user("1"))
				tc.setup(f, sess)
				before := f.stored(sess.ID)
				_, err := f.m.Refresh(context.Background(), f.live[sess.ID], "")
				wantCode(t, err, gatehouse.ERefreshRefused)
				after := f.stored(sess.ID)
				if after.CurrentHash != before.CurrentHash || !after.LastUsedAt.Equal(before.LastUsedAt) {
					t.Fatalf("a refused refresh wrote: %+v, was %+v", after, before)
				}
			})
		})
	}
}

// TestRefreshPerSessionLimit: one session refreshed more often than the
// rate is refused with rate_limited and a wait; nothing is written, and the
// same token works once the wait is over.
func TestRefreshPerSessionLimit(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s, func(c *Config) { c.RefreshRate = ratelimit.Rate{N: 3, Per: time.Minute} })
		sess, rt := f.start(f.user("1"))
		_, other := f.start(f.user("2"))
		for range 3 {
			rt = f.refresh(rt).Token
		}
		_, err := f.m.Refresh(context.Background(), rt, "")
		wantCode(t, err, gatehouse.ERateLimited)
		if e, _ := errors.AsType[*gatehouse.Error](err); e.RetryAfter != 20*time.Second {
			t.Fatalf("RetryAfter = %v, want 20s", e.RetryAfter)
		}
		if st := f.stored(sess.ID); st.CurrentHash != hash(rt) {
			t.Fatal("a limited refresh rotated the token")
		}
		f.refresh(other) // another session is not limited
		f.clock.Advance(20 * time.Second)
		f.refresh(rt)
	})
}

// TestRefreshAnswersFromItsTransaction: a refresh reads everything its
// answer needs in the rotation's own transaction, so reads that fail
// outside it cannot turn a committed rotation into an error.
func TestRefreshAnswersFromItsTransaction(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		u := f.user("1")
		_, rt := f.start(u)
		f.fault.set(func(f *fault) { f.readsDown = true })
		res, err := f.m.Refresh(context.Background(), rt, "")
		if err != nil {
			t.Fatalf("refresh with reads failing outside its transaction: %v", err)
		}
		if res.User == nil || res.User.ID != u.ID {
			t.Fatalf("answer user = %+v, want %s", res.User, u.ID)
		}
	})
}

// TestRefreshLostAnswer: the store fails after the refresh decided its
// answer — having committed it, or not. The client keeps the new token and
// the old one as a fallback; its retry, however late, succeeds and is not
// taken for reuse. Without the fallback, the late retry of the committed
// case would be reuse.
func TestRefreshLostAnswer(t *testing.T) {
	tests := []struct {
		name      string
		committed bool
	}{
		{"committed, answer lost", true},
		{"not committed", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			each(t, func(t *testing.T, s gatehouse.Store) {
				f := newFixture(t, s)
				sess, rt1 := f.start(f.user("1"))
				f.fault.set(func(f *fault) {
					f.lostAnswer = tc.committed
					f.abortAfterUpdate = !tc.committed
				})
				_, err := f.m.Refresh(context.Background(), rt1, "")
				unsure, ok := errors.AsType[*UnsureError](err)
				if !ok || !errors.Is(err, gatehouse.ErrUnavailable) {
					t.Fatalf("error = %v, want an *UnsureError wrapping ErrUnavailable", err)
				}
				if unsure.Previous != rt1 || !WellFormed(unsure.Token) {
					t.Fatalf("UnsureError = {%q, %q}, want the next token and %q", unsure.Token, unsure.Previous, rt1)
				}
				if got := f.stored(sess.ID).CurrentHash == hash(unsure.Token); got != tc.committed {
					t.Fatalf("the new token is live = %v, want %v", got, tc.committed)
				}
				// The client retries long after the grace window.
				f.clock.Advance(5 * time.Minute)
				res, err := f.m.Refresh(context.Background(), unsure.Token, unsure.Previous)
				if err != nil {
					t.Fatalf("the retry with both tokens: %v", err)
				}
				st := f.stored(sess.ID)
				if st.RevokedAt != nil || st.CurrentHash != hash(res.Token) {
					t.Fatalf("after the retry: %+v, want live with the answered token", st)
				}
				f.refresh(res.Token)
			})
		})
	}
	t.Run("without the fallback a late retry is reuse", func(t *testing.T) {
		each(t, func(t *testing.T, s gatehouse.Store) {
			f := newFixture(t, s)
			_, rt1 := f.start(f.user("1"))
			f.fault.set(func(f *fault) { f.lostAnswer = true })
			f.m.Refresh(context.Background(), rt1, "")
			f.clock.Advance(5 * time.Minute)
			_, err := f.m.Refresh(context.Background(), rt1, "")
			wantCode(t, err, gatehouse.ERefreshReused)
		})
	})
	t.Run("a fallback that does not lead to the token is ignored", func(t *testing.T) {
		each(t, func(t *testing.T, s gatehouse.Store) {
			f := newFixture(t, s)
			sess, rt := f.start(f.user("1"))
			_, other := f.start(f.user("2"))
			forged := sess.ID + "." + other[len(sess.ID)+1:]
			for _, prev := range []string{rt, other} {
				_, err := f.m.Refresh(context.Background(), forged, prev)
				wantCode(t, err, gatehouse.ERefreshRefused)
			}
			if st := f.stored(sess.ID); st.CurrentHash != hash(rt) {
				t.Fatal("an unrelated fallback rotated the session")
			}
		})
	})
}

func TestRefreshMalformed(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		_, rt := f.start(f.user("1"))
		for _, raw := range []string{"", "garbage", rt + "x", rt[:len(rt)-1], "' OR 1=1--", string(make([]byte, 100_000)),
			"0190e6e8-0000-7000-8000-00000000000X." + rt[37:]} {
			_, err := f.m.Refresh(context.Background(), raw, "")
			wantCode(t, err, gatehouse.ERefreshRefused)
		}
	})
}

// TestRefreshCountsOnceWhenUpdatedTwice: a store may call the refresh's
// rule twice (gatehouse.Store); the refresh still costs one rotation of
// the session's rate.
func TestRefreshCountsOnceWhenUpdatedTwice(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s, func(c *Config) { c.RefreshRate = ratelimit.Rate{N: 1, Per: time.Hour} })
		f.fault.set(func(f *fault) { f.updateTwice = true })
		_, rt := f.start(f.user("1"))
		rt = f.refresh(rt).Token
		_, err := f.m.Refresh(context.Background(), rt, "")
		wantCode(t, err, gatehouse.ERateLimited)
	})
}

// TestRefreshGraceAnswersAreNotLimited: many tabs refreshing with one token
// at once cost one rotation of the session's rate.
func TestRefreshGraceAnswersAreNotLimited(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s, func(c *Config) { c.RefreshRate = ratelimit.Rate{N: 1, Per: time.Hour} })
		_, rt := f.start(f.user("1"))
		next := f.refresh(rt).Token
		for range 20 {
			if got := f.refresh(rt).Token; got != next {
				t.Fatal("a grace answer differs from the live token")
			}
		}
	})
}

// TestRefreshLifetimes: a session ends when it has not been refreshed for
// the idle timeout, and at its maximum age however often it is refreshed;
// a refresh needs a second left. Rotation never moves the absolute end,
// and the idle end never passes it. Edges are exact: a nanosecond either
// side.
func TestRefreshLifetimes(t *testing.T) {
	const idle, maxAge = 2 * time.Hour, 8 * time.Hour
	hourly := []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour, 4 * time.Hour, 5 * time.Hour, 6 * time.Hour, 7 * time.Hour}
	tests := []struct {
		name      string
		refreshes []time.Duration // since the login, each must succeed
		at        time.Duration   // since the login, the refresh tried
		refreshed bool            // the refresh at at succeeds
		live      bool            // the session's access tokens work at at
	}{
		{"idle: a nanosecond before", nil, idle - time.Nanosecond, true, true},
		{"idle: at the edge", nil, idle, false, false},
		{"idle: a second late", nil, idle + time.Second, false, false},
		{"idle: a refresh restarts the window", []time.Duration{time.Hour}, time.Hour + idle - time.Nanosecond, true, true},
		{"idle: the restarted window ends", []time.Duration{time.Hour}, time.Hour + idle, false, false},
		{"absolute: a second left", hourly, maxAge - time.Second, true, true},
		{"absolute: less than a second left", hourly, maxAge - time.Second + time.Nanosecond, false, true},
		{"absolute: a nanosecond before", hourly, maxAge - time.Nanosecond, false, true},
		{"absolute: at the edge", hourly, maxAge, false, false},
		{"absolute: a second late", hourly, maxAge + time.Second, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			each(t, func(t *testing.T, s gatehouse.Store) {
				f := newFixture(t, s, func(c *Config) { c.IdleTimeout, c.MaxAge = idle, maxAge })
				start := f.clock.Now()
				sess, rt := f.start(f.user("1"))
				for _, at := range tc.refreshes {
					f.clock.Advance(start.Add(at).Sub(f.clock.Now()))
					rt = f.refresh(rt).Token
				}
				f.clock.Advance(start.Add(tc.at).Sub(f.clock.Now()))
				_, _, err := f.m.Authenticate(context.Background(), sess.ID, sess.UserID)
				if got := err == nil; got != tc.live {
					t.Fatalf("Authenticate = %v: live %v, want %v", err, got, tc.live)
				}
				before := f.stored(sess.ID)
				res, err := f.m.Refresh(context.Background(), rt, "")
				if !tc.refreshed {
					wantCode(t, err, gatehouse.ERefreshRefused)
					if after := f.stored(sess.ID); after.CurrentHash != before.CurrentHash {
						t.Fatal("a refused refresh rotated the token")
					}
					return
				}
				if err != nil {
					t.Fatalf("got %v, want a refresh", err)
				}
				st := f.stored(sess.ID)
				if want := start.Add(maxAge); !st.ExpiresAt.Equal(want) || !res.Session.ExpiresAt.Equal(want) {
					t.Fatalf("ExpiresAt = %v, want %v: rotation moved the absolute end", st.ExpiresAt, want)
				}
				want := minTime(f.clock.Now().Add(idle), start.Add(maxAge))
				if d := st.IdleExpiresAt.Sub(want); d > 0 || d <= -time.Microsecond {
					t.Fatalf("IdleExpiresAt = %v, want %v", st.IdleExpiresAt, want)
				}
			})
		})
	}
}

// TestRefreshConcurrent: a hundred tabs refreshing with one token at once all
// get the same successor, one rotation away; the session goes on working
// and nothing is taken for reuse.
func TestRefreshConcurrent(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		sess, rt := f.start(f.user("1"))
		const n = 100
		got := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		begin := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-begin
				res, err := f.m.Refresh(context.Background(), rt, "")
				if err == nil {
					got[i] = res.Token
				}
				errs[i] = err
			})
		}
		close(begin)
		wg.Wait()
		want := successor(sess.Secret, rt)
		for i := range n {
			if errs[i] != nil || got[i] != want {
				t.Fatalf("refresh %d: got %v, %v; want the one successor", i, errs[i], got[i] == want)
			}
		}
		if st := f.stored(sess.ID); st.CurrentHash != hash(want) || st.RevokedAt != nil {
			t.Fatalf("stored session %+v, want live with the one successor", st)
		}
		f.clock.Advance(time.Minute)
		f.refresh(want)
	})
}
