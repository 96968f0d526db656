package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/sqlite"
)

// migrateRun runs `gatehouse migrate args…` with the given environment
// and returns its output.
func migrateRun(t *testing.T, kv []string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), append([]string{"migrate"}, args...), env(kv...), &out, &errOut); err != nil {
		t.Fatalf("gatehouse migrate %v: %v\n%s", args, err, errOut.String())
	}
	return out.String()
}

// testMigrateCommand: --dry-run lists the pending migrations and changes
// nothing; migrate applies them; a second migrate finds nothing to do.
func testMigrateCommand(t *testing.T, kv ...string) {
	dry := migrateRun(t, kv, "--dry-run")
	if !strings.Contains(dry, "would apply 0001_init.sql") {
		t.Fatalf("dry run output:\n%s", dry)
	}
	if again := migrateRun(t, kv, "--dry-run"); again != dry {
		t.Fatalf("a dry run changed something: first\n%s\nthen\n%s", dry, again)
	}
	if out := migrateRun(t, kv); !strings.Contains(out, "applied 0001_init.sql") {
		t.Fatalf("migrate output:\n%s", out)
	}
	for _, args := range [][]string{nil, {"--dry-run"}} {
		if out := migrateRun(t, kv, args...); !strings.Contains(out, "up to date") || strings.Contains(out, "apply") {
			t.Fatalf("migrate %v on an up-to-date database:\n%s", args, out)
		}
	}
}

func TestMigrateCommandSQLite(t *testing.T) {
	testMigrateCommand(t, "GATEHOUSE_DATABASE_URL", filepath.Join(t.TempDir(), "gh.db"))
}

func TestMigrateCommandPostgres(t *testing.T) {
	url := pgtest.Schema(t)
	testMigrateCommand(t, "GATEHOUSE_DATABASE_URL", url)
	if out := migrateRun(t, []string{"GATEHOUSE_DATABASE_URL", url}); strings.Contains(out, "search_path") {
		t.Errorf("the output repeats the URL's parameters:\n%s", out)
	}
}

// TestMigrateRefusesNewerSchema: a database migrated by a newer Gatehouse
// stops both migrate and serve with a message that says so.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gh.db")
	kv := []string{"GATEHOUSE_DATABASE_URL", path}
	migrateRun(t, kv)
	execSQLite(t, path, `INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)`)
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"migrate"}, env(kv...), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "newer than this gatehouse binary") {
		t.Fatalf("migrate on a newer schema: %v", err)
	}
	cfg, err := loadConfig(nil, env(kv...), &errOut)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := openStore(context.Background(), cfg.db); err == nil || !strings.Contains(err.Error(), "upgrade gatehouse") {
		t.Fatalf("serve's openStore on a newer schema: %v", err)
	}
}

func TestMigrateBadFlag(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "--frobnicate"}, env(), &out, &errOut); err == nil {
		t.Fatal("migrate --frobnicate: no error")
	}
	if err := run(context.Background(), []string{"migrate", "extra"}, env(), &out, &errOut); err == nil {
		t.Fatal("migrate extra: no error")
	}
}

// openSQLite opens the store at path (a new one in a temporary directory
// if path is ""), closed when the test ends.
func openSQLite(t *testing.T, path string) (*sqlite.Store, string) {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "gh.db")
	}
	store, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store, path
}

func execSQLite(t *testing.T, path, q string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
}
