package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/token"
)

// How long fetched keys are used before they are fetched again: the JWKS
// answer's Cache-Control max-age, within these bounds.
const (
	DefaultKeysAge = 5 * time.Minute
	MinKeysAge     = time.Minute
	MaxKeysAge     = 24 * time.Hour
)

// MinRefetchInterval is the least time between two fetches of the key set.
// Tokens naming unknown key ids cost nothing more within it: anyone can
// make up a kid, and Gatehouse must not be hammered for them.
const MinRefetchInterval = 30 * time.Second

// remoteKeys is a token.KeySource of the keys at a JWKS URL. It answers from
// the last good key set it fetched. A known key that is due for a refresh
// is still served while one runs in the background; an unknown key id
// starts a fetch and waits for it. At most one fetch runs at a time, and
// none starts within minInterval of the previous one. A fetch that fails,
// or finds an unfit key set, changes nothing: the last good keys are kept.
type remoteKeys struct {
	url         string
	client      *http.Client
	now         func() time.Time
	log         *slog.Logger
	minInterval time.Duration

	// current is read without the lock on every verification.
	current atomic.Pointer[keySnapshot]

	mu       sync.Mutex
	lastTry  time.Time
	inflight chan struct{} // closed when the running fetch ends; nil if none
	closed   bool          // no fetch starts any more (Verifier.Close)
	waiters  int           // requests waiting for inflight, for tests
}

type keySnapshot struct {
	keys map[string]*token.Key
	// fresh is when the keys are due for a refresh.
	fresh time.Time
}

// init fetches the first key set, within ctx.
func (r *remoteKeys) init(ctx context.Context) error {
	now := r.now()
	s, err := r.fetch(ctx)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	r.lastTry = now
	r.current.Store(s)
	return nil
}

// keysFor is the KeySource of one verification: waits for a fetch end with
// its context.
type keysFor struct {
	r   *remoteKeys
	ctx context.Context
}

func (k keysFor) Key(kid string) (*token.Key, bool) { return k.r.key(k.ctx, kid) }

func (r *remoteKeys) key(ctx context.Context, kid string) (*token.Key, bool) {
	s := r.current.Load()
	now := r.now()
	k, ok := s.keys[kid]
	if ok && now.Before(s.fresh) {
		return k, true
	}
	r.mu.Lock()
	done := r.startLocked(now)
	if ok || done == nil {
		r.mu.Unlock()
		return k, ok
	}
	r.waiters++
	r.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
	}
	r.mu.Lock()
	r.waiters--
	r.mu.Unlock()
	k, ok = r.current.Load().keys[kid]
	return k, ok
}

// startLocked returns the channel of the running fetch, or of a new one if
// minInterval has passed since the last began; else nil.
func (r *remoteKeys) startLocked(now time.Time) chan struct{} {
	if r.inflight != nil {
		return r.inflight
	}
	if r.closed || now.Sub(r.lastTry) < r.minInterval {
		return nil
	}
	r.lastTry = now
	done := make(chan struct{})
	r.inflight = done
	go r.refresh(done)
	return done
}

// refresh fetches the key set, bounded by its own timeout since no single
// request owns it, and installs it if it is good.
func (r *remoteKeys) refresh(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	s, err := r.fetch(ctx)
	if err != nil {
		r.log.Warn("verify: cannot refresh the signing keys; using the last good ones", "url", r.url, "err", err)
	} else {
		r.current.Store(s)
	}
	r.mu.Lock()
	r.inflight = nil
	r.mu.Unlock()
	close(done)
}

func (r *remoteKeys) fetch(ctx context.Context) (*keySnapshot, error) {
	body, h, err := get(ctx, r.client, r.url, token.MaxJWKSSize)
	if err != nil {
		return nil, fmt.Errorf("key set: %w", err)
	}
	list, err := token.ParseJWKS(body)
	if err != nil {
		return nil, fmt.Errorf("key set at %s: %w", r.url, err)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("key set at %s: %w", r.url, errNoKeys)
	}
	keys := make(map[string]*token.Key, len(list))
	for _, k := range list {
		keys[k.ID] = k
	}
	return &keySnapshot{keys: keys, fresh: r.now().Add(keysAge(h.Get("Cache-Control")))}, nil
}

var errNoKeys = errors.New("no keys (a Gatehouse that signs with HS256 publishes none)")

// keysAge returns how long keys fetched with the Cache-Control header cc
// are used: its max-age within [MinKeysAge, MaxKeysAge], MinKeysAge for
// no-cache or no-store, and DefaultKeysAge without either.
func keysAge(cc string) time.Duration {
	age := DefaultKeysAge
	for _, d := range strings.Split(cc, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(name) {
		case "no-cache", "no-store":
			return MinKeysAge
		case "max-age":
			if n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64); err == nil && n >= 0 {
				age = time.Duration(min(n, int64(MaxKeysAge/time.Second))) * time.Second
			}
		}
	}
	return min(max(age, MinKeysAge), MaxKeysAge)
}

// close stops new fetches and waits for the one in flight, if any.
func (r *remoteKeys) close() {
	r.mu.Lock()
	r.closed = true
	done := r.inflight
	r.mu.Unlock()
	if done != nil {
		<-done
	}
}
