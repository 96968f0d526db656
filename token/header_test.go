package token

import (
	"testing"

	"github.com/gatehouse/gatehouse"
)

func TestFromHeader(t *testing.T) {
	cases := []struct {
		name   string
		values []string
		query  string
		tok    string
		code   string
	}{
		{"bearer", []string{"Bearer abc.def.ghi"}, "", "abc.def.ghi", ""},
		{"scheme in any case", []string{"bEARER abc"}, "", "abc", ""},
		{"trailing spaces", []string{"Bearer abc  "}, "", "abc", ""},
		{"other query", []string{"Bearer abc"}, "x=1", "abc", ""},
		{"no header", nil, "", "", gatehouse.EUnauthorized},
		{"query only", nil, "access_token=abc", "", gatehouse.EUnauthorized},
		{"header and query", []string{"Bearer abc"}, "access_token=abc", "", gatehouse.EInvalidRequest},
		{"header and query after ;", []string{"Bearer abc"}, "a=1;access_token=x", "", gatehouse.EInvalidRequest},
		{"two headers", []string{"Bearer abc", "Bearer abc"}, "", "", gatehouse.EInvalidRequest},
		{"Basic", []string{"Basic dXNlcjpwYXNz"}, "", "", gatehouse.EInvalidToken},
		{"Bearer alone", []string{"Bearer"}, "", "", gatehouse.EInvalidToken},
		{"Bearer and spaces", []string{"Bearer    "}, "", "", gatehouse.EInvalidToken},
		{"tab", []string{"Bearer\tabc"}, "", "", gatehouse.EInvalidToken},
		{"empty", []string{""}, "", "", gatehouse.EInvalidToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := FromHeader(tc.values, tc.query)
			if got := gatehouse.ErrorCode(err); got != tc.code {
				t.Fatalf("code = %q, want %q (err %v)", got, tc.code, err)
			}
			if tok != tc.tok {
				t.Errorf("token = %q, want %q", tok, tc.tok)
			}
		})
	}
}
