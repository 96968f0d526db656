package postgres

import (
	"context"
	"fmt"

	"github.com/gatehouse/gatehouse"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A pipeline is a transaction whose statements go to the server in a few
// batches, one round trip each, rather than one round trip per statement:
// BEGIN rides with the first batch and COMMIT with the last. A transaction
// of one batch needs neither: the statements a batch sends before its Sync
// message run in one implicit transaction, committed at the Sync and rolled
// back whole by an error (PostgreSQL's extended query protocol), which
// spares the server two statements. A login's writes take two or three
// round trips this way instead of eight to ten; on a loaded machine each
// round trip costs both processes a wake-up and the kernel's loopback,
// which were most of a login's time on PostgreSQL.
type pipeline struct {
	ctx       context.Context
	c         *pgxpool.Conn
	begun     bool
	committed bool
}

// pipelineTx runs fn on a pipeline on one pooled connection, and rolls the
// transaction back unless fn's last batch committed it. A deadlock or
// serialization failure runs fn again, up to conflictRetries times, as tx
// does.
func (s *Store) pipelineTx(ctx context.Context, fn func(p *pipeline) error) error {
	return retryTx(func() error { return s.pipelineTx1(ctx, fn) })
}

func (s *Store) pipelineTx1(ctx context.Context, fn func(p *pipeline) error) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return wrap(err)
	}
	defer c.Release()
	p := &pipeline{ctx: ctx, c: c}
	err = fn(p)
	if p.begun && !p.committed {
		// (pgxpool also closes a connection released inside a
		// transaction.)
		rctx, cancel := rollbackContext(ctx)
		defer cancel()
		c.Exec(rctx, `ROLLBACK`)
	}
	if err == nil && !p.committed {
		return fmt.Errorf("postgres: a pipeline ended without its commit") // a bug of ours
	}
	return err
}

// send sends b's statements in one round trip, preceded by BEGIN in the
// first batch and followed by COMMIT if commit is set, and has read read
// their results in order (through br.Exec, br.QueryRow, br.Query). read's
// first error is send's; the statements after a failed one do not run.
// With commit, COMMIT is already on its way: a statement's error makes the
// server answer it with ROLLBACK, but an error read makes up on its own
// (a row it did not expect) does not stop it, so such checks belong in a
// batch before the last.
func (p *pipeline) send(b *pgx.Batch, commit bool, read func(br pgx.BatchResults) error) error {
	if p.committed {
		return fmt.Errorf("postgres: a pipeline sent a batch after its commit") // a bug of ours
	}
	full := b
	begin := !p.begun
	implicit := begin && commit // one batch: its implicit transaction, nothing to roll back after it
	if implicit {
		begin, commit = false, false
	}
	if begin || commit {
		full = &pgx.Batch{}
		if begin {
			full.Queue(`BEGIN`)
		}
		full.QueuedQueries = append(full.QueuedQueries, b.QueuedQueries...)
		if commit {
			full.Queue(`COMMIT`)
		}
	}
	p.begun = !implicit
	br := p.c.SendBatch(p.ctx, full)
	err := func() error {
		if begin {
			if _, err := br.Exec(); err != nil {
				return wrap(err)
			}
		}
		if err := read(br); err != nil {
			return err
		}
		if commit {
			// A transaction that failed answers COMMIT with ROLLBACK.
			tag, err := br.Exec()
			if err != nil {
				return wrap(err)
			}
			if tag.String() != "COMMIT" {
				return fmt.Errorf("%w: postgres: the transaction was rolled back", gatehouse.ErrUnavailable)
			}
		}
		return nil
	}()
	if cerr := br.Close(); err == nil && cerr != nil {
		err = wrap(cerr)
	}
	if err == nil && (commit || implicit) {
		p.committed = true
	}
	return err
}

// execAll reads n results of statements run for their effect.
func execAll(br pgx.BatchResults, n int) error {
	for range n {
		if _, err := br.Exec(); err != nil {
			return wrap(err)
		}
	}
	return nil
}

// queueAudit queues the inserts of the audit events ctx carries for a
// change to userID and sessionID, and returns how many it queued.
func queueAudit(ctx context.Context, b *pgx.Batch, userID, sessionID string) (int, error) {
	events := gatehouse.AuditEvents(ctx, userID, sessionID)
	for i := range events {
		q, args, err := auditInsert(&events[i])
		if err != nil {
			return 0, err
		}
		b.Queue(q, args...)
	}
	return len(events), nil
}
