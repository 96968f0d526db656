package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/pgtest"
)

// TestMain serves when the bench starts this test binary again as one of
// its servers (-serve), as it starts itself.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-serve" {
		if err := serveMain(context.Background(), os.Args[1:]); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestBench runs the whole bench in a tiny configuration, on SQLite and,
// with GATEHOUSE_TEST_POSTGRES, on PostgreSQL: every scenario measures
// something and nothing fails.
func TestBench(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gatehouse binary; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := buildBinary(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-bin", bin, "-duration", "200ms", "-warmup", "0", "-conns", "4", "-clients", "4"}
	t.Run("sqlite", func(t *testing.T) {
		runBench(t, ctx, append(args, "-seed", "100"))
	})
	t.Run("postgres", func(t *testing.T) {
		runBench(t, ctx, append(args, "-seed", "100", "-db", pgtest.URL(t)))
	})
}

func runBench(t *testing.T, ctx context.Context, args []string) {
	t.Helper()
	var out bytes.Buffer
	rep, err := run(ctx, args, &out, t.Output())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", out.String())
	var got []string
	for _, r := range rep.Results {
		got = append(got, r.Scenario)
		if r.Count == 0 || r.Rate() <= 0 {
			t.Errorf("%s: measured nothing", r.Scenario)
		}
		if r.Errors > 0 {
			t.Errorf("%s: %d errors; the first: %s", r.Scenario, r.Errors, r.FirstError)
		}
	}
	if len(got) != len(scenarioNames) {
		t.Errorf("scenarios run: got %q, want one of each of %q", got, scenarioNames)
	}
	if len(rep.RSS) < 3 {
		t.Errorf("memory samples: got %v, want at least 3", rep.RSS)
	}
	for _, s := range []string{"GOMAXPROCS", "req/s", "gatehouse RSS"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("the report has no %q", s)
		}
	}
}

// TestSeed: a seeded database has the rows, and the store reads them as
// its own: every session active, each user with one session and an
// identity whose verified email the email rule finds.
func TestSeed(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		checkSeed(t, filepath.Join(t.TempDir(), "gatehouse.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		checkSeed(t, pgtest.Schema(t))
	})
}

func checkSeed(t *testing.T, db string) {
	ctx := context.Background()
	store, err := openStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	const n = 450 // more than one INSERT of seedRowsPerInsert, and a remainder
	tokens, err := seed(ctx, db, n, 8)
	if err != nil {
		t.Fatal(err)
	}
	// The kept refresh tokens are live tokens of 8 different sessions, a
	// 56th of the seed apart.
	if len(tokens) != 8 {
		t.Fatalf("kept %d refresh tokens, want 8", len(tokens))
	}
	seen := map[string]bool{}
	for _, raw := range tokens {
		id, _, _ := strings.Cut(raw, ".")
		sess, _, err := store.SessionUser(ctx, id)
		sum := sha256.Sum256([]byte(raw))
		if err != nil || sess.CurrentHash != base64.RawURLEncoding.EncodeToString(sum[:]) || seen[id] {
			t.Errorf("kept token of session %s: %v; want the live token of a session of its own", id, err)
		}
		seen[id] = true
	}
	now := time.Now()
	counts, err := store.(gatehouse.Counter).Count(ctx, now)
	if err != nil || counts.Sessions != n {
		t.Errorf("active sessions: got %d, %v; want %d", counts.Sessions, err, n)
	}
	users, err := store.ListUsers(ctx, gatehouse.UserQuery{Limit: n + 1})
	if err != nil || len(users) != n {
		t.Fatalf("users: got %d, %v; want %d", len(users), err, n)
	}
	u := users[n/2]
	sessions, err := store.Sessions(ctx, u.ID)
	if err != nil || len(sessions) != 1 || !sessions[0].Active(now) {
		t.Fatalf("sessions of user %s: got %v, %v; want one active", u.ID, sessions, err)
	}
	if _, su, err := store.SessionUser(ctx, sessions[0].ID); err != nil || su.ID != u.ID {
		t.Errorf("SessionUser(%s): got %v, %v; want user %s", sessions[0].ID, su, err, u.ID)
	}
	// A first login with a seeded user's verified email is refused: the
	// identity's verified_email is what the store writes.
	_, err = store.UpsertIdentity(ctx, &gatehouse.Identity{Provider: "other", Subject: "1",
		Profile: gatehouse.Profile{Email: u.Email, EmailVerified: true}}, now, gatehouse.EmailMatchRefuse)
	if _, ok := errors.AsType[*gatehouse.AccountExistsError](err); !ok {
		t.Errorf("a first login with the email of %s: got %v, want an *AccountExistsError", u.ID, err)
	}
}

// TestHistogram: quantiles are within the histogram's precision.
func TestHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, time.Millisecond}} {
		got := h.quantile(c.q)
		if d := got - c.want; d < -c.want/50 || d > c.want/50 {
			t.Errorf("quantile(%v): got %v, want %v within 2%%", c.q, got, c.want)
		}
	}
	for _, ns := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 20, 1<<40 + 12345, 1<<63 - 1} {
		i := bucketOf(ns)
		if mid := bucketMid(i); math.Abs(float64(mid)-float64(ns)) > float64(ns)/50+1 {
			t.Errorf("bucket of %d: middle %d, more than 2%% off", ns, mid)
		}
	}
}
