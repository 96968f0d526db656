// Package ratelimit limits how often one key (a client address, a session)
// may do something, with bounded memory, on golang.org/x/time/rate token
// buckets. Each Gatehouse node keeps its own limits: with n nodes behind a
// load balancer a client may get up to n times the configured rate.
package ratelimit

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rate allows N events per Per, in bursts of up to N. A Rate with no
// events (the zero Rate, or Unlimited) sets no limit; configurations that
// give the zero Rate a default of their own take Unlimited for none.
type Rate struct {
	N   int
	Per time.Duration
}

// Unlimited is the Rate that sets no limit, as ParseRate reads "off".
var Unlimited = Rate{N: -1}

// Off reports whether r sets no limit.
func (r Rate) Off() bool { return r.N <= 0 || r.Per <= 0 }

// String formats r as ParseRate reads it.
func (r Rate) String() string {
	if r.Off() {
		return "off"
	}
	switch r.Per {
	case time.Second:
		return fmt.Sprintf("%d/s", r.N)
	case time.Minute:
		return fmt.Sprintf("%d/m", r.N)
	case time.Hour:
		return fmt.Sprintf("%d/h", r.N)
	}
	return fmt.Sprintf("%d/%s", r.N, r.Per)
}

// ParseRate reads a rate written N/UNIT, where UNIT is s, m or h or a Go
// duration ("30/m", "600/m", "5/10s"), or "off" for no limit.
func ParseRate(s string) (Rate, error) {
	if s == "off" {
		return Unlimited, nil
	}
	n, per, ok := strings.Cut(s, "/")
	count, err := strconv.Atoi(n)
	if !ok || err != nil || count < 1 || count > 1_000_000 {
		return Rate{}, fmt.Errorf("rate %q is not N/s, N/m, N/h or off, with N from 1 to 1000000", s)
	}
	var d time.Duration
	switch per {
	case "s":
		d = time.Second
	case "m":
		d = time.Minute
	case "h":
		d = time.Hour
	default:
		if d, err = time.ParseDuration(per); err != nil || d < time.Second || d > 24*time.Hour {
			return Rate{}, fmt.Errorf("rate %q: the period must be s, m, h or a duration from 1s to 24h", s)
		}
	}
	return Rate{N: count, Per: d}, nil
}

// DefaultMaxKeys is how many keys a Limiter tracks by default.
const DefaultMaxKeys = 50_000

// sweepEvery is how often a Limiter drops the buckets that have filled up
// again, which are the same as new ones.
const sweepEvery = time.Minute

// fullSweepEvery is how often, at most, a Limiter that is full sweeps
// before it gives up and puts a new key in the overflow bucket.
const fullSweepEvery = time.Second

// Limiter limits events per key. It tracks at most its maximum number of
// keys: buckets that have filled up again are dropped (a new bucket is the
// same), and when every tracked key is still busy, new keys share one
// overflow bucket with the same rate, so that a flood of distinct keys
// (addresses) costs no more memory and gets no more through than one key.
type Limiter struct {
	limit   rate.Limit
	burst   int
	off     bool
	maxKeys int

	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	overflow  *rate.Limiter
	lastSweep time.Time
}

// New returns a Limiter for r that tracks at most maxKeys keys (at least
// 1). A Limiter for a Rate that is Off allows everything and keeps nothing.
func New(r Rate, maxKeys int) *Limiter {
	l := &Limiter{off: r.Off(), maxKeys: max(maxKeys, 1), buckets: map[string]*rate.Limiter{}}
	if !l.off {
		l.limit = rate.Limit(float64(r.N) / r.Per.Seconds())
		l.burst = r.N
		l.overflow = rate.NewLimiter(l.limit, l.burst)
	}
	return l
}

// ErrLimited is returned, wrapped, by callers that refuse an event Allow
// did not allow.
var ErrLimited = errors.New("ratelimit: too many requests")

// Allow reports whether the key may do one more thing at now, using up one
// event if so; if not, it also returns how long until it may.
func (l *Limiter) Allow(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	if l == nil || l.off {
		return true, 0
	}
	b := l.bucket(key, now)
	if b.AllowN(now, 1) {
		return true, 0
	}
	tokens := b.TokensAt(now)
	wait := time.Duration((1 - tokens) / float64(l.limit) * float64(time.Second))
	return false, max(wait, time.Millisecond)
}

// bucket returns key's bucket, making one if there is room.
func (l *Limiter) bucket(key string, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[key]; ok {
		return b
	}
	if now.Sub(l.lastSweep) >= sweepEvery || (len(l.buckets) >= l.maxKeys && now.Sub(l.lastSweep) >= fullSweepEvery) {
		l.sweep(now)
	}
	if len(l.buckets) >= l.maxKeys {
		return l.overflow
	}
	b := rate.NewLimiter(l.limit, l.burst)
	l.buckets[key] = b
	return b
}

// sweep drops the buckets that are full at now; the caller holds l.mu.
func (l *Limiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
}

// Len returns how many keys the Limiter tracks now.
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// AddrKey is the key an address is limited under: an IPv4 address itself,
// and an IPv6 address by its /64 network, which one client usually holds
// whole, so that it cannot pick a fresh address for each request.
func AddrKey(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		p, err := a.WithZone("").Prefix(64)
		if err == nil {
			return p.String()
		}
	}
	return a.String()
}
