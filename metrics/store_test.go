package metrics_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/teststore"
)

const storeErrorsHelp = `# HELP gatehouse_store_errors_total Store operations that failed, by operation and kind (unavailable: retryable; internal: any other).
# TYPE gatehouse_store_errors_total counter
`

// TestStoreAnswersAreNotErrors: not found, conflicts, refused values and
// a rule's own error from an updater are answers the store gives in
// normal use, and are not counted.
func TestStoreAnswersAreNotErrors(t *testing.T) {
	teststore.Each(t, func(t *testing.T, s gatehouse.Store) {
		ctx := context.Background()
		reg, m := newMetrics(t)
		ws := m.Store(s)
		if err := ws.CreateLoginState(ctx, loginState("s1"), "", 0); err != nil {
			t.Fatal(err)
		}
		rule := gatehouse.Errorf(gatehouse.EInvalidRequest, "a rule said no")
		cases := []struct {
			name string
			call func() error
			want error
		}{
			{"user not found", func() error { _, err := ws.User(ctx, "nobody"); return err }, gatehouse.ErrNotFound},
			{"login state not found", func() error { _, err := ws.ConsumeLoginState(ctx, "nope", "nope"); return err }, gatehouse.ErrNotFound},
			{"conflict", func() error { return ws.CreateLoginState(ctx, loginState("s1"), "", 0) }, gatehouse.ErrConflict},
			{"too many", func() error { return ws.CreateLoginState(ctx, loginState("s2"), "", 1) }, gatehouse.ErrTooMany},
			{"invalid text", func() error { return ws.CreateLoginState(ctx, loginState("nul\x00"), "", 0) }, gatehouse.ErrInvalid},
			{"session not found", func() error { _, _, err := ws.SessionUser(ctx, "nope"); return err }, gatehouse.ErrNotFound},
			{"revoking an unknown session", func() error { return ws.RevokeSession(ctx, "nobody", "nope", t0, "logout") }, gatehouse.ErrNotFound},
			{"a rule's error from an updater", func() error {
				_, err := ws.UpdateSigningKeys(ctx, func([]*gatehouse.SigningKey) ([]*gatehouse.SigningKey, error) { return nil, rule })
				return err
			}, rule},
		}
		for _, tc := range cases {
			if err := tc.call(); !errors.Is(err, tc.want) {
				t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
			}
			if err := testutil.GatherAndCompare(reg, strings.NewReader(""), "gatehouse_store_errors_total"); err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
	})
}

// TestStoreCountsFailures: an outage counts as unavailable, by operation;
// any other error as internal.
func TestStoreCountsFailures(t *testing.T) {
	teststore.Each(t, func(t *testing.T, s gatehouse.Store) {
		ctx := context.Background()
		reg, m := newMetrics(t)
		ws := m.Store(s)

		boom := errors.New("boom")
		if _, err := ws.UpdateSigningKeys(ctx, func([]*gatehouse.SigningKey) ([]*gatehouse.SigningKey, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Fatalf("got %v, want the updater's error", err)
		}
		// A caller that gave up is not an outage: nothing is counted.
		gone, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := ws.User(gone, "someone"); err == nil {
			t.Fatal("User with a cancelled context succeeded")
		}
		s.Close()
		for _, call := range []func() error{
			func() error { return ws.Ping(ctx) },
			func() error { return ws.Ping(ctx) },
			func() error { _, err := ws.User(ctx, "someone"); return err },
			func() error { _, err := ws.(gatehouse.Counter).Count(ctx, t0); return err },
		} {
			if err := call(); !errors.Is(err, gatehouse.ErrUnavailable) {
				t.Errorf("on a closed store: got %v, want ErrUnavailable", err)
			}
		}
		want := storeErrorsHelp + `gatehouse_store_errors_total{kind="internal",operation="UpdateSigningKeys"} 1
gatehouse_store_errors_total{kind="unavailable",operation="Count"} 1
gatehouse_store_errors_total{kind="unavailable",operation="Ping"} 2
gatehouse_store_errors_total{kind="unavailable",operation="User"} 1
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gatehouse_store_errors_total"); err != nil {
			t.Error(err)
		}
	})
}

// TestStoreCount: the wrapped store counts what the store counts, and is
// a Counter only if the store is one.
func TestStoreCount(t *testing.T) {
	teststore.Each(t, func(t *testing.T, s gatehouse.Store) {
		ctx := context.Background()
		_, m := newMetrics(t)
		for _, h := range []string{"s1", "s2"} {
			if err := s.CreateLoginState(ctx, loginState(h), "", 0); err != nil {
				t.Fatal(err)
			}
		}
		c, ok := m.Store(s).(gatehouse.Counter)
		if !ok {
			t.Fatal("the wrapped store is not a Counter")
		}
		got, err := c.Count(ctx, t0)
		if want := (gatehouse.Counts{LoginStates: 2}); err != nil || got != want {
			t.Errorf("got %+v, %v; want %+v", got, err, want)
		}
		if _, ok := m.Store(struct{ gatehouse.Store }{s}).(gatehouse.Counter); ok {
			t.Error("a store that cannot count is a Counter once wrapped")
		}
	})
}
