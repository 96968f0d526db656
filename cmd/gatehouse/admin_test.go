package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// TestAdminKeyCommands: a key is printed once and stored as its hash; the
// list shows it; revoke ends it; flags go before or after the name.
func TestAdminKeyCommands(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gh.db")
	kv := env()
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"admin", "key", "create", "ops", "--database-url", path}, kv, &out, &errOut); err != nil {
		t.Fatalf("create: %v %q", err, errOut.String())
	}
	key := strings.TrimSpace(out.String())
	if !gatehouse.IsAdminKey(key) {
		t.Fatalf("create printed %q, want a gha_ key", key)
	}
	out.Reset()
	if err := run(ctx, []string{"admin", "key", "create", "--database-url", path, "ops"}, kv, &out, &errOut); err == nil ||
		strings.Contains(err.Error(), "gatehouse") {
		t.Errorf("a second key named ops: %v, want an error without a doubled prefix", err)
	}
	if err := run(ctx, []string{"admin", "key", "list", "--database-url=" + path}, kv, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "ops") || strings.Contains(s, key) || strings.Contains(s, gatehouse.HashAdminKey(key)) {
		t.Errorf("list = %q", s)
	}
	out.Reset()
	if err := run(ctx, []string{"admin", "key", "revoke", "ops", "--database-url", path}, kv, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"admin", "key", "revoke", "ops", "--database-url", path}, kv, &out, &errOut); err == nil {
		t.Error("revoking twice succeeded")
	}
	for _, args := range [][]string{{"admin", "--help"}, {"admin", "key", "--help"}, {"admin", "key", "create", "--help"}, {"admin", "key", "list", "-h"}} {
		out.Reset()
		if err := run(ctx, args, kv, &out, &errOut); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "usage: gatehouse admin") {
			t.Errorf("%v: %v, %q", args, err, out.String())
		}
	}
	for _, args := range [][]string{{"admin"}, {"admin", "key"}, {"admin", "key", "create"}, {"admin", "key", "create", "a", "b"}, {"admin", "key", "burn"}} {
		if err := run(ctx, append(args, "--database-url", path), kv, &out, &errOut); err == nil || errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v: %v, want an error", args, err)
		}
	}
}
