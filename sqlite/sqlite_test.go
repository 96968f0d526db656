package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/migrate"
	"github.com/gatehouse/gatehouse/storetest"
)

func openTest(t testing.TB) *Store {
	return openAt(t, filepath.Join(t.TempDir(), "gatehouse.db"))
}

func openAt(t testing.TB, path string) *Store {
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// harness gives the conformance suite a fresh store, a row count read
// straight from the file, and a fault: a temporary trigger on the writer
// connection that aborts the transaction once the user row is in.
func harness(t testing.TB) *storetest.Harness {
	s := openTest(t)
	return &storetest.Harness{
		Store: s,
		Count: func(t testing.TB, table string) int {
			var n int
			if err := s.read.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		},
		Break: func(t testing.TB) func() {
			// The writer pool has exactly one connection, so a TEMP
			// trigger made through it applies to every write.
			if _, err := s.write.Exec(`CREATE TEMP TRIGGER gatehouse_test_fault BEFORE INSERT ON identities
				BEGIN SELECT RAISE(ABORT, 'injected fault'); END`); err != nil {
				t.Fatal(err)
			}
			return func() {
				if _, err := s.write.Exec(`DROP TRIGGER temp.gatehouse_test_fault`); err != nil {
					t.Fatal(err)
				}
			}
		},
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, harness)
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, harness)
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	login := "octocat"
	u, err := s.UpsertIdentity(ctx, &gatehouse.Identity{Provider: "github", Subject: "1", Profile: gatehouse.Profile{Login: &login}}, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopening: %v", err)
	}
	defer s.Close()
	if _, err := s.User(ctx, u.ID); err != nil {
		t.Fatalf("user after reopening: %v", err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(ctx, path)
	if !errors.Is(err, migrate.ErrNewerSchema) || !strings.Contains(err.Error(), "upgrade gatehouse") {
		t.Fatalf("Open of a newer schema: error = %v, want a refusal that says the schema is newer", err)
	}
}

func TestJournalModeIsWAL(t *testing.T) {
	s := openTest(t)
	var mode string
	if err := s.read.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Fatalf("journal_mode = %q, want wal", mode)
	}
}

// The writer keeps its savepoints' sub-journal in memory (Connect).
func TestWriterTempStoreIsMemory(t *testing.T) {
	s := openTest(t)
	var store int
	if err := s.write.QueryRow(`PRAGMA temp_store`).Scan(&store); err != nil {
		t.Fatal(err)
	}
	if store != 2 {
		t.Fatalf("the writer's temp_store = %d, want 2 (memory)", store)
	}
}

func TestErrorsAreSentinels(t *testing.T) {
	if err := wrap(sql.ErrNoRows); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("wrap(ErrNoRows) = %v, want ErrNotFound", err)
	}
	if err := wrap(context.DeadlineExceeded); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("wrap(DeadlineExceeded) = %v, want ErrUnavailable", err)
	}
}

// TestClosedIsUnavailable: a store whose database is gone answers
// ErrUnavailable, which the server turns into a 503, not a 500.
func TestClosedIsUnavailable(t *testing.T) {
	s := openTest(t)
	s.Close()
	ctx := context.Background()
	if _, err := s.User(ctx, "x"); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("User on a closed store: %v, want ErrUnavailable", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("Ping on a closed store: %v, want ErrUnavailable", err)
	}
	if _, err := s.UpsertIdentity(ctx, &gatehouse.Identity{Provider: "p", Subject: "s"}, time.Now(), gatehouse.EmailMatchNewAccount); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("UpsertIdentity on a closed store: %v, want ErrUnavailable", err)
	}
}

// TestConcurrentOpenMigratesOnce: several processes' worth of stores
// opening one new file at once apply each migration exactly once.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			s, err := Open(context.Background(), path)
			if err != nil {
				t.Errorf("Open: %v", err)
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	s := openAt(t, path)
	var n, distinct int
	if err := s.read.QueryRow(`SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != SchemaVersion || distinct != SchemaVersion {
		t.Fatalf("schema_migrations has %d rows (%d versions), want %d", n, distinct, SchemaVersion)
	}
}

func TestPendingMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s, err := Connect(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pending, err := s.PendingMigrations(ctx)
	if err != nil || len(pending) != SchemaVersion {
		t.Fatalf("PendingMigrations on a new file = %d, %v; want %d", len(pending), err, SchemaVersion)
	}
	applied, err := s.Migrate(ctx)
	if err != nil || len(applied) != SchemaVersion {
		t.Fatalf("Migrate = %d, %v; want %d", len(applied), err, SchemaVersion)
	}
	if pending, err := s.PendingMigrations(ctx); err != nil || len(pending) != 0 {
		t.Fatalf("PendingMigrations after Migrate = %d, %v; want none", len(pending), err)
	}
	if applied, err := s.Migrate(ctx); err != nil || len(applied) != 0 {
		t.Fatalf("second Migrate = %d, %v; want none", len(applied), err)
	}
}

func TestInvalidPath(t *testing.T) {
	for _, p := range []string{"", "a?mode=memory", "b#c"} {
		if _, err := Open(context.Background(), p); err == nil {
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestDatabaseFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Fatalf("database file mode = %o, want 600", mode)
	}
}
