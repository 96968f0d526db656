package devlogin

import (
	"testing"
	"time"
)

// TestFIFOExpiresFromTheFront: expiry pops expired entries from the front
// of the queue and stops at the first live one, without looking at the
// rest; a lookup still never returns an expired entry.
func TestFIFOExpiresFromTheFront(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var released []string
	f := newFIFO(time.Minute, 10, func(v string) { released = append(released, v) })
	f.add(t0, "a", "a")
	f.add(t0.Add(10*time.Second), "b", "b")
	f.add(t0.Add(20*time.Second), "c", "c")
	// A clock that stepped back: "d" expires before "c", but is behind it.
	f.add(t0.Add(5*time.Second), "d", "d")

	cases := []struct {
		name     string
		at       time.Duration
		len      int
		released string
	}{
		{"nothing expired", 30 * time.Second, 4, ""},
		{"at the expiry instant", time.Minute, 4, ""},
		{"the first expired", time.Minute + time.Second, 3, "a"},
		{"the first two expired", time.Minute + 15*time.Second, 2, "ab"},
		// A full sweep would drop "d" here; the front, "c", is live.
		{"an expired entry behind a live one", time.Minute + 19*time.Second, 2, "ab"},
		{"all expired", time.Hour, 0, "abcd"},
	}
	for _, c := range cases {
		f.expire(t0.Add(c.at))
		if got := f.len(); got != c.len || len(f.index) != c.len {
			t.Errorf("%s: got %d queued and %d in the map, want %d", c.name, got, len(f.index), c.len)
		}
		var got string
		for _, r := range released {
			got += r
		}
		if got != c.released {
			t.Errorf("%s: released %q, want %q", c.name, got, c.released)
		}
		if c.name == "an expired entry behind a live one" {
			if _, ok := f.get(t0.Add(c.at), "d"); ok {
				t.Errorf("%s: get returned the expired entry", c.name)
			}
		}
	}
}

func TestFIFOLimitAndRemove(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	released := 0
	f := newFIFO(time.Minute, 2, func(int) { released++ })
	if !f.add(t0, "a", 1) || !f.add(t0, "b", 2) {
		t.Fatal("add below the limit failed")
	}
	if f.add(t0, "c", 3) {
		t.Error("add at the limit: got true, want false")
	}
	if got := f.retryAfter(t0.Add(30 * time.Second)); got != 30*time.Second {
		t.Errorf("retryAfter: got %v, want %v", got, 30*time.Second)
	}
	if v, ok := f.take(t0, "a"); !ok || v != 1 {
		t.Errorf("take a: got %v, %v; want 1, true", v, ok)
	}
	if _, ok := f.take(t0, "a"); ok {
		t.Error("second take of a: got true, want false")
	}
	f.remove("b")
	if f.len() != 0 || len(f.index) != 0 || released != 2 {
		t.Errorf("after take and remove: got %d queued, %d in the map, %d released; want 0, 0, 2", f.len(), len(f.index), released)
	}
	if !f.add(t0, "c", 3) {
		t.Error("add after removals: got false, want true")
	}
}
