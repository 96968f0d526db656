package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// statusSession stores a user and a session of theirs with the given id.
func statusSession(t *testing.T, s gatehouse.Store, subject, id string) *gatehouse.User {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	u, err := s.UpsertIdentity(ctx, &gatehouse.Identity{Provider: "github", Subject: subject}, now, gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	err = s.CreateSession(ctx, &gatehouse.Session{ID: id, UserID: u.ID, Secret: []byte("x"), CurrentHash: "rt-" + id,
		CreatedAt: now, LastUsedAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestStatusBatch reads a batch of checks in one query: each gets the
// row of its own id, a repeated id a copy each, an unknown id none, and
// ids that JSON must escape are matched exactly.
func TestStatusBatch(t *testing.T) {
	s := openTest(t)
	odd := `a"b\c<&>` + "\u2028\t"
	users := map[string]string{
		"s1": statusSession(t, s, "1", "s1").ID,
		odd:  statusSession(t, s, "2", odd).ID,
	}
	ids := []string{"s1", odd, "s1", "nope", `a"b`, "s"}
	queries := make([]*statusQuery, len(ids))
	for i, id := range ids {
		queries[i] = &statusQuery{id: id}
	}
	c, err := s.openStatusConn()
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if _, err := c.read(queries, nil); err != nil {
		t.Fatal(err)
	}
	for _, q := range queries {
		want, ok := users[q.id]
		switch {
		case !ok && q.status != nil:
			t.Errorf("id %q: got session %q, want none", q.id, q.status.ID)
		case ok && (q.status == nil || q.status.ID != q.id || q.user.ID != want):
			t.Errorf("id %q: got %+v, %+v; want the session of user %q", q.id, q.status, q.user, want)
		}
	}
	if queries[0].status == queries[2].status || queries[0].user == queries[2].user {
		t.Error("two checks of one session share their answer")
	}
	// Through SessionStatus, an unknown id is ErrNotFound.
	if _, _, err := s.SessionStatus(context.Background(), `a"b`); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("SessionStatus of an unknown id: %v, want ErrNotFound", err)
	}
}
