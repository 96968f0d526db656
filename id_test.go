package gatehouse

import (
	"regexp"
	"testing"
	"time"
)

func TestNewID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	now := time.UnixMilli(0x0123456789ab)
	seen := map[string]bool{}
	for range 1000 {
		id := NewID(now)
		if !re.MatchString(id) {
			t.Fatalf("NewID() = %q, not a UUIDv7", id)
		}
		if got, want := id[:13], "01234567-89ab"; got != want {
			t.Fatalf("timestamp part = %q, want %q", got, want)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}
