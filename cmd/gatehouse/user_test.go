package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// TestUserDisableEnable: the operator command disables a user, ending their
// sessions, and enables them again.
func TestUserDisableEnable(t *testing.T) {
	ctx := context.Background()
	store, path := openSQLite(t, "")
	now := time.Now()
	u, err := store.UpsertIdentity(ctx, &gatehouse.Identity{Provider: "dev", Subject: "1"}, now, gatehouse.EmailMatchNewAccount)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateSession(ctx, &gatehouse.Session{ID: "s1", UserID: u.ID, Secret: []byte{1}, CurrentHash: "h",
		CreatedAt: now, LastUsedAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	kv := env("GATEHOUSE_DATABASE_URL", path)
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"user", "disable", u.ID}, kv, &out, &errOut); err != nil || !strings.Contains(out.String(), "disabled") {
		t.Fatalf("user disable: %v %q %q", err, out.String(), errOut.String())
	}
	sess, got, err := store.SessionUser(ctx, "s1")
	if err != nil || got.DisabledAt == nil || sess.RevokedAt == nil {
		t.Fatalf("after disable: user %+v, session %+v, %v", got, sess, err)
	}
	if err := run(ctx, []string{"user", "enable", u.ID}, kv, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if got, err := store.User(ctx, u.ID); err != nil || got.DisabledAt != nil {
		t.Fatalf("after enable: %+v, %v", got, err)
	}
	for _, args := range [][]string{{"user"}, {"user", "burn", u.ID}, {"user", "disable", "no-such-user"}, {"user", "show"}} {
		err := run(ctx, args, kv, &out, &errOut)
		if err == nil {
			t.Errorf("%v succeeded", args)
		} else if strings.Contains(err.Error(), "gatehouse") {
			t.Errorf("%v: %q repeats the prefix main adds", args, err)
		}
	}
}

// TestUserListShowDelete: list with search and pages, show, delete; flags
// before or after the arguments; --help on each command.
func TestUserListShowDelete(t *testing.T) {
	ctx := context.Background()
	store, path := openSQLite(t, "")
	now := time.Now()
	var ids []string
	for _, login := range []string{"ann", "bob", "Bea"} {
		email := login + "@example.com"
		u, err := store.UpsertIdentity(ctx, &gatehouse.Identity{Provider: "dev", Subject: login,
			Profile: gatehouse.Profile{Login: &login, Email: &email}}, now, gatehouse.EmailMatchNewAccount)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	if err := store.CreateSession(ctx, &gatehouse.Session{ID: "s1", UserID: ids[0], Secret: []byte{1}, CurrentHash: "h1",
		CreatedAt: now, LastUsedAt: now.Add(-15 * time.Minute), IdleExpiresAt: now.Add(7 * 24 * time.Hour), ExpiresAt: now.Add(30 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := store.CreateSession(ctx, &gatehouse.Session{ID: "s2", UserID: ids[0], Secret: []byte{1}, CurrentHash: "h2",
		CreatedAt: now, LastUsedAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	kv := env()
	db := []string{"--database-url", path}
	var out, errOut bytes.Buffer
	cli := func(args ...string) string {
		t.Helper()
		out.Reset()
		if err := run(ctx, args, kv, &out, &errOut); err != nil {
			t.Fatalf("%v: %v %s", args, err, errOut.String())
		}
		return out.String()
	}
	if s := cli(append([]string{"user", "list", "--search", "B"}, db...)...); strings.Contains(s, "ann@") || !strings.Contains(s, "bob@") || !strings.Contains(s, "Bea@") {
		t.Errorf("list --search B:\n%s", s)
	}
	if s := cli(append([]string{"user", "list", "--limit", "2"}, db...)...); !strings.Contains(s, "more: --after") {
		t.Errorf("list --limit 2 has no next page:\n%s", s)
	}
	s := cli("user", "show", "--database-url", path, ids[0])
	if !strings.Contains(s, "ann@example.com") || !strings.Contains(s, "15m ago") || !strings.Contains(s, "6d23h") || !strings.Contains(s, "s2") {
		t.Errorf("show:\n%s", s)
	}
	if s := cli("session", "list", ids[0], "--database-url", path); !strings.Contains(s, "s1") || !strings.Contains(s, " 59m ") {
		t.Errorf("session list:\n%s", s)
	}
	cli("session", "end", "--database-url", path, ids[0], "s1")
	if err := run(ctx, []string{"session", "end", ids[0], "s9", "--database-url", path}, kv, &out, &errOut); err == nil {
		t.Error("ending an unknown session succeeded")
	}
	if s := cli("session", "end", ids[0], "--all", "--database-url", path); !strings.Contains(s, "ended 1 session") {
		t.Errorf("session end --all: %s", s)
	}
	cli("user", "delete", ids[0], "--database-url", path)
	if _, err := store.User(ctx, ids[0]); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
	if err := run(ctx, []string{"session", "list", ids[0], "--database-url", path}, kv, &out, &errOut); err == nil ||
		strings.Contains(err.Error(), "gatehouse") {
		t.Errorf("sessions of a deleted user: %v", err)
	}
	for _, args := range [][]string{{"user", "--help"}, {"user", "list", "--help"}, {"user", "show", "x", "-h"}, {"user", "delete", "--help"},
		{"session", "--help"}, {"session", "end", "x", "--help"}} {
		out.Reset()
		if err := run(ctx, args, kv, &out, &errOut); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "usage: gatehouse "+args[0]) {
			t.Errorf("%v: %v, %q", args, err, out.String())
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{7 * 24 * time.Hour, "7d"}, {15 * time.Minute, "15m"}, {26 * time.Hour, "1d2h"}, {30 * time.Second, "30s"},
		{0, "0s"}, {-15 * time.Minute, "-15m"}, {time.Hour + 30*time.Second, "1h"},
	} {
		if got := formatDuration(tc.d); got != tc.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
