package gatehouse

import (
	"encoding/json"
	"testing"
	"time"
)

func strptr(s string) *string { return &s }

func checkUserJSON(t *testing.T, u *User) {
	t.Helper()
	want, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.AppendJSON(nil); string(got) != string(want) {
		t.Errorf("AppendJSON:\n got %s\nwant %s", got, want)
	}
}

// TestUserAppendJSON: the hand-written JSON of a User is encoding/json's.
func TestUserAppendJSON(t *testing.T) {
	at := time.Date(2026, 11, 29, 13, 0, 0, 123456000, time.UTC)
	checkUserJSON(t, &User{ID: "u1", CreatedAt: at, UpdatedAt: at})
	checkUserJSON(t, &User{ID: "01JD", Profile: Profile{Login: strptr("octocat"), Name: strptr("The <Octo> & \"cat\"\\"),
		Company: strptr("\x00\x01\x1f\n\r\t\b\f"), Location: strptr("Zürich \u2028\u2029 🦫"), Email: strptr("a@b.c"),
		Picture: strptr("bad \xff\xfe utf-8 \xe2\x82"), EmailVerified: true},
		CreatedAt: at, UpdatedAt: at.Add(time.Hour).In(time.FixedZone("x", 3600)), DisabledAt: &at})
}

// FuzzUserAppendJSON: whatever the strings, the JSON is encoding/json's.
func FuzzUserAppendJSON(f *testing.F) {
	f.Add("id", "login", "<&>\u2028", "\xff", int64(0), true)
	f.Fuzz(func(t *testing.T, id, a, b, c string, ns int64, verified bool) {
		at := time.Unix(0, ns).UTC()
		if at.Year() < 0 || at.Year() > 9999 {
			return
		}
		checkUserJSON(t, &User{ID: id, Profile: Profile{Login: &a, Name: &b, Email: &c, EmailVerified: verified},
			CreatedAt: at, UpdatedAt: at})
	})
}
