// Package testclock is a fake clock for tests: it stands still until the
// test moves it, so expiry is tested at its exact edges and never waited
// for.
package testclock

import (
	"sync"
	"time"
)

// Clock is a fake clock, safe for concurrent use. Pass its Now method
// wherever a package takes a clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a clock stopped at t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
