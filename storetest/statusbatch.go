package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/sessioncheck"
)

// StatusBatch checks a store's batch read of session checks, read (one
// batch, one query): each check gets the row of its own id, a repeated id
// a copy each, an unknown id none, and ids with characters a batch's
// argument must quote are matched exactly.
func StatusBatch(t *testing.T, s gatehouse.Store, read func([]*sessioncheck.Check) error) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	session := func(subject, id string) string {
		u, err := s.UpsertIdentity(ctx, &gatehouse.Identity{Provider: "github", Subject: subject}, now, gatehouse.EmailMatchNewAccount)
		if err != nil {
			t.Fatal(err)
		}
		err = s.CreateSession(ctx, &gatehouse.Session{ID: id, UserID: u.ID, Secret: []byte("x"), CurrentHash: "rt-" + id,
			CreatedAt: now, LastUsedAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	odd := `a"b\c<&>{},` + "\u2028\t" // JSON's and PostgreSQL array literals' specials
	users := map[string]string{"s1": session("1", "s1"), odd: session("2", odd)}
	ids := []string{"s1", odd, "s1", "nope", `a"b`, "s"}
	checks := make([]*sessioncheck.Check, len(ids))
	for i, id := range ids {
		checks[i] = sessioncheck.NewCheck(id)
	}
	err := read(checks)
	answered := append([]*sessioncheck.Check(nil), checks...)
	sessioncheck.Answer(checks, err)
	if err != nil {
		t.Fatal(err)
	}
	var first0, first2 *gatehouse.SessionStatus
	for i, c := range answered {
		st, u, err := c.Result()
		want, ok := users[c.ID]
		switch {
		case !ok && !errors.Is(err, gatehouse.ErrNotFound):
			t.Errorf("id %q: got %+v, %v; want ErrNotFound", c.ID, st, err)
		case ok && (err != nil || st.ID != c.ID || u.ID != want):
			t.Errorf("id %q: got %+v, %+v, %v; want the session of user %q", c.ID, st, u, err, want)
		}
		switch i {
		case 0:
			first0 = st
		case 2:
			first2 = st
		}
	}
	if first0 != nil && first0 == first2 {
		t.Error("two checks of one session share their answer")
	}
}
