// Package sqlite is Gatehouse's embedded store: one SQLite file, through the
// pure-Go modernc.org/sqlite driver, so the gatehouse binary needs no cgo.
//
// SQLite allows one writer at a time. The store therefore keeps two
// connection pools on the file: a pool of readers, and a single writer
// connection whose transactions begin IMMEDIATE. Writers queue in Go for
// that one connection instead of racing for the file lock, so a burst of
// logins waits its turn and never surfaces "database is locked"; WAL mode
// lets readers carry on meanwhile, and a busy timeout covers other processes
// that open the same file.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/sessioncheck"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Store is a gatehouse.Store on an SQLite file.
type Store struct {
	read  *sql.DB
	write *sql.DB
	// writeStmts holds the writer's prepared statements, by query, and
	// wantPrepared the queries to prepare after the batch (see wtx):
	// SQLite compiles a statement's text anew at every call otherwise.
	// Only the writer goroutine uses them (and Close, once it has ended).
	// The session check's statement is prepared by its readers (status.go).
	writeStmts   map[string]*sql.Stmt
	wantPrepared map[string]bool

	// txs carries write transactions to the writer goroutine (batch.go);
	// stop ends it, and writerDone says it has ended.
	txs              chan *txRequest
	stop, writerDone chan struct{}
	closeOnce        sync.Once

	// checks carries session checks to the status readers (status.go);
	// readersDone says they have ended.
	checks      *sessioncheck.Queue
	readersDone sync.WaitGroup
}

var _ gatehouse.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database at path and applies
// any migrations it lacks; it refuses a database whose schema is newer than
// this binary.
func Open(ctx context.Context, path string) (*Store, error) {
	s, err := Connect(ctx, path)
	if err != nil {
		return nil, err
	}
	if _, err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Connect opens (creating if needed) the SQLite database at path without
// migrating it, for tools that inspect or migrate the schema themselves.
func Connect(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: invalid database path %q", path)
	}
	// The file holds private signing keys: create it readable by its owner
	// only. SQLite gives the -wal and -shm files the same mode.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	q := url.Values{}
	q.Set("_busy_timeout", "10000")
	q.Set("_journal_mode", "WAL")
	q.Set("_foreign_keys", "1")
	q.Set("_synchronous", "NORMAL")
	dsn := "file:" + path + "?" + q.Encode()

	// The writer runs each transaction of a batch in a savepoint (batch.go).
	// SQLite keeps what a savepoint needs to roll back in a sub-journal,
	// a temporary file once it passes 64 KiB, which a batch's savepoints
	// do: every page they touch was then written to disk a second time, on
	// the one goroutine every write waits for. temp_store=memory keeps
	// that file in memory; a batch is bounded (maxBatch), and so is it.
	write, err := sql.Open("sqlite", dsn+"&_txlock=immediate&_pragma=temp_store(memory)")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)

	read, err := sql.Open("sqlite", dsn+"&_query_only=1")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// The status readers (status.go) hold a connection each; the other
	// reads share the rest.
	n := max(4, runtime.GOMAXPROCS(0)) + statusReaders()
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)

	s := &Store{read: read, write: write, writeStmts: map[string]*sql.Stmt{}, wantPrepared: map[string]bool{},
		txs: make(chan *txRequest), stop: make(chan struct{}), writerDone: make(chan struct{})}
	s.checks = sessioncheck.NewQueue(s.stop, errClosed, wrap)
	go s.writer()
	for range statusReaders() {
		s.readersDone.Add(1)
		go s.statusReader()
	}
	if err := write.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.writerDone
	s.readersDone.Wait()
	var errs []error
	for _, st := range s.writeStmts {
		errs = append(errs, st.Close())
	}
	return errors.Join(append(errs, s.read.Close(), s.write.Close())...)
}

// Ping reports whether the database file can be read.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return wrap(err)
	}
	return nil
}

// wrap translates driver errors into the gatehouse sentinels. A busy,
// locked, full, closed or unreadable database, or an interrupted statement,
// is ErrUnavailable (retryable); a uniqueness violation is ErrConflict; and
// sql.ErrNoRows is ErrNotFound.
func wrap(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return gatehouse.ErrNotFound
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		err.Error() == "sql: database is closed" { // database/sql does not export this error
		return fmt.Errorf("%w: %w", gatehouse.ErrUnavailable, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL,
			sqlite3.SQLITE_INTERRUPT:
			return fmt.Errorf("%w: %w", gatehouse.ErrUnavailable, err)
		}
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", gatehouse.ErrConflict, err)
		}
	}
	return fmt.Errorf("sqlite: %w", err)
}

// Times are stored as integer microseconds since the Unix epoch, UTC, so
// that they compare exactly and sort in SQL.
func toDB(t time.Time) int64 { return t.UnixMicro() }

func fromDB(us int64) time.Time { return time.UnixMicro(us).UTC() }

func fromNullDB(us sql.NullInt64) *time.Time {
	if !us.Valid {
		return nil
	}
	t := fromDB(us.Int64)
	return &t
}

func toNullDB(t *time.Time) any {
	if t == nil {
		return nil
	}
	return toDB(*t)
}
