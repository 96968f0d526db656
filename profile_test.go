package gatehouse

import (
	"strings"
	"testing"
)

func ptr(s string) *string { return &s }

func TestNormalize(t *testing.T) {
	tests := []struct {
		name         string
		in           Profile
		wantLogin    *string
		wantName     *string
		wantEmail    *string
		wantVerified bool
	}{
		{"clean profile kept", Profile{Login: ptr("ada"), Name: ptr("Ada Lovelace"), Email: ptr("ada@example.com"), EmailVerified: true},
			ptr("ada"), ptr("Ada Lovelace"), ptr("ada@example.com"), true},
		{"bidi override stripped from the name", Profile{Name: ptr("Ada\u202egnp.exe")}, nil, ptr("Adagnp.exe"), nil, false},
		{"isolates and zero-width characters stripped from the login",
			Profile{Login: ptr("a\u200bd\u200da\u2066\u2069\ufeff\u00ad")}, ptr("ada"), nil, nil, false},
		{"control characters stripped", Profile{Name: ptr("A\x00d\x1ba\u0085")}, nil, ptr("Ada"), nil, false},
		{"format characters only: nil", Profile{Name: ptr("\u200b\u202e")}, nil, nil, nil, false},
		{"an email cut to the limit is no longer verified",
			Profile{Email: ptr(strings.Repeat("a", MaxEmailLen) + "@example.com"), EmailVerified: true},
			nil, nil, ptr(strings.Repeat("a", MaxEmailLen)), false},
		{"an email with a zero-width space is no longer verified",
			Profile{Email: ptr("ad\u200ba@example.com"), EmailVerified: true}, nil, nil, ptr("ada@example.com"), false},
		{"an email with surrounding space is no longer verified",
			Profile{Email: ptr(" ada@example.com"), EmailVerified: true}, nil, nil, ptr("ada@example.com"), false},
		{"an email with invalid UTF-8 is no longer verified",
			Profile{Email: ptr("ada\xff@example.com"), EmailVerified: true}, nil, nil, ptr("ada\uFFFD@example.com"), false},
		{"no email, not verified", Profile{EmailVerified: true}, nil, nil, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.in
			p.Normalize()
			for _, f := range []struct {
				field     string
				got, want *string
			}{{"Login", p.Login, tc.wantLogin}, {"Name", p.Name, tc.wantName}, {"Email", p.Email, tc.wantEmail}} {
				if (f.got == nil) != (f.want == nil) || (f.got != nil && *f.got != *f.want) {
					t.Errorf("%s = %s, want %s", f.field, show(f.got), show(f.want))
				}
			}
			if p.EmailVerified != tc.wantVerified {
				t.Errorf("EmailVerified = %v, want %v", p.EmailVerified, tc.wantVerified)
			}
		})
	}
}

func show(s *string) string {
	if s == nil {
		return "nil"
	}
	if len(*s) > 40 {
		return "\"" + (*s)[:40] + "…\""
	}
	return "\"" + *s + "\""
}
