package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// TestAuditCommand: `gatehouse audit` prints the events its flags select,
// newest first, with flags in any order; `gatehouse user disable` and
// `enable` are among them, by the command line.
func TestAuditCommand(t *testing.T) {
	ctx := context.Background()
	store, path := openSQLite(t, "")
	now := time.Now()
	u, err := store.UpsertIdentity(ctx, &gatehouse.Identity{Provider: "dev", Subject: "1"}, now, gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	old := gatehouse.AuditEvent{Type: gatehouse.AuditLoginFailed, Time: now.Add(-10 * 24 * time.Hour), IP: "192.0.2.1",
		Detail: map[string]string{"code": "invalid_state"}}
	if err := store.AppendAudit(ctx, old); err != nil {
		t.Fatal(err)
	}
	kv := env("GATEHOUSE_DATABASE_URL", path)
	var out, errOut bytes.Buffer
	for _, action := range []string{"disable", "enable"} {
		if err := run(ctx, []string{"user", action, u.ID}, kv, &out, &errOut); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		args []string
		want []string // the types printed, in order
	}{
		{[]string{"audit"}, []string{"user_enabled", "user_disabled", "login_failed"}},
		{[]string{"audit", "--since", "7d"}, []string{"user_enabled", "user_disabled"}},
		{[]string{"audit", "--type", "user_disabled", "--user", u.ID}, []string{"user_disabled"}},
		{[]string{"audit", "--limit", "1", "--database-url", path}, []string{"user_enabled"}},
		{[]string{"audit", "--user", "nobody"}, nil},
	}
	for _, tc := range tests {
		out.Reset()
		if err := run(ctx, tc.args, kv, &out, &errOut); err != nil {
			t.Fatalf("%v: %v %s", tc.args, err, errOut.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if !strings.HasPrefix(lines[0], "TIME") {
			t.Fatalf("%v: no header: %q", tc.args, out.String())
		}
		var got []string
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			got = append(got, f[1])
			if f[1] == "user_disabled" && (f[2] != u.ID || f[4] != "cli") {
				t.Errorf("%v: line %q, want the user and actor cli", tc.args, l)
			}
			if f[1] == "login_failed" && (f[5] != "192.0.2.1" || !strings.Contains(l, `{"code":"invalid_state"}`)) {
				t.Errorf("%v: line %q", tc.args, l)
			}
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%v: printed %v, want %v", tc.args, got, tc.want)
		}
	}
	for _, bad := range [][]string{{"audit", "--since", "a week"}, {"audit", "--limit", "0"}, {"audit", "extra"}} {
		if err := run(ctx, bad, kv, &out, &errOut); err == nil {
			t.Errorf("%v succeeded", bad)
		}
	}
}
