package sessioncheck

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse"
)

var errClosed = errors.New("closed")

func wrapped(err error) error { return errors.Join(errors.New("wrapped"), err) }

// reader answers every batch from rows, as a store's reader does.
func reader(q *Queue, rows map[string]string, fail error) {
	buf := make([]*Check, 0, 8)
	for {
		var ok bool
		if buf, ok = q.Take(buf); !ok {
			return
		}
		for _, c := range buf {
			if user, ok := rows[c.ID]; ok {
				Found(buf, gatehouse.SessionStatus{ID: c.ID, UserID: user}, &gatehouse.User{ID: user})
			}
		}
		Answer(buf, fail)
	}
}

func TestAsk(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	q := NewQueue(stop, errClosed, wrapped)
	go reader(q, map[string]string{"s1": "u1"}, nil)
	st, u, err := q.Ask(context.Background(), "s1")
	if err != nil || st.ID != "s1" || st.UserID != "u1" || u.ID != "u1" {
		t.Errorf("Ask(s1) = %+v, %+v, %v", st, u, err)
	}
	if _, _, err := q.Ask(context.Background(), "nope"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("Ask(nope) error = %v, want ErrNotFound", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := q.Ask(ctx, "s1"); !errors.Is(err, context.Canceled) || err.Error() == context.Canceled.Error() {
		t.Errorf("Ask with a cancelled context: %v, want it wrapped", err)
	}
}

func TestAskAfterStop(t *testing.T) {
	stop := make(chan struct{})
	close(stop)
	q := NewQueue(stop, errClosed, wrapped)
	if _, _, err := q.Ask(context.Background(), "s1"); err != errClosed {
		t.Errorf("Ask after stop = %v, want the closed error", err)
	}
}

func TestBatchError(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	q := NewQueue(stop, errClosed, wrapped)
	boom := errors.New("boom")
	go reader(q, map[string]string{"s1": "u1"}, boom)
	if _, _, err := q.Ask(context.Background(), "s1"); err != boom {
		t.Errorf("Ask in a failed batch = %v, want the batch's error", err)
	}
}

func TestFoundCopies(t *testing.T) {
	checks := []*Check{NewCheck("a"), NewCheck("b"), NewCheck("a")}
	Found(checks, gatehouse.SessionStatus{ID: "a", UserID: "u"}, &gatehouse.User{ID: "u"})
	answered := append([]*Check(nil), checks...)
	Answer(checks, nil)
	s0, u0, err0 := answered[0].Result()
	s2, u2, err2 := answered[2].Result()
	if err0 != nil || err2 != nil || s0 == s2 || u0 == u2 || s0.ID != "a" || s2.ID != "a" || u2.ID != "u" {
		t.Errorf("two checks of a: %p %p, %p %p, %v %v; want equal copies", s0, s2, u0, u2, err0, err2)
	}
	if _, _, err := answered[1].Result(); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("check of b: %v, want ErrNotFound", err)
	}
}

// TestTakeBound: a batch never holds more than MaxBatch checks, and every
// check is answered.
func TestTakeBound(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	q := NewQueue(stop, errClosed, wrapped)
	const askers = MaxBatch + 40
	errs := make(chan error, askers)
	for range askers {
		go func() {
			_, _, err := q.Ask(context.Background(), "nope")
			errs <- err
		}()
	}
	var checks []*Check
	for answered := 0; answered < askers; {
		var ok bool
		if checks, ok = q.Take(checks); !ok {
			t.Fatal("Take reported a stop")
		}
		if len(checks) > MaxBatch {
			t.Fatalf("a batch of %d checks, more than MaxBatch (%d)", len(checks), MaxBatch)
		}
		answered += len(checks)
		Answer(checks, nil)
	}
	for range askers {
		if err := <-errs; !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("Ask = %v, want ErrNotFound", err)
		}
	}
}
