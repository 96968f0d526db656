// Package teststore opens real stores for tests of the packages that hold
// Gatehouse's rules: a fresh SQLite file, and a fresh PostgreSQL schema
// when GATEHOUSE_TEST_POSTGRES names a database (required with CI=true;
// see package pgtest). Count looks behind a store it opened, for tests
// that check what was (not) written.
package teststore

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/postgres"
	"github.com/gatehouse/gatehouse/sqlite"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for Count
)

// opened is where each store Open returned keeps its data: the
// database/sql driver and data source name.
var opened sync.Map // gatehouse.Store → [2]string

// Backends are the stores Each runs a test on.
var Backends = []string{"sqlite", "postgres"}

// Open returns a fresh, migrated store of the named backend, closed when
// the test ends. For postgres it skips the test, or fails it when CI=true,
// without GATEHOUSE_TEST_POSTGRES.
func Open(t testing.TB, backend string) gatehouse.Store {
	t.Helper()
	ctx := context.Background()
	var s gatehouse.Store
	var driver, dsn string
	var err error
	switch backend {
	case "sqlite":
		path := filepath.Join(t.TempDir(), "gatehouse.db")
		s, err = sqlite.Open(ctx, path)
		driver, dsn = "sqlite", "file:"+path+"?_pragma=busy_timeout(5000)"
	case "postgres":
		dsn = pgtest.Schema(t)
		s, err = postgres.Open(ctx, dsn)
		driver = "pgx"
	default:
		t.Fatalf("teststore: unknown backend %q", backend)
	}
	if err != nil {
		t.Fatal(err)
	}
	opened.Store(s, [2]string{driver, dsn})
	t.Cleanup(func() {
		opened.Delete(s)
		s.Close()
	})
	return s
}

// Count returns the number of rows in table, read straight from the
// database of s, a store that Open (or Each) returned.
func Count(t testing.TB, s gatehouse.Store, table string) int {
	t.Helper()
	src, ok := opened.Load(s)
	if !ok {
		t.Fatal("teststore: Count needs a store that Open returned")
	}
	db, err := sql.Open(src.([2]string)[0], src.([2]string)[1])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Each runs fn as a parallel subtest on a fresh store of every backend.
func Each(t *testing.T, fn func(t *testing.T, s gatehouse.Store)) {
	for _, b := range Backends {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			fn(t, Open(t, b))
		})
	}
}
