package postgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/migrate"
	"github.com/gatehouse/gatehouse/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func openAt(t testing.TB, url string) *Store {
	t.Helper()
	s, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// harness gives the conformance suite a store in a schema of its own, a
// row count, and a real fault: the identity insert is made to wait on a
// table lock, and the waiting backend is then terminated, as an
// administrator or a crashed server would, with the user row already
// written in its transaction.
func harness(t testing.TB) *storetest.Harness {
	url := pgtest.Schema(t)
	s := openAt(t, url)
	return &storetest.Harness{
		Store: s,
		Count: func(t testing.TB, table string) int {
			var n int
			if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		},
		// SHARE lets the upsert read identities and insert the user,
		// and makes its identity insert wait.
		Break: func(t testing.TB) func() {
			return pgtest.KillWaiting(t, url, `LOCK TABLE identities IN SHARE MODE`)
		},
	}
}

func TestConformance(t *testing.T) {
	pgtest.URL(t) // skip (or fail in CI) once, not in every subtest
	storetest.Run(t, harness)
}

func BenchmarkStore(b *testing.B) {
	pgtest.URL(b)
	storetest.Bench(b, harness)
}

// TestKilledUpsertIsUnavailable: the connection terminated mid-transaction
// surfaces as ErrUnavailable (a 503 to the client), not a driver error.
func TestKilledUpsertIsUnavailable(t *testing.T) {
	h := harness(t)
	undo := h.Break(t)
	_, err := h.UpsertIdentity(context.Background(), &gatehouse.Identity{Provider: "github", Subject: "79"}, time.Now(), gatehouse.EmailMatchNewAccount)
	undo()
	if !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Fatalf("UpsertIdentity on a terminated connection: %v, want ErrUnavailable", err)
	}
}

// TestOutageAndRecovery: with the server unreachable every method answers
// ErrUnavailable promptly; when it is back the same store works again,
// without being reopened.
func TestOutageAndRecovery(t *testing.T) {
	url := pgtest.Schema(t)
	proxy := pgtest.NewProxy(t, pgtest.Host(t, url))
	s := openAt(t, pgtest.WithHost(t, url, proxy.Addr()))
	ctx := context.Background()
	u, err := s.UpsertIdentity(ctx, &gatehouse.Identity{Provider: "github", Subject: "1"}, time.Now(), gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := s.CreateSession(ctx, &gatehouse.Session{ID: "s1", UserID: u.ID, Secret: []byte("x"), CurrentHash: "rt-s1",
		CreatedAt: now, LastUsedAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	proxy.Down()
	// Session checks, several at once so that they share batches, end
	// as unavailable too, none left waiting.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, _, err := s.SessionStatus(ctx, "s1"); !errors.Is(err, gatehouse.ErrUnavailable) {
				t.Errorf("SessionStatus during the outage: %v, want ErrUnavailable", err)
			}
		})
	}
	wg.Wait()
	// So do refreshes, batched (rotation.go) and then each on its own.
	keep := func(sess *gatehouse.Session, _ *gatehouse.User, _ *time.Time) (*gatehouse.Session, error) {
		return sess, nil
	}
	for range 4 {
		wg.Go(func() {
			if _, _, err := s.UpdateSessionByToken(ctx, "rt-s1", time.Now(), keep); !errors.Is(err, gatehouse.ErrUnavailable) {
				t.Errorf("UpdateSessionByToken during the outage: %v, want ErrUnavailable", err)
			}
		})
	}
	wg.Wait()
	if err := s.Ping(ctx); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("Ping during the outage: %v, want ErrUnavailable", err)
	}
	if _, err := s.User(ctx, u.ID); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("User during the outage: %v, want ErrUnavailable", err)
	}
	if _, err := s.UpsertIdentity(ctx, &gatehouse.Identity{Provider: "github", Subject: "2"}, time.Now(), gatehouse.EmailMatchNewAccount); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("UpsertIdentity during the outage: %v, want ErrUnavailable", err)
	}
	if _, err := s.ConsumeLoginState(ctx, "a", "b"); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("ConsumeLoginState during the outage: %v, want ErrUnavailable", err)
	}

	proxy.Up()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after the outage: %v", err)
	}
	if _, err := s.User(ctx, u.ID); err != nil {
		t.Fatalf("User after the outage: %v", err)
	}
	if _, _, err := s.SessionStatus(ctx, "s1"); err != nil {
		t.Fatalf("SessionStatus after the outage: %v", err)
	}
	if _, _, err := s.UpdateSessionByToken(ctx, "rt-s1", time.Now(), keep); err != nil {
		t.Fatalf("UpdateSessionByToken after the outage: %v", err)
	}
}

// TestConcurrentOpenMigratesOnce: nodes starting at once against one new
// database apply each migration exactly once.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	url := pgtest.Schema(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			s, err := Open(context.Background(), url)
			if err != nil {
				t.Errorf("Open: %v", err)
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	s := openAt(t, url)
	var n, distinct int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != SchemaVersion || distinct != SchemaVersion {
		t.Fatalf("schema_migrations has %d rows (%d versions), want %d", n, distinct, SchemaVersion)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	url := pgtest.Schema(t)
	s := openAt(t, url)
	if _, err := s.pool.Exec(context.Background(), `INSERT INTO schema_migrations (version) VALUES ($1)`, SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), url)
	if !errors.Is(err, migrate.ErrNewerSchema) || !strings.Contains(err.Error(), "upgrade gatehouse") {
		t.Fatalf("Open of a newer schema: error = %v, want a refusal that says the schema is newer", err)
	}
}

func TestPendingMigrations(t *testing.T) {
	ctx := context.Background()
	s, err := Connect(ctx, pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pending, err := s.PendingMigrations(ctx)
	if err != nil || len(pending) != SchemaVersion {
		t.Fatalf("PendingMigrations on an empty schema = %d, %v; want %d", len(pending), err, SchemaVersion)
	}
	applied, err := s.Migrate(ctx)
	if err != nil || len(applied) != SchemaVersion {
		t.Fatalf("Migrate = %d, %v; want %d", len(applied), err, SchemaVersion)
	}
	if pending, err := s.PendingMigrations(ctx); err != nil || len(pending) != 0 {
		t.Fatalf("PendingMigrations after Migrate = %d, %v; want none", len(pending), err)
	}
}

// TestBadURL: a URL that does not parse is refused without repeating it,
// since it may hold a password.
func TestBadURL(t *testing.T) {
	_, err := Open(context.Background(), "postgres://user:s3cret@host:notaport/db")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open of a bad URL: %v", err)
	}
}

// TestUnreachable: a server that refuses connections fails Open promptly
// with ErrUnavailable.
func TestUnreachable(t *testing.T) {
	proxy := pgtest.NewProxy(t, "127.0.0.1:1")
	proxy.Down()
	start := time.Now()
	_, err := Open(context.Background(), "postgres://postgres:pw@"+proxy.Addr()+"/test?sslmode=disable")
	if !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Fatalf("Open of an unreachable server: %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "pw") {
		t.Fatalf("error %q repeats the password", err)
	}
	if d := time.Since(start); d > ConnectTimeout+time.Second {
		t.Fatalf("Open took %v", d)
	}
}

func TestWrap(t *testing.T) {
	tests := []struct {
		err  error
		want error
	}{
		{pgx.ErrNoRows, gatehouse.ErrNotFound},
		{&pgconn.PgError{Code: "23505"}, gatehouse.ErrConflict},
		{&pgconn.PgError{Code: "22021"}, gatehouse.ErrInvalid},
		{&pgconn.PgError{Code: "40001"}, gatehouse.ErrUnavailable},
		{&pgconn.PgError{Code: "57P01"}, gatehouse.ErrUnavailable},
		{&pgconn.PgError{Code: "08006"}, gatehouse.ErrUnavailable},
		{&pgconn.PgError{Code: "53300"}, gatehouse.ErrUnavailable},
		{context.DeadlineExceeded, gatehouse.ErrUnavailable},
	}
	for _, tc := range tests {
		if got := wrap(tc.err); !errors.Is(got, tc.want) {
			t.Errorf("wrap(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if got := wrap(&pgconn.PgError{Code: "42601"}); errors.Is(got, gatehouse.ErrUnavailable) || errors.Is(got, gatehouse.ErrConflict) {
		t.Errorf("a syntax error was wrapped as %v", got)
	}
}

// TestPoolSize: the pool has DefaultMaxConns connections (or two per core)
// unless the URL says otherwise.
func TestPoolSize(t *testing.T) {
	url := pgtest.Schema(t)
	s := openAt(t, url)
	if got, want := s.pool.Config().MaxConns, defaultMaxConns(); got != want || got < DefaultMaxConns {
		t.Errorf("default pool size %d, want %d (at least %d)", got, want, DefaultMaxConns)
	}
	s = openAt(t, url+"&pool_max_conns=3")
	if got := s.pool.Config().MaxConns; got != 3 {
		t.Errorf("pool size with pool_max_conns=3: %d", got)
	}
}
