package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// batchStore is a store with a table of keys for the batch tests.
func batchStore(t *testing.T) *Store {
	t.Helper()
	s := openTest(t)
	if _, err := s.write.Exec(`CREATE TABLE batch_test (k TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return s
}

func insertKey(k string, fail error) func(context.Context, *wtx) error {
	return func(ctx context.Context, tx *wtx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO batch_test (k) VALUES (?)`, k); err != nil {
			return wrap(err)
		}
		return fail
	}
}

func keys(t *testing.T, s *Store) map[string]bool {
	t.Helper()
	rows, err := s.read.Query(`SELECT k FROM batch_test`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		got[k] = true
	}
	return got
}

func request(ctx context.Context, fn func(context.Context, *wtx) error) *txRequest {
	return &txRequest{ctx: ctx, fn: fn, done: make(chan error, 1)}
}

// TestBatchIsolatesFailures: in one batch, a transaction that fails leaves
// none of its writes, one whose caller gave up runs nothing, and the others
// commit; each caller gets its own outcome.
func TestBatchIsolatesFailures(t *testing.T) {
	s := batchStore(t)
	boom := errors.New("boom")
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	ctx := context.Background()
	batch := []*txRequest{
		request(ctx, insertKey("a", nil)),
		request(ctx, insertKey("b", boom)),
		request(gone, insertKey("c", nil)),
		request(ctx, insertKey("a", nil)), // a uniqueness violation, after "a" in the same batch
		request(ctx, insertKey("d", nil)),
	}
	s.runBatch(batch)
	want := []error{nil, boom, gatehouse.ErrUnavailable, gatehouse.ErrConflict, nil}
	for i, req := range batch {
		got := <-req.done
		if (want[i] == nil) != (got == nil) || (want[i] != nil && !errors.Is(got, want[i])) {
			t.Errorf("transaction %d: error %v, want %v", i, got, want[i])
		}
	}
	if got := keys(t, s); len(got) != 2 || !got["a"] || !got["d"] {
		t.Errorf("stored keys %v, want a and d", got)
	}
}

// TestBatchLostTransaction: when SQLite rolls the whole transaction back in
// the middle of a batch (here by a statement that ends it), nothing of the
// batch is stored and every caller, those before included, gets an
// unavailable error rather than a success that did not happen.
func TestBatchLostTransaction(t *testing.T) {
	s := batchStore(t)
	ctx := context.Background()
	batch := []*txRequest{
		request(ctx, insertKey("a", nil)),
		request(ctx, func(ctx context.Context, tx *wtx) error {
			tx.ExecContext(ctx, `ROLLBACK`)
			return errors.New("the transaction is gone")
		}),
		request(ctx, insertKey("c", nil)),
	}
	s.runBatch(batch)
	for i, req := range batch {
		if err := <-req.done; !errors.Is(err, gatehouse.ErrUnavailable) && i != 1 {
			t.Errorf("transaction %d: error %v, want ErrUnavailable", i, err)
		}
	}
	if got := keys(t, s); len(got) != 0 {
		t.Errorf("stored keys %v, want none", got)
	}
}

// TestConcurrentWrites: many callers at once, half of them failing, through
// the writer goroutine: exactly the writes of those that succeeded are
// stored.
func TestConcurrentWrites(t *testing.T) {
	s := batchStore(t)
	const n = 300
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var fail error
			if i%2 == 1 {
				fail = fmt.Errorf("odd %d", i)
			}
			errs[i] = s.tx(context.Background(), insertKey(fmt.Sprint(i), fail))
		})
	}
	wg.Wait()
	got := keys(t, s)
	for i := range n {
		if (errs[i] == nil) != (i%2 == 0) || got[fmt.Sprint(i)] != (i%2 == 0) {
			t.Errorf("transaction %d: error %v, stored %v", i, errs[i], got[fmt.Sprint(i)])
		}
	}
	if len(got) != n/2 {
		t.Errorf("%d keys stored, want %d", len(got), n/2)
	}
}

// TestWriteAfterClose: a closed store refuses writes as unavailable.
func TestWriteAfterClose(t *testing.T) {
	s := batchStore(t)
	s.Close()
	if err := s.tx(context.Background(), insertKey("a", nil)); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("write after Close: %v, want ErrUnavailable", err)
	}
}

// TestWritesArePrepared: a write's statement runs unprepared the first
// time, is prepared on the writer after that batch, and is reused from
// then on.
func TestWritesArePrepared(t *testing.T) {
	s := batchStore(t)
	const q = `INSERT INTO batch_test (k) VALUES (?)`
	for i := range 3 {
		if err := s.tx(context.Background(), insertKey(fmt.Sprint(i), nil)); err != nil {
			t.Fatal(err)
		}
		if _, ok := s.writeStmts[q]; !ok {
			t.Fatalf("after write %d the statement is not prepared", i)
		}
	}
	if got := keys(t, s); len(got) != 3 {
		t.Errorf("stored keys %v, want 3", got)
	}
}

// TestSessionStatusAfterClose: a closed store's session check is
// unavailable (a 503), never a hang.
func TestSessionStatusAfterClose(t *testing.T) {
	s := openTest(t)
	s.Close()
	if _, _, err := s.SessionStatus(context.Background(), "s1"); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("SessionStatus after Close: %v, want ErrUnavailable", err)
	}
}
