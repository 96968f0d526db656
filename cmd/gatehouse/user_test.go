package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/sqlite"
)

// TestUserDisableEnable: the operator command disables a user, ending their
// sessions, and enables them again.
func TestUserDisableEnable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gh.db")
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
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
	for _, args := range [][]string{{"user"}, {"user", "delete", u.ID}, {"user", "disable", "no-such-user"}} {
		if err := run(ctx, args, kv, &out, &errOut); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
}
