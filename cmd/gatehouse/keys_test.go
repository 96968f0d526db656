package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/keys"
)

// TestKeysCommand: list, rotate and revoke from the command line, with and
// without an encryption key.
func TestKeysCommand(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gh.db")
	kv := env("GATEHOUSE_DATABASE_URL", path)
	keysRun := func(kv func(string) string, args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, append([]string{"keys"}, args...), kv, &out, &errOut)
		return out.String(), err
	}
	state := func(out, s string) string {
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 2 && f[2] == s {
				return f[0]
			}
		}
		return ""
	}

	out, err := keysRun(kv, "rotate")
	if err != nil {
		t.Fatal(err)
	}
	active, next := state(out, "active"), state(out, "next")
	if active == "" || next == "" || !strings.Contains(out, "key "+next+" (ES256) is published and signs from ") {
		t.Fatalf("keys rotate on a new database printed:\n%s\nwant an active key and a next one", out)
	}
	if out, err = keysRun(kv, "list"); err != nil || state(out, "active") != active || !strings.HasPrefix(out, "KID ") {
		t.Fatalf("keys list = %v:\n%s", err, out)
	}

	if out, err = keysRun(kv, "revoke", active); err != nil {
		t.Fatal(err)
	}
	// The audit log names the command line as the actor of both changes.
	audit, _ := openSQLite(t, path)
	for _, typ := range []string{gatehouse.AuditKeyRotated, gatehouse.AuditKeyRevoked} {
		page, err := audit.AuditEvents(ctx, gatehouse.AuditFilter{Type: typ})
		if err != nil || len(page.Events) == 0 {
			t.Fatalf("%s events = %v, %v; want some", typ, page, err)
		}
		for _, ev := range page.Events {
			if ev.Actor != "cli" {
				t.Errorf("%s event actor = %q, want cli", typ, ev.Actor)
			}
		}
	}
	audit.Close()
	if state(out, "revoked") != active || state(out, "active") != next {
		t.Fatalf("after revoking the active key, keys printed:\n%s\nwant %s revoked and %s active", out, active, next)
	}
	for _, args := range [][]string{{}, {"revoke"}, {"revoke", active}, {"revoke", "no-such-key"}, {"drop"}, {"list", "extra"}} {
		if _, err := keysRun(kv, args...); err == nil {
			t.Errorf("keys %v succeeded", args)
		}
	}

	// With an encryption key, rotate seals every key; without it, the
	// command refuses to add keys beside sealed ones, naming the setting.
	secret := "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	if _, err := keysRun(env("GATEHOUSE_DATABASE_URL", path, "GATEHOUSE_ENCRYPTION_KEY", secret), "rotate"); err != nil {
		t.Fatal(err)
	}
	store, _ := openSQLite(t, path)
	stored, err := store.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range stored {
		if _, err := x509.ParsePKCS8PrivateKey(k.PrivateKey); err == nil {
			t.Errorf("key %s is stored in the clear after a rotation with an encryption key", k.ID)
		}
	}
	if _, err := keysRun(kv, "rotate"); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_ENCRYPTION_KEY") || !strings.Contains(err.Error(), keys.ErrSealed.Error()) {
		t.Errorf("keys rotate without the encryption key = %v, want an error naming GATEHOUSE_ENCRYPTION_KEY", err)
	}
	if _, err := keysRun(kv, "list"); err != nil {
		t.Errorf("keys list without the encryption key = %v; listing needs no private key", err)
	}
	if _, err := keysRun(env("GATEHOUSE_DATABASE_URL", path, "GATEHOUSE_ENCRYPTION_KEY", "c2hvcnQ="), "list"); err == nil || strings.Contains(err.Error(), "c2hvcnQ") {
		t.Errorf("a short encryption key = %v, want an error that does not repeat it", err)
	}
}
