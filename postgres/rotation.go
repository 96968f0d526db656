package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/batch"
	"github.com/jackc/pgx/v5"
)

// Refreshes of live tokens are committed in batches. One long-lived
// goroutine takes every refresh waiting (up to rotationBatch) and runs them
// in one transaction of two round trips: BEGIN with one locking read of all
// their sessions (in id order, so that two batches never deadlock), then
// every refresh's writes with COMMIT. Each refresh gets its own rules
// (update) and its own writes; what one refresh refuses writes nothing and
// does not touch the others.
//
// A refresh runs in a transaction of its own (rotate), after the batch's,
// if its token is not a live one (retired, or unknown), if another refresh
// of the batch has the same token (it then waits for the batch's row lock
// and finds its token retired, as it would have otherwise), or if the
// batch's transaction failed. update may then be called a second time, as
// gatehouse.Store allows.
//
// Under load one transaction, one commit and two round trips serve many
// refreshes; on two cores a refresh's own transaction cost PostgreSQL about
// as much CPU as the rest of the refresh, most of it per statement and per
// commit. While a batch is out, the refreshes arriving wait for the next,
// so batches grow with the load; alone, a refresh waits for no one.

// rotationBatch is the most refreshes one transaction commits.
const rotationBatch = 64

// rotationRequest is one refresh waiting for its batch.
type rotationRequest struct {
	ctx       context.Context
	tokenHash string
	now       time.Time
	update    func(*gatehouse.Session, *gatehouse.User, *time.Time) (*gatehouse.Session, error)
	done      chan rotationResult
}

// rotationResult is a refresh's outcome; alone says that the batch did not
// run it, and that it is to run in a transaction of its own.
type rotationResult struct {
	sess  *gatehouse.Session
	user  *gatehouse.User
	prune bool
	err   error
	alone bool
}

// rotationBatcher runs the batched refreshes of one Store.
type rotationBatcher struct {
	reqs chan *rotationRequest
	stop chan struct{}
	once sync.Once
	done chan struct{}
}

func (s *Store) startRotations() {
	s.rotations = &rotationBatcher{reqs: make(chan *rotationRequest), stop: make(chan struct{}), done: make(chan struct{})}
	go s.rotationLoop()
}

func (s *Store) stopRotations() {
	s.rotations.once.Do(func() { close(s.rotations.stop) })
	<-s.rotations.done
}

// ask has the refresh of tokenHash run in a batch. It waits for its turn
// as long as ctx allows; once its batch has taken it, it waits for the
// batch's outcome, which its own timeout bounds (update is then running or
// may run, and the refresh may commit).
func (b *rotationBatcher) ask(ctx context.Context, tokenHash string, now time.Time,
	update func(*gatehouse.Session, *gatehouse.User, *time.Time) (*gatehouse.Session, error)) rotationResult {
	req := &rotationRequest{ctx: ctx, tokenHash: tokenHash, now: now, update: update, done: make(chan rotationResult, 1)}
	select {
	case b.reqs <- req:
	case <-ctx.Done():
		return rotationResult{err: wrap(ctx.Err())}
	case <-b.stop:
		return rotationResult{err: errClosed}
	}
	return <-req.done
}

// rotationLoop runs the refreshes, a batch at a time, until the store
// closes.
func (s *Store) rotationLoop() {
	b := s.rotations
	defer close(b.done)
	batch.Run(b.reqs, b.stop, rotationBatch, s.rotateBatch)
}

// rotateBatch runs reqs in one transaction and answers each of them. Not a
// request's context: a batch serves many, and is bounded by
// OperationTimeout.
func (s *Store) rotateBatch(reqs []*rotationRequest) {
	results := make([]rotationResult, len(reqs))
	defer func() {
		for i, r := range reqs {
			r.done <- results[i]
		}
	}()
	var run []int
	seen := make(map[string]bool, len(reqs))
	for i, r := range reqs {
		switch {
		case r.ctx.Err() != nil:
			results[i].err = wrap(r.ctx.Err())
		case seen[r.tokenHash]:
			results[i].alone = true
		default:
			seen[r.tokenHash] = true
			run = append(run, i)
		}
	}
	if len(run) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), OperationTimeout)
	defer cancel()
	if err := s.pipelineTx(ctx, func(p *pipeline) error { return rotateAll(p, reqs, run, results) }); err != nil {
		// Each on its own, where its own error (or success) is its.
		for _, i := range run {
			results[i] = rotationResult{alone: true}
		}
	}
}

// rotateAll is the batch's transaction: the refreshes of reqs at the
// indexes run, their outcomes in results.
func rotateAll(p *pipeline, reqs []*rotationRequest, run []int, results []rotationResult) error {
	hashes := make([]string, len(run))
	for k, i := range run {
		hashes[k] = reqs[i].tokenHash
		results[i] = rotationResult{}
	}
	type found struct {
		sess *gatehouse.Session
		user *gatehouse.User
	}
	live := make(map[string]found, len(run))
	b := &pgx.Batch{}
	b.Queue(sessionUserSelect+` WHERE s.current_hash = ANY($1::text[]) ORDER BY s.id`+rotationLock, hashes)
	err := p.send(b, false, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return wrap(err)
		}
		defer rows.Close()
		for rows.Next() {
			sess, u, err := scanSessionUser(rows)
			if err != nil {
				return err
			}
			live[sess.CurrentHash] = found{sess, u}
		}
		return wrap(rows.Err())
	})
	if err != nil {
		return err
	}

	writes := &pgx.Batch{}
	type stored struct {
		i    int
		next *gatehouse.Session
		user *gatehouse.User
		w    rotationWrite
	}
	var out []stored
	for _, i := range run {
		r := reqs[i]
		f, ok := live[r.tokenHash]
		if !ok {
			results[i].alone = true // retired or unknown
			continue
		}
		prev := f.sess.CurrentHash
		next, err := r.update(f.sess, f.user, nil)
		if err != nil {
			results[i].err = err // this refresh writes nothing
			continue
		}
		st := stored{i: i, next: next, user: f.user}
		var own pgx.Batch // queued whole or not at all
		if err := st.w.queue(r.ctx, &own, prev, next, r.now); err != nil {
			results[i].err = err
			continue
		}
		writes.QueuedQueries = append(writes.QueuedQueries, own.QueuedQueries...)
		out = append(out, st)
	}
	err = p.send(writes, true, func(br pgx.BatchResults) error {
		for k := range out {
			if err := out[k].w.read(br); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, st := range out {
		results[st.i] = rotationResult{sess: st.next, user: st.user, prune: st.w.prune()}
	}
	return nil
}
