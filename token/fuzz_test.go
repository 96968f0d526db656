package token

import (
	"strings"
	"testing"
)

// FuzzVerify feeds arbitrary strings to Verify. It must never panic, and it
// must accept nothing but the one token the fixture minted: any other
// string that verifies is a forgery or a second spelling of a token.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	valid, _, err := fx.issuer.Mint("user-1", "session-1")
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	for _, seed := range []string{
		valid,
		highS(f, valid),
		valid + ".",
		parts[0] + "." + parts[1][:len(parts[1])-1] + "A." + parts[2],
		parts[0] + "." + parts[1] + ".",
		parts[0] + "." + parts[1],
		"eyJhbGciOiJub25lIn0.e30.",
		"eyJhbGciOiJIUzI1NiIsImtpZCI6IngiLCJ0eXAiOiJhdCtqd3QifQ.e30.AAAA",
		"a.b.c",
		"...",
		"",
		strings.Repeat(".", 100),
		`{"payload":"e30","signatures":[]}`,
		"eyJ7.eyJ7.eyJ7",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := fx.verifier.Verify(raw)
		if err == nil && raw != valid {
			t.Fatalf("Verify accepted %q (claims %+v), which is not the minted token", raw, c)
		}
	})
}
