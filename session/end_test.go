package session

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

func TestEndLiveAndGlobal(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		u := f.user("1")
		s1, rt1 := f.start(u)
		s2, rt2 := f.start(u)
		s3, _ := f.start(f.user("2"))
		ended, err := f.m.End(context.Background(), rt1, "", false)
		if err != nil || ended.Session == nil || ended.Session.ID != s1.ID || ended.Global {
			t.Fatalf("End = %+v, %v; want session %s ended alone", ended, err, s1.ID)
		}
		if st := f.stored(s1.ID); st.RevokedAt == nil || st.RevokeReason != "logout" {
			t.Fatalf("session after logout = %+v", st)
		}
		if f.stored(s2.ID).RevokedAt != nil {
			t.Fatal("a logout here ended the user's other session")
		}
		ended, err = f.m.End(context.Background(), rt2, "", true)
		if err != nil || !ended.Global {
			t.Fatalf("global End = %+v, %v", ended, err)
		}
		if f.stored(s2.ID).RevokedAt == nil {
			t.Fatal("global logout left the session")
		}
		if f.stored(s3.ID).RevokedAt != nil {
			t.Fatal("global logout ended another user's session")
		}
		// The sessions' access tokens stop working at once; another
		// user's do not.
		for _, tc := range []struct {
			sess *gatehouse.Session
			live bool
		}{{s1, false}, {s2, false}, {s3, true}} {
			_, _, err := f.m.Authenticate(context.Background(), tc.sess.ID, tc.sess.UserID)
			if got := err == nil; got != tc.live {
				t.Fatalf("Authenticate(%s) = %v: live %v, want %v", tc.sess.ID, err, got, tc.live)
			}
		}
	})
}

// TestEndRacingRefresh: refreshes racing a logout never bring the session
// back: it ends revoked, every token it had is refused, and no racing
// refresh fails otherwise than "refused".
func TestEndRacingRefresh(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		sess, rt := f.start(f.user("1"))
		const n = 20
		tokens := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		begin := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-begin
				if i == n/2 {
					_, errs[i] = f.m.End(context.Background(), rt, "", false)
					return
				}
				res, err := f.m.Refresh(context.Background(), rt, "")
				if err == nil {
					tokens[i] = res.Token
				}
				errs[i] = err
			})
		}
		close(begin)
		wg.Wait()
		if errs[n/2] != nil {
			t.Fatalf("End = %v, want nil", errs[n/2])
		}
		for i, err := range errs {
			if err != nil && gatehouse.ErrorCode(err) != gatehouse.ERefreshRefused {
				t.Fatalf("racing refresh %d: got %v, want success or %s", i, err, gatehouse.ERefreshRefused)
			}
		}
		if st := f.stored(sess.ID); st.RevokedAt == nil {
			t.Fatal("the session is live after the race")
		}
		for _, tok := range append(tokens, rt) {
			if tok == "" {
				continue
			}
			_, err := f.m.Refresh(context.Background(), tok, "")
			wantCode(t, err, gatehouse.ERefreshRefused)
		}
	})
}

// TestEndDeadTokenDoesNothing: a token that can no longer be used performs
// no logout, global or not; a retired one past the grace window counts as
// reuse and ends its own session only.
func TestEndDeadTokenDoesNothing(t *testing.T) {
	tests := []struct {
		name  string
		token func(f *fixture, u *gatehouse.User) (tok string, sess *gatehouse.Session)
		reuse bool
	}{
		{"retired past the grace window", func(f *fixture, u *gatehouse.User) (string, *gatehouse.Session) {
			sess, rt := f.start(u)
			f.refresh(rt)
			f.clock.Advance(DefaultGrace + time.Second)
			return rt, sess
		}, true},
		{"of a session already ended", func(f *fixture, u *gatehouse.User) (string, *gatehouse.Session) {
			sess, rt := f.start(u)
			if _, err := f.m.End(context.Background(), rt, "", false); err != nil {
				f.t.Fatal(err)
			}
			f.clock.Advance(time.Second)
			return rt, sess
		}, false},
		{"of an expired session", func(f *fixture, u *gatehouse.User) (string, *gatehouse.Session) {
			sess, rt := f.start(u)
			f.clock.Advance(DefaultIdleTimeout)
			return rt, sess
		}, false},
		{"unknown", func(f *fixture, u *gatehouse.User) (string, *gatehouse.Session) {
			sess, _ := f.start(u)
			return newToken(sess.ID), sess // its id, a secret it never had
		}, false},
		{"malformed", func(f *fixture, u *gatehouse.User) (string, *gatehouse.Session) {
			return "garbage", nil
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			each(t, func(t *testing.T, s gatehouse.Store) {
				f := newFixture(t, s)
				u := f.user("1")
				other, _ := f.start(u) // another device of the same user
				tok, sess := tc.token(f, u)
				var before *gatehouse.Session
				if sess != nil {
					before = f.stored(sess.ID)
				}
				ended, err := f.m.End(context.Background(), tok, "", true)
				if tc.reuse {
					wantCode(t, err, gatehouse.ERefreshReused)
					if st := f.stored(sess.ID); st.RevokedAt == nil || st.RevokeReason != "refresh token reuse" {
						t.Fatalf("reused token's session = %+v, want revoked for reuse", st)
					}
				} else if err != nil {
					t.Fatalf("End(dead token) = %v, want nil", err)
				}
				if ended.Global {
					t.Fatal("a dead token performed a global logout")
				}
				if st := f.stored(other.ID); st.RevokedAt != nil {
					t.Fatalf("a dead token's global logout ended the user's other session (%s)", st.RevokeReason)
				}
				if before != nil && !tc.reuse {
					after := f.stored(sess.ID)
					if (after.RevokedAt == nil) != (before.RevokedAt == nil) || after.RevokeReason != before.RevokeReason {
						t.Fatalf("a dead token changed its session: %+v, was %+v", after, before)
					}
				}
			})
		})
	}
}

// TestEndWithinGraceIsLive: a token another tab rotated a moment ago still
// logs out, everywhere if asked.
func TestEndWithinGraceIsLive(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		u := f.user("1")
		sess, rt := f.start(u)
		other, _ := f.start(u)
		f.refresh(rt)
		f.clock.Advance(time.Second)
		ended, err := f.m.End(context.Background(), rt, "", true)
		if err != nil || !ended.Global {
			t.Fatalf("End within grace = %+v, %v; want a global logout", ended, err)
		}
		for _, id := range []string{sess.ID, other.ID} {
			if f.stored(id).RevokedAt == nil {
				t.Fatalf("session %s not ended", id)
			}
		}
	})
}

// TestEndDuringOutage: a logout the database cannot record is queued,
// refuses the session's refresh token and access tokens on this node at
// once (while reads still work), survives a restart of the node, and is
// recorded when the database is back — as a global logout if it was one.
func TestEndDuringOutage(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		u := f.user("1")
		sess, rt := f.start(u)
		other, _ := f.start(u)
		f.fault.set(func(f *fault) { f.writesDown = true })
		ended, err := f.m.End(context.Background(), rt, "", true)
		if !errors.Is(err, gatehouse.ErrUnavailable) || !ended.Queued {
			t.Fatalf("End during an outage = %+v, %v; want queued with ErrUnavailable", ended, err)
		}
		if n := f.m.Pending(); n != 1 {
			t.Fatalf("Pending = %d, want 1", n)
		}
		check := func(when string) {
			t.Helper()
			if _, _, err := f.m.Authenticate(context.Background(), sess.ID, u.ID); gatehouse.ErrorCode(err) != gatehouse.EInvalidToken {
				t.Fatalf("%s: Authenticate = %v, want invalid_token", when, err)
			}
			_, err := f.m.Refresh(context.Background(), rt, "")
			wantCode(t, err, gatehouse.ERefreshRefused)
		}
		check("before a restart")
		if f.stored(sess.ID).RevokedAt != nil {
			t.Fatal("the outage recorded the logout after all")
		}
		// The node restarts during the outage.
		f.restart()
		check("after a restart")
		if left := f.m.Replay(context.Background()); left != 1 {
			t.Fatalf("replay during the outage left %d, want 1", left)
		}
		// The database comes back.
		f.fault.set(func(f *fault) { f.writesDown = false })
		f.clock.Advance(time.Minute)
		if left := f.m.Replay(context.Background()); left != 0 {
			t.Fatalf("replay after the outage left %d, want 0", left)
		}
		for _, id := range []string{sess.ID, other.ID} {
			if st := f.stored(id); st.RevokedAt == nil {
				t.Fatalf("session %s not revoked by the replayed global logout", id)
			}
		}
		// The revocation time is the logout's, not the replay's.
		if st := f.stored(sess.ID); !st.RevokedAt.Equal(f.clock.Now().Add(-time.Minute)) {
			t.Fatalf("RevokedAt = %v, want the time of the logout", st.RevokedAt)
		}
		f.restart()
		if n := f.m.Pending(); n != 0 {
			t.Fatalf("Pending after a restart = %d, want 0 (the file forgot the recorded logout)", n)
		}
	})
}

// TestEndQueueBounded: the queue holds at most MaxPending logouts; past
// that the logout is refused with ErrPendingFull and recorded nowhere.
func TestEndQueueBounded(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s, func(c *Config) { c.MaxPending = 3 })
		var tokens []string
		for range 4 {
			_, rt := f.start(f.user("1"))
			tokens = append(tokens, rt)
		}
		f.fault.set(func(f *fault) { f.writesDown = true })
		for _, rt := range tokens[:3] {
			if ended, _ := f.m.End(context.Background(), rt, "", false); !ended.Queued {
				t.Fatal("a logout was not queued")
			}
		}
		ended, err := f.m.End(context.Background(), tokens[3], "", false)
		if !errors.Is(err, ErrPendingFull) || ended.Queued {
			t.Fatalf("End with a full queue = %+v, %v; want ErrPendingFull", ended, err)
		}
		// Made-up tokens fill nothing further either.
		sid, _ := sessionID(tokens[0])
		for i := range 10 {
			forged := newToken(sid)
			if _, err := f.m.End(context.Background(), forged, "", false); !errors.Is(err, ErrPendingFull) {
				t.Fatalf("forged logout %d: %v, want ErrPendingFull", i, err)
			}
		}
		if n := f.m.Pending(); n != 3 {
			t.Fatalf("Pending = %d, want 3", n)
		}
		info, err := os.Stat(f.cfg.PendingFile)
		if err != nil || info.Size() > 3*300 || info.Mode().Perm() != 0o600 {
			t.Fatalf("pending file: %v, %v; want at most 900 bytes, mode 0600", info, err)
		}
		f.fault.set(func(f *fault) { f.writesDown = false })
		f.m.Replay(context.Background())
		if _, err := f.m.End(context.Background(), tokens[3], "", false); err != nil {
			t.Fatalf("after the replay: %v", err)
		}
	})
}

// TestEndQueuesBothTokensAfterAnUnsureRefresh: a logout during an outage
// that follows a refresh whose outcome was never learned ends the session
// whichever token turned out live.
func TestEndQueuesBothTokensAfterAnUnsureRefresh(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		sess, rt := f.start(f.user("1"))
		f.fault.set(func(f *fault) { f.abortAfterUpdate = true })
		_, err := f.m.Refresh(context.Background(), rt, "")
		unsure, ok := errors.AsType[*UnsureError](err)
		if !ok {
			t.Fatalf("Refresh = %v, want an UnsureError", err)
		}
		f.fault.set(func(f *fault) { f.writesDown = true })
		if ended, _ := f.m.End(context.Background(), unsure.Token, unsure.Previous, false); !ended.Queued {
			t.Fatal("the logout was not queued")
		}
		f.fault.set(func(f *fault) { f.writesDown = false })
		if left := f.m.Replay(context.Background()); left != 0 {
			t.Fatalf("%d left", left)
		}
		if f.stored(sess.ID).RevokedAt == nil {
			t.Fatal("the session is still live after the replayed logout")
		}
	})
}

// TestReplayLoop: the background loop replays on its tick and stops on
// Close.
func TestReplayLoop(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		sess, rt := f.start(f.user("1"))
		f.fault.set(func(f *fault) { f.writesDown = true })
		f.m.End(context.Background(), rt, "", false)
		f.fault.set(func(f *fault) { f.writesDown = false })
		f.tick <- f.clock.Now()
		<-f.m.replayed
		if f.stored(sess.ID).RevokedAt == nil || f.m.Pending() != 0 {
			t.Fatal("the loop did not replay the logout")
		}
		if err := f.m.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPendingFile: a line cut short by a crash is skipped, logouts older
// than the session maximum age are dropped at startup, and the file is
// compacted.
func TestPendingFile(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		_, rt1 := f.start(f.user("1"))
		_, rt2 := f.start(f.user("2"))
		f.fault.set(func(f *fault) { f.writesDown = true })
		f.m.End(context.Background(), rt1, "", false)
		f.clock.Advance(time.Hour)
		f.m.End(context.Background(), rt2, "", false)
		f.m.Close()
		file, err := os.OpenFile(f.cfg.PendingFile, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		file.WriteString(`{"hash":"cut-sh`)
		file.Close()
		// Past the maximum age of the first logout, not the second.
		f.clock.Advance(DefaultMaxAge - 30*time.Minute)
		f.restart()
		if n := f.m.Pending(); n != 1 {
			t.Fatalf("Pending = %d, want 1 (one expired, one cut short)", n)
		}
		b, err := os.ReadFile(f.cfg.PendingFile)
		if err != nil || strings.Count(string(b), "\n") != 1 || strings.Contains(string(b), "cut-sh") {
			t.Fatalf("compacted file = %q, %v", b, err)
		}
		if strings.Contains(string(b), rt2) || strings.Contains(string(b), rt1) {
			t.Fatal("the pending file holds a refresh token in the clear")
		}
	})
}

// TestPendingFileOnlyWhileNeeded: no file exists while no logout waits,
// and it is removed once the last one is recorded.
func TestPendingFileOnlyWhileNeeded(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		_, rt := f.start(f.user("1"))
		if _, err := os.Stat(f.cfg.PendingFile); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a pending file exists with nothing pending: %v", err)
		}
		f.fault.set(func(f *fault) { f.writesDown = true })
		f.m.End(context.Background(), rt, "", false)
		if _, err := os.Stat(f.cfg.PendingFile); err != nil {
			t.Fatalf("no pending file with a logout waiting: %v", err)
		}
		f.fault.set(func(f *fault) { f.writesDown = false })
		f.m.Replay(context.Background())
		if _, err := os.Stat(f.cfg.PendingFile); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the pending file stayed after the last logout was recorded: %v", err)
		}
	})
}

// broken is a store whose session updates fail with an error that is not
// an outage.
type broken struct{ gatehouse.Store }

func (broken) UpdateSessionByToken(context.Context, string, time.Time,
	func(*gatehouse.Session, *gatehouse.User, *time.Time) (*gatehouse.Session, error)) (*gatehouse.Session, *gatehouse.User, error) {
	return nil, nil, errors.New("broken")
}

// TestEndStoreFailureNotQueued: a store failure that is not an outage is
// returned as it is, with a non-nil *Ended, and queues nothing.
func TestEndStoreFailureNotQueued(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s, func(c *Config) { c.Store = broken{s} })
		sess, raw, err := f.m.Start(context.Background(), f.user("1"), Client{})
		if err != nil {
			t.Fatal(err)
		}
		ended, err := f.m.End(context.Background(), raw, "", true)
		if err == nil || ended == nil || ended.Queued || f.m.Pending() != 0 {
			t.Fatalf("End = %+v, %v; want a non-nil *Ended, the error, nothing queued", ended, err)
		}
		if f.stored(sess.ID).RevokedAt != nil {
			t.Fatal("the session was revoked")
		}
	})
}
