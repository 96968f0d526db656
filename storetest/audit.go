package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

func auditPage(t *testing.T, s *Harness, f gatehouse.AuditFilter) *gatehouse.AuditPage {
	t.Helper()
	p, err := s.AuditEvents(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func auditTypes(evs []*gatehouse.AuditEvent) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

func wantAuditTypes(t *testing.T, s *Harness, f gatehouse.AuditFilter, want ...string) []*gatehouse.AuditEvent {
	t.Helper()
	evs := auditPage(t, s, f).Events
	if got := strings.Join(auditTypes(evs), ","); got != strings.Join(want, ",") {
		t.Fatalf("audit events = %s, want %s", got, strings.Join(want, ","))
	}
	return evs
}

func ev(typ string, at time.Time) gatehouse.AuditEvent {
	return gatehouse.AuditEvent{Type: typ, Time: at, Detail: map[string]string{"k": typ}}
}

// testAuditWithChanges: each write that carries events writes them, with
// the user and session it acted on filled in, and the client of
// WithAuditClient.
func testAuditWithChanges(t *testing.T, s *Harness) {
	bg := gatehouse.WithAuditClient(context.Background(), "203.0.113.9", "Agent/1")
	with := func(typ string, at time.Time) context.Context { return gatehouse.WithAudit(bg, ev(typ, at)) }
	u, err := s.UpsertIdentity(with("upsert", t0), identity("github", "1", "one"), t0, gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	if _, err := s.LinkIdentity(with("link", at(1)), u.ID, identity("gitlab", "2", "one"), at(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.UnlinkIdentity(with("unlink", at(2)), u.ID, "gitlab", "2"); err != nil {
		t.Fatal(err)
	}
	sess := &gatehouse.Session{ID: "s1", UserID: u.ID, Secret: []byte("x"), CurrentHash: "h1",
		CreatedAt: t0, LastUsedAt: t0, IdleExpiresAt: t0.Add(time.Hour), ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateSession(with("create", at(3)), sess); err != nil {
		t.Fatal(err)
	}
	// An updater decides its events inside the transaction.
	var decided bool
	ctx := gatehouse.WithAuditFunc(bg, func() []gatehouse.AuditEvent {
		if !decided {
			return nil
		}
		return []gatehouse.AuditEvent{ev("update", at(4))}
	})
	if _, _, err := s.UpdateSessionByToken(ctx, "h1", at(4), func(s *gatehouse.Session, _ *gatehouse.User, _ *time.Time) (*gatehouse.Session, error) {
		decided = true
		s.CurrentHash = "h2"
		return s, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(with("revoke", at(5)), u.ID, "s1", at(5), "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeSessions(with("revoke_all", at(6)), u.ID, at(6), "test"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUserDisabled(with("disable", at(7)), u.ID, true, at(7)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateSigningKeys(with("keys", at(8)), func(k []*gatehouse.SigningKey) ([]*gatehouse.SigningKey, error) { return k, nil }); err != nil {
		t.Fatal(err)
	}
	// Plain context: nothing written.
	if _, err := s.RevokeSessions(bg, u.ID, at(9), "test"); err != nil {
		t.Fatal(err)
	}
	evs := wantAuditTypes(t, s, gatehouse.AuditFilter{},
		"keys", "disable", "revoke_all", "revoke", "update", "create", "unlink", "link", "upsert")
	wantSession := map[string]string{"update": "s1", "revoke": "s1", "create": "s1"}
	for _, e := range evs {
		wantUser := u.ID
		if e.Type == "keys" {
			wantUser = ""
		}
		if e.UserID != wantUser || e.SessionID != wantSession[e.Type] {
			t.Errorf("%s: user %q session %q, want %q %q", e.Type, e.UserID, e.SessionID, wantUser, wantSession[e.Type])
		}
		if e.IP != "203.0.113.9" || e.UserAgent != "Agent/1" || e.Detail["k"] != e.Type || e.ID == "" {
			t.Errorf("%s: %+v", e.Type, e)
		}
	}
	if !evs[len(evs)-1].Time.Equal(t0.Truncate(time.Microsecond)) {
		t.Errorf("time = %v, want %v", evs[len(evs)-1].Time, t0)
	}
}

// testAuditAtomic: a write that fails or is refused writes none of its
// events.
func testAuditAtomic(t *testing.T, s *Harness) {
	bg := context.Background()
	with := func(typ string) context.Context { return gatehouse.WithAudit(bg, ev(typ, t0)) }
	undo := s.Break(t)
	_, err := s.UpsertIdentity(with("killed"), identity("github", "9", "nine"), t0, gatehouse.EmailMatchNewAccount)
	undo()
	if err == nil {
		t.Fatal("UpsertIdentity succeeded through a broken transaction")
	}
	u, sess := newSession(t, s, "1", "s1")
	other, _ := newSession(t, s, "2", "s2")
	boom := errors.New("boom")
	if _, _, err := s.UpdateSessionByToken(with("update"), sess.CurrentHash, t0, func(*gatehouse.Session, *gatehouse.User, *time.Time) (*gatehouse.Session, error) {
		return nil, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("UpdateSessionByToken = %v", err)
	}
	if _, err := s.UpdateSigningKeys(with("keys"), func([]*gatehouse.SigningKey) ([]*gatehouse.SigningKey, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("UpdateSigningKeys = %v", err)
	}
	if _, err := s.LinkIdentity(with("link"), u.ID, identity("github", "2", "x"), t0); !errors.Is(err, gatehouse.ErrIdentityInUse) {
		t.Fatalf("LinkIdentity = %v", err)
	}
	if err := s.UnlinkIdentity(with("unlink"), u.ID, "github", "1"); !errors.Is(err, gatehouse.ErrLastIdentity) {
		t.Fatalf("UnlinkIdentity = %v", err)
	}
	if err := s.RevokeSession(with("revoke"), u.ID, "s2", t0, "x"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("RevokeSession of another user's session = %v", err)
	}
	if err := s.SetUserDisabled(with("disable"), "nobody", true, t0); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("SetUserDisabled = %v", err)
	}
	// An event that cannot be stored fails the change with it.
	if err := s.SetUserDisabled(gatehouse.WithAudit(bg, gatehouse.AuditEvent{Type: "no time"}), other.ID, true, t0); !errors.Is(err, gatehouse.ErrInvalid) {
		t.Fatalf("SetUserDisabled with an event without a time = %v, want ErrInvalid", err)
	}
	if got, _ := s.User(bg, other.ID); got.DisabledAt != nil {
		t.Fatal("the user was disabled although its event failed")
	}
	wantAuditTypes(t, s, gatehouse.AuditFilter{})
	if n := s.Count(t, "audit_events"); n != 0 {
		t.Fatalf("audit_events = %d, want 0", n)
	}
}

// testAuditQuery: filters by user, type and time, and pages by (time, id)
// newest first, ties included, each event once.
func testAuditQuery(t *testing.T, s *Harness) {
	ctx := context.Background()
	add := func(typ, user string, at time.Time) {
		e := ev(typ, at)
		e.UserID = user
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	for i := range 7 {
		add("a", "u1", at(i))
		add("b", "u2", at(i)) // ties with the "a" of the same minute
	}
	add("a", "", at(10))
	cases := []struct {
		name string
		f    gatehouse.AuditFilter
		want int
	}{
		{"all", gatehouse.AuditFilter{}, 15},
		{"user", gatehouse.AuditFilter{UserID: "u1"}, 7},
		{"type", gatehouse.AuditFilter{Type: "a"}, 8},
		{"user and type", gatehouse.AuditFilter{UserID: "u2", Type: "a"}, 0},
		{"from", gatehouse.AuditFilter{From: at(5)}, 5},
		{"to", gatehouse.AuditFilter{To: at(2)}, 4},
		{"from to type", gatehouse.AuditFilter{Type: "b", From: at(1), To: at(3)}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, limit := range []int{0, 1, 2, 4, 100} {
				f := tc.f
				f.Limit = limit
				seen := map[string]bool{}
				var prev *gatehouse.AuditEvent
				for pages := 0; ; pages++ {
					if pages > 20 {
						t.Fatal("paging does not end")
					}
					p := auditPage(t, s, f)
					if limit > 0 && len(p.Events) > limit {
						t.Fatalf("limit %d: page of %d", limit, len(p.Events))
					}
					for _, e := range p.Events {
						if seen[e.ID] {
							t.Fatalf("limit %d: event %s twice", limit, e.ID)
						}
						seen[e.ID] = true
						if (tc.f.UserID != "" && e.UserID != tc.f.UserID) || (tc.f.Type != "" && e.Type != tc.f.Type) ||
							e.Time.Before(tc.f.From) || (!tc.f.To.IsZero() && !e.Time.Before(tc.f.To)) {
							t.Fatalf("event %+v does not match %+v", e, tc.f)
						}
						if prev != nil && (e.Time.After(prev.Time) || (e.Time.Equal(prev.Time) && e.ID > prev.ID)) {
							t.Fatalf("limit %d: %v/%s after %v/%s: not newest first", limit, e.Time, e.ID, prev.Time, prev.ID)
						}
						prev = e
					}
					if p.Next == "" {
						break
					}
					f.Cursor = p.Next
				}
				if len(seen) != tc.want {
					t.Fatalf("limit %d: %d events, want %d", limit, len(seen), tc.want)
				}
			}
		})
	}
	for _, bad := range []string{"x", "12", "12.", "a.b", "1.\x00"} {
		if _, err := s.AuditEvents(ctx, gatehouse.AuditFilter{Cursor: bad}); !errors.Is(err, gatehouse.ErrInvalid) {
			t.Errorf("cursor %q: %v, want ErrInvalid", bad, err)
		}
	}
}

// testAuditRetention: DeleteAuditEventsBefore deletes what is older than t,
// at most limit at a time.
func testAuditRetention(t *testing.T, s *Harness) {
	ctx := context.Background()
	for i := range 5 {
		if err := s.AppendAudit(ctx, ev("old", t0.Add(time.Duration(i)*time.Second))); err != nil {
			t.Fatal(err)
		}
	}
	cut := t0.Add(10 * time.Second)
	if err := s.AppendAudit(ctx, ev("new", cut)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []int64{2, 2, 1, 0} {
		n, err := s.DeleteAuditEventsBefore(ctx, cut, 2)
		if err != nil || n != want {
			t.Fatalf("DeleteAuditEventsBefore = %d, %v; want %d", n, err, want)
		}
	}
	wantAuditTypes(t, s, gatehouse.AuditFilter{}, "new")
}

// testAuditBounds: events are stored within their bounds whatever they
// are given, and one without a time or type is refused.
func testAuditBounds(t *testing.T, s *Harness) {
	ctx := context.Background()
	long := strings.Repeat("é", 300)
	e := gatehouse.AuditEvent{Type: "bounds", Time: t0, UserAgent: "UA\x00" + long, IP: "bad\xff",
		Detail: map[string]string{}}
	for i := range 20 {
		e.Detail[strings.Repeat("k", i+1)] = long + "\x01\x00"
	}
	if err := s.AppendAudit(ctx, e); err != nil {
		t.Fatal(err)
	}
	got := wantAuditTypes(t, s, gatehouse.AuditFilter{}, "bounds")[0]
	if len(got.UserAgent) > gatehouse.MaxAuditUserAgent || !strings.HasPrefix(got.UserAgent, "UAé") {
		t.Errorf("user agent of %d bytes: %q", len(got.UserAgent), got.UserAgent)
	}
	if got.IP != "bad\uFFFD" {
		t.Errorf("IP = %q", got.IP)
	}
	if d := got.DetailJSON(); len(d) > gatehouse.MaxAuditDetail || len(got.Detail) == 0 {
		t.Errorf("detail of %d bytes, %d keys", len(d), len(got.Detail))
	}
	for _, bad := range []gatehouse.AuditEvent{{Type: "x"}, {Time: t0}} {
		if err := s.AppendAudit(ctx, bad); !errors.Is(err, gatehouse.ErrInvalid) {
			t.Errorf("AppendAudit(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}
