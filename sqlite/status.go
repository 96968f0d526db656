package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"runtime"

	"github.com/gatehouse/gatehouse"
)

// The session check of every request runs on a few long-lived goroutines,
// each with a reader connection of its own and the query prepared on it,
// rather than on the request's goroutine through the pool. SQLite, as the
// pure-Go driver runs it, needs a deep stack: the request goroutines'
// stacks, shrunk at each garbage collection while they wait for their next
// request, would be grown and copied again on every check; and a dedicated
// connection skips the pool's bookkeeping.

// statusReaders is how many goroutines run session checks: the query is
// CPU work, so one per core, and at least two.
func statusReaders() int { return max(2, runtime.GOMAXPROCS(0)) }

// statusQuery is one session check, handed to a reader and back.
type statusQuery struct {
	id     string
	status gatehouse.SessionStatus
	user   *gatehouse.User
	err    error
	done   chan struct{}
}

// statusReader answers session checks until the store closes.
func (s *Store) statusReader() {
	defer s.readersDone.Done()
	var conn *sql.Conn
	var st *sql.Stmt
	drop := func() {
		if st != nil {
			st.Close()
			conn.Close()
		}
		conn, st = nil, nil
	}
	defer drop()
	for {
		var q *statusQuery
		select {
		case q = <-s.statusQueries:
		case <-s.stop:
			return
		}
		if st == nil {
			var err error
			if conn, st, err = s.statusConn(); err != nil {
				q.err = err
				q.done <- struct{}{}
				continue
			}
		}
		q.err = q.scan(st)
		if q.err != nil && !errors.Is(q.err, gatehouse.ErrNotFound) {
			// The connection may be what failed: the next check opens
			// a new one.
			drop()
		}
		q.done <- struct{}{}
	}
}

// statusConn returns a reader connection of the store's own and the
// session check's statement prepared on it.
func (s *Store) statusConn() (*sql.Conn, *sql.Stmt, error) {
	ctx := context.Background()
	conn, err := s.read.Conn(ctx)
	if err != nil {
		return nil, nil, wrap(err)
	}
	st, err := conn.PrepareContext(ctx, sessionStatusByID)
	if err != nil {
		conn.Close()
		return nil, nil, wrap(err)
	}
	return conn, st, nil
}

func (q *statusQuery) scan(st *sql.Stmt) error {
	var idle, expires int64
	var revoked sql.NullInt64
	var ur userRow
	var dest [16]any
	d := append(dest[:0], &q.status.ID, &q.status.UserID, &idle, &expires, &revoked)
	// Without the request's cancellation: the query is a read of two
	// rows by key, which WAL mode never makes wait for a writer (and
	// watching a context would cost database/sql and the driver a
	// goroutine each).
	if err := st.QueryRowContext(context.Background(), q.id).Scan(append(d, ur.dest()...)...); err != nil {
		return wrap(err)
	}
	q.status.IdleExpiresAt, q.status.ExpiresAt, q.status.RevokedAt = fromDB(idle), fromDB(expires), fromNullDB(revoked)
	q.user = ur.user()
	return nil
}

// SessionStatus returns the status of a session and its user, in one
// prepared query of the columns it needs, run by a status reader: it runs
// on every request with an access token.
func (s *Store) SessionStatus(ctx context.Context, id string) (*gatehouse.SessionStatus, *gatehouse.User, error) {
	if gatehouse.CheckText(id) != nil {
		return nil, nil, gatehouse.ErrNotFound
	}
	q := &statusQuery{id: id, done: make(chan struct{}, 1)}
	select {
	case s.statusQueries <- q:
	case <-s.stop:
		return nil, nil, errClosed
	case <-ctx.Done():
		return nil, nil, wrap(ctx.Err())
	}
	<-q.done
	if q.err != nil {
		return nil, nil, q.err
	}
	return &q.status, q.user, nil
}
