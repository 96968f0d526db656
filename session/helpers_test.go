package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/testclock"
	"github.com/gatehouse/gatehouse/internal/teststore"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// fault is a store whose calls can be made to fail the ways a database
// does.
type fault struct {
	gatehouse.Store
	mu sync.Mutex
	// writesDown fails every write; reads go through.
	writesDown bool
	// readsDown fails the reads outside a transaction.
	readsDown bool
	// lostAnswer commits the next session update and then reports a
	// failure, as when the connection drops before the commit's answer.
	lostAnswer bool
	// abortAfterUpdate runs the next session update's rule and then aborts
	// its transaction, as when a write after the rule fails.
	abortAfterUpdate bool
	// updateTwice calls every session update's rule once more than the
	// store does, first, as a store whose batch failed calls it again.
	updateTwice bool
}

var errInjected = fmt.Errorf("%w: injected outage", gatehouse.ErrUnavailable)

func (f *fault) set(fn func(f *fault)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fault) get() fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fault{writesDown: f.writesDown, readsDown: f.readsDown, lostAnswer: f.lostAnswer, abortAfterUpdate: f.abortAfterUpdate,
		updateTwice: f.updateTwice}
}

func (f *fault) UpdateSessionByToken(ctx context.Context, th string, now time.Time,
	update func(*gatehouse.Session, *gatehouse.User, *time.Time) (*gatehouse.Session, error)) (*gatehouse.Session, *gatehouse.User, error) {
	st := f.get()
	switch {
	case st.writesDown:
		return nil, nil, errInjected
	case st.lostAnswer:
		f.set(func(f *fault) { f.lostAnswer = false })
		if _, _, err := f.Store.UpdateSessionByToken(ctx, th, now, update); err != nil {
			return nil, nil, err
		}
		return nil, nil, errInjected
	case st.abortAfterUpdate:
		f.set(func(f *fault) { f.abortAfterUpdate = false })
		abort := errors.New("abort")
		_, _, err := f.Store.UpdateSessionByToken(ctx, th, now, func(s *gatehouse.Session, u *gatehouse.User, at *time.Time) (*gatehouse.Session, error) {
			if _, err := update(s, u, at); err != nil {
				return nil, err
			}
			return nil, abort
		})
		if errors.Is(err, abort) {
			return nil, nil, errInjected
		}
		return nil, nil, err
	case st.updateTwice:
		return f.Store.UpdateSessionByToken(ctx, th, now, func(s *gatehouse.Session, u *gatehouse.User, at *time.Time) (*gatehouse.Session, error) {
			first := *s
			if _, err := update(&first, u, at); err != nil {
				return nil, err
			}
			return update(s, u, at)
		})
	}
	return f.Store.UpdateSessionByToken(ctx, th, now, update)
}

func (f *fault) RevokeSessions(ctx context.Context, userID string, at time.Time, reason string) (int64, error) {
	if f.get().writesDown {
		return 0, errInjected
	}
	return f.Store.RevokeSessions(ctx, userID, at, reason)
}

func (f *fault) CreateSession(ctx context.Context, s *gatehouse.Session) error {
	if f.get().writesDown {
		return errInjected
	}
	return f.Store.CreateSession(ctx, s)
}

func (f *fault) SessionUser(ctx context.Context, id string) (*gatehouse.Session, *gatehouse.User, error) {
	if f.get().readsDown {
		return nil, nil, errInjected
	}
	return f.Store.SessionUser(ctx, id)
}

func (f *fault) SessionStatus(ctx context.Context, id string) (*gatehouse.SessionStatus, *gatehouse.User, error) {
	if f.get().readsDown {
		return nil, nil, errInjected
	}
	return f.Store.SessionStatus(ctx, id)
}

func (f *fault) User(ctx context.Context, id string) (*gatehouse.User, error) {
	if f.get().readsDown {
		return nil, errInjected
	}
	return f.Store.User(ctx, id)
}

// fixture is a Manager on a real store behind a fault, with a fake clock,
// a pending file in a temporary directory, and the replay loop driven by
// hand.
type fixture struct {
	t     *testing.T
	m     *Manager
	store gatehouse.Store // the real store
	fault *fault
	clock *testclock.Clock
	tick  chan time.Time
	cfg   Config
	// live is the live refresh token of each session start made.
	live map[string]string
}

func newFixture(t *testing.T, store gatehouse.Store, opts ...func(*Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, store: store, fault: &fault{Store: store}, live: map[string]string{},
		clock: testclock.New(time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC))}
	f.cfg = Config{
		Store:       f.fault,
		Now:         f.clock.Now,
		PendingFile: filepath.Join(t.TempDir(), "pending-logouts"),
		RefreshRate: ratelimit.Unlimited,
		Logger:      slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(&f.cfg)
	}
	f.restart()
	return f
}

// restart starts a new Manager on the same configuration, as a restarted
// node would, closing the old one.
func (f *fixture) restart() {
	f.t.Helper()
	if f.m != nil {
		if err := f.m.Close(); err != nil {
			f.t.Fatal(err)
		}
	}
	f.tick = make(chan time.Time)
	m, err := newManager(f.cfg, f.tick)
	if err != nil {
		f.t.Fatal(err)
	}
	f.m = m
	f.t.Cleanup(func() { m.Close() })
}

// user stores a user for the account subject.
func (f *fixture) user(subject string) *gatehouse.User {
	f.t.Helper()
	u, err := f.store.UpsertIdentity(context.Background(), &gatehouse.Identity{Provider: "test", Subject: subject}, f.clock.Now(), gatehouse.EmailMatchNewAccount)
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

// start starts a session for a new user (or u, if given) and returns it
// with its first refresh token.
func (f *fixture) start(u *gatehouse.User) (*gatehouse.Session, string) {
	f.t.Helper()
	sess, raw, err := f.m.Start(context.Background(), u, Client{UserAgent: "test", IP: "192.0.2.1"})
	if err != nil {
		f.t.Fatal(err)
	}
	f.live[sess.ID] = raw
	return sess, raw
}

// refresh refreshes and requires success.
func (f *fixture) refresh(raw string) *Refreshed {
	f.t.Helper()
	res, err := f.m.Refresh(context.Background(), raw, "")
	if err != nil {
		f.t.Fatalf("Refresh: %v", err)
	}
	return res
}

// stored returns the session as stored now.
func (f *fixture) stored(id string) *gatehouse.Session {
	f.t.Helper()
	s, _, err := f.store.SessionUser(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// wantCode checks that err is a *gatehouse.Error with the code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := gatehouse.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

func each(t *testing.T, fn func(t *testing.T, s gatehouse.Store)) { teststore.Each(t, fn) }

// unrevoke brings a revoked session back, behind the store's back.
func (f *fixture) unrevoke(id string) {
	f.t.Helper()
	_, _, err := f.store.UpdateSessionByToken(context.Background(), hash(f.live[id]), f.clock.Now(),
		func(s *gatehouse.Session, _ *gatehouse.User, _ *time.Time) (*gatehouse.Session, error) {
			s.RevokedAt, s.RevokeReason = nil, ""
			return s, nil
		})
	if err != nil {
		f.t.Fatal(err)
	}
}
