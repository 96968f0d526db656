package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse"
)

const adminUsage = `usage: gatehouse admin key create|list|revoke [NAME] [flags]

create NAME  make an admin API key named NAME and print it, once: only its
             hash is stored. The admin API (/admin/…) answers from the
             moment a key exists.
list         the keys: name, created, last used, revoked
revoke NAME  stop accepting the key NAME at once. With no key left, the
             admin API is off again (404).

The database comes from GATEHOUSE_DATABASE_URL / GATEHOUSE_DATA_DIR, or the
--database-url and --data-dir flags, before or after the arguments.
`

// runAdmin is `gatehouse admin key create|list|revoke [NAME] [flags]`.
func runAdmin(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	_, args, err := subcommand("admin", adminUsage, args, []string{"key"}, stdout, stderr)
	if err != nil {
		return err
	}
	action, rest, err := subcommand("admin key", adminUsage, args, []string{"create", "list", "revoke"}, stdout, stderr)
	if err != nil {
		return err
	}
	c := command{name: "admin key " + action, usage: adminUsage, args: 1}
	if action == "list" {
		c.args = 0
	}
	store, pos, err := c.open(ctx, rest, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	now := time.Now()
	switch action {
	case "create":
		name := pos[0]
		key, hash := gatehouse.NewAdminKey()
		err := store.CreateAdminKey(ctx, &gatehouse.AdminKey{Name: name, Hash: hash, CreatedAt: now})
		if errors.Is(err, gatehouse.ErrConflict) {
			return fmt.Errorf("admin key create: a key named %q exists already (names are never reused)", name)
		}
		if err != nil {
			return fmt.Errorf("admin key create: %w", err)
		}
		fmt.Fprintf(stderr, "created admin key %q; it is shown only now:\n", name)
		fmt.Fprintln(stdout, key)
		return nil
	case "revoke":
		err := store.RevokeAdminKey(ctx, pos[0], now)
		if errors.Is(err, gatehouse.ErrNotFound) {
			return fmt.Errorf("admin key revoke: no live key named %q", pos[0])
		}
		if err != nil {
			return fmt.Errorf("admin key revoke: %w", err)
		}
		fmt.Fprintf(stdout, "revoked admin key %q\n", pos[0])
		return nil
	}
	list, err := store.AdminKeys(ctx)
	if err != nil {
		return fmt.Errorf("admin key list: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCREATED\tLAST USED\tREVOKED")
	for _, k := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Name, formatTime(k.CreatedAt), formatTimePtr(k.LastUsedAt), formatTimePtr(k.RevokedAt))
	}
	return tw.Flush()
}

func formatTimePtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return formatTime(*t)
}
