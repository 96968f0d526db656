package devlogin

import (
	"container/list"
	"time"
)

// fifo is a bounded map whose entries all live for the same ttl. It keeps
// them in the order they were added, which is also the order they expire
// in, so expiring is popping from the front until the first live entry:
// O(1) amortised per call, never a walk over every entry. An entry removed
// early leaves the order list at once, so the list is never longer than the
// map. The caller serialises access.
type fifo[V any] struct {
	ttl   time.Duration
	limit int
	// release, if set, is called with every entry that leaves, whether it
	// expired or was removed.
	release func(V)

	order list.List // of *entry[V], oldest first
	index map[string]*list.Element
}

type entry[V any] struct {
	key     string
	value   V
	expires time.Time
}

func newFIFO[V any](ttl time.Duration, limit int, release func(V)) *fifo[V] {
	return &fifo[V]{ttl: ttl, limit: limit, release: release, index: map[string]*list.Element{}}
}

// expire drops the entries that have expired at now, from the front.
func (f *fifo[V]) expire(now time.Time) {
	for e := f.order.Front(); e != nil && now.After(e.Value.(*entry[V]).expires); e = f.order.Front() {
		f.drop(e)
	}
}

// full reports whether, once expired entries are dropped, the fifo holds
// limit entries.
func (f *fifo[V]) full(now time.Time) bool {
	f.expire(now)
	return f.order.Len() >= f.limit
}

// add stores v under key until now+ttl. It reports false, storing nothing,
// when the fifo is full.
func (f *fifo[V]) add(now time.Time, key string, v V) bool {
	if f.full(now) {
		return false
	}
	f.index[key] = f.order.PushBack(&entry[V]{key: key, value: v, expires: now.Add(f.ttl)})
	return true
}

// get returns the live entry under key.
func (f *fifo[V]) get(now time.Time, key string) (V, bool) {
	f.expire(now)
	e, ok := f.index[key]
	// The entry's own expiry is checked too: a clock that stepped back
	// can leave an expired entry behind a live one.
	if !ok || now.After(e.Value.(*entry[V]).expires) {
		var zero V
		return zero, false
	}
	return e.Value.(*entry[V]).value, true
}

// take returns the live entry under key and removes it, so that it is used
// once.
func (f *fifo[V]) take(now time.Time, key string) (V, bool) {
	v, ok := f.get(now, key)
	if ok {
		f.drop(f.index[key])
	}
	return v, ok
}

// remove drops the entry under key, if any.
func (f *fifo[V]) remove(key string) {
	if e, ok := f.index[key]; ok {
		f.drop(e)
	}
}

func (f *fifo[V]) drop(e *list.Element) {
	en := f.order.Remove(e).(*entry[V])
	delete(f.index, en.key)
	if f.release != nil {
		f.release(en.value)
	}
}

// len returns the number of entries held, expired or not.
func (f *fifo[V]) len() int { return f.order.Len() }

// retryAfter returns how long until the oldest entry expires and frees a
// place, rounded up to whole seconds and at least one.
func (f *fifo[V]) retryAfter(now time.Time) time.Duration {
	d := f.ttl
	if e := f.order.Front(); e != nil {
		d = e.Value.(*entry[V]).expires.Sub(now)
	}
	return max((d + time.Second - 1).Truncate(time.Second), time.Second)
}
