package session

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse"
)

// pendingLogout is a logout the database could not record when it was
// asked for.
type pendingLogout struct {
	// Hash is the hash of the refresh token presented.
	Hash string `json:"hash"`
	// SessionID is the session the token names; the node refuses it
	// until the logout is recorded. (A forged token could name somebody
	// else's session: that session is refused on this node until the
	// database answers, which then shows the token unknown.)
	SessionID string    `json:"sid"`
	Global    bool      `json:"global,omitempty"`
	At        time.Time `json:"at"`
	// Done marks, in the file, a logout that no longer waits.
	Done bool `json:"done,omitempty"`
}

// pendingQueue holds the waiting logouts in memory and, when it has a
// file, in an append-only log of JSON lines that is replayed at startup
// and compacted as it grows. Each addition is synced to disk before the
// logout is acknowledged.
type pendingQueue struct {
	// n is len(byHash), read without the lock: every request with an
	// access token asks whether its session is blocked, and almost always
	// nothing waits.
	n      atomic.Int64
	mu     sync.Mutex
	byHash map[string]pendingLogout
	bySID  map[string]int
	max    int
	path   string
	f      *os.File
	lines  int
	closed bool
}

// openPending loads the waiting logouts from path (if any), drops those
// asked for before expired (their sessions have ended anyway), and
// rewrites the file with what is left.
func openPending(path string, max int, expired time.Time) (*pendingQueue, error) {
	q := &pendingQueue{byHash: map[string]pendingLogout{}, bySID: map[string]int{}, max: max, path: path}
	if path == "" {
		return q, nil
	}
	f, err := os.Open(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("session: reading the pending logouts: %w", err)
	default:
		err := q.read(f, expired)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("session: reading the pending logouts in %s: %w", path, err)
		}
	}
	if err := q.compact(); err != nil {
		return nil, err
	}
	return q, nil
}

func (q *pendingQueue) read(r io.Reader, expired time.Time) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 4096)
	for sc.Scan() {
		var p pendingLogout
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil || p.Hash == "" {
			// A line cut short by a crash mid-write: it was never
			// acknowledged.
			continue
		}
		if p.Done {
			q.forget(p.Hash)
			continue
		}
		if p.At.Before(expired) || len(q.byHash) >= q.max {
			continue
		}
		q.remember(p)
	}
	return sc.Err()
}

// compact rewrites the file with the waiting logouts only, atomically,
// and removes it when none waits. The caller holds q.mu or owns q alone.
func (q *pendingQueue) compact() error {
	if q.path == "" {
		return nil
	}
	if q.f != nil {
		q.f.Close()
		q.f = nil
	}
	q.lines = 0
	if len(q.byHash) == 0 {
		if err := os.Remove(q.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("session: removing the pending logouts: %w", err)
		}
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(q.path), ".gatehouse-pending-*")
	if err != nil {
		return fmt.Errorf("session: writing the pending logouts: %w", err)
	}
	w := bufio.NewWriter(tmp)
	for _, p := range q.byHash {
		b, _ := json.Marshal(p)
		w.Write(append(b, '\n'))
	}
	err = errors.Join(w.Flush(), tmp.Chmod(0o600), tmp.Sync(), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), q.path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("session: writing the pending logouts: %w", err)
	}
	q.lines = len(q.byHash)
	return nil
}

// append writes one line and syncs it, creating the file if needed. The
// caller holds q.mu.
func (q *pendingQueue) append(p pendingLogout) error {
	if q.path == "" {
		return nil
	}
	if q.f == nil {
		f, err := os.OpenFile(q.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		q.f = f
	}
	b, _ := json.Marshal(p)
	if _, err := q.f.Write(append(b, '\n')); err != nil {
		return err
	}
	q.lines++
	return q.f.Sync()
}

func (q *pendingQueue) remember(p pendingLogout) {
	if _, dup := q.byHash[p.Hash]; dup {
		return
	}
	q.byHash[p.Hash] = p
	q.n.Store(int64(len(q.byHash)))
	if p.SessionID != "" {
		q.bySID[p.SessionID]++
	}
}

func (q *pendingQueue) forget(h string) {
	p, ok := q.byHash[h]
	if !ok {
		return
	}
	delete(q.byHash, h)
	q.n.Store(int64(len(q.byHash)))
	if p.SessionID != "" {
		if q.bySID[p.SessionID]--; q.bySID[p.SessionID] <= 0 {
			delete(q.bySID, p.SessionID)
		}
	}
}

// add queues a logout, durably if the queue has a file, or refuses with
// ErrPendingFull.
func (q *pendingQueue) add(p pendingLogout) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, dup := q.byHash[p.Hash]; dup {
		return nil
	}
	if len(q.byHash) >= q.max {
		return ErrPendingFull
	}
	if err := q.append(p); err != nil {
		return fmt.Errorf("session: recording a pending logout: %w", err)
	}
	q.remember(p)
	return nil
}

// done removes a logout that no longer waits. An error means the file
// could not record it: the logout would be replayed once more after a
// restart, which ends nothing new.
func (q *pendingQueue) done(h string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.byHash[h]; !ok {
		return nil
	}
	q.forget(h)
	if q.closed {
		return nil
	}
	err := q.append(pendingLogout{Hash: h, Done: true})
	if len(q.byHash) == 0 || q.lines > 2*len(q.byHash)+64 {
		err = errors.Join(err, q.compact())
	}
	return err
}

func (q *pendingQueue) blocked(sid string) bool {
	if q.n.Load() == 0 {
		return false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bySID[sid] > 0
}

func (q *pendingQueue) has(h string) bool {
	if q.n.Load() == 0 {
		return false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.byHash[h]
	return ok
}

func (q *pendingQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.byHash)
}

func (q *pendingQueue) list() []pendingLogout {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]pendingLogout, 0, len(q.byHash))
	for _, p := range q.byHash {
		out = append(out, p)
	}
	return out
}

func (q *pendingQueue) close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	if q.f == nil {
		return nil
	}
	err := q.f.Close()
	q.f = nil
	return err
}

// Pending returns how many logouts wait for the database on this node.
func (m *Manager) Pending() int { return m.pending.len() }

// replayLoop replays the waiting logouts on every tick until ctx is done.
func (m *Manager) replayLoop(ctx context.Context) {
	defer close(m.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.tick:
			m.Replay(ctx)
			select {
			case m.replayed <- struct{}{}:
			default:
			}
		}
	}
}

// Replay tries once to record every waiting logout, and reports how many
// still wait. It stops at the first database failure: the others would
// fail the same way. A logout asked for longer ago than the session
// maximum age is dropped, its session long over.
func (m *Manager) Replay(ctx context.Context) int {
	for _, p := range m.pending.list() {
		if ctx.Err() != nil {
			break
		}
		if m.now().Sub(p.At) > m.maxAge {
			m.forgetPending(p.Hash)
			continue
		}
		ended, err := m.end(ctx, p.Hash, p.Global, p.At, "logout")
		var reuse *ReuseError
		switch {
		case errors.Is(err, gatehouse.ErrUnavailable):
			return m.pending.len()
		case err == nil && ended.Session != nil:
			m.log.Info("audit", "event", "logout", "result", "success", "user_id", ended.Session.UserID,
				"session_id", ended.Session.ID, "global", ended.Global, "reason", "recorded after a database outage")
		case errors.As(err, &reuse):
			m.log.Warn("audit", "event", "refresh_reuse", "result", "failure", "reason", gatehouse.ERefreshReused,
				"user_id", reuse.UserID, "session_id", reuse.SessionID)
		case err != nil && !errors.Is(err, gatehouse.ErrNotFound) && !errors.Is(err, errEnded):
			// Not a token anyone can use again; do not retry forever.
			m.log.Error("replaying a logout recorded during a database outage", "err", err)
		}
		m.forgetPending(p.Hash)
	}
	return m.pending.len()
}

// forgetPending removes a logout from the queue, logging a file that
// could not record it.
func (m *Manager) forgetPending(h string) {
	if err := m.pending.done(h); err != nil {
		m.log.Warn("recording a replayed logout in the pending file", "err", err)
	}
}
