package token

import (
	"strings"
	"testing"
)

func BenchmarkMint(b *testing.B) {
	f := newFixture(b)
	for b.Loop() {
		if _, _, err := f.issuer.Mint("user-1", "session-1"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	raw, _, err := f.issuer.Mint("user-1", "session-1")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := f.verifier.Verify(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyGarbage measures what a hostile 1 MB bearer value costs:
// it must be refused by the length check, before any decoding.
func BenchmarkVerifyGarbage(b *testing.B) {
	f := newFixture(b)
	raw := strings.Repeat(".", 1<<20)
	for b.Loop() {
		if _, err := f.verifier.Verify(raw); err == nil {
			b.Fatal("accepted")
		}
	}
}
