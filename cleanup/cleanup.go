// Package cleanup deletes what has expired (login states, ended sessions,
// audit events past their retention) in the background: in bounded batches, with a context of its own that no
// client can cancel, and outside any request, so that no user's request
// waits behind it.
package cleanup

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Defaults of Config.
const (
	// DefaultInterval is how often the expired records are deleted.
	DefaultInterval = time.Minute
	// DefaultBatch is how many records one delete statement removes, so
	// that no transaction holds the database for long.
	DefaultBatch = 1000
	// batchTimeout bounds each batch.
	batchTimeout = 10 * time.Second
	// DefaultAuditRetention is how long audit events are kept.
	DefaultAuditRetention = 90 * 24 * time.Hour
	// MinAuditRetention and MaxAuditRetention bound Config.AuditRetention.
	MinAuditRetention = 24 * time.Hour
	MaxAuditRetention = 10 * 366 * 24 * time.Hour
)

// Config configures a Loop.
type Config struct {
	Store gatehouse.Store
	// Interval between two runs; zero means DefaultInterval.
	Interval time.Duration
	// Batch is the most records one statement deletes; zero means
	// DefaultBatch.
	Batch int
	// Pause between two batches of a run, so that other writers get the
	// database in between; zero means none.
	Pause time.Duration
	// AuditRetention is how long audit events are kept; zero means
	// DefaultAuditRetention.
	AuditRetention time.Duration
	// Now returns the current time; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Loop deletes expired login states and ended sessions, once per interval,
// until it is closed.
type Loop struct {
	cfg    Config
	stop   context.CancelFunc
	done   chan struct{}
	once   sync.Once
	ticker *time.Ticker
}

// Check reports a bad AuditRetention as a *gatehouse.ConfigError.
func (cfg Config) Check() error {
	if r := cfg.AuditRetention; r != 0 && (r < MinAuditRetention || r > MaxAuditRetention) {
		return gatehouse.ConfigErrorf("AuditRetention", "must be between %s and %s, got %s", MinAuditRetention, MaxAuditRetention, r)
	}
	return nil
}

// Start starts the loop; its first run is one interval from now. cfg
// should have passed Check.
func Start(cfg Config) *Loop {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	t := time.NewTicker(cfg.Interval)
	l := start(cfg, t.C)
	l.ticker = t
	return l
}

func start(cfg Config, tick <-chan time.Time) *Loop {
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AuditRetention == 0 {
		cfg.AuditRetention = DefaultAuditRetention
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Loop{cfg: cfg, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick:
				l.Run(ctx)
			}
		}
	}()
	return l
}

// Close stops the loop, cutting a run short at its current batch, and
// waits for it to end.
func (l *Loop) Close() error {
	l.once.Do(func() {
		l.stop()
		<-l.done
		if l.ticker != nil {
			l.ticker.Stop()
		}
	})
	return nil
}

// Result counts what one run deleted.
type Result struct {
	LoginStates, Sessions, AuditEvents int64
}

// Run deletes, batch by batch, every login state that has expired and
// every session that has ended and every audit event older than the
// retention, until none is left or ctx is done.
func (l *Loop) Run(ctx context.Context) Result {
	now := l.cfg.Now()
	var r Result
	r.LoginStates = l.drain(ctx, "login states", func(ctx context.Context) (int64, error) {
		return l.cfg.Store.DeleteExpiredLoginStates(ctx, now, l.cfg.Batch)
	})
	r.Sessions = l.drain(ctx, "ended sessions", func(ctx context.Context) (int64, error) {
		return l.cfg.Store.DeleteEndedSessions(ctx, now, l.cfg.Batch)
	})
	r.AuditEvents = l.drain(ctx, "audit events", func(ctx context.Context) (int64, error) {
		return l.cfg.Store.DeleteAuditEventsBefore(ctx, now.Add(-l.cfg.AuditRetention), l.cfg.Batch)
	})
	if r.LoginStates+r.Sessions+r.AuditEvents > 0 {
		l.cfg.Logger.Debug("cleanup", "login_states", r.LoginStates, "sessions", r.Sessions, "audit_events", r.AuditEvents)
	}
	return r
}

// drain runs del until it deletes less than a batch, and returns the total.
func (l *Loop) drain(ctx context.Context, what string, del func(context.Context) (int64, error)) int64 {
	var total int64
	for ctx.Err() == nil {
		bctx, cancel := context.WithTimeout(ctx, batchTimeout)
		n, err := del(bctx)
		cancel()
		total += n
		if err != nil {
			if ctx.Err() == nil {
				l.cfg.Logger.Warn("cleanup: deleting "+what, "err", err)
			}
			return total
		}
		if n < int64(l.cfg.Batch) {
			return total
		}
		if l.cfg.Pause > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(l.cfg.Pause):
			}
		}
	}
	return total
}
