// Package postgres is Gatehouse's store for deployments that outgrow one
// machine: many stateless Gatehouse nodes share one PostgreSQL database,
// reached through github.com/jackc/pgx/v5 and its connection pool.
//
// Every write is one transaction at READ COMMITTED. Where two nodes can race
// (the first login of one account on two nodes at once), the store either
// locks what it reads or retries the transaction when the database reports
// the collision, so callers see one outcome and never a driver error. A lost
// connection, an unreachable server, a deadlock or a serialization failure
// is ErrUnavailable; the pool reconnects by itself when the server is back.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	// ConnectTimeout bounds each new connection unless the URL sets
	// connect_timeout.
	ConnectTimeout = 5 * time.Second
	// OperationTimeout bounds every store method, so a database that stops
	// answering turns into ErrUnavailable rather than a hung request.
	OperationTimeout = 10 * time.Second
	// DefaultMaxConns is the least pool size, used unless the URL sets
	// pool_max_conns; the pool has two connections per core if that is
	// more. With pgx's own default, max(4, cores), writes (a login makes
	// four transactions) queued for connections while the machine idled,
	// waiting on round trips (see the README's Performance section).
	DefaultMaxConns = 8
	// conflictRetries is how often a write that collided with a concurrent
	// one is tried again before the store gives up with ErrUnavailable.
	conflictRetries = 5
)

// defaultMaxConns is the pool's size unless the URL sets pool_max_conns:
// DefaultMaxConns, or two connections per core if that is more.
func defaultMaxConns() int32 { return max(DefaultMaxConns, 2*int32(runtime.NumCPU())) }

// Store is a gatehouse.Store on a PostgreSQL database.
type Store struct {
	pool      *pgxpool.Pool
	status    *statusBatcher
	rotations *rotationBatcher
}

var _ gatehouse.Store = (*Store)(nil)

// Open connects to the database at url (postgres://user:pass@host/db?…)
// and applies any migrations it lacks; it refuses a database whose schema is
// newer than this binary.
func Open(ctx context.Context, url string) (*Store, error) {
	s, err := Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	if _, err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Connect connects to the database at url without migrating it, for tools
// that inspect or migrate the schema themselves. The tables live in the
// connection's current schema, which the URL can set with search_path.
func Connect(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password and all.
		return nil, errors.New("postgres: the database URL is not valid")
	}
	if !strings.Contains(url, "connect_timeout") {
		cfg.ConnConfig.ConnectTimeout = ConnectTimeout
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns()
	}
	cfg.HealthCheckPeriod = 15 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{pool: pool}
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connecting: %w", wrap(err))
	}
	s.startStatusLoops()
	s.startRotations()
	return s, nil
}

// Close stops the session checks and the batched refreshes, and closes
// every connection of the pool.
func (s *Store) Close() error {
	s.stopStatusLoops()
	s.stopRotations()
	s.pool.Close()
	return nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	return wrap(s.pool.Ping(ctx))
}

// tx runs fn in a transaction, committing if it returns nil. A deadlock or
// serialization failure runs fn again, up to conflictRetries times.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return retryTx(func() error { return s.tx1(ctx, fn) })
}

// retryTx runs run, and again after a deadlock or serialization failure,
// up to conflictRetries times in all.
func retryTx(run func() error) error {
	var err error
	for range conflictRetries {
		if err = run(); !retryable(err) {
			return err
		}
	}
	return err
}

// rollbackTimeout bounds the ROLLBACK after a failed transaction: it must
// run even if the caller's context is done, but not hang on a dead
// connection.
const rollbackTimeout = 5 * time.Second

// rollbackContext is the context of such a ROLLBACK: ctx's values, without
// its cancellation, for rollbackTimeout.
func rollbackContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
}

func (s *Store) tx1(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return wrap(err)
	}
	defer func() {
		// After a commit this does nothing.
		rctx, cancel := rollbackContext(ctx)
		defer cancel()
		tx.Rollback(rctx)
	}()
	if err := fn(tx); err != nil {
		return err
	}
	return wrap(tx.Commit(ctx))
}

// retryable reports whether err is a deadlock or serialization failure,
// which PostgreSQL asks the client to resolve by running the transaction
// again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// wrap translates driver errors into the gatehouse sentinels, keeping the
// driver error inside for the operator's log.
func wrap(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return gatehouse.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505": // unique_violation
			return fmt.Errorf("%w: %w", gatehouse.ErrConflict, err)
		case pe.Code == "22021" || pe.Code == "22P05": // invalid or untranslatable text
			return fmt.Errorf("%w: %w", gatehouse.ErrInvalid, err)
		case unavailableClass(pe.Code):
			return fmt.Errorf("%w: %w", gatehouse.ErrUnavailable, err)
		}
		return fmt.Errorf("postgres: %w", err)
	}
	if lostConnection(err) {
		return fmt.Errorf("%w: %w", gatehouse.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %w", err)
}

// unavailableClass reports whether an SQLSTATE means the server could not
// do the work now rather than that the request was wrong: connection
// exceptions (08), transaction rollbacks (40), insufficient resources
// (53), operator intervention such as a shutdown or a cancelled statement
// (57), system errors (58), and lock or session timeouts.
func unavailableClass(code string) bool {
	if len(code) != 5 {
		return false
	}
	switch code[:2] {
	case "08", "40", "53", "57", "58":
		return true
	}
	return code == "55P03" || code == "25P03"
}

// lostConnection reports whether err, which the server did not send, comes
// from failing to reach it or from losing the connection.
func lostConnection(err error) bool {
	var connect *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.As(err, &connect), errors.As(err, &netErr), pgconn.Timeout(err),
		errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		pgconn.SafeToRetry(err):
		return true
	}
	// The pool's own errors are not exported.
	msg := err.Error()
	return strings.Contains(msg, "closed pool") || strings.Contains(msg, "conn closed")
}

// toDB gives the stored form of a time: UTC at microsecond precision,
// truncated, which is what PostgreSQL keeps and what the SQLite store keeps
// too.
func toDB(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func fromDB(t time.Time) time.Time { return t.UTC() }
