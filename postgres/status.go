package postgres

import (
	"context"
	"fmt"
	"sync"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/sessioncheck"
)

// The session check of every request is read in batches: statusLoops
// long-lived goroutines each take every check waiting (up to
// sessioncheck.MaxBatch) and read them in one query, one round trip. A
// batch starts after each of its checks arrived, so every check still
// reads the database after its request came in: a session revoked before
// that is seen as revoked.
// Under load, one round trip, one pool acquisition and one wake-up of a
// PostgreSQL backend serve many requests; alone, a check waits at most for
// the batch already out.

const (
	// statusLoops is how many batches of session checks can be in flight
	// at once, each on a pooled connection of its own. One: while its
	// batch is out, the checks arriving wait for the next, so batches
	// grow with the load. Two loops halved them; on two cores GET /me at
	// 64 connections served 15,300-15,800 req/s with two against
	// 17,150-19,200 with one (alternating bench runs).
	statusLoops = 1
)

// sessionStatusByIDs is the batch query of SessionStatus.
var sessionStatusByIDs = `SELECT s.id, s.user_id, s.idle_expires_at, s.expires_at, s.revoked_at, ` + qualify("u", userReadColumns) + `
	FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ANY($1::text[])`

// errClosed answers the session checks of a closed store.
var errClosed = fmt.Errorf("%w: postgres: the store is closed", gatehouse.ErrUnavailable)

// statusBatcher runs the session checks of one Store.
type statusBatcher struct {
	checks *sessioncheck.Queue
	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

func (s *Store) startStatusLoops() {
	stop := make(chan struct{})
	s.status = &statusBatcher{checks: sessioncheck.NewQueue(stop, errClosed, wrap), stop: stop}
	for range statusLoops {
		s.status.wg.Add(1)
		go s.statusLoop()
	}
}

func (s *Store) stopStatusLoops() {
	s.status.once.Do(func() { close(s.status.stop) })
	s.status.wg.Wait()
}

// statusLoop answers session checks, a batch at a time, until the store
// closes.
func (s *Store) statusLoop() {
	b := s.status
	defer b.wg.Done()
	var checks []*sessioncheck.Check
	for {
		var ok bool
		if checks, ok = b.checks.Take(checks); !ok {
			return
		}
		sessioncheck.Answer(checks, s.readStatuses(checks))
	}
}

// readStatuses reads the sessions of checks and gives each check the row
// of its id. Not the request's context: a batch serves many requests, and
// is bounded by OperationTimeout.
func (s *Store) readStatuses(checks []*sessioncheck.Check) error {
	ctx, cancel := context.WithTimeout(context.Background(), OperationTimeout)
	defer cancel()
	ids := make([]string, len(checks))
	for i, c := range checks {
		ids[i] = c.ID
	}
	rows, err := s.pool.Query(ctx, sessionStatusByIDs, ids)
	if err != nil {
		return wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var status gatehouse.SessionStatus
		var ur userRow
		var dest [16]any
		d := append(dest[:0], &status.ID, &status.UserID, &status.IdleExpiresAt, &status.ExpiresAt, &status.RevokedAt)
		if err := rows.Scan(append(d, ur.dest()...)...); err != nil {
			return wrap(err)
		}
		status.IdleExpiresAt, status.ExpiresAt, status.RevokedAt = fromDB(status.IdleExpiresAt), fromDB(status.ExpiresAt), nullTime(status.RevokedAt)
		sessioncheck.Found(checks, status, ur.user())
	}
	return wrap(rows.Err())
}

// SessionStatus returns the status of a session and its user, in one query
// of the columns it needs, read in a batch with the other checks waiting:
// it runs on every request with an access token.
func (s *Store) SessionStatus(ctx context.Context, id string) (*gatehouse.SessionStatus, *gatehouse.User, error) {
	if gatehouse.CheckText(id) != nil {
		return nil, nil, gatehouse.ErrNotFound
	}
	// Waiting for a turn counts too: with the database down, the checks
	// queued behind failing batches end at OperationTimeout like any other
	// store call.
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	return s.status.checks.Ask(ctx, id)
}
