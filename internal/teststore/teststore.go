// Package teststore opens real stores for tests of the packages that hold
// Gatehouse's rules: a fresh SQLite file, and a fresh PostgreSQL schema
// when GATEHOUSE_TEST_POSTGRES names a database (required with CI=true;
// see package pgtest).
package teststore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/postgres"
	"github.com/gatehouse/gatehouse/sqlite"
)

// Backends are the stores Each runs a test on.
var Backends = []string{"sqlite", "postgres"}

// Open returns a fresh, migrated store of the named backend, closed when
// the test ends. For postgres it skips the test, or fails it when CI=true,
// without GATEHOUSE_TEST_POSTGRES.
func Open(t testing.TB, backend string) gatehouse.Store {
	t.Helper()
	ctx := context.Background()
	var s gatehouse.Store
	var err error
	switch backend {
	case "sqlite":
		s, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	case "postgres":
		s, err = postgres.Open(ctx, pgtest.Schema(t))
	default:
		t.Fatalf("teststore: unknown backend %q", backend)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
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
