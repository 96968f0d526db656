package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/pgtest"
)

var rotT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// rotationFixture is a store with one user and the sessions s1…sN, whose
// live tokens have the hashes h1…hN.
func rotationFixture(t *testing.T, n int) *Store {
	t.Helper()
	s := openAt(t, pgtest.Schema(t))
	ctx := context.Background()
	login := "octocat"
	u, err := s.UpsertIdentity(ctx, &gatehouse.Identity{Provider: "github", Subject: "1", Profile: gatehouse.Profile{Login: &login}}, rotT0, gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		id := "s" + string(rune('0'+i))
		sess := &gatehouse.Session{ID: id, UserID: u.ID, Secret: []byte("secret"), CurrentHash: "h" + string(rune('0'+i)),
			CreatedAt: rotT0, LastUsedAt: rotT0, IdleExpiresAt: rotT0.Add(time.Hour), ExpiresAt: rotT0.Add(time.Hour)}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// rotateTo is an update that rotates the session to the hash next, and
// counts its calls.
func rotateTo(next string, calls *int) func(*gatehouse.Session, *gatehouse.User, *time.Time) (*gatehouse.Session, error) {
	return func(s *gatehouse.Session, _ *gatehouse.User, retired *time.Time) (*gatehouse.Session, error) {
		*calls++
		if retired != nil {
			return nil, errors.New("called with a retired token")
		}
		s.CurrentHash = next
		s.LastUsedAt = rotT0.Add(time.Minute)
		return s, nil
	}
}

func request(ctx context.Context, hash string, update func(*gatehouse.Session, *gatehouse.User, *time.Time) (*gatehouse.Session, error)) *rotationRequest {
	return &rotationRequest{ctx: ctx, tokenHash: hash, now: rotT0.Add(time.Minute), update: update, done: make(chan rotationResult, 1)}
}

// runBatch runs reqs as one batch and returns their results.
func runBatch(s *Store, reqs ...*rotationRequest) []rotationResult {
	s.rotateBatch(reqs)
	out := make([]rotationResult, len(reqs))
	for i, r := range reqs {
		out[i] = <-r.done
	}
	return out
}

func currentHash(t *testing.T, s *Store, id string) string {
	t.Helper()
	var h string
	if err := s.pool.QueryRow(context.Background(), `SELECT current_hash FROM sessions WHERE id = $1`, id).Scan(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

func count(t *testing.T, s *Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// One batch: each refresh gets its own rules, writes and audit events; a
// refusal writes nothing and leaves the others alone; a second refresh with
// the same token, a retired token and an unknown one are left to run on
// their own; a refresh whose caller has gone is not run.
func TestRotationBatch(t *testing.T) {
	s := rotationFixture(t, 4)
	ctx := context.Background()
	var calls [6]int
	// h4 is retired: s4 was rotated to h4b before.
	if _, _, err := s.UpdateSessionByToken(ctx, "h4", rotT0, rotateTo("h4b", new(int))); err != nil {
		t.Fatal(err)
	}
	audited := gatehouse.WithAuditFunc(ctx, func() []gatehouse.AuditEvent {
		return []gatehouse.AuditEvent{{Type: gatehouse.AuditRefreshReuse, Time: rotT0}}
	})
	gone, cancel := context.WithCancel(ctx)
	cancel()
	refused := errors.New("refused")
	res := runBatch(s,
		request(audited, "h1", rotateTo("h1b", &calls[0])),
		request(ctx, "h2", func(*gatehouse.Session, *gatehouse.User, *time.Time) (*gatehouse.Session, error) {
			calls[1]++
			return nil, refused
		}),
		request(ctx, "h1", rotateTo("h1c", &calls[2])),
		request(ctx, "h4", rotateTo("h4c", &calls[3])),
		request(ctx, "unknown", rotateTo("x", &calls[4])),
		request(gone, "h3", rotateTo("h3b", &calls[5])),
	)

	if r := res[0]; r.err != nil || r.alone || r.sess == nil || r.sess.CurrentHash != "h1b" || r.user == nil || r.user.ID == "" {
		t.Errorf("live token: %+v, want the rotated session and its user", r)
	}
	if r := res[1]; !errors.Is(r.err, refused) || r.alone {
		t.Errorf("refused refresh: %+v, want its own error", r)
	}
	for i, what := range map[int]string{2: "the same token again", 3: "a retired token", 4: "an unknown token"} {
		if r := res[i]; !r.alone || r.err != nil {
			t.Errorf("%s: %+v, want it left to run alone", what, r)
		}
	}
	if r := res[5]; !errors.Is(r.err, gatehouse.ErrUnavailable) || !errors.Is(r.err, context.Canceled) {
		t.Errorf("a gone caller's refresh: %+v, want its context's error", r)
	}
	if want := [6]int{1, 1, 0, 0, 0, 0}; calls != want {
		t.Errorf("update calls = %v, want %v", calls, want)
	}
	if h := currentHash(t, s, "s1"); h != "h1b" {
		t.Errorf("s1's hash = %q, want h1b", h)
	}
	if h := currentHash(t, s, "s2"); h != "h2" {
		t.Errorf("s2's hash = %q after a refused refresh, want h2", h)
	}
	if n := count(t, s, `SELECT count(*) FROM retired_refresh_tokens WHERE hash = 'h1' AND session_id = 's1'`); n != 1 {
		t.Errorf("h1 retired %d times, want once", n)
	}
	if n := count(t, s, `SELECT count(*) FROM audit_events WHERE session_id = 's1' AND type = $1`, gatehouse.AuditRefreshReuse); n != 1 {
		t.Errorf("s1 has %d events of its refresh's context, want 1", n)
	}
	if n := count(t, s, `SELECT count(*) FROM audit_events`); n != 1 {
		t.Errorf("%d audit events in all, want only the one refresh's", n)
	}

	// What was left alone runs on its own as UpdateSessionByToken runs it:
	// the second h1 now finds its token retired.
	var retiredSeen bool
	_, _, err := s.UpdateSessionByToken(ctx, "h1", rotT0.Add(time.Minute), func(sess *gatehouse.Session, _ *gatehouse.User, retired *time.Time) (*gatehouse.Session, error) {
		retiredSeen = retired != nil
		return sess, nil
	})
	if err != nil || !retiredSeen {
		t.Errorf("h1 after the batch: err %v, retired seen %v; want it found as retired", err, retiredSeen)
	}
}

// A batch whose transaction fails leaves every refresh to run on its own,
// having written nothing; on its own, each gets its own outcome.
func TestRotationBatchFailure(t *testing.T) {
	s := rotationFixture(t, 3)
	ctx := context.Background()
	var calls [2]int
	// s2's new hash is s3's live one: the unique index refuses the batch.
	res := runBatch(s,
		request(ctx, "h1", rotateTo("h1b", &calls[0])),
		request(ctx, "h2", rotateTo("h3", &calls[1])),
	)
	for i, r := range res {
		if !r.alone || r.err != nil {
			t.Errorf("refresh %d of a failed batch: %+v, want it left to run alone", i, r)
		}
	}
	if h1, h2 := currentHash(t, s, "s1"), currentHash(t, s, "s2"); h1 != "h1" || h2 != "h2" {
		t.Errorf("after a failed batch: s1 %q, s2 %q; want both unchanged", h1, h2)
	}
	if n := count(t, s, `SELECT count(*) FROM retired_refresh_tokens`); n != 0 {
		t.Errorf("%d retired tokens after a failed batch, want 0", n)
	}
	if _, _, err := s.UpdateSessionByToken(ctx, "h1", rotT0.Add(time.Minute), rotateTo("h1b", &calls[0])); err != nil {
		t.Errorf("h1 on its own: %v", err)
	}
	if _, _, err := s.UpdateSessionByToken(ctx, "h2", rotT0.Add(time.Minute), rotateTo("h3", &calls[1])); !errors.Is(err, gatehouse.ErrConflict) {
		t.Errorf("h2 to s3's hash on its own: %v, want ErrConflict", err)
	}
	if h := currentHash(t, s, "s1"); h != "h1b" {
		t.Errorf("s1's hash = %q, want h1b", h)
	}
}

// TestRotationAfterClose: a refresh after Close is ErrUnavailable, not a
// hang.
func TestRotationAfterClose(t *testing.T) {
	s := rotationFixture(t, 1)
	s.Close()
	_, _, err := s.UpdateSessionByToken(context.Background(), "h1", rotT0, rotateTo("h1b", new(int)))
	if !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("UpdateSessionByToken after Close: %v, want ErrUnavailable", err)
	}
}

// TestRotationTwoNodes: two stores on one database, as two nodes, each
// batching its refreshes, all refreshing the same tokens at once. Each
// token is rotated exactly once, whichever node's batch gets it; every
// other refresh of it finds it retired, on either node.
func TestRotationTwoNodes(t *testing.T) {
	url := pgtest.Schema(t)
	a, b := openAt(t, url), openAt(t, url)
	ctx := context.Background()
	login := "octocat"
	u, err := a.UpsertIdentity(ctx, &gatehouse.Identity{Provider: "github", Subject: "1", Profile: gatehouse.Profile{Login: &login}}, rotT0, gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	const sessions, perNode = 8, 10
	for i := range sessions {
		id := fmt.Sprint("s", i)
		if err := a.CreateSession(ctx, &gatehouse.Session{ID: id, UserID: u.ID, Secret: []byte("secret"), CurrentHash: "h-" + id,
			CreatedAt: rotT0, LastUsedAt: rotT0, IdleExpiresAt: rotT0.Add(time.Hour), ExpiresAt: rotT0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	begin := make(chan struct{})
	for _, node := range []*Store{a, b} {
		for i := range sessions {
			hash := fmt.Sprint("h-s", i)
			for range perNode {
				wg.Go(func() {
					<-begin
					_, _, err := node.UpdateSessionByToken(ctx, hash, rotT0.Add(time.Minute), func(s *gatehouse.Session, _ *gatehouse.User, retired *time.Time) (*gatehouse.Session, error) {
						if retired == nil {
							s.CurrentHash = hash + "-next"
						}
						return s, nil // a retired token rotates nothing
					})
					if err != nil {
						t.Errorf("refresh of %s: %v", hash, err)
					}
				})
			}
		}
	}
	close(begin)
	wg.Wait()
	for i := range sessions {
		id := fmt.Sprint("s", i)
		if h := currentHash(t, a, id); h != "h-"+id+"-next" {
			t.Errorf("%s's hash = %q, want it rotated once", id, h)
		}
		if n := count(t, a, `SELECT count(*) FROM retired_refresh_tokens WHERE session_id = $1`, id); n != 1 {
			t.Errorf("%s has %d retired tokens, want 1", id, n)
		}
	}
}
