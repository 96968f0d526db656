package verify

import "time"

// SetMinRefetchInterval changes the least time between two key fetches.
func (v *Verifier) SetMinRefetchInterval(d time.Duration) {
	v.keys.mu.Lock()
	defer v.keys.mu.Unlock()
	v.keys.minInterval = d
}

// Waiters returns how many verifications wait for a key fetch.
func (v *Verifier) Waiters() int {
	v.keys.mu.Lock()
	defer v.keys.mu.Unlock()
	return v.keys.waiters
}

// WaitIdle waits for the running key fetch, if any, to end.
func (v *Verifier) WaitIdle() {
	v.keys.mu.Lock()
	done := v.keys.inflight
	v.keys.mu.Unlock()
	if done != nil {
		<-done
	}
}

// KeysFreshUntil returns when the current keys are due for a refresh.
func (v *Verifier) KeysFreshUntil() time.Time { return v.keys.current.Load().fresh }

// CacheLen returns the number of tokens in the cache, or -1 without one.
func (v *Verifier) CacheLen() int {
	if v.v.Cache == nil {
		return -1
	}
	return v.v.Cache.Len()
}

var KeysAge = keysAge
