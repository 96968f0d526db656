// Package session holds the rules of Gatehouse sessions, with no HTTP in
// them. A login starts a session with an opaque refresh token (Start); a
// refresh rotates the token, with a grace window for tabs that refresh at
// the same moment and reuse detection after it (Refresh); a logout ends the
// session, or every session of its user (End); every request with an
// access token checks that its session is still live (Authenticate).
//
// A logout that the database cannot record is not forgotten: it is written
// to a small local file, refused on this node from then on (refresh token
// and access tokens alike), replayed in the background until the database
// takes it, and replayed again after a restart.
//
// The package takes its store, clock and limits as values; the server
// package maps HTTP requests to its calls.
package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// Defaults and bounds of Config.
const (
	// DefaultIdleTimeout ends a session not refreshed for a week.
	DefaultIdleTimeout = 7 * 24 * time.Hour
	// MinIdleTimeout is the shortest idle timeout allowed.
	MinIdleTimeout = time.Minute
	// MinMaxAge is the shortest maximum age allowed.
	MinMaxAge = time.Minute
	// DefaultMaxAge ends every session 30 days after its login.
	DefaultMaxAge = 30 * 24 * time.Hour
	// DefaultGrace is how long a rotated refresh token still gets its
	// successor, for tabs that refresh at the same moment.
	DefaultGrace = 10 * time.Second
	// MaxGrace caps the grace window: a stolen token is usable alongside
	// the real one for that long.
	MaxGrace = time.Minute
	// DefaultRetryEvery is how often logouts the database could not
	// record are tried again.
	DefaultRetryEvery = 5 * time.Second
	// DefaultMaxPending bounds the logouts waiting for the database on one
	// node (about 250 bytes each in memory and on disk).
	DefaultMaxPending = 10_000
	// maxUserAgentLen caps the User-Agent kept with a session.
	maxUserAgentLen = 256
	// maxIPLen caps the client address kept with a session.
	maxIPLen = 64
	// maxSuccessorChain is how many rotations a token retired within the
	// grace window may be behind the live one.
	maxSuccessorChain = 8
	// minLeft is the least a session must have left to be refreshed:
	// an access token lives at least a second.
	minLeft = time.Second
)

// DefaultRefreshRate limits refreshes per session on one node: enough for
// many tabs waking up at once, not for a loop.
var DefaultRefreshRate = ratelimit.Rate{N: 12, Per: time.Minute}

// Config configures a Manager.
type Config struct {
	Store gatehouse.Store
	// IdleTimeout ends a session not refreshed for this long; zero means
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxAge is a session's absolute lifetime from its login; refreshing
	// never extends it. Zero means DefaultMaxAge.
	MaxAge time.Duration
	// Grace is how long a rotated refresh token still answers with its
	// successor; after that, presenting it again ends the session. Zero
	// means DefaultGrace; a negative value means none.
	Grace time.Duration
	// RefreshRate limits refreshes per session on this node; the zero
	// Rate means DefaultRefreshRate, ratelimit.Unlimited none.
	RefreshRate ratelimit.Rate
	// PendingFile is the file that keeps logouts the database could not
	// record until it does, so that they survive a restart. Empty keeps
	// them in memory only.
	PendingFile string
	// MaxPending bounds the logouts waiting for the database; zero means
	// DefaultMaxPending.
	MaxPending int
	// RetryEvery is how often waiting logouts are tried again; zero means
	// DefaultRetryEvery.
	RetryEvery time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives audit events of replayed logouts; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Check reports the first bad field of cfg as a *gatehouse.ConfigError,
// leaving aside the Store, which New requires. A command line calls it to
// refuse bad settings before it opens the database.
func (cfg Config) Check() error {
	idle, maxAge, grace := cfg.durations()
	switch {
	case idle < MinIdleTimeout:
		return gatehouse.ConfigErrorf("IdleTimeout", "must be at least %s, got %s", MinIdleTimeout, idle)
	case maxAge < MinMaxAge:
		return gatehouse.ConfigErrorf("MaxAge", "must be at least %s, got %s", MinMaxAge, maxAge)
	case grace > MaxGrace:
		return gatehouse.ConfigErrorf("Grace", "must be at most %s, got %s", MaxGrace, grace)
	}
	return nil
}

// durations returns the idle timeout, maximum age and grace window with
// their defaults applied.
func (cfg Config) durations() (idle, maxAge, grace time.Duration) {
	idle, maxAge, grace = cfg.IdleTimeout, cfg.MaxAge, cfg.Grace
	if idle == 0 {
		idle = DefaultIdleTimeout
	}
	if maxAge == 0 {
		maxAge = DefaultMaxAge
	}
	switch {
	case grace == 0:
		grace = DefaultGrace
	case grace < 0:
		grace = 0
	}
	return idle, maxAge, grace
}

// Manager applies the session rules. It is safe for concurrent use.
type Manager struct {
	store               gatehouse.Store
	idle, maxAge, grace time.Duration
	now                 func() time.Time
	log                 *slog.Logger
	refreshLimit        *ratelimit.Limiter
	pending             *pendingQueue
	stop                context.CancelFunc
	done                chan struct{}
	closeOnce           sync.Once
	replayed            chan struct{} // tests: a replay round ended
	tick                <-chan time.Time
	stopTicker          func()
}

// New checks cfg, loads the logouts left waiting in cfg.PendingFile by an
// earlier run, and starts the background replay of waiting logouts. Close
// stops it.
func New(cfg Config) (*Manager, error) {
	t := time.NewTicker(retryEvery(cfg))
	m, err := newManager(cfg, t.C)
	if err != nil {
		t.Stop()
		return nil, err
	}
	m.stopTicker = t.Stop
	return m, nil
}

func retryEvery(cfg Config) time.Duration {
	if cfg.RetryEvery > 0 {
		return cfg.RetryEvery
	}
	return DefaultRetryEvery
}

// newManager is New with the replay loop driven by tick.
func newManager(cfg Config, tick <-chan time.Time) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("session: Config.Store is required")
	}
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	cfg.IdleTimeout, cfg.MaxAge, cfg.Grace = cfg.durations()
	if cfg.MaxPending == 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.MaxPending < 1 {
		return nil, fmt.Errorf("session: the pending logout bound must be positive, got %d", cfg.MaxPending)
	}
	rate := cfg.RefreshRate
	if rate == (ratelimit.Rate{}) {
		rate = DefaultRefreshRate
	}
	m := &Manager{
		store:        cfg.Store,
		idle:         cfg.IdleTimeout,
		maxAge:       cfg.MaxAge,
		grace:        cfg.Grace,
		now:          cfg.Now,
		log:          cfg.Logger,
		refreshLimit: ratelimit.New(rate, ratelimit.DefaultMaxKeys),
		done:         make(chan struct{}),
		replayed:     make(chan struct{}, 1),
		tick:         tick,
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	var err error
	if m.pending, err = openPending(cfg.PendingFile, cfg.MaxPending, m.now().Add(-m.maxAge)); err != nil {
		return nil, err
	}
	if n := m.pending.len(); n > 0 {
		m.log.Warn("logouts recorded on this node during a database outage are waiting to be replayed", "count", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.stop = cancel
	go m.replayLoop(ctx)
	return m, nil
}

// Close stops the background replay of waiting logouts and closes the
// pending file; the logouts still waiting stay in it for the next run.
func (m *Manager) Close() error {
	var err error
	m.closeOnce.Do(func() {
		m.stop()
		<-m.done
		if m.stopTicker != nil {
			m.stopTicker()
		}
		err = m.pending.close()
	})
	return err
}

// Client describes the browser a session is started from, for the user's
// list of their sessions.
type Client struct {
	UserAgent string
	IP        string
}

// Start stores a new session for u and returns it with its first refresh
// token.
func (m *Manager) Start(ctx context.Context, u *gatehouse.User, c Client) (*gatehouse.Session, string, error) {
	now := m.now()
	secret := make([]byte, 32)
	rand.Read(secret)
	sess := &gatehouse.Session{
		ID:            gatehouse.NewID(now),
		UserID:        u.ID,
		Secret:        secret,
		CreatedAt:     now,
		LastUsedAt:    now,
		ExpiresAt:     now.Add(m.maxAge),
		IdleExpiresAt: minTime(now.Add(m.idle), now.Add(m.maxAge)),
		UserAgent:     gatehouse.CleanText(c.UserAgent, maxUserAgentLen),
		IP:            gatehouse.CleanText(c.IP, maxIPLen),
	}
	raw := newToken(sess.ID)
	sess.CurrentHash = hash(raw)
	if err := m.store.CreateSession(ctx, sess); err != nil {
		return nil, "", err
	}
	return sess, raw, nil
}

// Authenticate returns the status of session sid and its user, as stored
// now, for a request with an access token of user sub in session sid. The session
// must be live, its user must exist and not be disabled, and no logout of
// it may be waiting on this node: revocation takes effect on the next
// request, with no cache in between.
func (m *Manager) Authenticate(ctx context.Context, sid, sub string) (*gatehouse.SessionStatus, *gatehouse.User, error) {
	if m.pending.blocked(sid) {
		return nil, nil, gatehouse.Errorf(gatehouse.EInvalidToken, "the session has ended")
	}
	sess, u, err := m.store.SessionStatus(ctx, sid)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, nil, gatehouse.Errorf(gatehouse.EInvalidToken, "the session has ended or the user no longer exists")
	}
	if err != nil {
		return nil, nil, err
	}
	if sess.UserID != sub || !sess.Active(m.now()) || u.DisabledAt != nil {
		return nil, nil, gatehouse.Errorf(gatehouse.EInvalidToken, "the session has ended or the user is disabled")
	}
	return sess, u, nil
}

// IdleTimeout returns the idle timeout in force.
func (m *Manager) IdleTimeout() time.Duration { return m.idle }

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
