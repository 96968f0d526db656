// Package sessioncheck carries the session checks of every request to the
// goroutines of a store that read them in batches (the sqlite and postgres
// stores' SessionStatus), and their answers back.
//
// A reader takes every check waiting (Queue.Take), reads their sessions in
// one query, gives each row to the checks of its id (Found) and ends the
// batch (Answer). A batch starts after each of its checks arrived, so
// every check reads the database after its request came in.
package sessioncheck

import (
	"context"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/batch"
)

// MaxBatch bounds the checks a reader takes at once, and so the sessions
// one query reads: with a round trip to the database of a millisecond,
// 128,000 checks a second per reader.
const MaxBatch = 128

// Check is one session check, handed to a reader and back.
type Check struct {
	ID     string
	status *gatehouse.SessionStatus
	user   *gatehouse.User
	err    error
	done   chan struct{}
}

// Queue is a store's line of checks waiting for a reader.
type Queue struct {
	ch     chan *Check // unbuffered: a check handed over is a check taken
	stop   <-chan struct{}
	closed error
	wrap   func(error) error
}

// NewQueue returns a queue whose checks are answered closed once stop is
// closed, and wrap(ctx.Err()) when their context ends first.
func NewQueue(stop <-chan struct{}, closed error, wrap func(error) error) *Queue {
	return &Queue{ch: make(chan *Check), stop: stop, closed: closed, wrap: wrap}
}

// Ask hands a check of the session id to a reader and waits for its
// answer, ErrNotFound if there is no such session.
func (q *Queue) Ask(ctx context.Context, id string) (*gatehouse.SessionStatus, *gatehouse.User, error) {
	c := NewCheck(id)
	select {
	case q.ch <- c:
	case <-q.stop:
		return nil, nil, q.closed
	case <-ctx.Done():
		return nil, nil, q.wrap(ctx.Err())
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		// The batch ends without us.
		return nil, nil, q.wrap(ctx.Err())
	}
	return c.Result()
}

// Result is the check's answer once its batch has ended.
func (c *Check) Result() (*gatehouse.SessionStatus, *gatehouse.User, error) {
	if c.err != nil {
		return nil, nil, c.err
	}
	return c.status, c.user, nil
}

// NewCheck returns a check of the session id, for a reader's tests.
func NewCheck(id string) *Check { return &Check{ID: id, done: make(chan struct{}, 1)} }

// Take waits for a check, then takes the checks waiting, up to MaxBatch,
// into buf (nil at first, then what Take returned). It returns false once
// the queue's stop is closed.
func (q *Queue) Take(buf []*Check) ([]*Check, bool) {
	if cap(buf) < MaxBatch {
		buf = make([]*Check, 0, MaxBatch)
	}
	return batch.Take(q.ch, q.stop, buf[:0:MaxBatch])
}

// Found gives a session read for a batch, and its user, to the checks of
// its id: the same session may be checked by several requests at once,
// and each gets a copy of its own.
func Found(checks []*Check, status gatehouse.SessionStatus, user *gatehouse.User) {
	first := true
	for _, c := range checks {
		if c.ID != status.ID {
			continue
		}
		if first {
			c.status, c.user, first = &status, user, false
			continue
		}
		st, u := status, *user
		c.status, c.user = &st, &u
	}
}

// Answer ends a batch: each check gets err if it is not nil, else its
// session or ErrNotFound, and its caller is woken.
func Answer(checks []*Check, err error) {
	for _, c := range checks {
		switch {
		case err != nil:
			c.err = err
		case c.status == nil:
			c.err = gatehouse.ErrNotFound
		}
		c.done <- struct{}{}
	}
	clear(checks)
}
