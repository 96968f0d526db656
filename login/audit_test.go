package login

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// TestAuditLinkUnlink: a link and an unlink are written with the change,
// naming the user and the account; a refused link writes nothing. A first
// sign-in reports a new user, the next one a returning user.
func TestAuditLinkUnlink(t *testing.T) {
	each(t, func(t *testing.T, s gatehouse.Store) {
		f := newFixture(t, s)
		first := f.finish(f.login("idp", "192.0.2.1", "", "a"))
		if !first.NewUser {
			t.Fatal("first sign-in: NewUser false")
		}
		f.clock.Advance(time.Second)
		if again := f.finish(f.login("idp", "192.0.2.1", "", "a")); again.NewUser {
			t.Fatal("second sign-in: NewUser true")
		}
		me := first.User
		f.finish(f.login("idp", "192.0.2.1", "", "taken"))
		if _, err := f.finishAt("other", f.loginAs("other", me.ID, account("b"))); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Second)
		if _, err := f.finishAt("idp", f.loginAs("idp", me.ID, account("taken"))); gatehouse.ErrorCode(err) != gatehouse.EIdentityInUse {
			t.Fatalf("linking another user's account: %v", err)
		}
		ctx := gatehouse.WithAuditClient(context.Background(), "192.0.2.9", "UA")
		if err := f.m.Unlink(ctx, me.ID, "other", ""); err != nil {
			t.Fatal(err)
		}
		p, err := s.AuditEvents(context.Background(), gatehouse.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Events) != 2 {
			t.Fatalf("%d events, want 2: %+v", len(p.Events), p.Events)
		}
		for i, want := range []string{gatehouse.AuditIdentityUnlinked, gatehouse.AuditIdentityLinked} {
			ev := p.Events[i]
			if ev.Type != want || ev.UserID != me.ID || ev.Detail["provider"] != "other" || ev.Detail["subject"] != "b" {
				t.Errorf("event %d = %+v, want %s of other/b by %s", i, ev, want, me.ID)
			}
		}
		if p.Events[0].IP != "192.0.2.9" {
			t.Errorf("unlink IP = %q", p.Events[0].IP)
		}
	})
}
