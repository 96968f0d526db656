package keys

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/testclock"
	"github.com/gatehouse/gatehouse/internal/teststore"
)

// TestAuditKeyEvents: each key a plan adds (the first key, a rotation) is
// recorded as rotated and each revoked key as revoked, in the keys'
// transaction; an update that changes no key records nothing.
func TestAuditKeyEvents(t *testing.T) {
	teststore.Each(t, func(t *testing.T, s gatehouse.Store) {
		ctx := context.Background()
		clock := testclock.New(t0)
		m := newManager(t, s, clock)
		first := m.Signing().ID
		clock.Advance(time.Second)
		if err := m.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
		stored, err := m.Rotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		next := stored[len(stored)-1].ID
		clock.Advance(time.Second)
		if _, err := m.Revoke(ctx, first); err != nil {
			t.Fatal(err)
		}
		p, err := s.AuditEvents(ctx, gatehouse.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i := len(p.Events) - 1; i >= 0; i-- {
			got = append(got, p.Events[i].Type+" "+p.Events[i].Detail["kid"])
		}
		want := []string{"key_rotated " + first, "key_rotated " + next, "key_revoked " + first}
		if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Fatalf("events %q, want %q", got, want)
		}
	})
}
