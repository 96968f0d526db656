package sqlite

import (
	"context"
	"database/sql"
	"runtime"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/jsonenc"
	"github.com/gatehouse/gatehouse/internal/sessioncheck"
)

// The session check of every request runs on a few long-lived goroutines,
// each with a reader connection of its own and the query prepared on it,
// rather than on the request's goroutine through the pool. SQLite, as the
// pure-Go driver runs it, needs a deep stack: the request goroutines'
// stacks, shrunk at each garbage collection while they wait for their next
// request, would be grown and copied again on every check; and a dedicated
// connection skips the pool's bookkeeping.
//
// Each reader takes every check waiting (up to sessioncheck.MaxBatch) and
// reads them in one query, one read transaction. A batch starts after each of
// its checks arrived, so every check still reads the database after its
// request came in: a session revoked before that is seen as revoked.

// statusReaders is how many goroutines run session checks: half the cores,
// at least one. A reader takes every check waiting, so a busy one reads
// larger batches rather than falling behind; on two cores one reader cost
// less CPU per request than two (bench, GET /me: 63 against 67 µs).
func statusReaders() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// statusReader answers session checks, a batch at a time, until the store
// closes.
func (s *Store) statusReader() {
	defer s.readersDone.Done()
	var c *statusConn
	defer func() { c.close() }()
	var checks []*sessioncheck.Check
	var ids []byte
	for {
		var ok bool
		if checks, ok = s.checks.Take(checks); !ok {
			return
		}
		var err error
		if c == nil {
			c, err = s.openStatusConn()
		}
		if err == nil {
			if ids, err = c.read(checks, ids); err != nil {
				// The connection may be what failed: the next batch
				// opens a new one.
				c.close()
				c = nil
			}
		}
		sessioncheck.Answer(checks, err)
	}
}

// statusConn is a reader connection of a status reader's own, with the
// session check's statements prepared on it: one for a single session, one
// for a batch.
type statusConn struct {
	conn      *sql.Conn
	one, many *sql.Stmt
}

func (s *Store) openStatusConn() (*statusConn, error) {
	ctx := context.Background()
	conn, err := s.read.Conn(ctx)
	if err != nil {
		return nil, wrap(err)
	}
	c := &statusConn{conn: conn}
	if c.one, err = conn.PrepareContext(ctx, sessionStatusByID); err == nil {
		c.many, err = conn.PrepareContext(ctx, sessionStatusByIDs)
	}
	if err != nil {
		c.close()
		return nil, wrap(err)
	}
	return c, nil
}

func (c *statusConn) close() {
	if c == nil {
		return
	}
	for _, st := range []*sql.Stmt{c.one, c.many} {
		if st != nil {
			st.Close()
		}
	}
	c.conn.Close()
}

// read reads the sessions of checks and gives each check the row of its
// id. ids is a buffer for the batch's argument, returned for reuse.
func (c *statusConn) read(checks []*sessioncheck.Check, ids []byte) ([]byte, error) {
	// Without the requests' cancellation: the query is a read of rows by
	// key, which WAL mode never makes wait for a writer (and watching a
	// context would cost database/sql and the driver a goroutine each).
	var rows *sql.Rows
	var err error
	if len(checks) == 1 {
		rows, err = c.one.QueryContext(context.Background(), checks[0].ID)
	} else {
		ids = appendIDs(ids[:0], checks)
		// As text: SQLite's JSON functions read a BLOB as JSONB.
		rows, err = c.many.QueryContext(context.Background(), string(ids))
	}
	if err != nil {
		return ids, wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var status gatehouse.SessionStatus
		var idle, expires int64
		var revoked sql.NullInt64
		var ur userRow
		var dest [16]any
		d := append(dest[:0], &status.ID, &status.UserID, &idle, &expires, &revoked)
		if err := rows.Scan(append(d, ur.dest()...)...); err != nil {
			return ids, wrap(err)
		}
		status.IdleExpiresAt, status.ExpiresAt, status.RevokedAt = fromDB(idle), fromDB(expires), fromNullDB(revoked)
		sessioncheck.Found(checks, status, ur.user())
	}
	return ids, wrap(rows.Err())
}

// appendIDs appends the ids of checks to b as a JSON array, the argument
// of sessionStatusByIDs.
func appendIDs(b []byte, checks []*sessioncheck.Check) []byte {
	b = append(b, '[')
	for i, c := range checks {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.AppendString(b, c.ID)
	}
	return append(b, ']')
}

// SessionStatus returns the status of a session and its user, in one
// prepared query of the columns it needs, run by a status reader: it runs
// on every request with an access token.
func (s *Store) SessionStatus(ctx context.Context, id string) (*gatehouse.SessionStatus, *gatehouse.User, error) {
	if gatehouse.CheckText(id) != nil {
		return nil, nil, gatehouse.ErrNotFound
	}
	return s.checks.Ask(ctx, id)
}
