package cleanup

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/testclock"
	"github.com/gatehouse/gatehouse/internal/teststore"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/session"
)

var t0 = time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)

// counting records the limits the loop deletes with, and can hold a
// delete until released, as a slow database would.
type counting struct {
	gatehouse.Store
	mu     sync.Mutex
	limits []int
	hold   chan struct{} // if set, each delete waits on it or its context
	// entered, if set, gets a value as each delete starts.
	entered chan struct{}
}

func (c *counting) record(ctx context.Context, limit int) error {
	c.mu.Lock()
	c.limits = append(c.limits, limit)
	hold, entered := c.hold, c.entered
	c.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (c *counting) DeleteExpiredLoginStates(ctx context.Context, t time.Time, limit int) (int64, error) {
	if err := c.record(ctx, limit); err != nil {
		return 0, err
	}
	return c.Store.DeleteExpiredLoginStates(ctx, t, limit)
}

func (c *counting) DeleteEndedSessions(ctx context.Context, t time.Time, limit int) (int64, error) {
	if err := c.record(ctx, limit); err != nil {
		return 0, err
	}
	return c.Store.DeleteEndedSessions(ctx, t, limit)
}

// seed stores n expired login states, n ended sessions and one of each
// that is still live.
func seed(t *testing.T, s gatehouse.Store, n int) {
	t.Helper()
	ctx := context.Background()
	u, err := s.UpsertIdentity(ctx, &gatehouse.Identity{Provider: "test", Subject: "1"}, t0, gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n + 1 {
		exp := t0.Add(-time.Second)
		if i == n {
			exp = t0.Add(time.Hour)
		}
		ls := &gatehouse.LoginState{StateHash: fmt.Sprint("s", i), BindingHash: fmt.Sprint("b", i), Provider: "test",
			RedirectURI: "https://app/cb", CodeVerifier: "v", Nonce: "n", CreatedAt: exp.Add(-10 * time.Minute), ExpiresAt: exp}
		if err := s.CreateLoginState(ctx, ls, "", 0); err != nil {
			t.Fatal(err)
		}
		sess := &gatehouse.Session{ID: fmt.Sprint("sess", i), UserID: u.ID, Secret: []byte{1}, CurrentHash: fmt.Sprint("h", i),
			CreatedAt: t0.Add(-time.Hour), LastUsedAt: t0.Add(-time.Hour), IdleExpiresAt: exp, ExpiresAt: t0.Add(time.Hour)}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
	}
}

func newLoop(s gatehouse.Store, tick <-chan time.Time) *Loop {
	return start(Config{Store: s, Batch: 10, Now: func() time.Time { return t0 }, Logger: slog.New(slog.DiscardHandler)}, tick)
}

// TestRunDeletesInBatches: one run deletes everything that has ended, in
// statements of at most Batch rows, and nothing that is live.
func TestRunDeletesInBatches(t *testing.T) {
	teststore.Each(t, func(t *testing.T, s gatehouse.Store) {
		seed(t, s, 25)
		c := &counting{Store: s}
		l := newLoop(c, nil)
		defer l.Close()
		got := l.Run(context.Background())
		if got != (Result{LoginStates: 25, Sessions: 25}) {
			t.Fatalf("Run = %+v, want 25 of each", got)
		}
		// 10, 10, 5 for each kind.
		if len(c.limits) != 6 {
			t.Fatalf("%d delete statements, want 6", len(c.limits))
		}
		for _, lim := range c.limits {
			if lim != 10 {
				t.Fatalf("a delete with limit %d, want 10", lim)
			}
		}
		if again := l.Run(context.Background()); again != (Result{}) {
			t.Fatalf("a second run deleted %+v, want nothing", again)
		}
		if _, _, err := s.SessionUser(context.Background(), "sess25"); err != nil {
			t.Fatalf("the live session was deleted: %v", err)
		}
	})
}

// TestLoopRunsOnTickAndStopsOnClose: the loop runs on its tick, with a
// context of its own, and Close cuts a run short and waits for it.
func TestLoopRunsOnTickAndStopsOnClose(t *testing.T) {
	teststore.Each(t, func(t *testing.T, s gatehouse.Store) {
		seed(t, s, 5)
		c := &counting{Store: s, hold: make(chan struct{}), entered: make(chan struct{}, 10)}
		tick := make(chan time.Time)
		l := newLoop(c, tick)
		tick <- t0
		<-c.entered
		// The run is now held inside its first delete; Close must not
		// wait for the database.
		closed := make(chan struct{})
		go func() { l.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("Close waited for a held delete")
		}
	})
}

// TestRunDeletesEndedSessions: sessions that ended by going idle (with the
// hashes of their rotated tokens) or by a logout are deleted by a run, and
// only by it: using their tokens afterwards deletes nothing. A live session
// stays.
func TestRunDeletesEndedSessions(t *testing.T) {
	teststore.Each(t, func(t *testing.T, s gatehouse.Store) {
		ctx := context.Background()
		clock := testclock.New(t0)
		m, err := session.New(session.Config{Store: s, Now: clock.Now, IdleTimeout: time.Hour,
			RefreshRate: ratelimit.Unlimited, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		start := func(subject string) (*gatehouse.Session, string) {
			u, err := s.UpsertIdentity(ctx, &gatehouse.Identity{Provider: "test", Subject: subject}, clock.Now(), gatehouse.EmailMatchNewAccount)
			if err != nil {
				t.Fatal(err)
			}
			sess, rt, err := m.Start(ctx, u, session.Client{})
			if err != nil {
				t.Fatal(err)
			}
			return sess, rt
		}
		idle, first := start("1")
		res, err := m.Refresh(ctx, first, "")
		if err != nil {
			t.Fatal(err)
		}
		loggedOut, rt2 := start("2")
		if _, err := m.End(ctx, rt2, "", false); err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Hour)
		live, rt3 := start("3")
		// Requests with the ended sessions' tokens delete nothing.
		m.Refresh(ctx, res.Token, "")
		m.Refresh(ctx, first, "")
		m.End(ctx, rt2, "", true)
		for _, id := range []string{idle.ID, loggedOut.ID} {
			if _, _, err := s.SessionUser(ctx, id); err != nil {
				t.Fatalf("session %s before the run: %v, want it still stored", id, err)
			}
		}

		if err := findToken(s, first, clock.Now()); err != nil {
			t.Fatalf("the rotated token before the run: %v, want it stored", err)
		}

		l := newLoop(s, nil)
		l.cfg.Now = clock.Now
		defer l.Close()
		if got := l.Run(ctx); got.Sessions != 2 {
			t.Fatalf("Run deleted %d sessions, want 2", got.Sessions)
		}
		for _, id := range []string{idle.ID, loggedOut.ID} {
			if _, _, err := s.SessionUser(ctx, id); !errors.Is(err, gatehouse.ErrNotFound) {
				t.Fatalf("session %s after the run: %v, want ErrNotFound", id, err)
			}
		}
		// The rotated token's hash went with its session.
		if err := findToken(s, first, clock.Now()); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Fatalf("the rotated token after the run: %v, want ErrNotFound", err)
		}
		if _, err := m.Refresh(ctx, rt3, ""); err != nil {
			t.Fatalf("the live session %s after the run: %v", live.ID, err)
		}
	})
}

// findToken looks the refresh token raw up in the store, by its hash as
// package session stores it, and changes nothing.
func findToken(s gatehouse.Store, raw string, now time.Time) error {
	sum := sha256.Sum256([]byte(raw))
	errFound := errors.New("found")
	_, _, err := s.UpdateSessionByToken(context.Background(), base64.RawURLEncoding.EncodeToString(sum[:]), now,
		func(*gatehouse.Session, *gatehouse.User, *time.Time) (*gatehouse.Session, error) {
			return nil, errFound
		})
	if errors.Is(err, errFound) {
		return nil
	}
	return err
}

// TestRunDeletesOldAuditEvents: a run deletes the audit events older than
// the retention as of its clock, in batches, and keeps the rest.
func TestRunDeletesOldAuditEvents(t *testing.T) {
	teststore.Each(t, func(t *testing.T, s gatehouse.Store) {
		ctx := context.Background()
		retention := 48 * time.Hour
		for i := range 25 {
			at := t0.Add(-retention - time.Duration(i+1)*time.Minute)
			if err := s.AppendAudit(ctx, gatehouse.AuditEvent{Type: "old", Time: at}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.AppendAudit(ctx, gatehouse.AuditEvent{Type: "kept", Time: t0.Add(-retention + time.Minute)}); err != nil {
			t.Fatal(err)
		}
		now := t0.Add(-time.Hour) // a clock before t0 deletes nothing yet
		c := &counting{Store: s}
		l := start(Config{Store: c, Batch: 10, AuditRetention: retention, Now: func() time.Time { return now },
			Logger: slog.New(slog.DiscardHandler)}, nil)
		defer l.Close()
		if got := l.Run(ctx); got.AuditEvents != 0 {
			t.Fatalf("run an hour early deleted %d events", got.AuditEvents)
		}
		now = t0
		if got := l.Run(ctx); got.AuditEvents != 25 {
			t.Fatalf("Run deleted %d audit events, want 25", got.AuditEvents)
		}
		p, err := s.AuditEvents(ctx, gatehouse.AuditFilter{})
		if err != nil || len(p.Events) != 1 || p.Events[0].Type != "kept" {
			t.Fatalf("left %+v, %v; want the kept event", p, err)
		}
	})
}

func TestConfigCheck(t *testing.T) {
	for _, r := range []time.Duration{-time.Hour, time.Hour, 11 * 366 * 24 * time.Hour} {
		err := Config{AuditRetention: r}.Check()
		if ce, ok := errors.AsType[*gatehouse.ConfigError](err); !ok || ce.Field != "AuditRetention" {
			t.Errorf("Check(%s) = %v, want a ConfigError for AuditRetention", r, err)
		}
	}
	for _, r := range []time.Duration{0, 24 * time.Hour, 90 * 24 * time.Hour} {
		if err := (Config{AuditRetention: r}).Check(); err != nil {
			t.Errorf("Check(%s) = %v", r, err)
		}
	}
}
