package session

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

func auditTypes(t *testing.T, s gatehouse.Store) string {
	t.Helper()
	p, err := s.AuditEvents(context.Background(), gatehouse.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(p.Events) - 1; i >= 0; i-- {
		ev := p.Events[i]
		out = append(out, ev.Type+"/"+ev.SessionID+"/"+ev.Detail["during"]+"/"+ev.IP)
	}
	return strings.Join(out, " ")
}

// TestAuditEvents: reuse (on refresh and on logout), a logout and a
// global logout are written with the session's change, naming the
// session and the client of the context; Supersede writes no logout.
func TestAuditEvents(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		ctx := gatehouse.WithAuditClient(context.Background(), "198.51.100.4", "UA")
		u := f.user("1")
		s1, rt1 := f.start(u)
		f.refresh(rt1)
		f.clock.Advance(time.Minute)
		if _, err := f.m.Refresh(ctx, rt1, ""); gatehouse.ErrorCode(err) != gatehouse.ERefreshReused {
			t.Fatalf("Refresh = %v, want reuse", err)
		}
		s2, rt2 := f.start(u)
		f.refresh(rt2)
		f.clock.Advance(time.Minute)
		if _, err := f.m.End(ctx, rt2, "", false); gatehouse.ErrorCode(err) != gatehouse.ERefreshReused {
			t.Fatalf("End = %v, want reuse", err)
		}
		f.clock.Advance(time.Second)
		s3, rt3 := f.start(u)
		if _, err := f.m.End(ctx, rt3, "", false); err != nil {
			t.Fatal(err)
		}
		_, rt4 := f.start(u)
		if err := f.m.Supersede(ctx, rt4); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Second)
		s5, rt5 := f.start(u)
		if _, err := f.m.End(ctx, rt5, "", true); err != nil {
			t.Fatal(err)
		}
		want := strings.Join([]string{
			"refresh_reuse/" + s1.ID + "/refresh/198.51.100.4",
			"refresh_reuse/" + s2.ID + "/logout/198.51.100.4",
			"logout/" + s3.ID + "//198.51.100.4",
			"logout_global/" + s5.ID + "//198.51.100.4",
		}, " ")
		if got := auditTypes(t, s); got != want {
			t.Fatalf("audit events:\n%s\nwant\n%s", got, want)
		}
	})
}
