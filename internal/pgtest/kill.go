package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// KillWaiting runs lock (a LOCK TABLE statement) in a transaction on url,
// then terminates the first backend that waits for that lock, as an
// administrator, a failover or a crashed server ends a connection in the
// middle of its transaction. It returns a function that waits until that
// has happened (or 20 s have passed, which fails the test) and then
// releases the lock.
//
// Only a test that alone uses the schema in url should call it: whatever
// waits for the lock is killed.
func KillWaiting(t testing.TB, url, lock string) (wait func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, lock); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			// pg_stat_activity may still show the waiter's previous
			// statement while the Parse of the one that waits is
			// blocked, so look for the lock, not the query text.
			var killed bool
			err := tx.QueryRow(ctx, `SELECT coalesce(bool_or(pg_terminate_backend(pid)), false) FROM pg_stat_activity
				WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid))`).Scan(&killed)
			if err != nil {
				t.Errorf("looking for the backend waiting on %q: %v", lock, err)
				return
			}
			if killed {
				return
			}
		}
		t.Errorf("nothing waited for %q within 20 s", lock)
	}()
	return func() {
		<-done
		tx.Rollback(ctx)
		conn.Close(ctx)
	}
}
