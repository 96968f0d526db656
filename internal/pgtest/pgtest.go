// Package pgtest gives tests a PostgreSQL database of their own: a fresh
// schema in the database named by GATEHOUSE_TEST_POSTGRES, dropped when the
// test ends, so PostgreSQL tests run in parallel and leave nothing behind.
//
// Without GATEHOUSE_TEST_POSTGRES the tests skip, except when CI=true: there
// a missing or unreachable PostgreSQL fails them.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the variable holding the test database's URL.
const EnvVar = "GATEHOUSE_TEST_POSTGRES"

// URL returns the test database's URL, or skips the test (fails it when
// CI=true) if there is none.
func URL(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvVar)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set; with CI=true the PostgreSQL tests must run", EnvVar)
		}
		t.Skipf("%s is not set; skipping the PostgreSQL tests (set it to e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", EnvVar)
	}
	return dsn
}

// Schema creates a new, empty schema in the test database and returns a URL
// whose connections use it (through search_path). The schema is dropped
// when the test ends.
func Schema(t testing.TB) string {
	t.Helper()
	base := URL(t)
	b := make([]byte, 8)
	rand.Read(b)
	name := "gatehouse_test_" + hex.EncodeToString(b)
	exec(t, base, `CREATE SCHEMA `+name)
	t.Cleanup(func() { exec(t, base, `DROP SCHEMA `+name+` CASCADE`) })
	return WithParam(t, base, "search_path", name)
}

// WithParam returns dsn with a connection parameter set; dsn must be in URL
// form.
func WithParam(t testing.TB, dsn, key, value string) string {
	t.Helper()
	u := parse(t, dsn)
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// WithHost returns dsn pointing at another host:port; dsn must be in URL
// form.
func WithHost(t testing.TB, dsn, hostport string) string {
	t.Helper()
	u := parse(t, dsn)
	u.Host = hostport
	return u.String()
}

// Host returns the host:port of dsn, which must be in URL form.
func Host(t testing.TB, dsn string) string {
	t.Helper()
	u := parse(t, dsn)
	if u.Port() == "" {
		return u.Hostname() + ":5432"
	}
	return u.Host
}

func parse(t testing.TB, dsn string) *url.URL {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL for these tests", EnvVar)
	}
	return u
}

// Exec runs one statement on dsn, failing the test if it fails.
func Exec(t testing.TB, dsn, sql string, args ...any) {
	t.Helper()
	exec(t, dsn, sql, args...)
}

func exec(t testing.TB, dsn, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to the test PostgreSQL (%s): %v", EnvVar, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", strings.Fields(sql)[0], err)
	}
}
