package ratelimit

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)

func TestParseRate(t *testing.T) {
	good := []struct {
		in   string
		want Rate
	}{
		{"off", Unlimited},
		{"30/m", Rate{30, time.Minute}},
		{"10/s", Rate{10, time.Second}},
		{"100/h", Rate{100, time.Hour}},
		{"5/10s", Rate{5, 10 * time.Second}},
	}
	for _, tc := range good {
		got, err := ParseRate(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if round, err := ParseRate(got.String()); err != nil || round != got {
			t.Errorf("ParseRate(%q.String() = %q) = %v, %v", tc.in, got.String(), round, err)
		}
	}
	for _, bad := range []string{"", "0/m", "-1/m", "30", "30/", "30/d", "x/m", "30/500ms", "30/48h", "2000000/s", "OFF"} {
		if got, err := ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) = %v, want an error", bad, got)
		}
	}
}

func TestAllowBurstThenRefill(t *testing.T) {
	l := New(Rate{N: 3, Per: time.Minute}, 10)
	for i := range 3 {
		if ok, _ := l.Allow("a", t0); !ok {
			t.Fatalf("event %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow("a", t0)
	if ok {
		t.Fatal("the event past the burst was allowed")
	}
	if wait != 20*time.Second {
		t.Fatalf("retry after %v, want 20s (one event every 20s)", wait)
	}
	if ok, _ := l.Allow("b", t0); !ok {
		t.Fatal("another key was refused")
	}
	if ok, _ := l.Allow("a", t0.Add(19*time.Second)); ok {
		t.Fatal("allowed before the bucket refilled")
	}
	if ok, _ := l.Allow("a", t0.Add(20*time.Second)); !ok {
		t.Fatal("refused after the bucket refilled one event")
	}
}

func TestOffAllowsEverything(t *testing.T) {
	l := New(Unlimited, 10)
	for i := range 1000 {
		if ok, _ := l.Allow(fmt.Sprint(i%3), t0); !ok {
			t.Fatal("an off limiter refused")
		}
	}
	if n := l.Len(); n != 0 {
		t.Fatalf("an off limiter tracks %d keys, want 0", n)
	}
	var nilLimiter *Limiter
	if ok, _ := nilLimiter.Allow("a", t0); !ok {
		t.Fatal("a nil limiter refused")
	}
}

// TestBoundedKeys: a flood of distinct keys never grows the limiter past
// its cap, and the keys that do not fit share one bucket, so the flood gets
// no more through than one key would.
func TestBoundedKeys(t *testing.T) {
	l := New(Rate{N: 2, Per: time.Minute}, 100)
	allowed := 0
	for i := range 10_000 {
		if ok, _ := l.Allow(fmt.Sprint("k", i), t0); ok {
			allowed++
		}
	}
	if n := l.Len(); n != 100 {
		t.Fatalf("tracked keys = %d, want the cap 100", n)
	}
	// 100 tracked keys with a burst of 2 each got one event each; the
	// 9,900 others shared one bucket of 2.
	if allowed != 100+2 {
		t.Fatalf("allowed %d events, want %d", allowed, 100+2)
	}
	// Once the tracked buckets fill up again, they are dropped and new keys
	// get buckets of their own.
	later := t0.Add(time.Minute)
	if ok, _ := l.Allow("fresh", later); !ok {
		t.Fatal("a new key was refused after the flood ended")
	}
	if n := l.Len(); n != 1 {
		t.Fatalf("tracked keys after the sweep = %d, want 1", n)
	}
}

// TestBusyKeysKept: a key that is still limited is not swept away (which
// would hand it a fresh burst).
func TestBusyKeysKept(t *testing.T) {
	l := New(Rate{N: 1, Per: time.Hour}, 10)
	if ok, _ := l.Allow("busy", t0); !ok {
		t.Fatal("first event refused")
	}
	if ok, _ := l.Allow("other", t0.Add(2*time.Minute)); !ok { // sweeps
		t.Fatal("other key refused")
	}
	if ok, _ := l.Allow("busy", t0.Add(2*time.Minute)); ok {
		t.Fatal("the busy key got a fresh bucket after a sweep")
	}
}

func TestAddrKey(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"::1", "::/64"},
	} {
		if got := AddrKey(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("AddrKey(%s) = %s, want %s", tc.addr, got, tc.want)
		}
	}
}

// TestMemory measures what a full limiter costs, for the README.
func TestMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("measures memory")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	l := New(Rate{N: 60, Per: time.Minute}, DefaultMaxKeys)
	for i := range DefaultMaxKeys {
		l.Allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String(), t0)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / DefaultMaxKeys
	t.Logf("a full limiter of %d keys holds %.1f MB (%.0f bytes a key)", DefaultMaxKeys, float64(after.HeapAlloc-before.HeapAlloc)/1e6, per)
	if l.Len() != DefaultMaxKeys {
		t.Fatalf("Len = %d", l.Len())
	}
	if per > 400 {
		t.Fatalf("%.0f bytes a key, want at most 400", per)
	}
}
