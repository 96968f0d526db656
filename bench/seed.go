package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/jackc/pgx/v5"
)

// Seeding fills the database with n users, each with one identity and one
// session, written straight into the tables as the stores write them, so
// that the bench can compare the server on an empty database with one
// that has a million of each. The sessions are never used: their tokens
// are random, only their shape is real. The schema must be migrated first
// (openStore does that).

const (
	seedProvider  = "github"
	seedUserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
	seedIdle      = 7 * 24 * time.Hour  // the default session idle timeout
	seedMaxAge    = 30 * 24 * time.Hour // the default session lifetime
)

// seeder makes the rows of a seed: users created over the past year in
// order (their ids are time-ordered, as gatehouse.NewID makes them), each
// with a session started in the past week and used in the past hour. A
// seeder is used by one goroutine at a time.
type seeder struct {
	n   int
	now time.Time
	rng *mrand.Rand
}

func newSeeder(n int, now time.Time) *seeder {
	var key [32]byte
	rand.Read(key[:])
	return &seeder{n: n, now: now, rng: mrand.New(mrand.NewChaCha8(key))}
}

// seedUser is user i of a seed and its identity at seedProvider.
type seedUser struct {
	id, login, name, email, subject string
	created                         time.Time
}

func (s *seeder) user(i int) seedUser {
	year := 365 * 24 * time.Hour
	created := s.now.Add(-year + time.Duration(i)*(year/time.Duration(s.n+1)))
	login := "seed" + strconv.Itoa(i)
	return seedUser{id: gatehouse.NewID(created), login: login, name: "Seed User " + strconv.Itoa(i),
		email: login + "@seed.example", subject: strconv.Itoa(10_000_000 + i), created: created}
}

// seedSession is the session of user i; raw is its refresh token.
type seedSession struct {
	id, hash, raw, ip                       string
	secret                                  []byte
	created, lastUsed, idleExpires, expires time.Time
}

func (s *seeder) session(i int) seedSession {
	r := seedSession{ip: "198.51.100." + strconv.Itoa(i%250+1), secret: make([]byte, 32)}
	r.created = s.now.Add(-time.Duration(s.rng.Int64N(int64(7 * 24 * time.Hour))))
	r.lastUsed = s.now.Add(-time.Duration(s.rng.Int64N(int64(time.Hour))))
	r.expires = r.created.Add(seedMaxAge)
	r.idleExpires = r.lastUsed.Add(seedIdle)
	if r.idleExpires.After(r.expires) {
		r.idleExpires = r.expires
	}
	r.id = gatehouse.NewID(r.created)
	// A refresh token as package session makes one (the session id, a dot,
	// 256 bits), kept as its SHA-256.
	var tok [32]byte
	s.fill(tok[:])
	s.fill(r.secret)
	r.raw = r.id + "." + base64.RawURLEncoding.EncodeToString(tok[:])
	sum := sha256.Sum256([]byte(r.raw))
	r.hash = base64.RawURLEncoding.EncodeToString(sum[:])
	return r
}

// seedKept collects the refresh tokens of k sessions of a seed of n, spread
// evenly through it, for the refresh scenario: the sessions a server
// refreshes in real use lie all through its tables, not together at their
// end as the sessions of fresh logins do. Used by one goroutine.
type seedKept struct {
	every, k int
	tokens   []string
}

func newSeedKept(n, k int) *seedKept {
	k = min(k, n)
	return &seedKept{every: max(1, n/max(k, 1)), k: k}
}

// offer keeps the token of session i if it is one of those chosen.
func (s *seedKept) offer(i int, ss seedSession) {
	if len(s.tokens) < s.k && i%s.every == s.every/2 {
		s.tokens = append(s.tokens, ss.raw)
	}
}

func (s *seeder) fill(b []byte) {
	for i := 0; i < len(b); i += 8 {
		v := s.rng.Uint64()
		for j := i; j < min(i+8, len(b)); j++ {
			b[j] = byte(v)
			v >>= 8
		}
	}
}

// seed puts n users, identities and sessions in the database db (an SQLite
// file or a PostgreSQL URL), whose schema is migrated, and returns the
// refresh tokens of keep of the sessions, spread evenly through them.
func seed(ctx context.Context, db string, n, keep int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	kept := newSeedKept(n, keep)
	var err error
	if isPostgres(db) {
		err = seedPostgres(ctx, db, n, kept)
	} else {
		err = seedSQLite(ctx, db, n, kept)
	}
	if err != nil {
		return nil, err
	}
	return kept.tokens, nil
}

// seedRowsPerInsert is how many rows one INSERT statement writes on SQLite:
// 12 columns × 200 rows stays well under SQLite's 32766 parameters.
const (
	seedRowsPerInsert = 200
	seedRowsPerTx     = 50_000
)

var (
	usersInsert = insertSQL("users", "id, login, name, company, location, email, picture, email_verified, created_at, updated_at")
	identInsert = insertSQL("identities",
		"provider, subject, user_id, login, email, email_verified, verified_email, created_at, updated_at")
	sessionsInsert = insertSQL("sessions",
		"id, user_id, secret, current_hash, created_at, last_used_at, idle_expires_at, expires_at, revoked_at, revoke_reason, user_agent, ip")
)

// insertSQL returns a function giving the INSERT of rows rows into table.
func insertSQL(table, columns string) func(rows int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", strings.Count(columns, ",")+1), ", ") + ")"
	return func(rows int) string {
		return "INSERT INTO " + table + " (" + columns + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", rows), ", ")
	}
}

// seedSQLite writes the rows on one connection, in transactions of
// seedRowsPerTx rows, with prepared multi-row INSERTs; the rows are made on
// another goroutine (and core) meanwhile. Durability is off for the
// seeding connection only: a crash would leave a database to throw away.
func seedSQLite(ctx context.Context, path string, n int, kept *seedKept) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the goroutine making rows if writing fails
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, p := range []string{"PRAGMA journal_mode = WAL", "PRAGMA synchronous = OFF", "PRAGMA cache_size = -262144",
		"PRAGMA temp_store = MEMORY", "PRAGMA foreign_keys = OFF", "PRAGMA busy_timeout = 10000"} {
		if _, err := db.ExecContext(ctx, p); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	batches := make(chan [][3][]any, 4)
	go func() {
		defer close(batches)
		s := newSeeder(n, time.Now())
		for lo := 0; lo < n; lo += seedRowsPerTx {
			var stmts [][3][]any
			for b := lo; b < min(lo+seedRowsPerTx, n); b += seedRowsPerInsert {
				var args [3][]any
				for i := b; i < min(b+seedRowsPerInsert, n); i++ {
					u, ss := s.user(i), s.session(i)
					kept.offer(i, ss)
					c := u.created.UnixMicro()
					args[0] = append(args[0], u.id, u.login, u.name, nil, nil, u.email, nil, 1, c, c)
					args[1] = append(args[1], seedProvider, u.subject, u.id, u.login, u.email, 1, u.email, c, c)
					args[2] = append(args[2], ss.id, u.id, ss.secret, ss.hash, ss.created.UnixMicro(), ss.lastUsed.UnixMicro(),
						ss.idleExpires.UnixMicro(), ss.expires.UnixMicro(), nil, "", seedUserAgent, ss.ip)
				}
				stmts = append(stmts, args)
			}
			select {
			case batches <- stmts:
			case <-ctx.Done():
				return
			}
		}
	}()
	for stmts := range batches {
		if err := seedTx(ctx, db, stmts); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// The WAL folded into the file, as a long-running database has it.
	_, err = db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

// seedTx writes batches of rows in one transaction, each batch with one
// multi-row INSERT per table, prepared once per transaction (on the
// transaction: the pool's one connection is the transaction's).
func seedTx(ctx context.Context, db *sql.DB, batches [][3][]any) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	prepared := map[string]*sql.Stmt{}
	for _, args := range batches {
		rows := len(args[0]) / 10 // users have 10 columns
		for t, insert := range []func(int) string{usersInsert, identInsert, sessionsInsert} {
			q := insert(rows)
			st, ok := prepared[q]
			if !ok {
				if st, err = tx.PrepareContext(ctx, q); err != nil {
					return err
				}
				defer st.Close()
				prepared[q] = st
			}
			if _, err := st.ExecContext(ctx, args[t]...); err != nil {
				return fmt.Errorf("seeding: %w", err)
			}
		}
	}
	return tx.Commit()
}

// seedPostgres copies the rows in with COPY: users first, then identities
// and sessions, which refer to them, at the same time on two connections.
func seedPostgres(ctx context.Context, dsn string, n int, kept *seedKept) error {
	now := time.Now()
	// The users' ids, which all three tables need; the other columns are
	// made again for each table, from the user's number.
	users := newSeeder(n, now)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = users.user(i).id
	}
	copyIn := func(table string, columns []string, values func(i int) []any) error {
		conn, err := connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		i := 0
		_, err = conn.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			i++
			return values(i - 1), nil
		}))
		if err != nil {
			return fmt.Errorf("seeding %s: %w", table, err)
		}
		return nil
	}
	userRow := func(s *seeder, i int) seedUser {
		u := s.user(i)
		u.id = ids[i]
		return u
	}
	err := copyIn("users", []string{"id", "login", "name", "email", "email_verified", "created_at", "updated_at"},
		func(i int) []any {
			u := userRow(users, i)
			return []any{u.id, u.login, u.name, u.email, true, u.created, u.created}
		})
	if err != nil {
		return err
	}
	errc := make(chan error, 2)
	go func() {
		s := newSeeder(n, now)
		errc <- copyIn("identities", []string{"provider", "subject", "user_id", "login", "email", "email_verified",
			"verified_email", "created_at", "updated_at"},
			func(i int) []any {
				u := userRow(s, i)
				return []any{seedProvider, u.subject, u.id, u.login, u.email, true, u.email, u.created, u.created}
			})
	}()
	go func() {
		s := newSeeder(n, now)
		errc <- copyIn("sessions", []string{"id", "user_id", "secret", "current_hash", "created_at", "last_used_at",
			"idle_expires_at", "expires_at", "user_agent", "ip"},
			func(i int) []any {
				ss := s.session(i)
				kept.offer(i, ss)
				return []any{ss.id, ids[i], ss.secret, ss.hash, ss.created, ss.lastUsed, ss.idleExpires, ss.expires,
					seedUserAgent, ss.ip}
			})
	}()
	for range 2 {
		if e := <-errc; e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
		return err
	}
	// The statistics autovacuum would gather after such a load, so that
	// the planner sees the tables as a long-running database has them.
	conn, err := connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "ANALYZE users, identities, sessions")
	return err
}
