package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/batch"
)

// maxBatch is the most write transactions committed together.
const maxBatch = 64

// errClosed answers the writes of a closed store.
var errClosed = fmt.Errorf("%w: sqlite: the store is closed", gatehouse.ErrUnavailable)

// txRequest is one caller's write transaction, waiting for the writer.
type txRequest struct {
	ctx  context.Context
	fn   func(context.Context, *wtx) error
	done chan error
}

// tx runs fn in a write transaction, committing if it returns nil.
//
// The writes of concurrent callers are committed together (group commit):
// one goroutine owns the writer connection and runs, in one SQLite
// transaction, every transaction that is waiting when it starts, up to
// maxBatch, each inside a savepoint of its own. A transaction whose fn
// fails is rolled back to its savepoint and the others go on; each caller
// learns its outcome only once the batch is committed. SQLite's commit (its
// writes to the WAL) is the largest part of a small write, so a busy
// server pays for it once per batch rather than once per request, and the
// writer connection is never handed from goroutine to goroutine.
//
// fn gets a context without the caller's cancellation (its values stay):
// SQLite stops an interrupted write by rolling back the whole transaction,
// which would take the other callers' writes with it. A caller whose
// context ends before its turn gets its error and runs nothing.
func (s *Store) tx(ctx context.Context, fn func(context.Context, *wtx) error) error {
	if err := ctx.Err(); err != nil {
		return wrap(err)
	}
	req := &txRequest{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.txs <- req:
	case <-ctx.Done():
		return wrap(ctx.Err())
	case <-s.stop:
		return errClosed
	}
	// Once taken, a request is always answered, and its outcome (it may
	// have committed) is waited for whatever happens to ctx.
	return <-req.done
}

// writer runs the write transactions, in batches, until the store closes.
func (s *Store) writer() {
	defer close(s.writerDone)
	batch.Run(s.txs, s.stop, maxBatch, s.runBatch)
}

// maxWriteStmts bounds the writer's prepared statements: the queries of
// wtx.Exec and wtx.QueryRow are constants, so this is never reached.
const maxWriteStmts = 64

// wtx is a write transaction as a batch's fn sees it. Its Exec and
// QueryRow run the busy writes through statements prepared once on the
// writer connection: SQLite compiles a statement's text anew at every call
// otherwise. A query seen for the first time runs unprepared, and the
// writer prepares it after the batch (it cannot prepare one on its own
// connection inside the transaction through database/sql).
type wtx struct {
	*sql.Tx
	s *Store
}

func (t *wtx) stmt(ctx context.Context, query string) *sql.Stmt {
	if st, ok := t.s.writeStmts[query]; ok {
		return t.Tx.StmtContext(ctx, st)
	}
	t.s.wantPrepared[query] = true
	return nil
}

// Exec runs query, one statement, with args.
func (t *wtx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

// QueryRow runs query, one statement, with args.
func (t *wtx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}

// prepareWanted prepares the queries wtx ran unprepared, between batches,
// when the writer connection is free.
func (s *Store) prepareWanted() {
	for q := range s.wantPrepared {
		delete(s.wantPrepared, q)
		if len(s.writeStmts) >= maxWriteStmts {
			continue
		}
		st, err := s.write.PrepareContext(context.Background(), q)
		if err != nil {
			continue // it runs unprepared, and is tried again when next seen
		}
		s.writeStmts[q] = st
	}
}

// runBatch runs batch in one transaction and answers each request.
func (s *Store) runBatch(batch []*txRequest) {
	results := make([]error, len(batch))
	defer func() {
		// After the transaction's end (the deferred Rollback below runs
		// first), before anyone hears of it.
		s.prepareWanted()
		for i, req := range batch {
			req.done <- results[i]
		}
	}()
	fail := func(err error) {
		for i := range results {
			if results[i] == nil {
				results[i] = err
			}
		}
	}
	tx, err := s.write.BeginTx(context.Background(), nil)
	if err != nil {
		fail(wrap(err))
		return
	}
	defer tx.Rollback()
	ran := 0
	for i, req := range batch {
		if err := req.ctx.Err(); err != nil {
			results[i] = wrap(err)
			continue
		}
		ctx := context.WithoutCancel(req.ctx)
		wt := &wtx{Tx: tx, s: s}
		if len(batch) == 1 {
			results[i] = req.fn(ctx, wt)
			ran++
			break
		}
		if _, err := wt.Exec(ctx, `SAVEPOINT batch`); err != nil {
			fail(wrap(err))
			return
		}
		err := req.fn(ctx, wt)
		if err == nil {
			_, err = wt.Exec(ctx, `RELEASE batch`)
			if err != nil {
				fail(wrap(err))
				return
			}
			ran++
			continue
		}
		results[i] = err
		// Undo this transaction's writes only. If SQLite has rolled
		// back the whole transaction itself (it does on some errors,
		// such as a full disk), the savepoint is gone, and so is every
		// write of the batch.
		if _, rerr := wt.Exec(ctx, `ROLLBACK TO batch`); rerr != nil {
			fail(fmt.Errorf("%w: sqlite: a write failed and took its batch with it: %w", gatehouse.ErrUnavailable, errors.Join(err, rerr)))
			return
		}
		if _, rerr := wt.Exec(ctx, `RELEASE batch`); rerr != nil {
			fail(wrap(rerr))
			return
		}
	}
	if ran == 0 || (len(batch) == 1 && results[0] != nil) {
		return // the deferred Rollback
	}
	if err := tx.Commit(); err != nil {
		fail(wrap(err))
	}
}
